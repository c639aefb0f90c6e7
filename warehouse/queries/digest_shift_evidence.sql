-- Quotes behind a shift: the most confident claim of each story in the recent window, strongest first.
SELECT c.evidence, c.confidence, a.title, a.canonical_url AS url, a.source_id, CAST(c.published_at AS DATE) AS day
FROM claims AS c
JOIN articles AS a USING (article_id)
WHERE c.actor = $actor AND c.position = $position AND c.stance = $stance
  AND CAST(c.published_at AS DATE) BETWEEN $since AND $as_of
QUALIFY row_number() OVER (PARTITION BY c.story_id ORDER BY c.confidence DESC, a.published_at) = 1
ORDER BY c.confidence DESC, c.published_at DESC
LIMIT 3;
