-- What moved: actor x position pairs whose stance shifted between the baseline and the recent window.
SELECT *
FROM position_shifts($as_of, recent_days := $recent_days, baseline_days := $baseline_days,
                     min_stories := $min_stories, min_delta := $min_delta, z_min := $z_min)
WHERE shifted
ORDER BY abs(z) DESC, abs(delta) DESC;
