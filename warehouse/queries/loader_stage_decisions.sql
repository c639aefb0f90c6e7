-- The loader's decisions for one file ($versions, $finals: JSON-lines files written by loader.py).
-- stg_versions: staged lines whose text is new for their article (one article_versions row each).
-- stg_final: per article, its state after the file (line_no = the line holding its current text,
-- NULL when only last_seen_at moves) and, when the text was (re)written, its MinHash signature.
CREATE OR REPLACE TEMP TABLE stg_versions AS
SELECT * FROM read_json($versions, format = 'newline_delimited', columns = {
    line_no: 'INTEGER', article_id: 'VARCHAR', version: 'INTEGER'
});
CREATE OR REPLACE TEMP TABLE stg_final AS
SELECT * FROM read_json($finals, format = 'newline_delimited', columns = {
    article_id: 'VARCHAR', line_no: 'INTEGER', is_new: 'BOOLEAN', version: 'INTEGER', story_id: 'VARCHAR',
    first_seen_at: 'TIMESTAMPTZ', last_seen_at: 'TIMESTAMPTZ', sig_idx: 'INTEGER', signature: 'VARCHAR'
});
