-- Crawl runs whose per-source stats are recorded (and how many sources each has).
SELECT run_id, count(*) FROM crawl_runs GROUP BY run_id;
