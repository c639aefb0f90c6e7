-- Stored articles seen again in this file (run only when there are some): a new current text, or only
-- a re-sighting that moves first_seen_at / last_seen_at.
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
