-- Stored articles that already have the text of a staged item (exact duplicates across URLs).
SELECT DISTINCT a.content_hash, a.article_id
FROM articles AS a
WHERE a.content_hash IN (SELECT content_hash FROM stg_items);
