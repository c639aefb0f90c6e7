-- Content hashes of every landing file loaded or refused so far.
SELECT sha256 FROM load_ledger;
