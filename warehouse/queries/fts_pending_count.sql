-- Articles waiting for the full-text index, and the documents it holds.
SELECT (SELECT count(DISTINCT article_id) FROM search_pending) AS pending,
       (SELECT count(*) FROM fts_main_articles.docs) AS indexed;
