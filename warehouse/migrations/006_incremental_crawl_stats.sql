-- 006: the crawler's incremental-crawl and layout counters (contracts.SourceStats). Rows loaded before
-- this migration have NULL there: unknown, not zero.
--   not_modified       discovery documents (feeds, sitemaps, listings) that answered 304 to a conditional GET
--   already_seen       article URLs an earlier run fetched that no discovery date says changed since
--   extraction_failed  {"selector_miss": 3, "no_body": 1, ...}: pages where the source's layout did not match

ALTER TABLE crawl_runs ADD COLUMN not_modified INTEGER;
ALTER TABLE crawl_runs ADD COLUMN already_seen INTEGER;
ALTER TABLE crawl_runs ADD COLUMN extraction_failed JSON;
