-- The queue is indexed (one writer at a time: nothing was queued since fts_stage_batch.sql read it).
DELETE FROM search_pending;
DROP TABLE fts_batch;
