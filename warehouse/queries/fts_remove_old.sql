-- Take the previous texts of re-indexed articles out of the index: document frequencies, postings,
-- documents, and terms no document uses any more.
UPDATE fts_main_articles.dict AS d
SET df = d.df - o.n
FROM (
    SELECT termid, count(DISTINCT docid) AS n
    FROM fts_main_articles.terms
    WHERE docid IN (SELECT old_docid FROM fts_batch WHERE old_docid IS NOT NULL)
    GROUP BY termid
) AS o
WHERE d.termid = o.termid;
DELETE FROM fts_main_articles.terms WHERE docid IN (SELECT old_docid FROM fts_batch WHERE old_docid IS NOT NULL);
DELETE FROM fts_main_articles.docs WHERE docid IN (SELECT old_docid FROM fts_batch WHERE old_docid IS NOT NULL);
DELETE FROM fts_main_articles.dict WHERE df <= 0;
