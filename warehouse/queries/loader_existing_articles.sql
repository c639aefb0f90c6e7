-- Stored state of the articles that appear in the staged file.
SELECT a.article_id, a.content_hash, a.version, a.fetched_at, a.story_id
FROM articles AS a
WHERE a.article_id IN (SELECT article_id FROM stg_items);
