-- 005: keep the signature of every text version of an article, not only the latest. Outlets often
-- re-publish a wire story before the agency updates it; later copies of the earlier text must still find
-- the story (and identical copies store no band keys of their own, see stories.Clustering.redundant).

CREATE TABLE article_minhash_versions (
    article_id VARCHAR NOT NULL,
    version    INTEGER NOT NULL,          -- article_versions.version of the text signed
    scheme     VARCHAR NOT NULL,
    signature  BLOB NOT NULL,
    story_id   VARCHAR NOT NULL,
    PRIMARY KEY (article_id, version)
);

INSERT INTO article_minhash_versions (article_id, version, scheme, signature, story_id)
SELECT m.article_id, a.version, m.scheme, m.signature, m.story_id
FROM article_minhash AS m
JOIN articles AS a USING (article_id);

DROP TABLE article_minhash;
ALTER TABLE article_minhash_versions RENAME TO article_minhash;

ALTER TABLE minhash_bands ADD COLUMN version INTEGER;
UPDATE minhash_bands AS b SET version = a.version FROM articles AS a WHERE a.article_id = b.article_id;
