-- Building blocks for the stance views. Every stance count in the warehouse is a count of STORIES:
-- syndicated copies of one article (a story) must not outvote a single original report. They count the
-- claims of the current model only (current_claims, see 008_current_claims.sql), through
-- story_stance_days and story_stance_weeks (migrations 009, 011: per configuration, UTC day or ISO week,
-- story, actor and position, the claims' stance counts, kept up to date by warehouse/store.py with every
-- write of claims).

-- The UTC calendar day of an instant, independent of the session's TimeZone setting. Arithmetic on
-- epoch microseconds: the same days as CAST(timezone('UTC', ts) AS DATE), 15x faster (no time-zone
-- library call per row).
CREATE OR REPLACE MACRO utc_day(ts) AS CAST(DATE '1970-01-01' + CAST(floor(epoch_us(ts) / 86400000000) AS INTEGER) AS DATE);

-- The instant a UTC day starts: `utc_day(ts) BETWEEN d1 AND d2` is `ts >= utc_start(d1) AND ts <
-- utc_start(d2 + 1)`, which DuckDB can push into a table scan (skipping row groups by their min/max).
CREATE OR REPLACE MACRO utc_start(day) AS timezone('UTC', CAST(CAST(day AS DATE) AS TIMESTAMP));

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

-- story_stance_days of the current model: one row per UTC day, story, actor and position with claims.
CREATE OR REPLACE VIEW current_stance_days AS
SELECT d.day, d.story_id, d.actor, d.position, d.n_favor, d.n_against, d.n_neutral
FROM story_stance_days AS d
SEMI JOIN current_model AS m USING (model_id, model_version, codebook_hash);

-- The same per ISO week (story_stance_weeks, migration 011).
CREATE OR REPLACE VIEW current_stance_weeks AS
SELECT w.week, w.story_id, w.actor, w.position, w.n_favor, w.n_against, w.n_neutral
FROM story_stance_weeks AS w
SEMI JOIN current_model AS m USING (model_id, model_version, codebook_hash);

-- One row per story x actor x position over the UTC days from_day .. to_day (inclusive): the story's
-- majority stance over all its claims in the window. Claims without a story count as their own story.
CREATE OR REPLACE MACRO story_stances(from_day, to_day) AS TABLE
SELECT story_id,
       actor,
       position,
       CAST(sum(n_favor) AS BIGINT) AS n_favor,
       CAST(sum(n_against) AS BIGINT) AS n_against,
       CAST(sum(n_neutral) AS BIGINT) AS n_neutral,
       majority_stance(sum(n_favor), sum(n_against), sum(n_neutral)) AS stance,
       CAST(sum(n_favor + n_against + n_neutral) AS BIGINT) AS n_claims,
       min(day) AS first_day,
       max(day) AS last_day
FROM current_stance_days
WHERE day BETWEEN CAST(from_day AS DATE) AND CAST(to_day AS DATE)
GROUP BY story_id, actor, position;

-- The same per UTC day: a story that runs over two days has a stance on each of them.
CREATE OR REPLACE VIEW story_stance_daily AS
SELECT day,
       story_id,
       actor,
       position,
       CAST(n_favor AS BIGINT) AS n_favor,
       CAST(n_against AS BIGINT) AS n_against,
       CAST(n_neutral AS BIGINT) AS n_neutral,
       majority_stance(n_favor, n_against, n_neutral) AS stance,
       CAST(n_favor + n_against + n_neutral AS BIGINT) AS n_claims
FROM current_stance_days;
