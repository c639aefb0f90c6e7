-- The file's commit record, written last in its transaction: present iff the file's rows are.
INSERT INTO load_ledger (sha256, file_path, run_id, rows, rows_loaded, rows_quarantined, status, loaded_at)
VALUES ($sha256, $file_path, $run_id, $rows, $rows_loaded, $rows_quarantined, $status, $loaded_at);
