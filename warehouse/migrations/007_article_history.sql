-- 007: store an article's current text once. article_versions held every text, the current one too, so
-- each load wrote every body twice (and the checkpoint compressed it twice). The table becomes
-- article_history, whose body is NULL for the version that is the article's current text
-- (articles.version): that text is articles.body. The view article_versions (warehouse/views) shows
-- the full texts as before. The loader keeps the invariant: before an article's text is replaced, the
-- body of its outgoing version is copied into article_history.

ALTER TABLE article_versions RENAME TO article_history;

UPDATE article_history AS h
SET body = NULL
FROM articles AS a
WHERE a.article_id = h.article_id AND a.version = h.version AND a.content_hash = h.content_hash;
