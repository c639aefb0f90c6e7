-- Every connection: UTC days for CAST(ts AS DATE); progress bars off (they write to stdout).
SET TimeZone = 'UTC';
SET enable_progress_bar = false;
