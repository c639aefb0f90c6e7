-- LSH band keys of the file's (re)written articles; batch_bands is a registered numpy frame
-- (idx = stg_final.sig_idx, band, bucket). Articles whose signature equals one already stored are left
-- out by the loader: they would only make a bucket longer, never find anything new.
INSERT INTO minhash_bands (band, bucket, article_id, scheme, version)
SELECT b.band, b.bucket, f.article_id, $scheme, f.version
FROM batch_bands AS b
JOIN stg_final AS f ON f.sig_idx = b.idx;
