-- Write buffered classifier results (warehouse/store.py) in one transaction. Each parameter is a JSON
-- array: $results one element per article and model run, $topics and $claims one per row. An article's
-- earlier results from the same model_id are replaced; story_id and published_at (else fetched_at)
-- come from the article as it is now.
CREATE OR REPLACE TEMP TABLE stg_results AS
SELECT r.article_id, r.model_run_id, r.classified_at, r.n_topics, r.n_claims,
       m.model_id, m.model_version, m.codebook_hash,
       a.story_id, coalesce(a.published_at, a.fetched_at) AS published_at, a.content_hash
FROM (
    SELECT unnest(from_json($results, '[{"article_id": "VARCHAR", "model_run_id": "VARCHAR",
                                         "classified_at": "TIMESTAMPTZ", "n_topics": "INTEGER",
                                         "n_claims": "INTEGER"}]'), recursive := true)
) AS r
LEFT JOIN model_runs AS m USING (model_run_id)
LEFT JOIN articles AS a USING (article_id)
-- The same article saved twice for one model before a flush: the later result wins.
QUALIFY row_number() OVER (PARTITION BY r.article_id, m.model_id ORDER BY r.classified_at DESC, r.model_run_id DESC) = 1;
