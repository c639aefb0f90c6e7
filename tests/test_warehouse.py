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
from test_loader import (
    OTHER_REPORT,
    assert_keys_unique,
    T0,
    WIRE_TEXT,
    make_item,
    random_text,
    rows,
    scalar,
    syndication_items,
    write_run,
)

MODEL = ("lexicon", "lexicon-1.0", "1.0.0", "cb-hash")  # model_id, model_version, codebook version, hash
WIRE_TEXT_V1 = WIRE_TEXT
WIRE_TEXT_V2 = WIRE_TEXT + "\n\nUpdated: the Kremlin called the talks useful."
WIRE_TEXT_V3 = WIRE_TEXT + "\n\nUpdated: Kyiv said the swap would start on Monday."
OTHER_REPORT_V = OTHER_REPORT + "\n\nThis report was updated."


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
    assert_keys_unique(loaded)
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


# --- model-aware views ---------------------------------------------------------------------------------

ENCODER = ("encoder", "encoder-1.0", "1.0.0", "cb-hash")


def _stance_days_match_claims(path: Path) -> bool:
    """story_stance_days and _weeks, kept up to date by every write of claims, equal a recount."""
    recount = ("SELECT model_id, model_version, codebook_hash, {period}, coalesce(story_id, article_id), actor, "
               "position, count(*) FILTER (WHERE stance = 'favor'), count(*) FILTER (WHERE stance = 'against'), "
               "count(*) FILTER (WHERE stance = 'neutral') FROM claims GROUP BY ALL ORDER BY ALL")
    with reader(path) as con:
        days = con.execute("SELECT * FROM story_stance_days ORDER BY ALL").fetchall()
        weeks = con.execute("SELECT * FROM story_stance_weeks ORDER BY ALL").fetchall()
        by_day = con.execute(recount.format(period="utc_day(published_at)")).fetchall()
        by_week = con.execute(recount.format(period="CAST(date_trunc('week', utc_day(published_at)) AS DATE)")).fetchall()
    return days == by_day and weeks == by_week and len(days) > 0


def _stance_views(path: Path) -> dict[str, list]:
    """What the stance views say about 2025-05-16 (the syndication example)."""
    with reader(path) as con:
        q = {
            "daily": "SELECT actor, favor, against, neutral, stories FROM stance_daily ORDER BY actor",
            "weekly": "SELECT actor, favor, against, neutral, stories FROM stance_weekly ORDER BY actor",
            "until": "SELECT actor, favor, against, neutral, stories FROM stance_weekly_until(DATE '2025-05-16') "
                     "ORDER BY actor",
            "stories": "SELECT actor, stance, n_claims FROM story_stances(DATE '2025-05-16', DATE '2025-05-16') "
                       "ORDER BY actor, stance, n_claims",
            "story_daily": "SELECT actor, stance FROM story_stance_daily ORDER BY actor, stance",
            "matrix": "SELECT actor, stance, evidence_count, claims FROM actor_position_matrix(DATE '2025-05-16') "
                      "ORDER BY actor",
            "shifts": "SELECT actor, recent_stories FROM position_shifts(DATE '2025-05-16') ORDER BY actor",
            "coverage": "SELECT sum(claims), sum(articles_with_claims) FROM source_coverage_daily",
            "model": "SELECT model_id FROM current_model",
        }
        return {name: con.execute(sql).fetchall() for name, sql in q.items()}


