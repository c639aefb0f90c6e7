"""Warehouse schema, connections, classifier writes, question views and export, on real DuckDB files."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from peacewatch.contracts import SourceStats
from peacewatch.warehouse import db
from peacewatch.warehouse.db import MigrationError, WarehouseBusy, migrate, reader, writer
from peacewatch.warehouse.export import DEFAULT_TABLES, export
from peacewatch.warehouse.loader import load
from peacewatch.warehouse.store import (
    articles_to_classify,
    finish_model_run,
    flush_results,
    save_article_results,
    start_model_run,
)
from test_loader import T0, make_item, random_text, rows, scalar, syndication_items, write_run

MODEL = ("lexicon", "lexicon-1.0", "1.0.0", "cb-hash")  # model_id, model_version, codebook version, hash


def article_id(url: str) -> str:
    return hashlib.md5(url.encode()).hexdigest()


def claim(actor: str, position: str, stance: str, confidence: float = 0.9, evidence: str = "Quote.") -> dict:
    return {"actor": actor, "position": position, "stance": stance, "confidence": confidence, "evidence": evidence}


def classify(db_path: Path, claims_by_url: dict[str, list[dict]], model: tuple = MODEL) -> str:
    """Store claims as a classifier run would (every other article gets an empty result)."""
    with writer(db_path) as con:
        run_id = start_model_run(con, *model)
        for url, claims in claims_by_url.items():
            save_article_results(con, run_id, article_id(url), [("diplomacy", 0.9)], claims)
        finish_model_run(con, run_id, len(claims_by_url), sum(len(c) for c in claims_by_url.values()))
    return run_id


def catalog(db_path: Path) -> dict[str, list]:
    """What a schema is made of: columns of every table and view, and the macro names."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, column_name, data_type, ordinal_position FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name <> 'schema_version' ORDER BY ALL").fetchall()
        macros = con.execute(
            "SELECT function_name, function_type FROM duckdb_functions() "
            "WHERE schema_name = 'main' AND NOT internal AND function_type IN ('macro', 'table_macro') "
            "ORDER BY ALL").fetchall()
    return {"columns": columns, "macros": macros}


# --- migrations ----------------------------------------------------------------------------------------


