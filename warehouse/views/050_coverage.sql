-- Articles per UTC day (published_at, else fetched_at) and source, with their stories and the current
-- model's claims (current_claims).
CREATE OR REPLACE VIEW source_coverage_daily AS
WITH claim_counts AS (
    SELECT article_id, count(*) AS n_claims FROM current_claims GROUP BY article_id
)
SELECT utc_day(coalesce(a.published_at, a.fetched_at)) AS day,
       a.source_id,
       count(*) AS articles,
       count(DISTINCT a.story_id) AS stories,
       count(c.article_id) AS articles_with_claims,
       CAST(coalesce(sum(c.n_claims), 0) AS BIGINT) AS claims,
       count(*) FILTER (WHERE a.body = '') AS empty_bodies
FROM articles AS a
LEFT JOIN claim_counts AS c USING (article_id)
GROUP BY 1, 2;

-- The biggest stories of the `days` UTC days ending on `day`: ranked by how many outlets carried them.
-- url is the representative article's canonical URL (not the URL it was fetched from, which may carry
-- tracking parameters).
CREATE OR REPLACE MACRO top_stories(day, days := 1) AS TABLE
WITH members AS (
    SELECT a.story_id, a.source_id, a.article_id, coalesce(a.published_at, a.fetched_at) AS at
    FROM articles AS a
    WHERE utc_day(coalesce(a.published_at, a.fetched_at))
          BETWEEN CAST(day AS DATE) - days + 1 AND CAST(day AS DATE)
)
SELECT m.story_id,
       s.representative_title AS headline,
       r.canonical_url AS url,
       count(DISTINCT m.source_id) AS n_outlets,
       count(*) AS n_articles,
       list(DISTINCT m.source_id ORDER BY m.source_id) AS outlets,
       min(m.at) AS first_published_at,
       s.representative_article_id,
       s.n_articles AS story_articles_all_time
FROM members AS m
JOIN stories AS s USING (story_id)
LEFT JOIN articles AS r ON r.article_id = s.representative_article_id
GROUP BY m.story_id, s.representative_title, r.canonical_url, s.representative_article_id, s.n_articles
ORDER BY n_outlets DESC, n_articles DESC, first_published_at, m.story_id;
