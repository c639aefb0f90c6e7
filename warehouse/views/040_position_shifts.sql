-- Did an actor's stance on a position move? Recent window: the recent_days UTC days ending on as_of;
-- baseline: the baseline_days days before it. In each window every story counts once, with its
-- majority stance, scored favor +1 / neutral 0 / against -1.
--   net   = (favor - against) / stories            (unsmoothed, -1 .. 1); delta = net_recent - net_baseline
--   z     = difference of mean scores over its standard error, with plus-one smoothing: each window gets
--           one pseudo-story of each stance, so a window where every story agrees still has a variance
--   shifted = both windows have >= min_stories, |delta| >= min_delta and |z| >= z_min
-- z_min = 3.0: two-sided p = 0.0027 per pair, i.e. ~0.19 false alarms expected over ~70 pairs (Bonferroni).
CREATE OR REPLACE MACRO position_shifts(as_of, recent_days := 14, baseline_days := 42, min_stories := 3,
                                        min_delta := 0.4, z_min := 3.0) AS TABLE
WITH recent AS (
    SELECT actor, position,
           count(*) AS n,
           count(*) FILTER (WHERE stance = 'favor') AS f,
           count(*) FILTER (WHERE stance = 'against') AS a,
           count(*) FILTER (WHERE stance = 'neutral') AS u
    FROM story_stances(CAST(as_of AS DATE) - recent_days + 1, CAST(as_of AS DATE))
    GROUP BY actor, position
),
baseline AS (
    SELECT actor, position,
           count(*) AS n,
           count(*) FILTER (WHERE stance = 'favor') AS f,
           count(*) FILTER (WHERE stance = 'against') AS a,
           count(*) FILTER (WHERE stance = 'neutral') AS u
    FROM story_stances(CAST(as_of AS DATE) - recent_days - baseline_days + 1, CAST(as_of AS DATE) - recent_days)
    GROUP BY actor, position
),
pairs AS (
    SELECT coalesce(r.actor, b.actor) AS actor,
           coalesce(r.position, b.position) AS position,
           coalesce(b.n, 0) AS nb, coalesce(b.f, 0) AS fb, coalesce(b.a, 0) AS ab, coalesce(b.u, 0) AS ub,
           coalesce(r.n, 0) AS nr, coalesce(r.f, 0) AS fr, coalesce(r.a, 0) AS ar, coalesce(r.u, 0) AS ur
    FROM recent AS r
    FULL OUTER JOIN baseline AS b ON r.actor = b.actor AND r.position = b.position
),
smoothed AS (
    SELECT *,
           (fb - ab) / (nb + 3.0) AS mb,                                   -- mean score, plus-one smoothed
           (fr - ar) / (nr + 3.0) AS mr,
           (fb + ab + 2) / (nb + 3.0) - ((fb - ab) / (nb + 3.0)) ** 2 AS vb,  -- E[s^2] - E[s]^2
           (fr + ar + 2) / (nr + 3.0) - ((fr - ar) / (nr + 3.0)) ** 2 AS vr
    FROM pairs
),
scored AS (
    SELECT *,
           CASE WHEN nb > 0 THEN (fb - ab) / nb::DOUBLE END AS net_b,
           CASE WHEN nr > 0 THEN (fr - ar) / nr::DOUBLE END AS net_r,
           (mr - mb) / sqrt(vr / (nr + 3.0) + vb / (nb + 3.0)) AS z_stat
    FROM smoothed
)
SELECT actor,
       position,
       CAST(as_of AS DATE) - recent_days - baseline_days + 1 AS baseline_from,
       CAST(as_of AS DATE) - recent_days AS baseline_to,
       CAST(as_of AS DATE) - recent_days + 1 AS recent_from,
       CAST(as_of AS DATE) AS recent_to,
       nb AS baseline_stories,
       fb / nullif(nb, 0)::DOUBLE AS baseline_favor_share,
       ab / nullif(nb, 0)::DOUBLE AS baseline_against_share,
       ub / nullif(nb, 0)::DOUBLE AS baseline_neutral_share,
       net_b AS baseline_net,
       nr AS recent_stories,
       fr / nullif(nr, 0)::DOUBLE AS recent_favor_share,
       ar / nullif(nr, 0)::DOUBLE AS recent_against_share,
       ur / nullif(nr, 0)::DOUBLE AS recent_neutral_share,
       net_r AS recent_net,
       net_r - net_b AS delta,
       z_stat AS z,
       CASE WHEN nb > 0 THEN majority_stance(fb, ab, ub) END AS from_stance,
       CASE WHEN nr > 0 THEN majority_stance(fr, ar, ur) END AS to_stance,
       coalesce(nb >= min_stories AND nr >= min_stories
                AND abs(net_r - net_b) >= min_delta AND abs(z_stat) >= z_min, false) AS shifted
FROM scored;
