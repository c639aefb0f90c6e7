-- Sources seen in run manifests, with names from config/sources.yaml when it lists them.
INSERT INTO sources (source_id, name, homepage, country, language, first_seen_at, last_seen_at)
VALUES ($source_id, $name, $homepage, $country, $language, $seen_at, $seen_at)
ON CONFLICT (source_id) DO UPDATE SET
    name = coalesce(excluded.name, sources.name),
    homepage = coalesce(excluded.homepage, sources.homepage),
    country = coalesce(excluded.country, sources.country),
    language = coalesce(excluded.language, sources.language),
    first_seen_at = least(sources.first_seen_at, excluded.first_seen_at),
    last_seen_at = greatest(sources.last_seen_at, excluded.last_seen_at);
