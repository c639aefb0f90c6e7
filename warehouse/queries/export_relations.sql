-- Tables and views a user may export (the main schema; not the fts index's internal tables).
SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary
UNION ALL
SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal AND NOT temporary;
