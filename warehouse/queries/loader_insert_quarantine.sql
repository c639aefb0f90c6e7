-- Refused records of one file ($path: JSON-lines written by loader.py), with their reasons.
INSERT INTO quarantine (source_file, file_sha256, run_id, line, raw_record, reason, quarantined_at)
SELECT source_file, file_sha256, run_id, line, raw_record, reason, quarantined_at
FROM read_json($path, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    source_file: 'VARCHAR', file_sha256: 'VARCHAR', run_id: 'VARCHAR', line: 'INTEGER',
    raw_record: 'VARCHAR', reason: 'VARCHAR', quarantined_at: 'TIMESTAMPTZ'
});
