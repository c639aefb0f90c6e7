-- Recompute story_stance_days from the claims (migration 009 did it once; store.py keeps it up to date
-- incrementally). For claims written in bulk without store.py, e.g. the benchmark's synthetic warehouse.
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
