-- The day's biggest stories: clusters ranked by the number of outlets that carried them.
SELECT * FROM top_stories($day, days := 1) LIMIT 10;
