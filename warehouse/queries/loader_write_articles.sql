-- Apply one file's decisions: text versions, new articles, signatures, and the full-text index queue
-- (stored articles seen again: loader_keep_outgoing_bodies.sql before, loader_update_articles.sql after).
-- A text is stored once: article_history.body is NULL for the version that is the article's current
-- text, which is articles.body (migration 007; the view article_versions shows every body).
INSERT INTO article_history (article_id, version, content_hash, title, body, fetched_at, run_id)
SELECT v.article_id, v.version, i.content_hash, i.title,
       CASE WHEN v.line_no = f.line_no THEN NULL ELSE i.body END,
       i.fetched_at, $run_id
FROM stg_versions AS v
JOIN stg_items AS i USING (line_no)
JOIN stg_final AS f ON f.article_id = v.article_id;

INSERT INTO articles (article_id, url, canonical_url, source_id, title, authors, published_at, updated_at,
                      language, body, raw_html_path, fetched_at, http_status, content_hash, story_id,
                      first_seen_at, last_seen_at, version)
SELECT f.article_id, i.url, i.canonical_url, i.source_id, i.title, i.authors, i.published_at, i.updated_at,
       i.language, i.body, i.raw_html_path, i.fetched_at, i.http_status, i.content_hash, f.story_id,
       f.first_seen_at, f.last_seen_at, f.version
FROM stg_final AS f
JOIN stg_items AS i USING (line_no)
WHERE f.is_new;

-- Signatures of the new texts (those of earlier versions stay: copies of them must still match).
INSERT INTO article_minhash (article_id, version, scheme, signature, story_id)
SELECT article_id, version, $scheme, unhex(signature), story_id
FROM stg_final
WHERE signature IS NOT NULL;

-- New texts wait for the full-text index (warehouse/search.py).
INSERT INTO search_pending (article_id)
SELECT article_id FROM stg_final WHERE line_no IS NOT NULL;
