-- Create the full-text index schema fts_main_articles with the fts extension: its tables (docs, terms,
-- dict, stats, fields, stopwords) and macros (match_bm25, tokenize), indexing the articles there are.
-- Run only when the schema is missing; afterwards warehouse/search.py maintains the tables itself
-- (fts_stage_batch.sql ... fts_add_batch.sql), with the same tokenizer, stop words and stemmer.
-- `ignore` keeps letters and digits of every script (the default keeps only a-z, which would drop
-- Russian and Ukrainian text); the porter stemmer only changes English.
-- KEEP IN SYNC with fts_add_batch.sql (the ignore pattern, lower, strip_accents, stemmer, stop words);
-- tests/test_warehouse.py compares both ways of building the index.
PRAGMA create_fts_index(
    'articles', 'article_id', 'title', 'body',
    stemmer = 'porter', stopwords = 'english', ignore = '(\\.|[^\p{L}\p{N}])+',
    strip_accents = 1, lower = 1, overwrite = 1
);
