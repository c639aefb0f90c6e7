-- Building blocks for the stance views. Every stance count in the warehouse is a count of STORIES:
-- syndicated copies of one article (a story) must not outvote a single original report.

-- The UTC calendar day of an instant, independent of the session's TimeZone setting.
CREATE OR REPLACE MACRO utc_day(ts) AS CAST(timezone('UTC', ts) AS DATE);

-- A story's stance from its claims' stance counts: a strict plurality wins, any tie is neutral.
CREATE OR REPLACE MACRO majority_stance(n_favor, n_against, n_neutral) AS
    CASE
        WHEN n_favor > n_against AND n_favor > n_neutral THEN 'favor'
        WHEN n_against > n_favor AND n_against > n_neutral THEN 'against'
        ELSE 'neutral'
    END;

-- Stance score used for means and the shift test: favor +1, neutral 0, against -1.
CREATE OR REPLACE MACRO stance_score(stance) AS
    CASE stance WHEN 'favor' THEN 1 WHEN 'against' THEN -1 ELSE 0 END;

-- One row per story x actor x position over the UTC days from_day .. to_day (inclusive): the story's
-- majority stance over all its claims in the window. Claims without a story count as their own story.
CREATE OR REPLACE MACRO story_stances(from_day, to_day) AS TABLE
SELECT coalesce(story_id, article_id) AS story_id,
       actor,
       position,
       count(*) FILTER (WHERE stance = 'favor') AS n_favor,
       count(*) FILTER (WHERE stance = 'against') AS n_against,
       count(*) FILTER (WHERE stance = 'neutral') AS n_neutral,
       majority_stance(n_favor, n_against, n_neutral) AS stance,
       count(*) AS n_claims,
       min(utc_day(published_at)) AS first_day,
       max(utc_day(published_at)) AS last_day
FROM claims
WHERE utc_day(published_at) BETWEEN CAST(from_day AS DATE) AND CAST(to_day AS DATE)
GROUP BY 1, 2, 3;

-- The same per UTC day: a story that runs over two days has a stance on each of them.
CREATE OR REPLACE VIEW story_stance_daily AS
SELECT utc_day(published_at) AS day,
       coalesce(story_id, article_id) AS story_id,
       actor,
       position,
       count(*) FILTER (WHERE stance = 'favor') AS n_favor,
       count(*) FILTER (WHERE stance = 'against') AS n_against,
       count(*) FILTER (WHERE stance = 'neutral') AS n_neutral,
       majority_stance(n_favor, n_against, n_neutral) AS stance,
       count(*) AS n_claims
FROM claims
WHERE published_at IS NOT NULL
GROUP BY 1, 2, 3, 4;