def test_stance_views_count_the_current_models_claims_only(loaded: Path):
    wire, headline, dateline, edited, other = (i.url for i in syndication_items())
    # The lexicon sees Russia against (the wire story) and in favour (the other report); the encoder,
    # on the same articles, sees Russia in favour everywhere and Ukraine against once.
    classify(loaded, {wire: [claim("russia", "ceasefire_first", "against")],
                      headline: [claim("russia", "ceasefire_first", "against")],
                      other: [claim("russia", "ceasefire_first", "favor")]})
    lexicon = _stance_views(loaded)
    assert lexicon["daily"] == [("russia", 1, 1, 0, 2)]
    assert lexicon["model"] == [("lexicon",)]
    classify(loaded, {wire: [claim("russia", "ceasefire_first", "favor")],
                      dateline: [claim("russia", "ceasefire_first", "favor"), claim("ukraine", "ceasefire_first", "against")],
                      edited: [claim("russia", "ceasefire_first", "favor")],
                      other: [claim("russia", "ceasefire_first", "favor")]}, model=ENCODER)
    encoder = _stance_views(loaded)
    assert scalar(loaded, "SELECT count(*) FROM claims") == 3 + 5  # both models' claims are kept
    assert encoder["model"] == [("encoder",)]
    assert encoder["daily"] == encoder["weekly"] == encoder["until"] == [("russia", 2, 0, 0, 2), ("ukraine", 0, 1, 0, 1)]
    assert encoder["stories"] == [("russia", "favor", 1), ("russia", "favor", 3), ("ukraine", "against", 1)]
    assert encoder["story_daily"] == [("russia", "favor"), ("russia", "favor"), ("ukraine", "against")]
    assert encoder["matrix"] == [("russia", "favor", 2, 4), ("ukraine", "against", 1, 1)]
    assert encoder["shifts"] == [("russia", 2), ("ukraine", 1)]
    assert encoder["coverage"] == [(5, 4)]
    assert _stance_days_match_claims(loaded)
    # The lexicon run again (e.g. a new codebook is not needed): it finished last, so it is current again.
    classify(loaded, {wire: [claim("russia", "ceasefire_first", "against")],
                      headline: [claim("russia", "ceasefire_first", "against")],
                      other: [claim("russia", "ceasefire_first", "favor")]})
    assert _stance_views(loaded) == lexicon
    # replacing an article's claims (same model) moves the counts of its story and day
    classify(loaded, {headline: [claim("russia", "ceasefire_first", "favor"), claim("europe", "sanctions_relief", "favor")],
                      dateline: []})
    assert _stance_days_match_claims(loaded)
    assert _stance_views(loaded)["stories"][:2] == [("europe", "favor", 1), ("russia", "favor", 1)]
    assert_keys_unique(loaded)


def test_current_model_is_the_last_finished_run(loaded: Path):
    url = syndication_items()[0].url
    with writer(loaded) as con:
        first = start_model_run(con, *MODEL)
        save_article_results(con, first, article_id(url), [], [claim("russia", "ceasefire_first", "favor")])
    # No run has finished: the run started last counts (a first classification still in progress).
    assert rows(loaded, "SELECT model_run_id FROM current_model") == [(first,)]
    assert scalar(loaded, "SELECT count(*) FROM current_claims") == 1
    classify(loaded, {url: [claim("russia", "ceasefire_first", "against")]}, model=ENCODER)
    with writer(loaded) as con:  # a newer run that has not finished does not take over
        start_model_run(con, "nli", "nli-1", "1.0.0", "cb-hash")
    assert rows(loaded, "SELECT model_id FROM current_model") == [("encoder",)]
    assert rows(loaded, "SELECT stance FROM current_claims") == [("against",)]
    # a new codebook hash is another configuration: its claims are not mixed with the old ones
    classify(loaded, {url: [claim("russia", "ceasefire_first", "neutral")]},
             model=("encoder", "encoder-1.0", "1.1.0", "cb-hash-2"))
    assert rows(loaded, "SELECT stance, codebook_hash FROM current_claims") == [("neutral", "cb-hash-2")]


def test_stance_weekly_until_cuts_off_at_the_day(shifts_db: Path):
    with reader(shifts_db) as con:
        weekly = {(w, a, p): r for w, a, p, *r in con.execute(
            "SELECT week, actor, position, favor, against, neutral, stories FROM stance_weekly").fetchall()}
        until = con.execute("SELECT week, actor, position, favor, against, neutral, stories, net "
                            "FROM stance_weekly_until(DATE '2025-05-21')").fetchall()
        recent = con.execute("SELECT DISTINCT week FROM stance_weekly_until(DATE '2025-05-21', days := 20) "
                             "ORDER BY week").fetchall()
    # May 21 is a Wednesday: its week (from May 19) holds the stories of May 19-21 only.
    assert max(w for w, *_ in until) == date(2025, 5, 19)
    this_week = {(a, p): r for w, a, p, *r in until if w == date(2025, 5, 19)}
    assert this_week[("russia", "ceasefire_first")] == [3, 0, 0, 3, 1.0]
    assert weekly[(date(2025, 5, 19), "russia", "ceasefire_first")] == [6, 0, 0, 6]  # May 19-22, 24, 25
    for w, a, p, *r in until:  # earlier weeks are complete: as in stance_weekly
        if w < date(2025, 5, 19):
            assert r[:4] == weekly[(w, a, p)]
    # from the week holding May 2 (Apr 28: the story of Sunday May 4), then May 8's and this week
    assert recent == [(date(2025, 4, 28),), (date(2025, 5, 5),), (date(2025, 5, 19),)]


