-- Has a landing file with this content been loaded (or refused) before?
SELECT status FROM load_ledger WHERE sha256 = $sha256;
