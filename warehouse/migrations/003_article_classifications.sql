-- 003: which article text each model has classified, so that articles without claims (most of them)
-- are not re-sent forever, and an article whose text changed is classified again.

CREATE TABLE article_classifications (
    article_id    VARCHAR NOT NULL,
    model_id      VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    codebook_hash VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,    -- the article text that was classified
    model_run_id  VARCHAR NOT NULL,
    n_topics      INTEGER NOT NULL,
    n_claims      INTEGER NOT NULL,
    classified_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, model_id)
);
