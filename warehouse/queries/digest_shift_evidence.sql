-- Quotes behind a shift: claims with the new stance in the recent window, the most confident claim of
-- each story, strongest first (then the latest).
SELECT c.evidence, c.confidence, a.title, a.canonical_url AS url, a.source_id,
       coalesce(s.name, a.source_id) AS source_name, utc_day(c.published_at) AS day
FROM current_claims AS c
JOIN articles AS a USING (article_id)
LEFT JOIN sources AS s ON s.source_id = a.source_id
WHERE c.actor = $actor AND c.position = $position AND c.stance = $stance
  AND utc_day(c.published_at) BETWEEN $since AND $as_of
QUALIFY row_number() OVER (PARTITION BY coalesce(c.story_id, c.article_id)
                           ORDER BY c.confidence DESC, c.published_at DESC, c.claim_id) = 1
ORDER BY c.confidence DESC, c.published_at DESC, c.claim_id
LIMIT 3;
