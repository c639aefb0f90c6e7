-- Full-text index over article titles and bodies (BM25). It is a snapshot: the loader rebuilds it after
-- every load that changed articles. `ignore` keeps letters and digits of every script (the default
-- keeps only a-z, which would drop Russian and Ukrainian text); the porter stemmer only changes English.
PRAGMA create_fts_index(
    'articles', 'article_id', 'title', 'body',
    stemmer = 'porter', stopwords = 'english', ignore = '(\\.|[^\p{L}\p{N}])+',
    strip_accents = 1, lower = 1, overwrite = 1
);
