-- 011: story stances per ISO week (Monday), kept up to date with story_stance_days (migration 009) by
-- warehouse/store.py. stance_weekly needs each story's majority over its whole week: from
-- the daily rows that is a grouping of 1.5M rows into as many groups for 5M claims (~1 s); from this
-- table one row per story and week is already there.

CREATE TABLE story_stance_weeks (
    model_id      VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    codebook_hash VARCHAR NOT NULL,
    week          DATE NOT NULL,
    story_id      VARCHAR NOT NULL,
    actor         VARCHAR NOT NULL,
    position      VARCHAR NOT NULL,
    n_favor       INTEGER NOT NULL,
    n_against     INTEGER NOT NULL,
    n_neutral     INTEGER NOT NULL
);

INSERT INTO story_stance_weeks
SELECT model_id, model_version, codebook_hash, CAST(date_trunc('week', day) AS DATE) AS week, story_id, actor,
       position, sum(n_favor), sum(n_against), sum(n_neutral)
FROM story_stance_days
GROUP BY ALL
ORDER BY week;
