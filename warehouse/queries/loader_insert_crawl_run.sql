-- A crawl run's stats for one source. The first writer wins: the file transaction (which knows the
-- loaded counts) or, for sources without a loadable file, the run's closing step.
INSERT INTO crawl_runs (run_id, source_id, started_at, finished_at, requests, items, responses_by_status,
                        drops_by_reason, empty_bodies, items_loaded, items_quarantined, loaded_at,
                        not_modified, already_seen, extraction_failed)
VALUES ($run_id, $source_id, $started_at, $finished_at, $requests, $items, $responses_by_status,
        $drops_by_reason, $empty_bodies, $items_loaded, $items_quarantined, $loaded_at,
        $not_modified, $already_seen, $extraction_failed)
ON CONFLICT DO NOTHING;
