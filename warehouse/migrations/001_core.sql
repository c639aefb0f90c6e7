-- 001: the core tables. Timestamps are TIMESTAMPTZ (instants); views derive UTC days from them.
-- Load lineage: landing file -> load_ledger -> articles / article_versions / quarantine / crawl_runs.

CREATE TABLE sources (
    source_id     VARCHAR PRIMARY KEY,
    name          VARCHAR,
    homepage      VARCHAR,
    country       VARCHAR,
    language      VARCHAR,
    first_seen_at TIMESTAMPTZ,             -- first crawl run that reported the source
    last_seen_at  TIMESTAMPTZ
);

-- One row per crawl run and source, from the run manifest's SourceStats.
CREATE TABLE crawl_runs (
    run_id              VARCHAR NOT NULL,
    source_id           VARCHAR NOT NULL,
    started_at          TIMESTAMPTZ,
    finished_at         TIMESTAMPTZ,
    requests            INTEGER NOT NULL DEFAULT 0,
    items               INTEGER NOT NULL DEFAULT 0,   -- items the crawler reported
    responses_by_status JSON,                         -- {"200": 41, "404": 2, ...}
    drops_by_reason     JSON,                         -- {"not_article": 7, "too_large": 1, ...}
    empty_bodies        INTEGER,                      -- loaded items whose body is empty
    items_loaded        INTEGER,                      -- valid lines of the source's landing file
    items_quarantined   INTEGER,                      -- invalid lines (see quarantine)
    loaded_at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, source_id)
);

-- Every landing file the loader has finished, keyed by content: a file is loaded at most once.
CREATE TABLE load_ledger (
    sha256           VARCHAR PRIMARY KEY,
    file_path        VARCHAR NOT NULL,     -- relative to the data dir
    run_id           VARCHAR NOT NULL,
    rows             INTEGER NOT NULL,     -- non-empty lines in the file
    rows_loaded      INTEGER NOT NULL,
    rows_quarantined INTEGER NOT NULL,
    status           VARCHAR NOT NULL CHECK (status IN ('loaded', 'quarantined')),
    loaded_at        TIMESTAMPTZ NOT NULL
);

-- One row per canonical URL, holding the latest text (the one with the latest fetched_at).
CREATE TABLE articles (
    article_id    VARCHAR PRIMARY KEY,     -- md5(canonical_url)
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
    content_hash  VARCHAR NOT NULL,        -- sha256 of whitespace-normalised body
    story_id      VARCHAR,                 -- near-duplicate cluster (stories.story_id)
    first_seen_at TIMESTAMPTZ NOT NULL,    -- earliest fetched_at of any version
    last_seen_at  TIMESTAMPTZ NOT NULL,    -- latest fetched_at, also of unchanged re-fetches
    version       INTEGER NOT NULL         -- article_versions.version of the current text
);

-- Every distinct text an article has had, numbered in the order the loader saw them.
CREATE TABLE article_versions (
    article_id   VARCHAR NOT NULL,
    version      INTEGER NOT NULL,
    content_hash VARCHAR NOT NULL,
    title        VARCHAR,
    body         VARCHAR,
    fetched_at   TIMESTAMPTZ NOT NULL,
    run_id       VARCHAR NOT NULL,
    PRIMARY KEY (article_id, version)
);

-- Near-duplicate clusters (syndicated copies of one article); story_id = article_id of the first member.
CREATE TABLE stories (
    story_id                  VARCHAR PRIMARY KEY,
    first_published_at        TIMESTAMPTZ,
    last_published_at         TIMESTAMPTZ,
    representative_article_id VARCHAR NOT NULL,   -- the earliest article
    representative_title      VARCHAR,
    n_articles                INTEGER NOT NULL,
    n_outlets                 INTEGER NOT NULL
);

-- Records the loader refused, with the reason: nothing is dropped silently.
CREATE SEQUENCE quarantine_id_seq;
CREATE TABLE quarantine (
    quarantine_id  BIGINT PRIMARY KEY DEFAULT nextval('quarantine_id_seq'),
    source_file    VARCHAR NOT NULL,      -- relative to the data dir
    file_sha256    VARCHAR,
    run_id         VARCHAR,
    line           INTEGER,               -- NULL when the whole file is refused (checksum mismatch)
    raw_record     VARCHAR,
    reason         VARCHAR NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
);

-- One classifier run: which model and codebook produced the topics and claims.
CREATE TABLE model_runs (
    model_run_id     VARCHAR PRIMARY KEY,
    model_id         VARCHAR NOT NULL,
    model_version    VARCHAR NOT NULL,
    codebook_version VARCHAR NOT NULL,
    codebook_hash    VARCHAR NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,          -- NULL while running (or if the run died)
    n_articles       INTEGER,
    n_claims         INTEGER
);

CREATE TABLE article_topics (
    article_id   VARCHAR NOT NULL,
    topic        VARCHAR NOT NULL,
    score        DOUBLE NOT NULL,
    model_run_id VARCHAR NOT NULL,
    model_id     VARCHAR NOT NULL,          -- results are replaced per article and model_id
    PRIMARY KEY (article_id, model_id, topic)
);

CREATE TABLE claims (
    claim_id      VARCHAR PRIMARY KEY,
    article_id    VARCHAR NOT NULL,
    story_id      VARCHAR,                  -- copied from articles when the claim is saved
    actor         VARCHAR NOT NULL,
    position      VARCHAR NOT NULL,
    stance        VARCHAR NOT NULL CHECK (stance IN ('favor', 'against', 'neutral')),
    confidence    DOUBLE NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    evidence      VARCHAR,
    model_id      VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    codebook_hash VARCHAR NOT NULL,
    model_run_id  VARCHAR NOT NULL,
    published_at  TIMESTAMPTZ               -- article's published_at (else fetched_at) when saved
);
