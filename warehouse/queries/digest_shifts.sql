-- What moved: actor x position pairs whose stance shifted between the baseline and the recent window
-- (position_shifts decides; see warehouse/views/040_position_shifts.sql), strongest evidence first.
SELECT actor, position, baseline_from, baseline_to, recent_from, recent_to,
       baseline_stories,
       CAST(round(baseline_favor_share * baseline_stories) AS INTEGER) AS baseline_favor,
       CAST(round(baseline_neutral_share * baseline_stories) AS INTEGER) AS baseline_neutral,
       CAST(round(baseline_against_share * baseline_stories) AS INTEGER) AS baseline_against,
       baseline_net,
       recent_stories,
       CAST(round(recent_favor_share * recent_stories) AS INTEGER) AS recent_favor,
       CAST(round(recent_neutral_share * recent_stories) AS INTEGER) AS recent_neutral,
       CAST(round(recent_against_share * recent_stories) AS INTEGER) AS recent_against,
       recent_net, delta, z, from_stance, to_stance
FROM position_shifts($as_of, recent_days := $recent_days, baseline_days := $baseline_days,
                     min_stories := $min_stories, min_delta := $min_delta, z_min := $z_min)
WHERE shifted
ORDER BY abs(z) DESC, abs(delta) DESC, actor, position;
