"""The full-text index over article titles and bodies, kept up to date incrementally.

The index is the fts extension's (schema fts_main_articles: docs, terms, dict, stats, and the macro
match_bm25 that `search_articles` uses), created once by PRAGMA create_fts_index
(queries/create_fts_index.sql). Rebuilding it with the PRAGMA after every load read every article ever
loaded: ~1 ms of CPU per article on the development machine, so a load of 5k new articles into a
warehouse of 1M paid for 1M. Instead:

* every load transaction queues the articles whose text it wrote in `search_pending` (migration 008);
* `refresh` indexes the queue in one transaction: it takes the previous text of re-indexed articles out
  of the index (postings, document frequencies, documents) and adds the new texts with the same
  tokenizer, stop words and stemmer as the PRAGMA (queries/fts_add_batch.sql; tests/test_warehouse.py
  checks that both give the same index and the same BM25 scores). Its cost grows with the batch, not
  with the warehouse, and it is about 3x cheaper per article than the PRAGMA (each distinct word of a
  batch is stemmed once, and words are split without a regular-expression split);
* when the index is empty, or the queue is at least as large as the index (a first load, a backfill),
  `refresh` rebuilds it from scratch (queries/rebuild_fts.sql), with the same statements.

`loader.load` calls `refresh` after loading (unless `rebuild_search=False`, which leaves the queue for the
next load or for `refresh_index`). A load killed before or during the refresh loses nothing: the queue
is only emptied by the transaction that indexes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from peacewatch.warehouse.db import run, transaction, writer

log = logging.getLogger(__name__)

Runner = Callable[[duckdb.DuckDBPyConnection, str, "dict[str, object] | None"], duckdb.DuckDBPyConnection]

# Articles tokenised at a time (~300 tokens each: a few hundred MB of temporary tables per chunk).
CHUNK = 50_000

# Rebuild from scratch when the queue holds at least this many articles per indexed document.
FULL_REBUILD_RATIO = 1.0


@dataclass
class IndexUpdate:
    mode: str = "none"          # "none" (nothing queued), "incremental" or "rebuild"
    articles: int = 0           # articles (re)indexed
    reindexed: int = 0          # of which had an earlier text in the index
    seconds: float = 0.0


def refresh(con: duckdb.DuckDBPyConnection, full: bool = False, runner: Runner = run) -> IndexUpdate:
    """Index the queued articles (one transaction); `full` rebuilds the index from scratch. `runner`
    runs the named queries (the loader passes its own, so that its tests can interrupt any of them)."""
    run = runner
    started = time.perf_counter()
    pending, indexed = run(con, "fts_pending_count").fetchone()
    if not pending and not full:
        return IndexUpdate()
    update = IndexUpdate(mode="incremental")
    with transaction(con):
        if full or indexed == 0 or pending >= FULL_REBUILD_RATIO * indexed:
            update.mode = "rebuild"
            run(con, "rebuild_fts")
        update.reindexed, update.articles, chunks = run(con, "fts_stage_batch", {"chunk_size": CHUNK}).fetchone()
        if update.reindexed:
            run(con, "fts_remove_old")
        for chunk in range(chunks):
            run(con, "fts_add_batch", {"chunk": chunk})
        run(con, "fts_finish_batch")
        run(con, "fts_record_build")
    update.seconds = time.perf_counter() - started
    log.info("full-text index: %s", update)
    return update


def refresh_index(db_path: Path, full: bool = False, wait_seconds: float = 60.0) -> IndexUpdate:
    """`refresh` on the warehouse at `db_path` (for a separate indexing step after deferred loads)."""
    from peacewatch.warehouse.db import apply_migrations

    with writer(db_path, wait_seconds=wait_seconds) as con:
        apply_migrations(con)
        return refresh(con, full=full)
