-- Which classifier's claims the stance views count. Claims of several models (lexicon, encoder, nli, ...)
-- and codebooks coexist in `claims` (results of one model_id replace each other per article, those of
-- different model_ids do not). Counting them together would count a statement once per model.

-- The current model configuration: that of the model run that finished last (if no run has finished
-- yet, the run started last). One row, or none before the first classification.
CREATE OR REPLACE VIEW current_model AS
SELECT model_run_id, model_id, model_version, codebook_version, codebook_hash, started_at, finished_at
FROM model_runs
ORDER BY finished_at IS NULL, finished_at DESC, started_at DESC, model_run_id DESC
LIMIT 1;

-- The claims of the current configuration (model_id, model_version, codebook_hash), from every run of
-- it: what story_stances, story_stance_daily, stance_daily, stance_weekly(_until),
-- actor_position_matrix, position_shifts (through story_stance_days) and source_coverage_daily count.
-- Query `claims` for every model. (Selected by model_run_id, a single column: a claim's configuration
-- is its run's, warehouse/store.py copies it from model_runs.)
CREATE OR REPLACE VIEW current_claims AS
SELECT c.*
FROM claims AS c
WHERE c.model_run_id IN (SELECT r.model_run_id
                         FROM model_runs AS r
                         SEMI JOIN current_model AS m USING (model_id, model_version, codebook_hash));
