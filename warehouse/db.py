"""Connections to the DuckDB warehouse and its schema migrations.

DuckDB lets one process at a time open a database file read-write (other processes cannot even open it
read-only meanwhile), so every write goes through `writer()`, which waits with exponential backoff while
another process holds the file and then fails with a clear `WarehouseBusy`. Readers use `reader()`.

Schema changes are numbered files in warehouse/migrations (NNN_name.sql), applied once each, in order,
each in its own transaction, and recorded in `schema_version`. Views and macros (warehouse/views/*.sql,
`CREATE OR REPLACE`) are re-created after every migrate, in file-name order.

Connections use TimeZone=UTC so that `CAST(ts AS DATE)` means the UTC day everywhere, and load the full-
text-search extension from the duckdb-extension-fts wheel: extensions are never downloaded at run time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

PACKAGE = files("peacewatch.warehouse")
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_PID = re.compile(r"\(PID (\d+)\)")
_CONFIG = {
    # Never reach for the network: extensions come from installed wheels only.
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


class WarehouseBusy(RuntimeError):
    """The warehouse file stayed locked by another process for longer than we were willing to wait."""


class MigrationError(RuntimeError):
    """The migrations on disk do not match what the database says it has applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


@lru_cache(maxsize=None)
def sql(name: str) -> str:
    """The text of warehouse/queries/<name>.sql."""
    return (PACKAGE / "queries" / f"{name}.sql").read_text(encoding="utf-8")


def execute_script(
    con: duckdb.DuckDBPyConnection, text: str, params: dict[str, object] | None = None
) -> duckdb.DuckDBPyConnection:
    """Run every statement of a SQL text, each with the named parameters it uses; returns the cursor of
    the last one. (DuckDB prepares one statement at a time, and rejects unused parameters.)"""
    params = params or {}
    result = con
    for statement in con.extract_statements(text):
        names = statement.named_parameters
        missing = names - params.keys()
        if missing:
            raise KeyError(f"SQL parameter(s) {sorted(missing)} not given")
        result = con.execute(statement.query, {k: params[k] for k in names}) if names else con.execute(statement.query)
    return result


def run(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, object] | None = None
) -> duckdb.DuckDBPyConnection:
    """Run warehouse/queries/<name>.sql (all its statements) with named parameters."""
    return execute_script(con, sql(name), params)


