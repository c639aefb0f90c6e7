-- Dominant stance per actor x position as of a day, next to the same a week earlier.
SELECT coalesce(now.actor, before.actor) AS actor,
       coalesce(now.position, before.position) AS position,
       now.stance AS stance,
       now.evidence_count AS evidence_count,
       before.stance AS stance_week_ago,
       now.stance IS DISTINCT FROM before.stance AS changed
FROM actor_position_matrix($day) AS now
FULL OUTER JOIN actor_position_matrix(CAST($day AS DATE) - 7) AS before
  ON now.actor = before.actor AND now.position = before.position
ORDER BY actor, position;
