"""Load complete crawl runs from the landing zone into the warehouse.

For every file listed in a complete run's manifest (oldest run first) that is not yet in load_ledger:

1. its sha256 must match the manifest, else the whole file is quarantined (and ledgered as refused);
2. each line is validated as a CrawledItem; invalid JSON or a contract violation becomes a quarantine
   row with the reason, never a silent drop;
3. articles are upserted by canonical URL (article_id = md5(canonical_url)): the same content_hash is
   "unchanged" (only last_seen_at moves), a new text adds an article_versions row (article_history:
   the current text is stored once, in articles) and replaces the article's text; texts already held
   by another URL are counted as exact duplicates;
4. new and changed texts get MinHash signatures and a story (warehouse/stories.py), and wait in
   search_pending for the full-text index;
5. the source's crawl_runs row and finally the ledger row are written.

Steps 2-5 are ONE transaction per file, so a loader killed mid-file leaves nothing of that file behind
and the next run loads it again from scratch. Rows move in bulk: validated items are written to a
temporary JSON-lines file that DuckDB reads in one statement (no per-row INSERTs). Files are read,
validated and signed one ahead of the one being written, in a worker process for large loads (see
`_preparer`). After the files, the full-text index takes in the new texts (warehouse/search.py).

Throughput (docs/benchmarks.md, Warehouse): ~5-6k articles/s on two cores for 300-word articles in
files of 5k, the index update excluded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import numpy as np
from pydantic import ValidationError

from peacewatch.contracts import CrawledItem, LandingFile, RunManifest, SourceStats
from peacewatch.landing import complete_runs, sha256_file
from peacewatch.warehouse import search, stories
from peacewatch.warehouse.db import apply_migrations, run, transaction, writer

log = logging.getLogger(__name__)


@dataclass
class LoadStats:
    files_loaded: int = 0
    files_skipped: int = 0       # already in the ledger (loaded or refused before)
    articles_new: int = 0
    articles_updated: int = 0    # stored articles whose text changed
    unchanged: int = 0           # lines repeating an article's current text
    exact_duplicates: int = 0    # new texts already held by another URL
    quarantined: int = 0         # quarantine rows written (a refused file counts once)
    stories_new: int = 0


@dataclass
class _FileResult:
    articles_new: int = 0
    articles_updated: int = 0
    unchanged: int = 0
    exact_duplicates: int = 0
    quarantined: int = 0
    stories_new: int = 0
    rows: int = 0
    loaded: int = 0
    empty_bodies: int = 0


@dataclass
class _Pending:
    """A manifest entry that is not in the ledger under the manifest's checksum."""

    run_dir: Path
    manifest: RunManifest
    listed: LandingFile
    relative: str
    last_of_run: bool


class _Item(NamedTuple):
    """What the loader's decisions need of a valid line (the rest goes to DuckDB in the staged file)."""

    line_no: int
    content_hash: str
    has_text: bool               # the body is not blank
    fetched_at: datetime
    published_at: datetime | None


@dataclass
class _Prepared:
    """One landing file read, checked and validated: everything that needs no database. Compact, so
    that it travels cheaply from a worker process."""

    pending: _Pending
    sha256: str | None = None
    problem: str | None = None                     # set when the whole file is refused
    items: list[_Item] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    empty_bodies: int = 0
    staged: Path | None = None
    signatures: np.ndarray | None = None           # per item (by position in `items`)
    has_signature: np.ndarray | None = None
    by_article: dict[str, list[int]] = field(default_factory=dict)  # article_id -> item positions, fetch order


