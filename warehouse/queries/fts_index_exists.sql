-- The fts index lives in its own schema, created by PRAGMA create_fts_index.
SELECT count(*) > 0 FROM duckdb_schemas() WHERE schema_name = 'fts_main_articles';
