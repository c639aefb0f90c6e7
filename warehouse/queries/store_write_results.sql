-- Replace the staged articles' results (stg_results, see store_stage_results.sql) per model_id, and
-- adjust story_stance_days and story_stance_weeks (migrations 009, 011) for the stories and days of the
-- claims replaced.

-- The claims about to be replaced, counted negatively per story and day.
CREATE OR REPLACE TEMP TABLE stg_stance_delta AS
SELECT c.model_id, c.model_version, c.codebook_hash, utc_day(c.published_at) AS day,
       coalesce(c.story_id, c.article_id) AS story_id, c.actor, c.position,
       -count(*) FILTER (WHERE c.stance = 'favor') AS n_favor,
       -count(*) FILTER (WHERE c.stance = 'against') AS n_against,
       -count(*) FILTER (WHERE c.stance = 'neutral') AS n_neutral
FROM claims AS c
SEMI JOIN stg_results AS s ON c.article_id = s.article_id AND c.model_id = s.model_id
WHERE c.published_at IS NOT NULL
GROUP BY ALL;

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

-- The new claims, counted positively.
INSERT INTO stg_stance_delta
SELECT c.model_id, c.model_version, c.codebook_hash, utc_day(c.published_at), coalesce(c.story_id, c.article_id),
       c.actor, c.position,
       count(*) FILTER (WHERE c.stance = 'favor'),
       count(*) FILTER (WHERE c.stance = 'against'),
       count(*) FILTER (WHERE c.stance = 'neutral')
FROM claims AS c
SEMI JOIN stg_results AS s ON c.article_id = s.article_id AND c.model_run_id = s.model_run_id
WHERE c.published_at IS NOT NULL
GROUP BY ALL;

-- Stored counts of the touched (configuration, day, story) plus the deltas, written back.
CREATE OR REPLACE TEMP TABLE stg_stance_touched AS
SELECT DISTINCT model_id, model_version, codebook_hash, day, story_id FROM stg_stance_delta;

CREATE OR REPLACE TEMP TABLE stg_stance_days AS
SELECT model_id, model_version, codebook_hash, day, story_id, actor, position,
       sum(n_favor) AS n_favor, sum(n_against) AS n_against, sum(n_neutral) AS n_neutral
FROM (
    SELECT d.* FROM story_stance_days AS d
    SEMI JOIN stg_stance_touched AS k USING (model_id, model_version, codebook_hash, day, story_id)
    UNION ALL
    SELECT * FROM stg_stance_delta
)
GROUP BY ALL;

DELETE FROM story_stance_days AS d
USING stg_stance_touched AS k
WHERE d.model_id = k.model_id AND d.model_version = k.model_version AND d.codebook_hash = k.codebook_hash
  AND d.day = k.day AND d.story_id = k.story_id;

INSERT INTO story_stance_days
SELECT * FROM stg_stance_days WHERE n_favor + n_against + n_neutral > 0;

-- story_stance_weeks (migration 011): the touched (configuration, ISO week, story), recounted from the
-- story_stance_days just written.
CREATE OR REPLACE TEMP TABLE stg_stance_touched AS
SELECT DISTINCT model_id, model_version, codebook_hash, CAST(date_trunc('week', day) AS DATE) AS week, story_id
FROM stg_stance_delta;

DELETE FROM story_stance_weeks AS w
USING stg_stance_touched AS k
WHERE w.model_id = k.model_id AND w.model_version = k.model_version AND w.codebook_hash = k.codebook_hash
  AND w.week = k.week AND w.story_id = k.story_id;

INSERT INTO story_stance_weeks
SELECT d.model_id, d.model_version, d.codebook_hash, k.week, d.story_id, d.actor, d.position,
       sum(d.n_favor), sum(d.n_against), sum(d.n_neutral)
FROM story_stance_days AS d
JOIN stg_stance_touched AS k
  ON d.model_id = k.model_id AND d.model_version = k.model_version AND d.codebook_hash = k.codebook_hash
 AND d.story_id = k.story_id AND d.day >= k.week AND d.day < k.week + 7
GROUP BY ALL;

INSERT OR REPLACE INTO article_classifications (article_id, model_id, model_version, codebook_hash, content_hash,
                                                model_run_id, n_topics, n_claims, classified_at)
SELECT article_id, model_id, model_version, codebook_hash, content_hash, model_run_id, n_topics, n_claims,
       classified_at
FROM stg_results;