def test_utc_day_is_the_utc_day_in_any_session_time_zone(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    migrate(path)
    with reader(path) as con:
        con.execute("SET TimeZone = 'Asia/Tokyo'")
        got = con.execute("""
            WITH t AS (SELECT TIMESTAMPTZ '1965-01-01 00:00:00+00' + to_microseconds(CAST(hash(i) % 3000000000000000 AS BIGINT)) AS ts
                       FROM range(20000) AS r(i)
                       UNION ALL SELECT TIMESTAMPTZ '2025-05-16 01:30:00+03'
                       UNION ALL SELECT TIMESTAMPTZ '2025-05-15 23:59:59.999999+00'
                       UNION ALL SELECT TIMESTAMPTZ '1969-12-31 23:59:59.999999+00')
            SELECT count(*) FILTER (WHERE utc_day(ts) <> CAST(timezone('UTC', ts) AS DATE)),
                   count(*) FILTER (WHERE (utc_day(ts) BETWEEN DATE '2025-05-15' AND DATE '2025-05-16')
                                          <> (ts >= utc_start(DATE '2025-05-15') AND ts < utc_start(DATE '2025-05-17')))
            FROM t""").fetchone()
        assert got == (0, 0)
        assert con.execute("SELECT utc_day(TIMESTAMPTZ '2025-05-16 01:30:00+03')").fetchone()[0] == date(2025, 5, 15)


def test_top_stories_link_the_canonical_url(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    item = make_item("https://baltic-wire.example/istanbul?utm_source=rss&utm_medium=feed", random_text(3),
                     canonical="https://baltic-wire.example/istanbul")
    write_run(tmp_path, [item], "20250516T100000000000Z")
    load(tmp_path, path)
    with reader(path) as con:
        assert con.execute("SELECT url FROM top_stories(DATE '2025-05-16')").fetchall() == [
            ("https://baltic-wire.example/istanbul",)]


# --- crawl health with incremental crawls -----------------------------------------------------------------


def test_crawl_runs_keep_incremental_counters_and_health_reads_them(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    stats = [
        # incremental: feeds unchanged, the articles found were all fetched before -> healthy, not silent
        SourceStats(source_id="quiet_wire", requests=4, items=0, responses_by_status={"200": 1, "304": 3},
                    not_modified=3, already_seen=12),
        # nothing at all -> silent
        SourceStats(source_id="eastern_courier", requests=2, items=0, responses_by_status={"200": 2}),
        # items, but the source's selectors stopped matching -> layout_suspect
        SourceStats(source_id="unlisted_times", requests=6, items=1, responses_by_status={"200": 6},
                    extraction_failed={"no_body": 1, "selector_miss": 4}),
    ]
    write_run(tmp_path, [make_item("https://unlisted-times.example/a", random_text(4), "unlisted_times")],
              "20250516T100000000000Z", stats)
    load(tmp_path, path)
    assert rows(path, "SELECT source_id, not_modified, already_seen, extraction_failed::VARCHAR FROM crawl_runs "
                      "ORDER BY source_id") == [
        ("eastern_courier", 0, 0, "{}"), ("quiet_wire", 3, 12, "{}"),
        ("unlisted_times", 0, 0, '{"no_body": 1, "selector_miss": 4}'),
    ]
    health = rows(path, "SELECT source_id, name, items, not_modified, already_seen, silent, extraction_failures, "
                        "layout_suspect FROM crawl_health ORDER BY source_id")
    assert health == [
        ("eastern_courier", "The Eastern Courier", 0, 0, 0, True, 0, False),  # named in sources.yaml
        ("quiet_wire", "quiet_wire", 0, 3, 12, False, 0, False),            # not named: the id
        ("unlisted_times", "unlisted_times", 1, 0, 0, False, 5, True),
    ]


def test_crawl_runs_loaded_before_006_are_unknown_not_zero(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    migrate(path, target=5)
    with writer(path) as con:
        con.execute("INSERT INTO crawl_runs (run_id, source_id, requests, items, loaded_at) "
                    "VALUES ('r1', 'old_source', 3, 0, now())")
    migrate(path)
    assert rows(path, "SELECT not_modified, already_seen, extraction_failed, silent, layout_suspect "
                      "FROM crawl_health") == [(None, None, None, True, False)]


# --- text versions stored once, and the incremental full-text index ---------------------------------------


def test_current_text_is_stored_once(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    url = "https://baltic-wire.example/istanbul"
    write_run(tmp_path, [make_item(url, WIRE_TEXT_V1, fetched=T0)], "20250516T100000000000Z")
    load(tmp_path, path)
    assert rows(path, "SELECT version, body FROM article_history") == [(1, None)]
    write_run(tmp_path, [make_item(url, WIRE_TEXT_V2, fetched=T0 + timedelta(hours=2))], "20250516T120000000000Z")
    # an older fetch, loaded late: a version, not the current text
    write_run(tmp_path, [make_item(url, WIRE_TEXT_V3, fetched=T0 + timedelta(hours=1))], "20250516T130000000000Z")
    load(tmp_path, path)
    assert rows(path, "SELECT version, body FROM article_history ORDER BY version") == [
        (1, WIRE_TEXT_V1), (2, None), (3, WIRE_TEXT_V3)]
    assert rows(path, "SELECT version, body FROM articles") == [(2, WIRE_TEXT_V2)]
    assert rows(path, "SELECT version, body FROM article_versions ORDER BY version") == [
        (1, WIRE_TEXT_V1), (2, WIRE_TEXT_V2), (3, WIRE_TEXT_V3)]


def test_migration_007_keeps_every_version_text(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    migrate(path, target=6)
    with writer(path) as con:
        con.execute("INSERT INTO articles (article_id, url, canonical_url, source_id, body, fetched_at, content_hash, "
                    "first_seen_at, last_seen_at, version) VALUES ('a1', 'https://x.example/1', "
                    "'https://x.example/1', 's', 'second text', now(), 'h2', now(), now(), 2)")
        con.execute("INSERT INTO article_versions VALUES ('a1', 1, 'h1', 't', 'first text', now(), 'r1'), "
                    "('a1', 2, 'h2', 't', 'second text', now(), 'r2')")
    migrate(path)
    assert rows(path, "SELECT version, body FROM article_history ORDER BY version") == [(1, "first text"), (2, None)]
    assert rows(path, "SELECT version, body FROM article_versions ORDER BY version") == [
        (1, "first text"), (2, "second text")]


def _index(con) -> dict[str, list]:
    """The full-text index's content, without its internal numbering (docid, termid)."""
    queries = {
        "docs": "SELECT name, len FROM fts_main_articles.docs ORDER BY ALL",
        "dict": "SELECT term, df FROM fts_main_articles.dict ORDER BY ALL",
        "postings": "SELECT d.name, t.fieldid, k.term, count(*) FROM fts_main_articles.terms AS t "
                    "JOIN fts_main_articles.docs AS d USING (docid) JOIN fts_main_articles.dict AS k USING (termid) "
                    "GROUP BY ALL ORDER BY ALL",
        "stats": "SELECT num_docs, round(avgdl, 9) FROM fts_main_articles.stats",
        "scores": "SELECT article_id, round(score, 9) FROM search_articles('kyiv ceasefire prisoner swap Стамбуле "
                  "naive', 1000) ORDER BY ALL",
    }
    return {name: con.execute(sql).fetchall() for name, sql in queries.items()}


def test_incremental_search_index_equals_the_extensions_full_build(tmp_path: Path, monkeypatch):
    from peacewatch.warehouse import search

    monkeypatch.setattr(search, "CHUNK", 7)  # several chunks per update
    path = tmp_path / "w.duckdb"
    items = syndication_items() + [
        make_item("https://moskva.example/1", "Переговоры в Стамбуле; Café naïve — C:\\path don't The the running runs",
                  "moskva", title="Стамбул: переговоры"),
        make_item("https://empty.example/1", "", "empty", title=""),
        make_item("https://punct.example/1", "tab\there\nnewline  double  space ...dots 4.5 x_y Ελληνικά 123",
                  "punct", title="Kyiv: ceasefire?"),
    ] + [make_item(f"https://x.example/{i}", random_text(i, 80), "random", title=f"Kyiv {i}") for i in range(30)]
    write_run(tmp_path, items[:20], "20250516T100000000000Z")
    assert load(tmp_path, path).articles_new == 20            # an empty index: built from scratch
    write_run(tmp_path, items[20:], "20250516T110000000000Z")  # fewer than indexed: incremental
    write_run(tmp_path, [make_item(items[0].url, OTHER_REPORT_V, fetched=T0 + timedelta(hours=5)),
                         make_item(items[25].url, "prisoner swap agreed in Istanbul " * 5, "random",
                                   fetched=T0 + timedelta(hours=5))], "20250516T120000000000Z")
    load(tmp_path, path, rebuild_search=False)
    with writer(path) as con:
        # 18 new articles, one of them changed again, and a changed one that was indexed
        assert con.execute("SELECT count(DISTINCT article_id) FROM search_pending").fetchone()[0] == 19
        update = search.refresh(con)
        assert (update.mode, update.articles, update.reindexed) == ("incremental", 19, 1)
        write_run(tmp_path, [make_item(items[1].url, WIRE_TEXT_V3, "harbor_times", fetched=T0 + timedelta(hours=6))],
                  "20250516T130000000000Z")
    stats = load(tmp_path, path)
    assert stats.articles_updated == 1
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0
        incremental = _index(con)
    with writer(path) as con:
        con.begin()
        con.execute(db.sql("create_fts_index"))  # the extension's own build of the same articles
        full = _index(con)
        con.rollback()
    assert incremental == full
    assert len(full["scores"]) > 20 and full["stats"][0][0] == len(items)


def test_deferred_search_index_is_caught_up_by_db_reindex(tmp_path: Path):
    from click.testing import CliRunner

    from peacewatch.cli import main

    path = tmp_path / "warehouse.duckdb"
    write_run(tmp_path, syndication_items(), "20250516T100000000000Z")
    load(tmp_path, path, rebuild_search=False)
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM search_articles('prisoner swap', 5)").fetchone()[0] == 0
    first = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "db", "reindex"])
    assert first.exit_code == 0 and "5 articles" in first.output, first.output
    again = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "db", "reindex"])
    assert "none, 0 articles" in again.output
    full = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "db", "reindex", "--full"])
    assert "rebuild, 5 articles" in full.output, full.output
    with reader(path) as con:
        assert con.execute("SELECT source_id FROM search_articles('prisoner swap', 5)").fetchall()[0] == (
            "dnipro_ledger",)


