"""Writes of classifier results: model runs, and per article its topics and claims.

The classifier calls these inside `with writer(db_path) as con:`. DuckDB spends about a millisecond on
every statement, so results are buffered per connection and written in bulk (one transaction per
FLUSH_EVERY articles): by `finish_model_run`, by `flush_results`, by `articles_to_classify`, and when the
writer closes normally. An article's results are therefore atomic, and a classifier that dies loses at
most the unflushed articles, which `articles_to_classify` hands out again next time.

Every write of claims also adjusts `story_stance_days` and `story_stance_weeks` (migrations 009, 011) for
the stories and days whose claims it replaces, in the same transaction
(warehouse/queries/store_write_results.sql): the stance views read those counts. Claims must therefore
be written through this module (or followed by warehouse/queries/stance_days_rebuild.sql).
"""

from __future__ import annotations

import hashlib
import json
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import duckdb

from peacewatch.contracts import Claim
from peacewatch.warehouse.db import on_writer_close, run, transaction

FLUSH_EVERY = 500


@dataclass
class _Buffer:
    results: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (article, run) -> row
    topics: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    claims: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)


_buffers: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, _Buffer] = weakref.WeakKeyDictionary()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def start_model_run(
    con: duckdb.DuckDBPyConnection, model_id: str, model_version: str, codebook_version: str, codebook_hash: str
) -> str:
    """Record the start of a classifier run; returns its model_run_id."""
    model_run_id = f"{_now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"
    with transaction(con):
        run(con, "store_start_model_run", {
            "model_run_id": model_run_id, "model_id": model_id, "model_version": model_version,
            "codebook_version": codebook_version, "codebook_hash": codebook_hash, "started_at": _now(),
        })
    return model_run_id


def save_article_results(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    article_id: str,
    topics: list[tuple[str, float]],
    claims: list[dict],
) -> None:
    """Store one article's topics and claims from run `run_id`, replacing earlier results of the same
    model_id for that article. Claims are validated against contracts.Claim (a bad claim raises here);
    story_id and published_at are filled from the article when the buffer is written."""
    validated = [Claim.model_validate(c) for c in claims]
    best: dict[str, float] = {}
    for topic, score in topics:  # one row per topic: keep the highest score
        best[topic] = max(float(score), best.get(topic, float("-inf")))
    buffer = _buffers.setdefault(con, _Buffer())
    key = (article_id, run_id)
    buffer.results[key] = {
        "article_id": article_id, "model_run_id": run_id, "classified_at": _now().isoformat(),
        "n_topics": len(best), "n_claims": len(validated),
    }
    buffer.topics[key] = [
        {"article_id": article_id, "model_run_id": run_id, "topic": t, "score": s} for t, s in best.items()
    ]
    buffer.claims[key] = [
        {
            # Deterministic ids: the same run writing the same article yields the same claim ids.
            "claim_id": hashlib.md5(f"{run_id}|{article_id}|{i}".encode("utf-8")).hexdigest(),
            "article_id": article_id,
            "model_run_id": run_id,
            **claim.model_dump(),
        }
        for i, claim in enumerate(validated)
    ]
    if len(buffer.results) >= FLUSH_EVERY:
        flush_results(con)


def flush_results(con: duckdb.DuckDBPyConnection) -> int:
    """Write the buffered results of this connection (one transaction); returns the articles written.
    Raises KeyError, writing nothing, when a result names an unknown model run or article."""
    buffer = _buffers.pop(con, None)
    if buffer is None or not buffer.results:
        return 0
    with transaction(con):
        run(con, "store_stage_results", {"results": json.dumps(list(buffer.results.values()))})
        bad = run(con, "store_check_results").fetchall()
        if bad:
            article_id, run_id, unknown_run, _unknown_article = bad[0]
            what = f"model run {run_id!r}" if unknown_run else f"article {article_id!r}"
            raise KeyError(f"cannot store classifier results: unknown {what} ({len(bad)}+ results affected)")
        run(con, "store_write_results", {
            "topics": json.dumps([row for rows in buffer.topics.values() for row in rows]),
            "claims": json.dumps([row for rows in buffer.claims.values() for row in rows], ensure_ascii=False),
        })
    return len(buffer.results)


def _on_close(con: duckdb.DuckDBPyConnection, ok: bool) -> None:
    if ok:
        flush_results(con)
    else:  # the writer is closing on an error: the results are not known to be complete
        _buffers.pop(con, None)


on_writer_close(_on_close)


def finish_model_run(con: duckdb.DuckDBPyConnection, run_id: str, n_articles: int, n_claims: int) -> None:
    """Write the run's buffered results, then record its end and totals."""
    flush_results(con)
    with transaction(con):
        run(con, "store_finish_model_run", {
            "model_run_id": run_id, "finished_at": _now(), "n_articles": n_articles, "n_claims": n_claims,
        })


def articles_to_classify(
    con: duckdb.DuckDBPyConnection, model_id: str, model_version: str, codebook_hash: str, reclassify: bool = False
) -> list[tuple[str, str, str]]:
    """(article_id, title, body) of the articles this model and codebook have not classified yet (or
    whose text changed since); all articles when `reclassify`. Oldest first."""
    flush_results(con)
    return run(con, "articles_to_classify", {
        "model_id": model_id, "model_version": model_version, "codebook_hash": codebook_hash,
        "reclassify": bool(reclassify),
    }).fetchall()
