-- The family of tests behind "What moved": how many actor x position pairs had evidence, how many had
-- enough stories in both windows to be tested, how many passed; and the closest calls that did not.
WITH s AS (
    SELECT *, baseline_stories >= $min_stories AND recent_stories >= $min_stories AS tested
    FROM position_shifts($as_of, recent_days := $recent_days, baseline_days := $baseline_days,
                         min_stories := $min_stories, min_delta := $min_delta, z_min := $z_min)
)
SELECT count(*) AS pairs_with_evidence,
       count(*) FILTER (WHERE tested) AS pairs_tested,
       count(*) FILTER (WHERE shifted) AS pairs_shifted,
       list({'actor': actor, 'position': position, 'z': z, 'delta': delta,
             'baseline_stories': baseline_stories, 'recent_stories': recent_stories}
            ORDER BY abs(z) DESC, actor, position) FILTER (WHERE tested AND NOT shifted AND abs(z) >= 1.5)
           AS near_misses
FROM s;
