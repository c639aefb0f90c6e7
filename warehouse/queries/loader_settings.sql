-- For the duration of a load.
-- Every commit of a large file would otherwise trigger an automatic checkpoint (WAL > 16 MB), which
-- rewrites and fsyncs table data and cost more than the load itself. One checkpoint when the connection
-- closes is enough; committed files are safe in the WAL meanwhile.
SET checkpoint_threshold = '4GB';
-- Per-file statements are small: one DuckDB thread leaves the other core to the thread that parses and
-- validates the next file. (The full-text index rebuild was not faster with two threads on a two-core
-- machine either.)
SET threads = 1;
