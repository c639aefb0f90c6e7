-- Coverage and health: the day's articles per source next to each source's latest crawl.
SELECT h.*, coalesce(cov.articles, 0) AS articles_on_day
FROM crawl_health AS h
LEFT JOIN (SELECT source_id, sum(articles) AS articles FROM source_coverage_daily WHERE day = $day GROUP BY ALL) AS cov
  USING (source_id)
ORDER BY h.source_id;
