-- The queued articles with their current text, the index document each had (NULL: not indexed), and
-- the chunk of $chunk_size articles it is indexed with (fts_add_batch.sql runs once per chunk, so that
-- a rebuild of a large warehouse never holds every token in memory at once).
CREATE OR REPLACE TEMP TABLE fts_batch AS
SELECT a.article_id, a.title, a.body, d.docid AS old_docid,
       (row_number() OVER (ORDER BY a.article_id) - 1) // $chunk_size AS chunk
FROM (SELECT DISTINCT article_id FROM search_pending) AS p
JOIN articles AS a USING (article_id)
LEFT JOIN fts_main_articles.docs AS d ON d.name = p.article_id;
SELECT count(*) FILTER (WHERE old_docid IS NOT NULL) AS reindexed, count(*) AS batch,
       coalesce(max(chunk) + 1, 0) AS chunks
FROM fts_batch;
