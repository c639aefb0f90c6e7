-- Was this file already refused for this reason (files without a checksum cannot go in the ledger)?
SELECT count(*) > 0 FROM quarantine WHERE source_file = $source_file AND reason = $reason AND line IS NULL;
