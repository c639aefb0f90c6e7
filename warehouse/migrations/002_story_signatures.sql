-- 002: persisted MinHash signatures and LSH band keys, so that incremental loads cluster new articles
-- against every stored article (see warehouse/stories.py for the scheme).

CREATE TABLE article_minhash (
    article_id VARCHAR PRIMARY KEY,
    scheme     VARCHAR NOT NULL,      -- stories.SCHEME: signatures of another scheme are not comparable
    signature  BLOB NOT NULL,         -- NUM_PERM little-endian uint32 values
    story_id   VARCHAR NOT NULL       -- = articles.story_id (fixed once assigned); saves a join per lookup
);

-- One row per article and band; two articles are candidates when they share (band, bucket).
CREATE TABLE minhash_bands (
    band       SMALLINT NOT NULL,
    bucket     UBIGINT NOT NULL,
    article_id VARCHAR NOT NULL,
    scheme     VARCHAR NOT NULL
);
