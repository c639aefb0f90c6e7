-- Per source, its latest crawl run: what was requested, fetched and dropped. error_responses counts
-- responses that are not 1xx-3xx (including non-numeric keys such as "timeout").
--   silent          the run produced no items AND reported no not_modified / already_seen pages: the
--                   first sign of a changed site or a blocked crawler. An incremental run that found
--                   nothing new (feeds answered 304, every article already seen) is healthy.
--   layout_suspect  the run reported extraction failures (extraction_failed, e.g. {"selector_miss": 3}):
--                   the source's selectors stopped matching; pages may still land via generic extraction.
-- not_modified, already_seen and extraction_failed are NULL for runs loaded before migration 006.
CREATE OR REPLACE VIEW crawl_health AS
WITH latest AS (
    SELECT *,
           CAST((SELECT coalesce(sum(CAST(value AS BIGINT)), 0)
                   FROM json_each(extraction_failed)) AS BIGINT) AS extraction_failures
    FROM crawl_runs
    QUALIFY row_number() OVER (PARTITION BY source_id
                               ORDER BY coalesce(finished_at, started_at) DESC NULLS LAST, run_id DESC) = 1
),
last_items AS (
    SELECT source_id, max(coalesce(finished_at, started_at)) AS last_items_at
    FROM crawl_runs
    WHERE items > 0
    GROUP BY source_id
)
SELECT l.source_id,
       coalesce(s.name, l.source_id) AS name,
       l.run_id,
       l.started_at,
       l.finished_at,
       l.requests,
       l.items,
       l.items_loaded,
       l.items_quarantined,
       CAST((SELECT coalesce(sum(CAST(value AS BIGINT)), 0)
               FROM json_each(l.responses_by_status)
              WHERE NOT regexp_full_match(key, '[123][0-9][0-9]')) AS BIGINT) AS error_responses,
       CAST((SELECT coalesce(sum(CAST(value AS BIGINT)), 0)
               FROM json_each(l.drops_by_reason)) AS BIGINT) AS dropped,
       l.responses_by_status,
       l.drops_by_reason,
       l.empty_bodies,
       l.items = 0 AND coalesce(l.not_modified, 0) = 0 AND coalesce(l.already_seen, 0) = 0 AS silent,
       li.last_items_at,
       l.not_modified,
       l.already_seen,
       l.extraction_failed,
       l.extraction_failures,
       l.extraction_failures > 0 AS layout_suspect
FROM latest AS l
LEFT JOIN sources AS s USING (source_id)
LEFT JOIN last_items AS li USING (source_id);
