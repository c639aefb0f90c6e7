UPDATE model_runs
SET finished_at = $finished_at, n_articles = $n_articles, n_claims = $n_claims
WHERE model_run_id = $model_run_id;
