-- The day's biggest stories: clusters ranked by the number of outlets that carried them, with the
-- representative article's canonical link and the outlets' names.
SELECT t.story_id, t.headline, coalesce(a.canonical_url, t.url) AS url, t.n_outlets, t.n_articles,
       t.first_published_at,
       list(coalesce(s.name, o.source_id) ORDER BY o.source_id) AS outlets
FROM top_stories($day, days := $days) AS t
LEFT JOIN articles AS a ON a.article_id = t.representative_article_id
CROSS JOIN unnest(t.outlets) AS o(source_id)
LEFT JOIN sources AS s ON s.source_id = o.source_id
GROUP BY ALL
ORDER BY t.n_outlets DESC, t.n_articles DESC, t.first_published_at, t.story_id
LIMIT $limit;
