-- Dominant stance per actor x position over the 30 days to the digest day, next to the same a week
-- earlier. A pair without evidence in one of the two windows is "no data" there, never a change.
WITH now AS (SELECT * FROM actor_position_matrix($day)),
     before AS (SELECT * FROM actor_position_matrix(CAST($day AS DATE) - 7))
SELECT coalesce(n.actor, b.actor) AS actor,
       coalesce(n.position, b.position) AS position,
       n.stance AS stance,
       coalesce(n.evidence_count, 0) AS evidence_count,
       n.favor, n.against, n.neutral,
       (n.favor - n.against) / n.evidence_count::DOUBLE AS net,
       b.stance AS stance_week_ago,
       coalesce(b.evidence_count, 0) AS evidence_count_week_ago,
       (b.favor - b.against) / b.evidence_count::DOUBLE AS net_week_ago,
       CASE WHEN n.actor IS NULL THEN 'no_data_now'
            WHEN b.actor IS NULL THEN 'no_data_before'
            WHEN n.stance <> b.stance THEN 'changed'
            ELSE 'same' END AS comparison,
       n.actor IS NOT NULL AND b.actor IS NOT NULL AND n.stance <> b.stance AS changed
FROM now AS n
FULL OUTER JOIN before AS b ON n.actor = b.actor AND n.position = b.position
ORDER BY changed DESC, actor, position;
