-- Method: the model and codebook behind the current claims in the digest's windows (claims per run
-- configuration); when the windows have no claims, the latest model run.
WITH used AS (
    SELECT c.model_id, c.model_version, r.codebook_version, c.codebook_hash,
           count(*) AS claims, max(r.finished_at) AS finished_at
    FROM current_claims AS c
    LEFT JOIN model_runs AS r USING (model_run_id)
    WHERE utc_day(c.published_at) BETWEEN $baseline_from AND $as_of
    GROUP BY ALL
),
latest AS (
    SELECT model_id, model_version, codebook_version, codebook_hash, 0 AS claims, finished_at
    FROM model_runs
    ORDER BY finished_at DESC NULLS LAST, started_at DESC
    LIMIT 1
)
SELECT * FROM used
UNION ALL
SELECT * FROM latest WHERE NOT EXISTS (SELECT 1 FROM used)
ORDER BY claims DESC, finished_at DESC NULLS LAST;
