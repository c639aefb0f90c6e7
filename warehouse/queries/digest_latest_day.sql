-- The default digest day: the latest UTC day with an article (NULL for an empty warehouse).
SELECT max(day) AS day FROM source_coverage_daily;
