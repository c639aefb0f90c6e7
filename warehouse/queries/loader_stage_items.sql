-- The valid lines of one landing file, written by the loader (already validated as CrawledItem and
-- normalised to UTC) to a temporary JSON-lines file at $path.
CREATE OR REPLACE TEMP TABLE stg_items AS
SELECT line_no,
       md5(canonical_url) AS article_id,
       url, canonical_url, source_id, title, authors, published_at, updated_at, language, body,
       raw_html_path, fetched_at, http_status, content_hash
FROM read_json($path, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    line_no: 'INTEGER', url: 'VARCHAR', canonical_url: 'VARCHAR', source_id: 'VARCHAR', title: 'VARCHAR',
    authors: 'VARCHAR[]', published_at: 'TIMESTAMPTZ', updated_at: 'TIMESTAMPTZ', language: 'VARCHAR',
    body: 'VARCHAR', raw_html_path: 'VARCHAR', fetched_at: 'TIMESTAMPTZ', http_status: 'INTEGER',
    content_hash: 'VARCHAR'
});
