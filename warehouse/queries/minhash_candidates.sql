-- Stored text versions sharing at least one LSH band key with an article of the batch (batch_band_keys
-- is a registered numpy frame: idx, band, bucket), with their signatures and stories.
WITH hits AS (
    SELECT DISTINCT k.idx, b.article_id, b.version
    FROM batch_band_keys AS k
    JOIN minhash_bands AS b ON b.band = k.band AND b.bucket = k.bucket AND b.scheme = $scheme
)
SELECT h.idx, m.article_id, m.version, m.signature, m.story_id
FROM hits AS h
JOIN article_minhash AS m
  ON m.article_id = h.article_id AND m.version = h.version AND m.scheme = $scheme;