def load(data_dir: Path, db_path: Path, wait_seconds: float = 60.0, rebuild_search: bool = True) -> LoadStats:
    """Load every complete, not yet loaded landing file under `data_dir` into the warehouse at `db_path`.

    Then bring the full-text index up to date (warehouse/search.py: the new and changed texts only, or a
    rebuild when they outnumber the indexed ones). `rebuild_search=False` leaves the queued texts to the
    next load or to `search.refresh_index` (e.g. one indexing step after a backfill of many runs).
    """
    data_dir = Path(data_dir)
    stats = LoadStats()
    with writer(db_path, wait_seconds=wait_seconds) as con, tempfile.TemporaryDirectory(prefix="pw-load-") as tmp:
        apply_migrations(con)
        run(con, "loader_settings")
        configured = _configured_sources()
        # Two queries instead of one per file and run: the landing zone keeps every run ever crawled.
        ledger = {sha for (sha,) in run(con, "loader_ledger_hashes").fetchall()}
        recorded = dict(run(con, "loader_recorded_runs").fetchall())
        pending: list[_Pending] = []
        for run_dir, manifest in complete_runs(data_dir):
            todo = []
            for listed in manifest.files:
                # A file whose promised content is in the ledger was loaded: skip it without hashing.
                if listed.sha256 in ledger:
                    stats.files_skipped += 1
                    continue
                relative = (run_dir / listed.name).relative_to(data_dir).as_posix()
                todo.append(_Pending(run_dir, manifest, listed, relative, last_of_run=False))
            if todo:
                todo[-1].last_of_run = True
                pending.extend(todo)
            elif recorded.get(manifest.run_id, 0) < len(_run_sources(manifest)):
                with transaction(con):  # a run whose closing step was interrupted
                    _record_run(con, manifest, configured)

        # Reading and validating file k+1 (pydantic and numpy) overlaps with writing file k (DuckDB). In a
        # worker process when there is enough to do: in a thread, validation and writing would take turns
        # holding the GIL.
        with _preparer(pending) as pool:
            ahead = pool.submit(_prepare, pending[0], Path(tmp), 0) if pending else None
            for k, entry in enumerate(pending):
                prepared = ahead.result()
                ahead = pool.submit(_prepare, pending[k + 1], Path(tmp), k + 1) if k + 1 < len(pending) else None
                status, outcome = _store(con, prepared, Path(tmp))
                if status == "skipped":
                    stats.files_skipped += 1
                elif status == "loaded":
                    stats.files_loaded += 1
                for name in ("articles_new", "articles_updated", "unchanged", "exact_duplicates", "quarantined",
                             "stories_new"):
                    setattr(stats, name, getattr(stats, name) + getattr(outcome, name))
                if entry.last_of_run:
                    with transaction(con):
                        _record_run(con, entry.manifest, configured)
                if prepared.staged is not None:
                    prepared.staged.unlink(missing_ok=True)

        # The prepare thread is done: DuckDB may use every core for the index and the checkpoint.
        run(con, "loader_settings_after")
        if rebuild_search:
            search.refresh(con, runner=run)
    log.info("load: %s", stats)
    return stats


# A load of at least this many bytes of landing files prepares them in a worker process.
PROCESS_MIN_BYTES = 8 << 20


def _preparer(pending: list[_Pending]):
    """Where files are read and validated: a worker process (a big load on a multi-core Linux machine)
    or a thread. Both have submit(fn, *args) -> object with result()."""
    size = 0
    for entry in pending:
        try:
            size += (entry.run_dir / entry.listed.name).stat().st_size
        except OSError:
            pass
    if size >= PROCESS_MIN_BYTES and (os.cpu_count() or 1) > 1 and _ProcessPreparer.available():
        try:
            return _ProcessPreparer()
        except OSError as exc:  # no fork, no process limit left: the thread does the same work
            log.warning("cannot start a worker process (%s); preparing files in a thread", exc)
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="pw-prepare")


