-- 004: when derived indexes were last rebuilt, so that a load killed after committing files but before
-- rebuilding the full-text index is caught up by the next load.

CREATE TABLE index_builds (
    index_name       VARCHAR PRIMARY KEY,
    built_at         TIMESTAMPTZ NOT NULL,
    ledger_loaded_at TIMESTAMPTZ           -- max(load_ledger.loaded_at) that the build covers
);
