-- Recompute story_stance_days and story_stance_weeks from the claims (migrations 009 and 011 did it once;
-- store.py keeps them up to date incrementally). For claims written in bulk without store.py, e.g. the benchmark's synthetic warehouse.
DELETE FROM story_stance_days;
INSERT INTO story_stance_days
SELECT model_id, model_version, codebook_hash, utc_day(published_at) AS day,
       coalesce(story_id, article_id) AS story_id, actor, position,
       count(*) FILTER (WHERE stance = 'favor'),
       count(*) FILTER (WHERE stance = 'against'),
       count(*) FILTER (WHERE stance = 'neutral')
FROM claims
WHERE published_at IS NOT NULL
GROUP BY ALL
ORDER BY day;

DELETE FROM story_stance_weeks;
INSERT INTO story_stance_weeks
SELECT model_id, model_version, codebook_hash, CAST(date_trunc('week', day) AS DATE) AS week, story_id, actor,
       position, sum(n_favor), sum(n_against), sum(n_neutral)
FROM story_stance_days
GROUP BY ALL
ORDER BY week;
