-- Rebuild the full-text index from scratch: empty its tables and queue every article; the caller
-- (warehouse/search.py) then indexes the queue like any batch. Used when the index is empty or the
-- queue is at least as large as the index (a first load, a backfill).
DELETE FROM fts_main_articles.terms;
DELETE FROM fts_main_articles.docs;
DELETE FROM fts_main_articles.dict;
DELETE FROM fts_main_articles.stats;
DELETE FROM search_pending;
INSERT INTO search_pending (article_id) SELECT article_id FROM articles;
