-- New statements: the day's claims, one per actor, position and story, with a link to the article.
SELECT c.actor, c.position, c.stance, c.confidence, c.evidence, a.title, a.canonical_url AS url, a.source_id
FROM claims AS c
JOIN articles AS a USING (article_id)
WHERE CAST(c.published_at AS DATE) = $day
QUALIFY row_number() OVER (PARTITION BY c.actor, c.position, c.story_id ORDER BY c.confidence DESC) = 1
ORDER BY c.actor, c.confidence DESC
LIMIT 60;
