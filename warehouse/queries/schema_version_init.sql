-- Bookkeeping of applied migrations; created before the first migration so it can record it.
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    checksum   VARCHAR NOT NULL,   -- sha256 of the migration file: applied files must not change
    applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
