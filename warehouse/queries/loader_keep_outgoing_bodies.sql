-- Before this file replaces the current text of stored articles (stg_final: NOT is_new, line_no set),
-- their outgoing version keeps its body in article_history (where the current version's body is NULL).
UPDATE article_history AS h
SET body = a.body
FROM articles AS a, stg_final AS f
WHERE f.article_id = a.article_id AND NOT f.is_new AND f.line_no IS NOT NULL
  AND h.article_id = a.article_id AND h.version = a.version AND h.body IS NULL;
