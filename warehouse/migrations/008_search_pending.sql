-- 008: the full-text index is maintained incrementally (warehouse/search.py). Every load transaction
-- records the articles whose text it wrote here; the index update consumes the list (in its own
-- transaction), so a load killed before indexing leaves the work for the next load or
-- `peacewatch.warehouse.search.refresh`. No key: an article may be listed more than once.

CREATE TABLE search_pending (
    article_id VARCHAR NOT NULL
);

-- A warehouse whose index was stale when it was upgraded (files loaded after the last rebuild):
-- everything is pending, so the next update rebuilds the index from scratch.
INSERT INTO search_pending (article_id)
SELECT article_id
FROM articles
WHERE (SELECT coalesce(max(l.loaded_at) > (SELECT max(ledger_loaded_at) FROM index_builds
                                           WHERE index_name = 'fts_articles'),
                       max(l.loaded_at) IS NOT NULL)
       FROM load_ledger AS l
       WHERE l.status = 'loaded');
