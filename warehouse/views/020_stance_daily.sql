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
    SELECT week, story_id, actor, position, majority_stance(n_favor, n_against, n_neutral) AS stance
    FROM current_stance_weeks
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

-- stance_weekly as it stood at the end of the UTC day as_of: claims published later do not count, so
-- as_of's week holds only its days up to as_of (a backfilled digest never shows later news). With
-- `days`, only the weeks from the one holding as_of - days + 1 on. Complete weeks before as_of's equal
-- stance_weekly's rows; net = (favor - against) / stories.
CREATE OR REPLACE MACRO stance_weekly_until(as_of, days := 365000) AS TABLE
WITH per_story AS (
    -- the complete weeks before as_of's
    SELECT week, story_id, actor, position, majority_stance(n_favor, n_against, n_neutral) AS stance
    FROM current_stance_weeks
    WHERE week >= CAST(date_trunc('week', CAST(as_of AS DATE) - (days - 1)) AS DATE)
      AND week < CAST(date_trunc('week', CAST(as_of AS DATE)) AS DATE)
    UNION ALL
    -- as_of's week, from its Monday to as_of
    SELECT CAST(date_trunc('week', CAST(as_of AS DATE)) AS DATE) AS week, story_id, actor, position,
           majority_stance(sum(n_favor), sum(n_against), sum(n_neutral)) AS stance
    FROM current_stance_days
    WHERE day BETWEEN CAST(date_trunc('week', CAST(as_of AS DATE)) AS DATE) AND CAST(as_of AS DATE)
      AND day >= CAST(date_trunc('week', CAST(as_of AS DATE) - (days - 1)) AS DATE)
    GROUP BY story_id, actor, position
)
SELECT week,
       actor,
       position,
       count(*) FILTER (WHERE stance = 'favor') AS favor,
       count(*) FILTER (WHERE stance = 'against') AS against,
       count(*) FILTER (WHERE stance = 'neutral') AS neutral,
       count(*) AS stories,
       (favor - against) / stories::DOUBLE AS net
FROM per_story
GROUP BY week, actor, position;
