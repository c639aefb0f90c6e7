-- Recompute the stories that gained or changed members in this file. The representative article is
-- the earliest published one (for wire copy usually the agency original).
DELETE FROM stories WHERE story_id IN (SELECT story_id FROM stg_final WHERE line_no IS NOT NULL);
INSERT INTO stories (story_id, first_published_at, last_published_at, representative_article_id,
                     representative_title, n_articles, n_outlets)
SELECT a.story_id,
       min(a.published_at),
       max(a.published_at),
       arg_min(a.article_id, (coalesce(a.published_at, a.fetched_at), a.article_id)),
       arg_min(a.title, (coalesce(a.published_at, a.fetched_at), a.article_id)),
       count(*),
       count(DISTINCT a.source_id)
FROM articles AS a
WHERE a.story_id IN (SELECT story_id FROM stg_final WHERE line_no IS NOT NULL)
GROUP BY a.story_id;
