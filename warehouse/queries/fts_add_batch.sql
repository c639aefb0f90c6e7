-- Index the texts of chunk $chunk of fts_batch, exactly as PRAGMA create_fts_index would (see create_fts_index.sql):
-- words = lower(strip_accents(text)) split at every run of characters that are not letters or digits
-- (the ignore pattern), stop words dropped before stemming, porter stems as terms; one terms row per
-- occurrence (fieldid 0 = title, 1 = body); docs.len = the document's terms rows.
-- Faster than the PRAGMA in two ways: regexp_replace + string_split instead of string_split_regex, and
-- each distinct word is stemmed once per batch instead of once per occurrence.
CREATE OR REPLACE TEMP TABLE fts_docs_new AS
SELECT (SELECT coalesce(max(docid), -1) FROM fts_main_articles.docs)
           + row_number() OVER (ORDER BY article_id) AS docid,
       article_id, title, body
FROM fts_batch
WHERE chunk = $chunk;

CREATE OR REPLACE TEMP TABLE fts_tokens AS
SELECT docid, fieldid, w
FROM (
    SELECT docid, 0 AS fieldid,
           unnest(string_split(regexp_replace(lower(strip_accents(title)), '(\\.|[^\p{L}\p{N}])+', ' ', 'g'), ' ')) AS w
    FROM fts_docs_new
    UNION ALL
    SELECT docid, 1 AS fieldid,
           unnest(string_split(regexp_replace(lower(strip_accents(body)), '(\\.|[^\p{L}\p{N}])+', ' ', 'g'), ' ')) AS w
    FROM fts_docs_new
)
WHERE w <> '';

CREATE OR REPLACE TEMP TABLE fts_words AS
SELECT w, stem(w, 'porter') AS term
FROM (SELECT DISTINCT w FROM fts_tokens)
WHERE w NOT IN (SELECT sw FROM fts_main_articles.stopwords);

INSERT INTO fts_main_articles.dict (termid, term, df)
SELECT (SELECT coalesce(max(termid), -1) FROM fts_main_articles.dict) + row_number() OVER (ORDER BY term),
       term, 0
FROM (SELECT DISTINCT term FROM fts_words)
WHERE term NOT IN (SELECT term FROM fts_main_articles.dict);

CREATE OR REPLACE TEMP TABLE fts_word_ids AS
SELECT w.w, d.termid
FROM fts_words AS w
JOIN fts_main_articles.dict AS d ON d.term = w.term;

CREATE OR REPLACE TEMP TABLE fts_postings AS
SELECT t.docid, t.fieldid, i.termid
FROM fts_tokens AS t
JOIN fts_word_ids AS i USING (w);

INSERT INTO fts_main_articles.terms (docid, fieldid, termid)
SELECT docid, fieldid, termid FROM fts_postings;

INSERT INTO fts_main_articles.docs (docid, name, len)
SELECT n.docid, n.article_id, coalesce(l.len, 0)
FROM fts_docs_new AS n
LEFT JOIN (SELECT docid, count(*) AS len FROM fts_postings GROUP BY docid) AS l USING (docid)
ORDER BY n.docid;

-- Document frequencies of the batch: each document's distinct terms, counted (a third faster than
-- count(DISTINCT docid) per term).
CREATE OR REPLACE TEMP TABLE fts_df AS
SELECT termid, count(*) AS n
FROM (SELECT unnest(list_distinct(list(termid))) AS termid FROM fts_postings GROUP BY docid)
GROUP BY termid;

UPDATE fts_main_articles.dict AS d
SET df = d.df + a.n
FROM fts_df AS a
WHERE d.termid = a.termid;

DELETE FROM fts_main_articles.stats;
INSERT INTO fts_main_articles.stats (num_docs, avgdl)
SELECT count(docid), sum(len) / count(len) FROM fts_main_articles.docs;

DROP TABLE fts_tokens;
DROP TABLE fts_postings;
DROP TABLE fts_df;
DROP TABLE fts_words;
DROP TABLE fts_word_ids;
DROP TABLE fts_docs_new;