class _ProcessPreparer:
    """One forked worker process running `_prepare`; jobs and results go through a pipe in order.

    The worker dies with the loader (PR_SET_PDEATHSIG): a loader killed mid-load leaves no process
    behind. It only runs pure Python and numpy, never DuckDB (the forked connection is not touched).
    """

    @staticmethod
    def available() -> bool:
        return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_prepare_worker, args=(child, self._conn, os.getpid()),
                                    name="pw-prepare", daemon=True)
        self._process.start()
        child.close()

    def submit(self, fn: Any, *args: Any) -> "_ProcessPreparer":
        self._conn.send((fn, args))
        return self

    def result(self) -> Any:
        ok, value = self._conn.recv()
        if not ok:
            raise value
        return value

    def __enter__(self) -> "_ProcessPreparer":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.send(None)
        except OSError:
            pass
        self._conn.close()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _prepare_worker(conn: Any, parent_end: Any, parent_pid: int) -> None:
    parent_end.close()
    try:  # die with the parent, whatever kills it (Linux only)
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:
        return
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        fn, args = job
        try:
            conn.send((True, fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the loader
            conn.send((False, exc))


def _file_source(name: str) -> str | None:
    """items-<source_id>.jsonl -> source_id (landing.RunWriter's naming)."""
    if name.startswith("items-") and name.endswith(".jsonl"):
        return name[len("items-") : -len(".jsonl")]
    return None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _prepare(pending: _Pending, tmp: Path, seq: int) -> _Prepared:
    """Checksum, parse and validate one file, stage its valid items and compute their signatures."""
    prepared = _Prepared(pending)
    path = pending.run_dir / pending.listed.name
    if not path.is_file():
        prepared.problem = "file listed in the manifest is missing"
        return prepared
    prepared.sha256 = sha256_file(path)
    if prepared.sha256 != pending.listed.sha256:
        prepared.problem = f"checksum mismatch: manifest sha256 {pending.listed.sha256}, file sha256 {prepared.sha256}"
        return prepared
    now = _now()
    run_id = pending.manifest.run_id
    validate = CrawledItem.model_validate_json
    valid: list[tuple[int, CrawledItem]] = []
    for line_no, raw in _lines(path):
        prepared.rows += 1
        try:
            # pydantic parses and validates in one pass (half the cost of json.loads + model_validate)
            valid.append((line_no, validate(raw)))
            continue
        except ValidationError as exc:
            reason = None if _not_an_object(exc) else _contract_problem(exc)
        if reason is None:  # not JSON, or not an object, for pydantic's parser; Python's decides
            record = _json_object(raw)
            if record is None:
                reason = _json_problem(raw)
            else:  # JSON only Python's parser reads (NaN, ...): validated as before
                try:
                    valid.append((line_no, CrawledItem.model_validate(record)))
                    continue
                except ValidationError as exc:
                    reason = _contract_problem(exc)
        prepared.refused.append(_quarantine_row(pending.relative, prepared.sha256, run_id, line_no, raw,
                                                reason, now))
    if valid:
        prepared.staged = tmp / f"items-{seq}.jsonl"
        with prepared.staged.open("w", encoding="utf-8") as out:
            out.writelines(f'{{"line_no":{line_no},{item.model_dump_json()[1:]}\n' for line_no, item in valid)
        prepared.signatures, prepared.has_signature = stories.signatures([item.body for _, item in valid])
        items = prepared.items
        for position, (line_no, item) in enumerate(valid):
            has_text = not item.body.isspace() and item.body != ""
            items.append(_Item(line_no, item.content_hash, has_text, item.fetched_at, item.published_at))
            prepared.empty_bodies += not has_text
            article_id = hashlib.md5(item.canonical_url.encode("utf-8")).hexdigest()
            prepared.by_article.setdefault(article_id, []).append(position)
        for positions in prepared.by_article.values():
            if len(positions) > 1:  # line order breaks ties
                positions.sort(key=lambda p: (items[p].fetched_at, items[p].line_no))
    return prepared


def _store(con: duckdb.DuckDBPyConnection, prepared: _Prepared, tmp: Path) -> tuple[str, _FileResult]:
    """Write one prepared file: ("loaded" | "refused" | "skipped" when done before, its counts)."""
    pending = prepared.pending
    run_id = pending.manifest.run_id
    if prepared.problem and prepared.sha256 is None:  # missing file: nothing to put in the ledger
        known = {"source_file": pending.relative, "reason": prepared.problem}
        if run(con, "loader_quarantine_exists", known).fetchone()[0]:
            return "skipped", _FileResult()
        with transaction(con):
            _quarantine(con, tmp, [_quarantine_row(pending.relative, None, run_id, None, None, prepared.problem)])
        log.warning("%s: %s", pending.relative, prepared.problem)
        return "refused", _FileResult(quarantined=1)
    if run(con, "loader_ledger_status", {"sha256": prepared.sha256}).fetchone() is not None:
        return "skipped", _FileResult()
    if prepared.problem:
        with transaction(con):
            _quarantine(con, tmp, [_quarantine_row(pending.relative, prepared.sha256, run_id, None, None,
                                                   prepared.problem)])
            _ledger(con, prepared.sha256, pending.relative, run_id, 0, 0, 1, "quarantined")
        log.warning("%s: %s", pending.relative, prepared.problem)
        return "refused", _FileResult(quarantined=1)

    result = _FileResult(rows=prepared.rows, loaded=len(prepared.items), quarantined=len(prepared.refused))
    result.empty_bodies = prepared.empty_bodies
    source_id = _file_source(pending.listed.name)
    with transaction(con):
        if prepared.refused:
            _quarantine(con, tmp, prepared.refused)
        if prepared.items:
            _write_items(con, prepared, tmp, result)
        if source_id is not None:
            stats = next((s for s in pending.manifest.sources if s.source_id == source_id), None)
            _crawl_run(con, pending.manifest, stats or SourceStats(source_id=source_id), result)
        _ledger(con, prepared.sha256, pending.relative, run_id, result.rows, result.loaded, result.quarantined,
                "loaded")
    return "loaded", result


def _write_items(con: duckdb.DuckDBPyConnection, prepared: _Prepared, tmp: Path, result: _FileResult) -> None:
    """Decide new / changed / unchanged per article, cluster the new texts, and write (in the caller's
    transaction)."""
    run(con, "loader_stage_items", {"path": str(prepared.staged)})
    existing = {row[0]: row[1:] for row in run(con, "loader_existing_articles").fetchall()}
    hash_owners: dict[str, set[str]] = {}
    for content_hash, article_id in run(con, "loader_hash_owners").fetchall():
        hash_owners.setdefault(content_hash, set()).add(article_id)

    versions: list[str] = []
    finals: list[dict[str, Any]] = []
    rewritten: list[tuple[str, int, str | None, dict[str, Any]]] = []  # (article, position, story, final)
    for article_id, positions in prepared.by_article.items():
        stored = existing.get(article_id)
        current_hash, version, current_fetched, story_id = stored if stored else (None, 0, None, None)
        current: int | None = None
        for position in positions:
            item = prepared.items[position]
            line_no = item.line_no
            if item.content_hash == current_hash:
                result.unchanged += 1
                continue
            version += 1
            versions.append(f'{{"line_no":{line_no},"article_id":"{article_id}","version":{version}}}\n')
            owners = hash_owners.setdefault(item.content_hash, set())
            if item.has_text and owners - {article_id}:
                result.exact_duplicates += 1
            owners.add(article_id)
            # An older fetch loaded late is kept as a version but does not replace newer text.
            if current_fetched is None or item.fetched_at >= current_fetched:
                current_hash, current_fetched, current = item.content_hash, item.fetched_at, position
        first_fetched = prepared.items[positions[0]].fetched_at
        last_fetched = prepared.items[positions[-1]].fetched_at
        final = {
            "article_id": article_id,
            "line_no": prepared.items[current].line_no if current is not None else None,
            "is_new": stored is None,
            "version": version,
            "story_id": story_id,
            "first_seen_at": (first_iso := first_fetched.isoformat()),
            "last_seen_at": first_iso if len(positions) == 1 else last_fetched.isoformat(),
            "sig_idx": None,
            "signature": None,
        }
        finals.append(final)
        if stored is None:
            result.articles_new += 1
        elif current is not None:
            result.articles_updated += 1
        if current is not None:
            rewritten.append((article_id, current, story_id, final))

    bands = _cluster(con, prepared, rewritten, result)
    (tmp / "versions.jsonl").write_text("".join(versions), encoding="utf-8")
    (tmp / "finals.jsonl").write_text("".join(map(_final_line, finals)), encoding="utf-8")
    run(con, "loader_stage_decisions", {"versions": str(tmp / "versions.jsonl"), "finals": str(tmp / "finals.jsonl")})
    # Statements that join stored articles run only when the file has stored articles: each scans
    # articles (or article_history) once, which grows with the warehouse.
    if result.articles_updated:
        run(con, "loader_keep_outgoing_bodies")
    run(con, "loader_write_articles", {"run_id": prepared.pending.manifest.run_id, "scheme": stories.SCHEME})
    if len(finals) > result.articles_new:
        run(con, "loader_update_articles")
    if bands is not None:
        con.register("batch_bands", bands)
        try:
            run(con, "loader_insert_bands", {"scheme": stories.SCHEME})
        finally:
            con.unregister("batch_bands")
    run(con, "loader_refresh_stories")


def _cluster(
    con: duckdb.DuckDBPyConnection,
    prepared: _Prepared,
    rewritten: list[tuple[str, int, str | None, dict[str, Any]]],
    result: _FileResult,
) -> dict[str, np.ndarray] | None:
    """Assign stories to new and changed texts (in publication order); returns their LSH band rows."""
    if not rewritten:
        return None
    items = prepared.items

    def published(r: tuple[str, int, str | None, dict[str, Any]]) -> tuple[datetime, str]:
        item = items[r[1]]
        return item.published_at or item.fetched_at, r[0]

    rewritten.sort(key=published)
    rows = [r[1] for r in rewritten]
    sigs = prepared.signatures[rows]
    has_sig = prepared.has_signature[rows]
    clustering = stories.cluster(con, [r[0] for r in rewritten], sigs, has_sig, [r[2] for r in rewritten])
    for i, (_article_id, _position, _story, final) in enumerate(rewritten):
        final["story_id"] = clustering.story_ids[i]
        if has_sig[i]:
            final["sig_idx"] = i
            final["signature"] = sigs[i].astype("<u4").tobytes().hex()
    result.stories_new += len(clustering.new_story_ids)
    signed = np.nonzero(has_sig & ~clustering.redundant)[0]
    keys = stories.band_keys(sigs[signed])
    return {
        "idx": np.repeat(signed.astype(np.int32), stories.BANDS),
        "band": np.tile(np.arange(stories.BANDS, dtype=np.int16), len(signed)),
        "bucket": keys.ravel(),
    }


def _final_line(final: dict[str, Any]) -> str:
    """One stg_final JSON line. Hand-formatted (3x faster than json.dumps): every value is a hex id, an
    ISO timestamp, a number or a boolean; the story id goes through json.dumps anyway."""
    line_no = "null" if final["line_no"] is None else final["line_no"]
    sig_idx = "null" if final["sig_idx"] is None else final["sig_idx"]
    signature = "null" if final["signature"] is None else f'"{final["signature"]}"'
    return (
        f'{{"article_id":"{final["article_id"]}","line_no":{line_no},"is_new":{"true" if final["is_new"] else "false"},'
        f'"version":{final["version"]},"story_id":{json.dumps(final["story_id"])},'
        f'"first_seen_at":"{final["first_seen_at"]}","last_seen_at":"{final["last_seen_at"]}",'
        f'"sig_idx":{sig_idx},"signature":{signature}}}\n'
    )


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False))
            out.write("\n")


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    """(line number, stripped line) of the non-empty lines of a landing file (as landing.read_items)."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if line:
                yield number, line


def _not_an_object(exc: ValidationError) -> bool:
    """The line is not JSON, or not a JSON object: quarantined with the JSON problem, not a contract one."""
    return any(e["type"] == "json_invalid" or (e["type"] == "model_type" and not e["loc"]) for e in exc.errors())


def _json_object(raw: str) -> dict | None:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _json_problem(raw: str) -> str:
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    return "not a JSON object"


def _contract_problem(exc: ValidationError) -> str:
    """'field: message; ...' for every violation of the CrawledItem contract."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    return "contract violation: " + "; ".join(parts)


