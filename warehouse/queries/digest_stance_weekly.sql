-- Net stance per ISO week (Monday start), actor and position for the stance timelines, each story
-- counted once per week: complete weeks from stance_weekly, and the digest day's week only up to the
-- digest day (story_stances), so that a backfilled digest never shows later news.
WITH bounds AS (
    SELECT CAST(date_trunc('week', CAST($as_of AS DATE) - ($days - 1)) AS DATE) AS from_week,
           CAST(date_trunc('week', CAST($as_of AS DATE)) AS DATE) AS this_week
),
weeks AS (
    SELECT w.week, w.actor, w.position, w.favor, w.against, w.neutral, w.stories
    FROM stance_weekly AS w, bounds AS b
    WHERE w.week >= b.from_week AND w.week < b.this_week
    UNION ALL
    SELECT CAST(date_trunc('week', CAST($as_of AS DATE)) AS DATE) AS week, actor, position,
           count(*) FILTER (WHERE stance = 'favor') AS favor,
           count(*) FILTER (WHERE stance = 'against') AS against,
           count(*) FILTER (WHERE stance = 'neutral') AS neutral,
           count(*) AS stories
    FROM story_stances(CAST(date_trunc('week', CAST($as_of AS DATE)) AS DATE), $as_of)
    GROUP BY actor, position
)
SELECT week, actor, position, favor, against, neutral, stories,
       (favor - against) / stories::DOUBLE AS net
FROM weeks
ORDER BY position, actor, week;
