-- Replace the staged articles' results (stg_results, see store_stage_results.sql) per model_id.
DELETE FROM article_topics AS t
USING stg_results AS s
WHERE t.article_id = s.article_id AND t.model_id = s.model_id;

DELETE FROM claims AS c
USING stg_results AS s
WHERE c.article_id = s.article_id AND c.model_id = s.model_id;

INSERT INTO article_topics (article_id, topic, score, model_run_id, model_id)
SELECT t.article_id, t.topic, t.score, t.model_run_id, s.model_id
FROM (
    SELECT unnest(from_json($topics, '[{"article_id": "VARCHAR", "model_run_id": "VARCHAR", "topic": "VARCHAR",
                                        "score": "DOUBLE"}]'), recursive := true)
) AS t
JOIN stg_results AS s USING (article_id, model_run_id);

INSERT INTO claims (claim_id, article_id, story_id, actor, position, stance, confidence, evidence, model_id,
                    model_version, codebook_hash, model_run_id, published_at)
SELECT c.claim_id, c.article_id, s.story_id, c.actor, c.position, c.stance, c.confidence, c.evidence,
       s.model_id, s.model_version, s.codebook_hash, c.model_run_id, s.published_at
FROM (
    SELECT unnest(from_json($claims, '[{"claim_id": "VARCHAR", "article_id": "VARCHAR", "model_run_id": "VARCHAR",
                                        "actor": "VARCHAR", "position": "VARCHAR", "stance": "VARCHAR",
                                        "confidence": "DOUBLE", "evidence": "VARCHAR"}]'), recursive := true)
) AS c
JOIN stg_results AS s USING (article_id, model_run_id);

INSERT OR REPLACE INTO article_classifications (article_id, model_id, model_version, codebook_hash, content_hash,
                                                model_run_id, n_topics, n_claims, classified_at)
SELECT article_id, model_id, model_version, codebook_hash, content_hash, model_run_id, n_topics, n_claims,
       classified_at
FROM stg_results;