def test_migrate_from_empty_and_again_is_a_no_op(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    latest = len(db.migrations())
    assert latest >= 4
    assert migrate(path) == latest
    applied = rows(path, "SELECT version, name, applied_at FROM schema_version ORDER BY version")
    assert [v for v, _, _ in applied] == list(range(1, latest + 1))
    assert applied[0][1] == "001_core.sql"
    schema = catalog(path)
    assert migrate(path) == latest
    assert rows(path, "SELECT version, name, applied_at FROM schema_version ORDER BY version") == applied
    assert catalog(path) == schema
    names = {name for name, _ in schema["macros"]}
    assert {"position_shifts", "actor_position_matrix", "top_stories", "search_articles"} <= names
    views = {t for t, *_ in schema["columns"]}
    assert {"stance_daily", "stance_weekly", "source_coverage_daily", "crawl_health"} <= views


@pytest.mark.parametrize("start", range(len(db.migrations())))
def test_migrate_upgrades_from_every_earlier_version(tmp_path: Path, start: int):
    fresh = tmp_path / "fresh.duckdb"
    migrate(fresh)
    old = tmp_path / "old.duckdb"
    assert migrate(old, target=start) == start
    if start >= 1:  # data written under the old schema survives the upgrade
        with writer(old) as con:
            con.execute("INSERT INTO sources (source_id, name) VALUES ('kept', 'Kept Outlet')")
    assert migrate(old) == len(db.migrations())
    assert catalog(old) == catalog(fresh)
    if start >= 1:
        assert scalar(old, "SELECT name FROM sources WHERE source_id = 'kept'") == "Kept Outlet"


def test_signatures_get_their_text_version_in_005(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    migrate(path, target=4)
    with writer(path) as con:
        con.execute("INSERT INTO articles (article_id, url, canonical_url, source_id, fetched_at, content_hash, "
                    "first_seen_at, last_seen_at, version) VALUES ('a1', 'https://x.example/1', "
                    "'https://x.example/1', 's', now(), 'h', now(), now(), 3)")
        con.execute("INSERT INTO article_minhash VALUES ('a1', 'scheme', '\\x00'::BLOB, 'a1')")
        con.execute("INSERT INTO minhash_bands VALUES (0, 42, 'a1', 'scheme')")
    migrate(path)
    assert rows(path, "SELECT article_id, version, story_id FROM article_minhash") == [("a1", 3, "a1")]
    assert rows(path, "SELECT band, bucket, article_id, version FROM minhash_bands") == [(0, 42, "a1", 3)]


def test_an_edited_applied_migration_is_refused(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    migrate(path)
    with writer(path) as con:
        con.execute("UPDATE schema_version SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="001_core.sql changed after it was applied"):
        migrate(path)


def test_views_are_recreated_by_migrate(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    migrate(path)
    with writer(path) as con:
        con.execute("DROP VIEW stance_daily")
    migrate(path)
    assert scalar(path, "SELECT count(*) FROM stance_daily") == 0


# --- connections ---------------------------------------------------------------------------------------

_HOLD_WRITER = textwrap.dedent(
    """
    import sys, time
    from peacewatch.warehouse.db import writer
    with writer(sys.argv[1]) as con:
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_WRITER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


@pytest.mark.slow
def test_a_second_writer_waits_then_fails_clearly(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    migrate(path)
    holder = _hold(path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseBusy) as excinfo:
            with writer(path, wait_seconds=1.5):
                pass
        waited = time.monotonic() - started
        assert 1.5 <= waited < 10
        assert str(excinfo.value) == f"{path} is locked by another writer (pid {holder.pid}); retried for 1.5 s"
        with pytest.raises(WarehouseBusy, match=f"pid {holder.pid}"):
            with reader(path, wait_seconds=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_a_second_writer_gets_in_when_the_first_finishes(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    migrate(path)
    holder = _hold(path, 1.0)
    started = time.monotonic()
    with writer(path, wait_seconds=30) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    assert time.monotonic() - started >= 0.5
    holder.wait()


def test_reader_is_read_only_and_in_utc(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    migrate(path)
    with reader(path) as con:
        assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
        with pytest.raises(duckdb.Error):
            con.execute("INSERT INTO sources (source_id) VALUES ('x')")
    with pytest.raises(FileNotFoundError):
        with reader(tmp_path / "missing.duckdb"):
            pass


def test_fts_extension_comes_from_the_installed_wheel():
    path = db.fts_extension_path()
    assert path.name == "fts.duckdb_extension" and path.is_file()


# --- classifier writes ---------------------------------------------------------------------------------


@pytest.fixture()
def loaded(tmp_path: Path) -> Path:
    """The syndication example (one wire story in 4 outlets + one other report), loaded."""
    path = tmp_path / "warehouse.duckdb"
    write_run(tmp_path, syndication_items(), "20250516T100000000000Z")
    load(tmp_path, path)
    return path


def test_results_replace_earlier_results_of_the_same_model(loaded: Path):
    url = "https://baltic-wire.example/istanbul"
    classify(loaded, {url: [claim("russia", "ceasefire_first", "against"),
                            claim("ukraine", "ceasefire_first", "favor")]})
    classify(loaded, {url: [claim("russia", "ceasefire_first", "favor")]}, model=("other", "o-1", "1.0.0", "cb-hash"))
    run_id = classify(loaded, {url: [claim("russia", "ceasefire_first", "neutral", 0.5, "They will see.")]})
    got = rows(loaded, "SELECT model_id, actor, stance, model_run_id, story_id, published_at FROM claims "
                       "WHERE article_id = ? ORDER BY model_id", [article_id(url)])
    story = scalar(loaded, "SELECT story_id FROM articles WHERE article_id = ?", [article_id(url)])
    assert got == [("lexicon", "russia", "neutral", run_id, story, T0),
                   ("other", "russia", "favor", got[1][3], story, T0)]
    assert scalar(loaded, "SELECT count(*) FROM article_topics WHERE article_id = ?", [article_id(url)]) == 2
    assert rows(loaded, "SELECT n_articles, n_claims FROM model_runs WHERE model_run_id = ?", [run_id]) == [(1, 1)]


def test_articles_to_classify_by_model_codebook_and_text(tmp_path: Path, loaded: Path):
    model_id, version, _cb, cb_hash = MODEL
    with writer(loaded) as con:
        assert len(articles_to_classify(con, model_id, version, cb_hash)) == 5
        first = articles_to_classify(con, model_id, version, cb_hash)[0]
        assert first[1] == "Istanbul talks end without ceasefire" and first[2].startswith("Russian and Ukrainian")
    classify(loaded, {url: [] for url in (i.url for i in syndication_items())})
    with writer(loaded) as con:
        assert articles_to_classify(con, model_id, version, cb_hash) == []
        assert len(articles_to_classify(con, model_id, version, cb_hash, reclassify=True)) == 5
        assert len(articles_to_classify(con, model_id, "lexicon-2.0", cb_hash)) == 5
        assert len(articles_to_classify(con, model_id, version, "new-codebook")) == 5
        assert len(articles_to_classify(con, "another-model", version, cb_hash)) == 5
    # a changed text at a known URL is due again
    url = "https://dnipro-ledger.example/istanbul-analysis"
    write_run(tmp_path, [make_item(url, random_text(99), "dnipro_ledger", fetched=T0 + timedelta(days=1))],
              "20250517T100000000000Z")
    load(tmp_path, loaded)
    with writer(loaded) as con:
        assert [a for a, _, _ in articles_to_classify(con, model_id, version, cb_hash)] == [article_id(url)]


def test_bad_results_are_refused(loaded: Path):
    with writer(loaded) as con:
        run_id = start_model_run(con, *MODEL)
        with pytest.raises(ValidationError):
            save_article_results(con, run_id, article_id("https://baltic-wire.example/istanbul"), [],
                                 [claim("russia", "ceasefire_first", "maybe")])
        save_article_results(con, run_id, "no-such-article", [], [claim("russia", "ceasefire_first", "favor")])
        with pytest.raises(KeyError, match="unknown article 'no-such-article'"):
            flush_results(con)
    assert scalar(loaded, "SELECT count(*) FROM claims") == 0


def test_results_are_written_when_the_writer_closes(loaded: Path):
    url = "https://baltic-wire.example/istanbul"
    with writer(loaded) as con:
        run_id = start_model_run(con, *MODEL)
        save_article_results(con, run_id, article_id(url), [("ceasefire", 0.7)],
                             [claim("russia", "ceasefire_first", "against")])
    assert scalar(loaded, "SELECT count(*) FROM claims") == 1
    with pytest.raises(RuntimeError):
        with writer(loaded) as con:
            save_article_results(con, run_id, article_id(url), [], [])
            raise RuntimeError("classifier crashed")
    assert scalar(loaded, "SELECT count(*) FROM claims") == 1  # the crashed run's result was dropped


# --- views ---------------------------------------------------------------------------------------------


def test_stance_daily_counts_each_story_once(loaded: Path):
    wire, headline, dateline, edited, other = (i.url for i in syndication_items())
    classify(loaded, {
        wire: [claim("russia", "ceasefire_first", "against"), claim("ukraine", "ceasefire_first", "favor")],
        headline: [claim("russia", "ceasefire_first", "against"), claim("ukraine", "ceasefire_first", "against")],
        dateline: [claim("russia", "ceasefire_first", "against")],
        edited: [claim("russia", "ceasefire_first", "favor")],
        other: [claim("russia", "ceasefire_first", "favor")],
    })
    daily = rows(loaded, "SELECT actor, position, favor, against, neutral, stories FROM stance_daily "
                         "WHERE day = DATE '2025-05-16' ORDER BY actor")
    # russia: the wire story (3 against, 1 favor -> against) and the other report (favor): 2 stories, not 5.
    # ukraine: one story whose copies disagree 1:1 -> a tie -> neutral.
    assert daily == [("russia", "ceasefire_first", 1, 1, 0, 2), ("ukraine", "ceasefire_first", 0, 0, 1, 1)]
    weekly = rows(loaded, "SELECT week, actor, favor, against, neutral, stories FROM stance_weekly ORDER BY actor")
    assert weekly == [(date(2025, 5, 12), "russia", 1, 1, 0, 2), (date(2025, 5, 12), "ukraine", 0, 0, 1, 1)]


def test_coverage_top_stories_and_search(loaded: Path):
    with reader(loaded) as con:
        top = con.execute("SELECT headline, n_outlets, n_articles, outlets "
                          "FROM top_stories(DATE '2025-05-16', 1)").fetchall()
        assert top == [
            ("Istanbul talks end without ceasefire", 4, 4,
             ["baltic_wire", "continental_review", "harbor_times", "pacific_observer"]),
            ("A short meeting, a big swap", 1, 1, ["dnipro_ledger"]),
        ]
        assert con.execute("SELECT count(*) FROM top_stories(DATE '2025-05-20', 3)").fetchone()[0] == 0
        coverage = con.execute("SELECT source_id, articles, stories FROM source_coverage_daily "
                               "WHERE day = DATE '2025-05-16' ORDER BY source_id").fetchall()
        assert [c[0] for c in coverage] == sorted(i.source_id for i in syndication_items())
        hits = con.execute("SELECT source_id FROM search_articles('prisoner swap', 5)").fetchall()
        assert hits[0] == ("dnipro_ledger",)


def test_search_handles_cyrillic(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    body = "Переговоры в Стамбуле завершились без соглашения о прекращении огня. " * 5  # "talks in Istanbul..."
    write_run(tmp_path, [make_item("https://moskva-vestnik.example/1", body, "moskva_vestnik", title="Стамбул")],
              "20250516T100000000000Z")
    load(tmp_path, path)
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM search_articles('стамбуле', 5)").fetchone()[0] == 1


def test_crawl_health_shows_each_sources_latest_run(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    write_run(tmp_path, [make_item("https://baltic-wire.example/a", random_text(1))], "20250515T100000000000Z",
              [SourceStats(source_id="baltic_wire", requests=3, items=1, responses_by_status={"200": 3}),
               SourceStats(source_id="eastern_courier", requests=4, items=2, responses_by_status={"200": 4})])
    write_run(tmp_path, [make_item("https://baltic-wire.example/b", random_text(2))], "20250516T100000000000Z",
              [SourceStats(source_id="baltic_wire", requests=12, items=1,
                           responses_by_status={"200": 8, "404": 1, "503": 2, "timeout": 1},
                           drops_by_reason={"not_article": 3, "too_large": 1}),
               SourceStats(source_id="eastern_courier", requests=5, items=0, responses_by_status={"403": 5})])
    load(tmp_path, path)
    health = rows(path, "SELECT source_id, run_id, requests, items, error_responses, dropped, silent, "
                        "empty_bodies FROM crawl_health ORDER BY source_id")
    assert health == [
        ("baltic_wire", "20250516T100000000000Z", 12, 1, 4, 4, False, 0),
        ("eastern_courier", "20250516T100000000000Z", 5, 0, 5, 0, True, None),
    ]


AS_OF = date(2025, 5, 31)  # recent window May 18-31, baseline Apr 6 - May 17 (14 + 42 days)


@pytest.fixture(scope="module")
def shifts_db(tmp_path_factory) -> Path:
    """16 distinct stories: Russia moves from against to favor on ceasefire_first, Ukraine stays in favor
    of security guarantees, China has too few stories to judge."""
    data = tmp_path_factory.mktemp("shifts")
    path = data / "warehouse.duckdb"
    items, claims_by_url = [], {}
    baseline_days = [datetime(2025, 4, 10, 12, tzinfo=timezone.utc) + timedelta(days=4 * k) for k in range(8)]
    recent_days = [datetime(2025, 5, 19, 12, tzinfo=timezone.utc) + timedelta(days=k + (k > 3)) for k in range(8)]
    for k, when in enumerate(baseline_days + recent_days):
        url = f"https://outlet{k % 5}.example/story/{k}"
        items.append(make_item(url, random_text(1000 + k), f"outlet{k % 5}", title=f"Story {k}", published=when))
        recent = when.date() > date(2025, 5, 17)
        claims_by_url[url] = [
            claim("russia", "ceasefire_first", "favor" if recent else "against"),
            claim("ukraine", "security_guarantees", "favor"),
        ] + ([claim("china", "istanbul_basis", "favor" if recent else "against")] if k % 8 < 2 else [])
    write_run(data, items, "20250601T000000000000Z")
    load(data, path)
    classify(path, claims_by_url)
    return path


def _shifts(path: Path, **params) -> dict[tuple[str, str], dict]:
    args = {"recent_days": 14, "baseline_days": 42, "min_stories": 3, "min_delta": 0.4, "z_min": 3.0, **params}
    with reader(path) as con:
        cursor = con.execute(
            "SELECT * FROM position_shifts($as_of, $recent_days, $baseline_days, $min_stories, $min_delta, $z_min)",
            {"as_of": AS_OF, **args})
        names = [d[0] for d in cursor.description]
        return {(r[0], r[1]): dict(zip(names, r)) for r in cursor.fetchall()}


def test_position_shifts_finds_a_planted_shift(shifts_db: Path):
    result = _shifts(shifts_db)
    moved = result[("russia", "ceasefire_first")]
    assert moved["shifted"] is True
    assert (moved["from_stance"], moved["to_stance"]) == ("against", "favor")
    assert (moved["baseline_stories"], moved["recent_stories"]) == (8, 8)
    assert (moved["baseline_net"], moved["recent_net"], moved["delta"]) == (-1.0, 1.0, 2.0)
    assert moved["recent_favor_share"] == 1.0 and moved["baseline_against_share"] == 1.0
    # plus-one smoothing: means -8/11 and 8/11, variances 10/11 - (8/11)^2 -> z = 5.53
    assert moved["z"] == pytest.approx(5.533, abs=0.01)
    assert (moved["recent_from"], moved["recent_to"]) == (date(2025, 5, 18), AS_OF)
    assert (moved["baseline_from"], moved["baseline_to"]) == (date(2025, 4, 6), date(2025, 5, 17))


def test_position_shifts_reports_no_shift_for_a_stable_or_thin_pair(shifts_db: Path):
    result = _shifts(shifts_db)
    stable = result[("ukraine", "security_guarantees")]
    assert stable["shifted"] is False and stable["delta"] == 0.0 and stable["z"] == 0.0
    assert (stable["from_stance"], stable["to_stance"]) == ("favor", "favor")
    thin = result[("china", "istanbul_basis")]
    assert (thin["baseline_stories"], thin["recent_stories"], thin["delta"]) == (2, 2, 2.0)
    assert thin["shifted"] is False  # fewer than min_stories per window
    assert [k for k, v in result.items() if v["shifted"]] == [("russia", "ceasefire_first")]
    # the thresholds are parameters
    assert _shifts(shifts_db, z_min=6.0)[("russia", "ceasefire_first")]["shifted"] is False
    assert _shifts(shifts_db, min_stories=2)[("china", "istanbul_basis")]["shifted"] is False  # z too small


def test_actor_position_matrix(shifts_db: Path):
    with reader(shifts_db) as con:
        matrix = {(a, p): (s, n, latest) for a, p, s, n, latest in con.execute(
            "SELECT actor, position, stance, evidence_count, latest_stance FROM actor_position_matrix($d)",
            {"d": AS_OF}).fetchall()}
    # 30 days to May 31 hold the 8 recent stories (favor) and 2 baseline ones (May 4 and 8, against)
    assert matrix[("russia", "ceasefire_first")] == ("favor", 10, "favor")
    assert matrix[("ukraine", "security_guarantees")] == ("favor", 10, "favor")
    assert matrix[("china", "istanbul_basis")] == ("favor", 2, "favor")


# --- export --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_tables_and_views(tmp_path: Path, loaded: Path, fmt: str):
    paths = export(loaded, tmp_path / "out", fmt)
    assert [p.name for p in paths] == [f"{t}.{fmt}" for t in DEFAULT_TABLES]
    reader_fn = "read_parquet" if fmt == "parquet" else "read_csv"
    with duckdb.connect() as con:
        exported = str(tmp_path / "out" / f"articles.{fmt}")
        assert con.execute(f"SELECT count(*) FROM {reader_fn}(?)", [exported]).fetchone()[0] == 5
    assert not list((tmp_path / "out").glob(".*.tmp"))
    with pytest.raises(ValueError, match="no table or view named nope"):
        export(loaded, tmp_path / "out", fmt, ["stories", "nope"])
    with pytest.raises(ValueError, match="unknown export format"):
        export(loaded, tmp_path / "out", "xlsx")
