-- Every distinct text an article has had (numbered in the order the loader saw them), with its full
-- body. Stored in article_history, whose body is NULL for the article's current version: that text is
-- held once, in articles.body (migration 007).
CREATE OR REPLACE VIEW article_versions AS
SELECT h.article_id,
       h.version,
       h.content_hash,
       h.title,
       CASE WHEN h.body IS NULL THEN a.body ELSE h.body END AS body,
       h.fetched_at,
       h.run_id
FROM article_history AS h
LEFT JOIN articles AS a ON a.article_id = h.article_id AND h.body IS NULL;
