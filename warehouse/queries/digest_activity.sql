-- Is there anything to report? Articles and claims in the digest's windows (baseline start .. as_of),
-- on the day itself, and the span of the whole warehouse: an empty day gets the short digest.
WITH cov AS (SELECT * FROM source_coverage_daily)
SELECT coalesce((SELECT sum(articles) FROM cov WHERE day BETWEEN $baseline_from AND $as_of), 0) AS articles_in_windows,
       coalesce((SELECT sum(claims) FROM cov WHERE day BETWEEN $baseline_from AND $as_of), 0) AS claims_in_windows,
       coalesce((SELECT sum(articles) FROM cov WHERE day BETWEEN $recent_from AND $as_of), 0) AS articles_recent,
       coalesce((SELECT sum(articles) FROM cov WHERE day = $as_of), 0) AS articles_on_day,
       coalesce((SELECT sum(claims) FROM cov WHERE day = $as_of), 0) AS claims_on_day,
       (SELECT count(*) FROM articles) AS articles_total,
       (SELECT count(*) FROM stories) AS stories_total,
       (SELECT count(*) FROM current_claims) AS claims_total,
       (SELECT min(day) FROM cov) AS first_day,
       (SELECT max(day) FROM cov) AS last_day;
