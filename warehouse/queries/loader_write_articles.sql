-- Apply one file's decisions: versions, new articles, replaced texts, re-sightings, signatures.
INSERT INTO article_versions (article_id, version, content_hash, title, body, fetched_at, run_id)
SELECT v.article_id, v.version, i.content_hash, i.title, i.body, i.fetched_at, $run_id
FROM stg_versions AS v
JOIN stg_items AS i USING (line_no);

INSERT INTO articles (article_id, url, canonical_url, source_id, title, authors, published_at, updated_at,
                      language, body, raw_html_path, fetched_at, http_status, content_hash, story_id,
                      first_seen_at, last_seen_at, version)
SELECT f.article_id, i.url, i.canonical_url, i.source_id, i.title, i.authors, i.published_at, i.updated_at,
       i.language, i.body, i.raw_html_path, i.fetched_at, i.http_status, i.content_hash, f.story_id,
       f.first_seen_at, f.last_seen_at, f.version
FROM stg_final AS f
JOIN stg_items AS i USING (line_no)
WHERE f.is_new;

UPDATE articles AS a
SET url = i.url, canonical_url = i.canonical_url, source_id = i.source_id, title = i.title,
    authors = i.authors, published_at = i.published_at, updated_at = i.updated_at, language = i.language,
    body = i.body, raw_html_path = i.raw_html_path, fetched_at = i.fetched_at, http_status = i.http_status,
    content_hash = i.content_hash, version = f.version,
    first_seen_at = least(a.first_seen_at, f.first_seen_at), last_seen_at = greatest(a.last_seen_at, f.last_seen_at)
FROM stg_final AS f
JOIN stg_items AS i USING (line_no)
WHERE a.article_id = f.article_id AND NOT f.is_new;

UPDATE articles AS a
SET first_seen_at = least(a.first_seen_at, f.first_seen_at), last_seen_at = greatest(a.last_seen_at, f.last_seen_at)
FROM stg_final AS f
WHERE a.article_id = f.article_id AND NOT f.is_new AND f.line_no IS NULL;

-- Signatures of the new texts (those of earlier versions stay: copies of them must still match).
INSERT INTO article_minhash (article_id, version, scheme, signature, story_id)
SELECT article_id, version, $scheme, unhex(signature), story_id
FROM stg_final
WHERE signature IS NOT NULL;
