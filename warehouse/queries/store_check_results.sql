-- Buffered results that cannot be stored: unknown model run or unknown article.
SELECT article_id, model_run_id, model_id IS NULL AS unknown_run, content_hash IS NULL AS unknown_article
FROM stg_results
WHERE model_id IS NULL OR content_hash IS NULL
LIMIT 5;
