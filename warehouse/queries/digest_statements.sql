-- New statements: the day's claims, one per actor, position and story (its most confident claim),
-- with the article's title and link.
SELECT c.actor, c.position, c.stance, c.confidence, c.evidence, a.title, a.canonical_url AS url,
       a.source_id, coalesce(s.name, a.source_id) AS source_name
FROM current_claims AS c
JOIN articles AS a USING (article_id)
LEFT JOIN sources AS s ON s.source_id = a.source_id
WHERE utc_day(c.published_at) = $day
QUALIFY row_number() OVER (PARTITION BY c.actor, c.position, coalesce(c.story_id, c.article_id)
                           ORDER BY c.confidence DESC, c.claim_id) = 1
ORDER BY c.actor, c.position, c.confidence DESC, c.claim_id
LIMIT $limit;
