INSERT INTO model_runs (model_run_id, model_id, model_version, codebook_version, codebook_hash, started_at)
VALUES ($model_run_id, $model_id, $model_version, $codebook_version, $codebook_hash, $started_at);
