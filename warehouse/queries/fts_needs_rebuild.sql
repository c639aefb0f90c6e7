-- Files loaded since the full-text index was last built (also after a load killed before rebuilding).
SELECT coalesce(max(l.loaded_at) > (SELECT max(ledger_loaded_at) FROM index_builds WHERE index_name = 'fts_articles'),
                max(l.loaded_at) IS NOT NULL)
FROM load_ledger AS l
WHERE l.status = 'loaded';
