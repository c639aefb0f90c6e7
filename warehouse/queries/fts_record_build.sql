INSERT OR REPLACE INTO index_builds (index_name, built_at, ledger_loaded_at)
SELECT 'fts_articles', current_timestamp, max(loaded_at) FROM load_ledger WHERE status = 'loaded';
