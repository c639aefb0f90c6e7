-- The dominant stance of every actor x position over the 30 UTC days ending on as_of (inclusive),
-- counted over stories: stance = plurality of the stories' majority stances (ties neutral);
-- evidence_count = stories with a claim; latest_stance = the stance of the most recent story.
CREATE OR REPLACE MACRO actor_position_matrix(as_of) AS TABLE
WITH s AS (
    SELECT * FROM story_stances(CAST(as_of AS DATE) - 29, CAST(as_of AS DATE))
)
SELECT actor,
       position,
       majority_stance(count(*) FILTER (WHERE stance = 'favor'),
                       count(*) FILTER (WHERE stance = 'against'),
                       count(*) FILTER (WHERE stance = 'neutral')) AS stance,
       count(*) AS evidence_count,
       count(*) FILTER (WHERE stance = 'favor') AS favor,
       count(*) FILTER (WHERE stance = 'against') AS against,
       count(*) FILTER (WHERE stance = 'neutral') AS neutral,
       CAST(sum(n_claims) AS BIGINT) AS claims,
       arg_max(stance, (last_day, story_id)) AS latest_stance,
       max(last_day) AS last_day
FROM s
GROUP BY actor, position;
