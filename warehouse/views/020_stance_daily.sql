-- Stories per day, actor and position by their majority stance (each story counted once).
CREATE OR REPLACE VIEW stance_daily AS
SELECT day,
       actor,
       position,
       count(*) FILTER (WHERE stance = 'favor') AS favor,
       count(*) FILTER (WHERE stance = 'against') AS against,
       count(*) FILTER (WHERE stance = 'neutral') AS neutral,
       count(*) AS stories
FROM story_stance_daily
GROUP BY day, actor, position;

-- The same per ISO week (Monday start). A story's majority is taken over the whole week, so a story
-- spread over several days still counts once.
CREATE OR REPLACE VIEW stance_weekly AS
WITH per_story AS (
    SELECT CAST(date_trunc('week', utc_day(published_at)) AS DATE) AS week,
           coalesce(story_id, article_id) AS story_id,
           actor,
           position,
           majority_stance(count(*) FILTER (WHERE stance = 'favor'),
                           count(*) FILTER (WHERE stance = 'against'),
                           count(*) FILTER (WHERE stance = 'neutral')) AS stance
    FROM claims
    WHERE published_at IS NOT NULL
    GROUP BY 1, 2, 3, 4
)
SELECT week,
       actor,
       position,
       count(*) FILTER (WHERE stance = 'favor') AS favor,
       count(*) FILTER (WHERE stance = 'against') AS against,
       count(*) FILTER (WHERE stance = 'neutral') AS neutral,
       count(*) AS stories
FROM per_story
GROUP BY week, actor, position;