def migrations() -> list[Migration]:
    """All migration files, in version order; a gap or duplicate version is an error."""
    found = []
    for entry in (PACKAGE / "migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if not match:
            continue
        text = entry.read_text(encoding="utf-8")
        checksum = hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()
        found.append(Migration(int(match.group(1)), entry.name, text, checksum))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migrations must be numbered 001, 002, ... without gaps; found {migration.name}")
    return found


def view_files() -> list[tuple[str, str]]:
    """(file name, SQL) of warehouse/views/*.sql in file-name order."""
    entries = sorted((e for e in (PACKAGE / "views").iterdir() if e.name.endswith(".sql")), key=lambda e: e.name)
    return [(e.name, e.read_text(encoding="utf-8")) for e in entries]


def fts_extension_path() -> Path:
    """The fts extension binary shipped in the duckdb-extension-fts wheel for this DuckDB version."""
    import duckdb_extension_fts

    root = Path(duckdb_extension_fts.__file__).parent / "extensions"
    exact = root / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    if exact.is_file():
        return exact
    candidates = sorted(root.glob("*/fts.duckdb_extension"))
    if not candidates:
        raise FileNotFoundError(f"no fts.duckdb_extension under {root}; reinstall duckdb-extension-fts")
    return candidates[-1]


def _prepare(con: duckdb.DuckDBPyConnection, require_fts: bool) -> None:
    con.execute(sql("session_settings"))
    try:
        con.load_extension(str(fts_extension_path()))
    except (duckdb.Error, FileNotFoundError, ImportError) as exc:
        if require_fts:
            raise
        log.warning("full-text search unavailable (fts extension not loaded): %s", exc)


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    return "Could not set lock" in str(exc) or "Conflicting lock" in str(exc)


def _holder(exc: duckdb.Error) -> str:
    match = _LOCK_PID.search(str(exc))
    return f"pid {match.group(1)}" if match else "pid unknown"


def _connect(db_path: Path, read_only: bool, wait_seconds: float, who: str) -> duckdb.DuckDBPyConnection:
    """Open the file, retrying with exponential backoff (50 ms doubling to 2 s, jittered) while locked."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(db_path), read_only=read_only, config=_CONFIG)
        except duckdb.ConnectionException as exc:
            # Same process, other mode: DuckDB shares one instance per file and process.
            if "different configuration" in str(exc):
                raise WarehouseBusy(
                    f"{db_path} is already open {'read-write' if read_only else 'read-only'} in this process "
                    f"(pid {os.getpid()}); close that connection before opening a {who}"
                ) from exc
            raise
        except duckdb.IOException as exc:
            if not _is_lock_conflict(exc):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WarehouseBusy(
                    f"{db_path} is locked by another writer ({_holder(exc)}); retried for {wait_seconds:g} s"
                ) from exc
            time.sleep(min(delay * random.uniform(0.8, 1.2), remaining))
            delay = min(delay * 2, 2.0)


_close_hooks: list[Callable[[duckdb.DuckDBPyConnection, bool], None]] = []


def on_writer_close(hook: Callable[[duckdb.DuckDBPyConnection, bool], None]) -> None:
    """Run `hook(con, ok)` before every writer connection closes (ok: the block ended without error).
    store.py uses it to write buffered classifier results."""
    if hook not in _close_hooks:
        _close_hooks.append(hook)


@contextmanager
def writer(db_path: Path, wait_seconds: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """The read-write connection: waits up to `wait_seconds` for another process's lock to go away."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(db_path, read_only=False, wait_seconds=wait_seconds, who="writer")
    try:
        _prepare(con, require_fts=True)
        try:
            yield con
        except BaseException:
            for hook in _close_hooks:
                hook(con, False)
            raise
        for hook in _close_hooks:
            hook(con, True)
    finally:
        con.close()


@contextmanager
def reader(db_path: Path, wait_seconds: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits briefly while a writer holds the file (a load takes seconds)."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(f"no warehouse at {db_path}: run `peacewatch db migrate` or `peacewatch load` first")
    con = _connect(db_path, read_only=True, wait_seconds=wait_seconds, who="reader")
    try:
        _prepare(con, require_fts=False)
        yield con
    finally:
        con.close()


_in_transaction: set[int] = set()  # id() of connections inside transaction(); DuckDB cannot tell us


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN .. COMMIT, or ROLLBACK on any error. Nested inside another transaction() on the same
    connection it only joins the outer one. (Probing with a second BEGIN is not an option: DuckDB
    aborts the open transaction when BEGIN fails.)"""
    key = id(con)
    if key in _in_transaction:
        yield con
        return
    con.begin()
    _in_transaction.add(key)
    try:
        yield con
    except BaseException:
        _in_transaction.discard(key)
        con.rollback()
        raise
    _in_transaction.discard(key)
    con.commit()


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration (0 for an empty database)."""
    con.execute(sql("schema_version_init"))
    return int(con.execute(sql("schema_version_current")).fetchone()[0])


def apply_migrations(con: duckdb.DuckDBPyConnection, target: int | None = None) -> int:
    """Apply pending migrations up to `target` (default: all), then re-create the views; returns the version.

    Views and macros are only (re)created at the latest version, since they may use any table.
    """
    con.execute(sql("schema_version_init"))
    applied = dict(con.execute(sql("schema_version_applied")).fetchall())
    available = migrations()
    for migration in available:
        if target is not None and migration.version > target:
            break
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"{migration.name} changed after it was applied to this database; "
                    "add a new numbered migration instead of editing an applied one"
                )
            continue
        with transaction(con):
            con.execute(migration.sql)
            con.execute(sql("schema_version_record"), [migration.version, migration.name, migration.checksum])
        log.info("applied migration %s", migration.name)
    unknown = sorted(set(applied) - {m.version for m in available})
    if unknown:
        raise MigrationError(f"database has migrations {unknown} that this code does not know; upgrade peacewatch")
    version = schema_version(con)
    if target is None or target >= len(available):
        create_views(con)
    return version


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create every view and macro, after making sure the full-text index they search exists (the
    PRAGMA indexes the articles there are; warehouse/search.py keeps it up to date from then on)."""
    with transaction(con):
        if not con.execute(sql("fts_index_exists")).fetchone()[0]:
            con.execute(sql("create_fts_index"))
            con.execute("DELETE FROM search_pending")
            con.execute(sql("fts_record_build"))
        for name, text in view_files():
            try:
                con.execute(text)
            except duckdb.Error as exc:
                raise MigrationError(f"views/{name}: {exc}") from exc


def migrate(db_path: Path, target: int | None = None, wait_seconds: float = 60.0) -> int:
    """Bring the warehouse at `db_path` to the latest schema (or `target`); returns the schema version."""
    with writer(db_path, wait_seconds=wait_seconds) as con:
        return apply_migrations(con, target)
