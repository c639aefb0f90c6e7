-- The synthetic warehouse of peacewatch/bench/warehouse.py, written in bulk into a migrated, empty
-- warehouse. Deterministic for a given $seed (and DuckDB version): every "random" value is hash() of the
-- row number, the seed and a tag. Parameters: $n articles, $m claims of the current model, $m_old
-- claims of an older model, over $days days from 2024-01-01 (UTC), $seed.
--
-- Articles: published at a steady rate (up to two hours of jitter) from 40 outlets; consecutive articles
-- form stories of 1 to ~10 copies (a new story starts with probability 0.3: 3.3 articles per story).
-- Bodies are one short sentence: the trend queries never read them.
-- Claims: $m / $n per article. Copies of a story carry the same claims (actor x position from the
-- story and the claim's slot), each copy turning neutral with probability 0.1, so stories have
-- majorities and ties. The stance of a pair drifts: P(favor) = 0.5 + 0.4 sin(2 pi (day / period +
-- phase)) with a period of 60-400 days per pair, P(against) = 0.8 (1 - P(favor)).
-- Times are computed as epoch seconds (to_timestamp): TIMESTAMPTZ arithmetic (+ INTERVAL, date_diff)
-- goes through the time-zone library row by row, 10-50x slower.

SET VARIABLE bench_start = 1704067200;  -- 2024-01-01 00:00:00 UTC

CREATE OR REPLACE TEMP TABLE gen_articles AS
WITH base AS (
    SELECT i,
           'src' || lpad(CAST(hash(i, $seed, 'source') % 40 AS VARCHAR), 2, '0') AS source_id,
           i = 0 OR hash(i, $seed, 'story') % 10 < 3 AS starts_story,
           getvariable('bench_start') + CAST(i * (($days * 86400.0 - 7200) / $n) AS BIGINT)
               + CAST(hash(i, $seed, 'jitter') % 7200 AS BIGINT) AS published_s
    FROM range($n) AS r(i)
),
grouped AS (
    SELECT *, max(CASE WHEN starts_story THEN i END) OVER (ORDER BY i ROWS UNBOUNDED PRECEDING) AS first_i
    FROM base
)
SELECT i,
       first_i,
       source_id,
       to_timestamp(published_s) AS published_at,
       to_timestamp(published_s + 1800) AS fetched_at,
       (published_s - getvariable('bench_start')) // 86400 AS day_no,
       'https://' || source_id || '.example/a/' || i AS canonical_url,
       md5(canonical_url) AS article_id,
       md5('https://src' || lpad(CAST(hash(first_i, $seed, 'source') % 40 AS VARCHAR), 2, '0')
           || '.example/a/' || first_i) AS story_id
FROM grouped;

INSERT INTO sources (source_id, name, homepage, country, language, first_seen_at, last_seen_at)
SELECT 'src' || lpad(CAST(k AS VARCHAR), 2, '0'), 'Synthetic Outlet ' || k,
       'https://src' || lpad(CAST(k AS VARCHAR), 2, '0') || '.example/', 'XX', 'en',
       to_timestamp(getvariable('bench_start')), to_timestamp(getvariable('bench_start') + $days * 86400)
FROM range(40) AS r(k);

INSERT INTO articles (article_id, url, canonical_url, source_id, title, authors, published_at, updated_at,
                      language, body, raw_html_path, fetched_at, http_status, content_hash, story_id,
                      first_seen_at, last_seen_at, version)
SELECT article_id,
       canonical_url || CASE WHEN i % 3 = 0 THEN '?utm_source=rss&utm_medium=feed' ELSE '' END,
       canonical_url, source_id, 'Synthetic story ' || first_i, [], published_at, NULL, 'en',
       'Synthetic article ' || i || ' of story ' || first_i || '.', 'raw/' || source_id || '/00/x.html.gz',
       fetched_at, 200, md5('body' || i) || md5('text' || i), story_id, fetched_at, fetched_at, 1
FROM gen_articles
ORDER BY i;

INSERT INTO stories (story_id, first_published_at, last_published_at, representative_article_id,
                     representative_title, n_articles, n_outlets)
SELECT story_id, min(published_at), max(published_at), arg_min(article_id, i), 'Synthetic story ' || min(first_i),
       count(*), count(DISTINCT source_id)
FROM gen_articles
GROUP BY story_id;

CREATE OR REPLACE TEMP TABLE gen_pairs AS
SELECT CAST(row_number() OVER (ORDER BY actor, position) - 1 AS UBIGINT) AS pair, actor, position,
       60 + hash(actor, position, $seed, 'period') % 340 AS period,
       (hash(actor, position, $seed, 'phase') % 1000) / 1000.0 AS phase
FROM (VALUES ('russia'), ('ukraine'), ('united_states'), ('europe'), ('nato'), ('china'), ('other')) AS a(actor)
CROSS JOIN (VALUES ('ukraine_nato_ban'), ('no_foreign_troops'), ('recognize_annexation'), ('nato_rollback'),
                   ('ceasefire_first'), ('istanbul_basis'), ('security_guarantees'), ('sanctions_relief'),
                   ('military_aid'), ('ukraine_elections')) AS p(position);

INSERT INTO model_runs (model_run_id, model_id, model_version, codebook_version, codebook_hash, started_at,
                        finished_at, n_articles, n_claims)
VALUES ('bench-run-1', 'lexicon', 'lexicon-1.0', '1.0.0', 'bench-codebook-1',
        to_timestamp(getvariable('bench_start') + $days * 86400),
        to_timestamp(getvariable('bench_start') + $days * 86400 + 3600), $n, $m_old),
       ('bench-run-2', 'encoder', 'encoder-2.1', '1.1.0', 'bench-codebook-2',
        to_timestamp(getvariable('bench_start') + $days * 86400 + 7200),
        to_timestamp(getvariable('bench_start') + $days * 86400 + 18000), $n, $m);

-- The current model's claims (model run bench-run-2), then the older model's (bench-run-1).
INSERT INTO claims (claim_id, article_id, story_id, actor, position, stance, confidence, evidence, model_id,
                    model_version, codebook_hash, model_run_id, published_at)
WITH c AS (
    SELECT j, CAST((j * $n) // $m AS BIGINT) AS i
    FROM range($m) AS r(j)
),
slotted AS (
    SELECT c.j, a.*, c.j - (a.i * $m + $n - 1) // $n AS slot
    FROM c
    JOIN gen_articles AS a USING (i)
),
drawn AS (
    SELECT s.*, p.actor, p.position,
           0.5 + 0.4 * sin(2 * pi() * (s.day_no / p.period + p.phase)) AS p_favor,
           (hash(s.first_i, s.slot, $seed, 'stance') % 1000000) / 1e6 AS u
    FROM slotted AS s
    JOIN gen_pairs AS p ON p.pair = hash(s.first_i, s.slot, $seed, 'pair') % 70
)
SELECT md5('claim-2-' || j), article_id, story_id, actor, position,
       CASE WHEN hash(j, $seed, 'noise') % 10 = 0 THEN 'neutral'
            WHEN u < p_favor THEN 'favor'
            WHEN u < p_favor + 0.8 * (1 - p_favor) THEN 'against'
            ELSE 'neutral' END,
       0.5 + (hash(j, $seed, 'confidence') % 50) / 100.0,
       'Synthetic evidence sentence ' || j || '.',
       'encoder', 'encoder-2.1', 'bench-codebook-2', 'bench-run-2', published_at
FROM drawn
ORDER BY j;

INSERT INTO claims (claim_id, article_id, story_id, actor, position, stance, confidence, evidence, model_id,
                    model_version, codebook_hash, model_run_id, published_at)
SELECT md5('claim-1-' || j), a.article_id, a.story_id, p.actor, p.position,
       CASE hash(j, $seed, 'old-stance') % 3 WHEN 0 THEN 'favor' WHEN 1 THEN 'against' ELSE 'neutral' END,
       0.6, 'Older model evidence ' || j || '.', 'lexicon', 'lexicon-1.0', 'bench-codebook-1', 'bench-run-1',
       a.published_at
FROM range($m_old) AS r(j)
JOIN gen_articles AS a ON a.i = CAST((j * $n) // $m_old AS BIGINT)
JOIN gen_pairs AS p ON p.pair = hash(j, $seed, 'old-pair') % 70
ORDER BY j;

-- One crawl run a day, every outlet, for crawl_health.
INSERT INTO crawl_runs (run_id, source_id, started_at, finished_at, requests, items, responses_by_status,
                        drops_by_reason, empty_bodies, items_loaded, items_quarantined, loaded_at,
                        not_modified, already_seen, extraction_failed)
SELECT strftime(DATE '2024-01-01' + CAST(d AS INTEGER), '%Y%m%dT060000000000Z'), s.source_id,
       to_timestamp(getvariable('bench_start') + d * 86400 + 21600),
       to_timestamp(getvariable('bench_start') + d * 86400 + 21720),
       60, 40, '{"200": 58, "304": 2}', '{}', 0, 40, 0,
       to_timestamp(getvariable('bench_start') + d * 86400 + 25200), 2, 15, '{}'
FROM range($days) AS r(d)
CROSS JOIN sources AS s;

DROP TABLE gen_articles;
DROP TABLE gen_pairs;