def _quarantine_row(
    source_file: str, sha256: str | None, run_id: str | None, line: int | None, raw: str | None, reason: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "source_file": source_file, "file_sha256": sha256, "run_id": run_id, "line": line,
        "raw_record": raw, "reason": reason, "quarantined_at": (at or _now()).isoformat(),
    }


def _quarantine(con: duckdb.DuckDBPyConnection, tmp: Path, rows: list[dict[str, Any]]) -> None:
    path = tmp / "quarantine.jsonl"
    _write_jsonl(path, rows)
    run(con, "loader_insert_quarantine", {"path": str(path)})


def _ledger(
    con: duckdb.DuckDBPyConnection, sha256: str, relative: str, run_id: str, rows: int, loaded: int,
    quarantined: int, status: str,
) -> None:
    run(con, "loader_insert_ledger", {
        "sha256": sha256, "file_path": relative, "run_id": run_id, "rows": rows, "rows_loaded": loaded,
        "rows_quarantined": quarantined, "status": status, "loaded_at": _now(),
    })


def _crawl_run(
    con: duckdb.DuckDBPyConnection, manifest: RunManifest, stats: SourceStats, result: _FileResult | None
) -> None:
    run(con, "loader_insert_crawl_run", {
        "run_id": manifest.run_id,
        "source_id": stats.source_id,
        "started_at": stats.started_at or manifest.started_at,
        "finished_at": stats.finished_at or manifest.finished_at,
        "requests": stats.requests,
        "items": stats.items,
        "responses_by_status": json.dumps(stats.responses_by_status, sort_keys=True),
        "drops_by_reason": json.dumps(stats.drops_by_reason, sort_keys=True),
        "empty_bodies": result.empty_bodies if result else None,
        "items_loaded": result.loaded if result else None,
        "items_quarantined": result.quarantined if result else None,
        "loaded_at": _now(),
        "not_modified": stats.not_modified,
        "already_seen": stats.already_seen,
        "extraction_failed": json.dumps(stats.extraction_failed, sort_keys=True),
    })


