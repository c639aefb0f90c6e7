-- Method: the model runs and codebook behind the claims counted in the digest.
SELECT r.model_id, r.model_version, r.codebook_version, r.codebook_hash, r.finished_at,
       (SELECT count(*) FROM articles) AS articles,
       (SELECT count(*) FROM stories) AS stories,
       (SELECT count(*) FROM claims) AS claims
FROM model_runs AS r
ORDER BY r.finished_at DESC NULLS LAST
LIMIT 1;
