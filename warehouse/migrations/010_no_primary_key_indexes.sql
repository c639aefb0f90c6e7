-- 010: no PRIMARY KEY on the big tables (articles, article_history, article_minhash, stories, claims,
-- article_topics). DuckDB backs a primary key with an ART index that it writes out whole at every
-- checkpoint once a row was added: with 1M articles, a load of 5k articles spent ~1.3 s per such index
-- in the final checkpoint (and grew the file by the index's size), and inserting 1M md5 keys cost 6x
-- the rows themselves. The loader and warehouse/store.py keep these keys unique by construction
-- (stored articles are looked up before writing; results are replaced per article); the tests check
-- it. The small tables keep their keys (crawl_runs, load_ledger, sources, model_runs,
-- article_classifications, index_builds: ON CONFLICT / INSERT OR REPLACE rely on them).
-- DuckDB cannot drop a constraint: each table is re-created with the same columns, NOT NULL and
-- CHECK constraints, in the same column order.

CREATE TABLE articles_010 (
    article_id    VARCHAR NOT NULL,
    url           VARCHAR NOT NULL,
    canonical_url VARCHAR NOT NULL,
    source_id     VARCHAR NOT NULL,
    title         VARCHAR,
    authors       VARCHAR[],
    published_at  TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ,
    language      VARCHAR,
    body          VARCHAR,
    raw_html_path VARCHAR,
    fetched_at    TIMESTAMPTZ NOT NULL,
    http_status   INTEGER,
    content_hash  VARCHAR NOT NULL,
    story_id      VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    version       INTEGER NOT NULL
);
INSERT INTO articles_010 SELECT * FROM articles;
DROP TABLE articles;
ALTER TABLE articles_010 RENAME TO articles;

CREATE TABLE article_history_010 (
    article_id   VARCHAR NOT NULL,
    version      INTEGER NOT NULL,
    content_hash VARCHAR NOT NULL,
    title        VARCHAR,
    body         VARCHAR,
    fetched_at   TIMESTAMPTZ NOT NULL,
    run_id       VARCHAR NOT NULL
);
INSERT INTO article_history_010 SELECT * FROM article_history;
DROP TABLE article_history;
ALTER TABLE article_history_010 RENAME TO article_history;

CREATE TABLE article_minhash_010 (
    article_id VARCHAR NOT NULL,
    version    INTEGER NOT NULL,
    scheme     VARCHAR NOT NULL,
    signature  BLOB NOT NULL,
    story_id   VARCHAR NOT NULL
);
INSERT INTO article_minhash_010 SELECT * FROM article_minhash;
DROP TABLE article_minhash;
ALTER TABLE article_minhash_010 RENAME TO article_minhash;

CREATE TABLE stories_010 (
    story_id                  VARCHAR NOT NULL,
    first_published_at        TIMESTAMPTZ,
    last_published_at         TIMESTAMPTZ,
    representative_article_id VARCHAR NOT NULL,
    representative_title      VARCHAR,
    n_articles                INTEGER NOT NULL,
    n_outlets                 INTEGER NOT NULL
);
INSERT INTO stories_010 SELECT * FROM stories;
DROP TABLE stories;
ALTER TABLE stories_010 RENAME TO stories;

CREATE TABLE article_topics_010 (
    article_id   VARCHAR NOT NULL,
    topic        VARCHAR NOT NULL,
    score        DOUBLE NOT NULL,
    model_run_id VARCHAR NOT NULL,
    model_id     VARCHAR NOT NULL
);
INSERT INTO article_topics_010 SELECT * FROM article_topics;
DROP TABLE article_topics;
ALTER TABLE article_topics_010 RENAME TO article_topics;

CREATE TABLE claims_010 (
    claim_id      VARCHAR NOT NULL,
    article_id    VARCHAR NOT NULL,
    story_id      VARCHAR,
    actor         VARCHAR NOT NULL,
    position      VARCHAR NOT NULL,
    stance        VARCHAR NOT NULL CHECK (stance IN ('favor', 'against', 'neutral')),
    confidence    DOUBLE NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    evidence      VARCHAR,
    model_id      VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    codebook_hash VARCHAR NOT NULL,
    model_run_id  VARCHAR NOT NULL,
    published_at  TIMESTAMPTZ
);
INSERT INTO claims_010 SELECT * FROM claims;
DROP TABLE claims;
ALTER TABLE claims_010 RENAME TO claims;