# --- the warehouse benchmark, at a tenth of its size ----------------------------------------------------


def test_warehouse_benchmark_generator_and_queries(tmp_path: Path, monkeypatch):
    """PEACEWATCH_BENCH_SCALE=0.1: the synthetic warehouse has the promised shape, every timed query runs,
    and (with pandas) the naive aggregation gets the views' numbers. No timing is asserted."""
    from peacewatch.bench import warehouse as bench

    monkeypatch.setenv("PEACEWATCH_BENCH_SCALE", "0.1")
    monkeypatch.setenv("PEACEWATCH_BENCH_DIR", str(tmp_path))
    assert bench.scale() == 0.1 and bench.bench_dir() == tmp_path
    n, m = round(bench.ARTICLES * 0.1), round(bench.CLAIMS * 0.1)
    path = tmp_path / "synthetic.duckdb"
    generated = bench.generate(path, n, m)
    assert (generated["articles"], generated["current_claims"]) == (n, m)
    assert generated["claims"] == m + int(m * bench.OLD_MODEL_SHARE)
    assert n / 4 < generated["stories"] < n / 2.5  # 3.3 articles per story
    with reader(path) as con:
        first, last, days = con.execute("SELECT min(utc_day(published_at)), max(utc_day(published_at)), "
                                        "count(DISTINCT utc_day(published_at)) FROM claims").fetchone()
        assert (first, days) == (bench.START, bench.DAYS) and last == bench.START + timedelta(days=bench.DAYS - 1)
        assert con.execute("SELECT count(*) FROM stance_daily").fetchone()[0] > 60 * bench.DAYS  # ~70 pairs a day
        # story_stance_days and _weeks (written in bulk by the generator) agree with the claims
        assert con.execute("SELECT sum(stories) FROM stance_daily").fetchone()[0] == con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT utc_day(published_at), story_id, actor, position "
            "FROM current_claims)").fetchone()[0]
        assert con.execute("SELECT sum(stories) FROM stance_weekly").fetchone()[0] == con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT date_trunc('week', utc_day(published_at)), story_id, actor, "
            "position FROM current_claims)").fetchone()[0]
        shifts = con.execute("SELECT count(*), count(*) FILTER (WHERE shifted) FROM position_shifts($d)",
                             {"d": bench.START + timedelta(days=bench.DAYS - 1)}).fetchone()
        assert shifts[0] == 70 and shifts[1] > 0  # the stances drift: some pairs move
    as_of = bench.START + timedelta(days=bench.DAYS - 1)
    seconds = bench.measure_queries(path, as_of, repeats=1)
    assert set(seconds) == set(bench.QUERIES) and all(s > 0 for s in seconds.values())
    pytest.importorskip("pandas")
    claims = bench.export_claims(path)
    assert len(claims) == m
    compared = bench.compare_with_pandas(path, claims, as_of, repeats=1)
    assert {name: same for name, (_seconds, same) in compared.items()} == {
        "stance_daily": True, "stance_weekly": True, "actor_position_matrix": True, "position_shifts": True}


def test_warehouse_benchmark_loader_part(tmp_path: Path):
    from peacewatch.bench import warehouse as bench

    result = bench.measure_loader(tmp_path, 600, 60)
    assert result["articles"] == 600 and result["load_seconds"] > 0 and result["pragma_seconds"] > 0