def _record_run(con: duckdb.DuckDBPyConnection, manifest: RunManifest, configured: dict[str, dict[str, Any]]) -> None:
    """The run's closing step: sources and crawl_runs rows for sources that had no loadable file
    (a silent source has stats but no items file). Idempotent."""
    reported = {s.source_id: s for s in manifest.sources}
    for source_id in _run_sources(manifest):
        _crawl_run(con, manifest, reported.get(source_id) or SourceStats(source_id=source_id), None)
        meta = configured.get(source_id, {})
        run(con, "loader_upsert_source", {
            "source_id": source_id,
            "name": meta.get("name"),
            "homepage": meta.get("homepage"),
            "country": meta.get("country"),
            "language": meta.get("language"),
            "seen_at": manifest.started_at,
        })


def _run_sources(manifest: RunManifest) -> list[str]:
    """Sources a run reports stats for or has an items file of."""
    from_files = {s for s in (_file_source(f.name) for f in manifest.files) if s}
    return sorted({s.source_id for s in manifest.sources} | from_files)


def _configured_sources() -> dict[str, dict[str, Any]]:
    """Outlet names and countries from config/sources.yaml; optional (the loader works without it)."""
    try:
        from peacewatch.config import config_path, load_yaml

        document = load_yaml(config_path("sources")) or {}
        return {
            str(s["id"]): {k: s.get(k) for k in ("name", "homepage", "country", "language")}
            for s in document.get("sources", [])
            if isinstance(s, dict) and "id" in s
        }
    except Exception as exc:  # noqa: BLE001 - metadata is a nicety; never fail a load over it
        log.debug("sources metadata unavailable: %s", exc)
        return {}
