-- Articles to classify with one model: those it has not classified with this model version and codebook
-- (by model_id + model_version + codebook_hash), or whose text changed since; every article when
-- $reclassify is true. Oldest first, so an interrupted run resumes where it stopped.
SELECT a.article_id, a.title, a.body
FROM articles AS a
LEFT JOIN article_classifications AS c
       ON c.article_id = a.article_id AND c.model_id = $model_id
WHERE $reclassify
   OR c.article_id IS NULL
   OR c.model_version <> $model_version
   OR c.codebook_hash <> $codebook_hash
   OR c.content_hash <> a.content_hash
ORDER BY coalesce(a.published_at, a.fetched_at), a.article_id;
