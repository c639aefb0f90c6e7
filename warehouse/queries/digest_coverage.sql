-- Coverage and health per source: articles on the day, in the last 7 days and in the 28 days before
-- (source_coverage_daily), next to the source's latest crawl run (crawl_health). status:
--   failing  the latest crawl got error responses and no items, or errors for at least half its requests
--   silent   the latest crawl produced no items
--   quiet    no article in the last 7 days although the 28 days before had some
--   warning  errors, dropped pages, quarantined lines or empty bodies (extraction anomalies)
--   ok       none of these
WITH cov AS (
    SELECT source_id,
           sum(articles) FILTER (WHERE day = $day) AS articles_on_day,
           sum(articles) FILTER (WHERE day BETWEEN CAST($day AS DATE) - 6 AND $day) AS articles_7d,
           sum(articles) FILTER (WHERE day BETWEEN CAST($day AS DATE) - 34 AND CAST($day AS DATE) - 7) AS articles_prior_28d,
           sum(claims) FILTER (WHERE day BETWEEN CAST($day AS DATE) - 6 AND $day) AS claims_7d,
           sum(empty_bodies) FILTER (WHERE day BETWEEN CAST($day AS DATE) - 6 AND $day) AS empty_bodies_7d
    FROM source_coverage_daily
    WHERE day BETWEEN CAST($day AS DATE) - 34 AND $day
    GROUP BY source_id
),
health AS (
    SELECT h.*,
           (SELECT string_agg(key || ' x' || value, ', ' ORDER BY key) FROM json_each(h.responses_by_status)
             WHERE NOT regexp_full_match(key, '[123][0-9][0-9]')) AS error_summary,
           (SELECT string_agg(key || ' x' || value, ', ' ORDER BY key) FROM json_each(h.drops_by_reason)
             WHERE CAST(value AS BIGINT) > 0) AS drop_summary
    FROM crawl_health AS h
)
SELECT coalesce(h.source_id, cov.source_id) AS source_id,
       coalesce(h.name, src.name, h.source_id, cov.source_id) AS name,
       coalesce(cov.articles_on_day, 0) AS articles_on_day,
       coalesce(cov.articles_7d, 0) AS articles_7d,
       round(coalesce(cov.articles_prior_28d, 0) / 4.0, 1) AS usual_per_week,
       coalesce(cov.claims_7d, 0) AS claims_7d,
       coalesce(cov.empty_bodies_7d, 0) AS empty_bodies_7d,
       h.run_id, coalesce(h.finished_at, h.started_at) AS crawled_at,
       h.requests, h.items, h.items_loaded, h.items_quarantined, h.error_responses, h.dropped,
       h.empty_bodies, h.silent, h.last_items_at, h.error_summary, h.drop_summary,
       CASE WHEN h.source_id IS NOT NULL AND h.error_responses > 0
                 AND (h.items = 0 OR h.error_responses * 2 >= greatest(h.requests, 1)) THEN 'failing'
            WHEN h.silent THEN 'silent'
            WHEN coalesce(cov.articles_7d, 0) = 0 AND coalesce(cov.articles_prior_28d, 0) > 0 THEN 'quiet'
            WHEN h.error_responses > 0 OR h.dropped > 0 OR h.items_quarantined > 0 OR h.empty_bodies > 0
                 OR coalesce(cov.empty_bodies_7d, 0) > 0 THEN 'warning'
            ELSE 'ok' END AS status
FROM health AS h
FULL OUTER JOIN cov ON cov.source_id = h.source_id
LEFT JOIN sources AS src ON src.source_id = coalesce(h.source_id, cov.source_id)
ORDER BY CASE status WHEN 'failing' THEN 0 WHEN 'silent' THEN 1 WHEN 'quiet' THEN 2 WHEN 'warning' THEN 3 ELSE 4 END,
         source_id;
