-- Full-text search (BM25) over article titles and bodies, best match first. The index is a snapshot
-- rebuilt by the loader after each load (warehouse/queries/rebuild_fts.sql); the fts extension must be
-- loaded in the session (peacewatch connections do it; see docs/queries.md for the duckdb CLI).
CREATE OR REPLACE MACRO search_articles(query_text, max_results := 20) AS TABLE
SELECT a.article_id,
       a.source_id,
       a.published_at,
       a.title,
       a.story_id,
       a.url,
       hits.score
FROM (
    SELECT article_id, fts_main_articles.match_bm25(article_id, query_text) AS score
    FROM articles
) AS hits
JOIN articles AS a USING (article_id)
WHERE hits.score IS NOT NULL
ORDER BY hits.score DESC, a.article_id
LIMIT max_results;
