"""The loader on real DuckDB files: idempotence, kill-and-resume, versions, stories, quarantine.

Synthetic landing runs are written with landing.RunWriter; the helpers here are also used by
tests/test_warehouse.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from peacewatch.contracts import CrawledItem, SourceStats, content_hash
from peacewatch.landing import MANIFEST, RunWriter
from peacewatch.warehouse import stories
from peacewatch.warehouse.db import reader
from peacewatch.warehouse.loader import LoadStats, load

T0 = datetime(2025, 5, 16, 9, 0, tzinfo=timezone.utc)

# One agency story about the Istanbul talks, as re-published by other outlets, and an independently
# written report of the same event (different wording): the clustering must keep them apart.
WIRE = [
    "Russian and Ukrainian delegations met in Istanbul on Friday for their first direct talks in three years, "
    "but the meeting at the Dolmabahce palace ended after less than two hours without agreement on a ceasefire.",
    "Turkish Foreign Minister Hakan Fidan, who opened the session, told both sides that the world was watching "
    "and that a truce would save thousands of lives. Ukrainian officials said their team had come with a mandate "
    "to discuss an unconditional thirty-day ceasefire and an exchange of prisoners.",
    "The Russian delegation, led by presidential aide Vladimir Medinsky, presented demands that a Ukrainian "
    "source described as unacceptable, including the withdrawal of Ukrainian troops from territory that Moscow "
    "claims but does not fully control.",
    "Both sides agreed to swap one thousand prisoners of war each, the largest exchange since the start of the "
    "full-scale invasion, and to put their proposals for a ceasefire in writing.",
    "European leaders meeting in Tirana said they would push for new sanctions if Moscow continued to reject a "
    "truce. The Kremlin said President Vladimir Putin had no plans to meet Volodymyr Zelensky in the near future.",
]
WIRE_TEXT = "\n\n".join(WIRE)
COPY_NEW_HEADLINE = WIRE_TEXT
COPY_DATELINE_CUT = "ISTANBUL, May 16 (Baltic Wire) - " + "\n\n".join(WIRE[:-1])
COPY_EDITED = "\n\n".join(
    [WIRE[0].replace("in three years", "in more than three years")] + WIRE[1:3] + [WIRE[4]]
)
OTHER_REPORT = (
    "Negotiators from Moscow and Kyiv sat across a table in Istanbul on Friday, the first such encounter since "
    "the spring of 2022. The talks lasted under two hours.\n\nKyiv's delegation, headed by defence minister "
    "Rustem Umerov, pressed for a month-long halt to the fighting; the Russian side refused to commit to one. "
    "What the two teams did agree on was a large prisoner swap, with a thousand captives to be released by each "
    "side in the coming days.\n\nUmerov told reporters the next step would be a meeting between the two "
    "presidents. In Moscow, Kremlin spokesman Dmitry Peskov said any such meeting would have to be prepared by "
    "experts first. Turkey's foreign minister, who hosted the session, called it a start."
)

_WORDS = (
    "ceasefire talks envoy kremlin kyiv moscow washington brussels sanctions troops guarantees summit "
    "delegation minister president proposal offensive frontline drones energy prisoners exchange border "
    "treaty negotiators adviser statement briefing reporters officials spokesman allies partners weapons "
    "aid package reconstruction corridor monitoring mission observers referendum elections ballot region "
    "occupied annexation recognition sovereignty neutrality alliance membership pledge deadline"
).split()


def random_text(seed: int, words: int = 120) -> str:
    """A distinct pseudo-article: random words, so two seeds share almost no 5-word sequence."""
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(words)) + "."


def make_item(
    url: str,
    body: str,
    source: str = "baltic_wire",
    title: str = "Istanbul talks end without ceasefire",
    published: datetime | None = T0,
    fetched: datetime | None = None,
    canonical: str | None = None,
) -> CrawledItem:
    fetched = fetched or (published or T0) + timedelta(minutes=30)
    return CrawledItem(
        url=url, canonical_url=canonical or url, source_id=source, title=title, authors=["Ilze Kalnina"],
        published_at=published, language="en", body=body, raw_html_path=f"raw/{source}/00/x.html.gz",
        fetched_at=fetched, http_status=200, content_hash=content_hash(body),
    )


def write_run(
    data_dir: Path, items: list[CrawledItem], run_id: str, stats: list[SourceStats] | None = None
) -> Path:
    """Publish one crawl run; stats default to one SourceStats per source with its item count."""
    writer = RunWriter(data_dir, run_id=run_id)
    counts: dict[str, int] = {}
    for item in items:
        writer.add(item)
        counts[item.source_id] = counts.get(item.source_id, 0) + 1
    if stats is None:
        stats = [
            SourceStats(source_id=s, requests=n + 2, items=n, responses_by_status={"200": n + 1, "404": 1})
            for s, n in sorted(counts.items())
        ]
    writer.publish(stats)
    return writer.run_dir


def syndication_items() -> list[CrawledItem]:
    """The wire story, three re-publications and a different report of the same event."""
    return [
        make_item("https://baltic-wire.example/istanbul", WIRE_TEXT, "baltic_wire", published=T0),
        make_item("https://harbor-times.example/world/istanbul-talks", COPY_NEW_HEADLINE, "harbor_times",
                  title="Kremlin and Kyiv fail to agree truce in first talks since 2022",
                  published=T0 + timedelta(hours=1)),
        make_item("https://continental.example/a/99", COPY_DATELINE_CUT, "continental_review",
                  published=T0 + timedelta(hours=2)),
        make_item("https://pacific-observer.example/istanbul", COPY_EDITED, "pacific_observer",
                  title="Istanbul meeting ends quickly", published=T0 + timedelta(hours=3)),
        make_item("https://dnipro-ledger.example/istanbul-analysis", OTHER_REPORT, "dnipro_ledger",
                  title="A short meeting, a big swap", published=T0 + timedelta(hours=4)),
    ]


def snapshot(db_path: Path) -> dict[str, list[tuple]]:
    """Every table's rows (sorted), without load-time timestamps: equal iff two loads have the same data."""
    queries = {
        "articles": "SELECT * FROM articles",
        "article_versions": "SELECT * FROM article_versions",
        "stories": "SELECT * FROM stories",
        "article_minhash": "SELECT * FROM article_minhash",
        "minhash_bands": "SELECT * FROM minhash_bands",
        "quarantine": "SELECT source_file, file_sha256, run_id, line, raw_record, reason FROM quarantine",
        "crawl_runs": "SELECT * EXCLUDE (loaded_at) FROM crawl_runs",
        "load_ledger": "SELECT * EXCLUDE (loaded_at) FROM load_ledger",
        "sources": "SELECT * FROM sources",
    }
    with duckdb.connect(str(db_path), read_only=True) as con:
        return {name: sorted(con.execute(q).fetchall(), key=repr) for name, q in queries.items()}


# Keys the loader and the classifier store keep unique by construction (no PRIMARY KEY since migration 010).
UNIQUE_KEYS = {
    "articles": "article_id", "article_history": "article_id, version", "article_minhash": "article_id, version",
    "stories": "story_id", "claims": "claim_id", "article_topics": "article_id, model_id, topic",
}


def assert_keys_unique(db_path: Path) -> None:
    with duckdb.connect(str(db_path), read_only=True) as con:
        for table, key in UNIQUE_KEYS.items():
            total, distinct = con.execute(f"SELECT count(*), count(DISTINCT ({key})) FROM {table}").fetchone()
            assert total == distinct, f"{table}: {total - distinct} duplicate key(s) ({key})"


def scalar(db_path: Path, sql: str, params: list | None = None):
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchone()[0]


def rows(db_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


# --- loading and idempotence -------------------------------------------------------------------------


def test_load_then_reload_changes_nothing(tmp_path: Path, db_path: Path):
    write_run(tmp_path, syndication_items(), "20250516T100000000000Z")
    first = load(tmp_path, db_path)
    assert first == LoadStats(files_loaded=5, files_skipped=0, articles_new=5, articles_updated=0, unchanged=0,
                              exact_duplicates=1, quarantined=0, stories_new=2)
    before = snapshot(db_path)
    again = load(tmp_path, db_path)
    assert again == LoadStats(files_skipped=5)
    assert snapshot(db_path) == before
    assert_keys_unique(db_path)
    assert scalar(db_path, "SELECT count(*) FROM load_ledger WHERE status = 'loaded'") == 5
    assert scalar(db_path, "SELECT count(*) FROM crawl_runs") == 5


def test_article_id_is_md5_of_canonical_url_and_lineage_is_kept(tmp_path: Path, db_path: Path):
    item = make_item("https://example.org/a?utm=x", WIRE_TEXT, canonical="https://example.org/a")
    run_dir = write_run(tmp_path, [item], "20250516T100000000000Z")
    load(tmp_path, db_path)
    (article_id, url, version, first_seen, last_seen) = rows(
        db_path, "SELECT article_id, url, version, first_seen_at, last_seen_at FROM articles")[0]
    assert article_id == hashlib.md5(b"https://example.org/a").hexdigest()
    assert url == "https://example.org/a?utm=x" and version == 1 and first_seen == last_seen == item.fetched_at
    ledger = rows(db_path, "SELECT file_path, run_id, rows, rows_loaded, status FROM load_ledger")
    assert ledger == [(f"landing/{run_dir.name}/items-baltic_wire.jsonl", run_dir.name, 1, 1, "loaded")]


def test_changed_text_at_the_same_url_becomes_a_new_version(tmp_path: Path, db_path: Path):
    url = "https://baltic-wire.example/istanbul"
    write_run(tmp_path, [make_item(url, WIRE_TEXT, fetched=T0)], "20250516T100000000000Z")
    load(tmp_path, db_path)
    story = scalar(db_path, "SELECT story_id FROM articles")

    updated = WIRE_TEXT + "\n\nUpdated with the Kremlin's reaction: Peskov called the talks useful."
    write_run(tmp_path, [
        make_item(url, WIRE_TEXT, fetched=T0 + timedelta(hours=1)),             # re-fetch, same text
        make_item(url, updated, fetched=T0 + timedelta(hours=2), title="Istanbul talks: Kremlin reacts"),
    ], "20250516T120000000000Z")
    stats = load(tmp_path, db_path)
    assert (stats.articles_new, stats.articles_updated, stats.unchanged) == (0, 1, 1)

    article = rows(db_path, "SELECT version, body, title, content_hash, story_id, first_seen_at, last_seen_at "
                            "FROM articles")
    assert len(article) == 1
    version, body, title, chash, story_id, first_seen, last_seen = article[0]
    assert (version, body, title, chash) == (2, updated, "Istanbul talks: Kremlin reacts", content_hash(updated))
    assert story_id == story  # an updated article keeps its story
    assert first_seen == T0 and last_seen == T0 + timedelta(hours=2)
    versions = rows(db_path, "SELECT version, content_hash, body FROM article_versions ORDER BY version")
    assert versions == [(1, content_hash(WIRE_TEXT), WIRE_TEXT), (2, content_hash(updated), updated)]
    assert_keys_unique(db_path)
    # both texts keep their signature: copies of either still find the story
    assert rows(db_path, "SELECT version FROM article_minhash ORDER BY version") == [(1,), (2,)]
    assert scalar(db_path, "SELECT count(*) FROM minhash_bands") == 2 * stories.BANDS


def test_unchanged_refetch_only_moves_last_seen(tmp_path: Path, db_path: Path):
    url = "https://baltic-wire.example/istanbul"
    write_run(tmp_path, [make_item(url, WIRE_TEXT, fetched=T0)], "20250516T100000000000Z")
    load(tmp_path, db_path)
    write_run(tmp_path, [make_item(url, WIRE_TEXT, fetched=T0 + timedelta(days=1))], "20250517T100000000000Z")
    stats = load(tmp_path, db_path)
    assert (stats.files_loaded, stats.articles_new, stats.articles_updated, stats.unchanged) == (1, 0, 0, 1)
    assert rows(db_path, "SELECT version, last_seen_at FROM articles") == [(1, T0 + timedelta(days=1))]
    assert scalar(db_path, "SELECT count(*) FROM article_versions") == 1


def test_exact_duplicates_across_urls_are_counted(tmp_path: Path, db_path: Path):
    items = [make_item(f"https://outlet{i}.example/same", WIRE_TEXT, f"outlet{i}") for i in range(3)]
    write_run(tmp_path, items, "20250516T100000000000Z")
    stats = load(tmp_path, db_path)
    assert (stats.articles_new, stats.exact_duplicates, stats.stories_new) == (3, 2, 1)


# --- stories -------------------------------------------------------------------------------------------


def test_threshold_sits_between_copies_and_different_reports():
    """The documented numbers: copies have Jaccard >= 0.7, a different report of the event < 0.1."""
    for copy in (COPY_NEW_HEADLINE, COPY_DATELINE_CUT, COPY_EDITED):
        assert stories.jaccard(WIRE_TEXT, copy) >= 0.7
    assert stories.jaccard(WIRE_TEXT, OTHER_REPORT) < 0.1
    assert stories.JACCARD_THRESHOLD == 0.5
    sigs, has = stories.signatures([WIRE_TEXT, COPY_DATELINE_CUT, OTHER_REPORT, "too short"])
    assert has.tolist() == [True, True, True, False]
    estimate = stories.similarity(sigs[0], sigs[1:3])
    assert estimate[0] >= 0.6 and estimate[1] < 0.2


def test_minhash_estimates_jaccard():
    """Signature agreement tracks the exact Jaccard over a range of overlaps (error < 0.15)."""
    base = random_text(1, 400).split()
    for keep in (1.0, 0.8, 0.6, 0.4, 0.2):
        cut = int(len(base) * keep)
        other = base[:cut] + random_text(2, len(base) - cut).split()
        a, b = " ".join(base), " ".join(other)
        sigs, _ = stories.signatures([a, b])
        assert abs(float(stories.similarity(sigs[0], sigs[1:])[0]) - stories.jaccard(a, b)) < 0.15


def test_syndicated_copies_form_one_story_and_other_reports_stay_apart(tmp_path: Path, db_path: Path):
    write_run(tmp_path, syndication_items(), "20250516T100000000000Z")
    load(tmp_path, db_path)
    by_source = dict(rows(db_path, "SELECT source_id, story_id FROM articles"))
    wire_story = by_source["baltic_wire"]
    assert by_source["harbor_times"] == by_source["continental_review"] == by_source["pacific_observer"] == wire_story
    assert by_source["dnipro_ledger"] != wire_story
    story = rows(db_path, "SELECT representative_title, n_articles, n_outlets, first_published_at FROM stories "
                          "WHERE story_id = ?", [wire_story])
    assert story == [("Istanbul talks end without ceasefire", 4, 4, T0)]


def test_later_loads_join_stored_stories(tmp_path: Path, db_path: Path):
    items = syndication_items()
    write_run(tmp_path, [items[0], items[4]], "20250516T100000000000Z")
    load(tmp_path, db_path)
    write_run(tmp_path, items[1:4], "20250517T100000000000Z")
    stats = load(tmp_path, db_path)
    assert stats.stories_new == 0
    assert scalar(db_path, "SELECT count(DISTINCT story_id) FROM articles") == 2
    assert scalar(db_path, "SELECT n_articles FROM stories WHERE representative_article_id = "
                           "(SELECT article_id FROM articles WHERE source_id = 'baltic_wire')") == 4


def test_copies_of_an_updated_stories_earlier_text_still_join_it(tmp_path: Path, db_path: Path):
    wire_url = "https://baltic-wire.example/istanbul"
    write_run(tmp_path, [
        make_item(wire_url, WIRE_TEXT, fetched=T0),
        make_item("https://harbor-times.example/same", WIRE_TEXT, "harbor_times"),  # identical: no own bands
    ], "20250516T100000000000Z")
    load(tmp_path, db_path)
    rewritten = random_text(5, 200)  # the agency replaces its text completely
    write_run(tmp_path, [make_item(wire_url, rewritten, fetched=T0 + timedelta(hours=3))], "20250516T130000000000Z")
    write_run(tmp_path, [make_item("https://late.example/copy", COPY_DATELINE_CUT, "late_outlet",
                                   published=T0 + timedelta(hours=4))], "20250516T140000000000Z")
    stats = load(tmp_path, db_path)
    assert (stats.articles_updated, stats.articles_new, stats.stories_new) == (1, 1, 0)
    assert scalar(db_path, "SELECT count(DISTINCT story_id) FROM articles") == 1


def test_distinct_random_stories_do_not_merge(tmp_path: Path, db_path: Path):
    items = [make_item(f"https://x.example/{i}", random_text(i), f"s{i % 4}") for i in range(60)]
    write_run(tmp_path, items, "20250516T100000000000Z")
    stats = load(tmp_path, db_path)
    assert stats.stories_new == 60
    assert scalar(db_path, "SELECT count(*) FROM stories") == 60


def test_short_bodies_are_never_clustered(tmp_path: Path, db_path: Path):
    stub = "Subscribe to read the full article."
    items = [make_item(f"https://paywall.example/{i}", stub, "paywalled") for i in range(3)]
    write_run(tmp_path, items, "20250516T100000000000Z")
    stats = load(tmp_path, db_path)
    assert stats.stories_new == 3 and stats.exact_duplicates == 2


# --- quarantine ----------------------------------------------------------------------------------------


def test_bad_records_are_quarantined_with_reasons(tmp_path: Path, db_path: Path):
    good = make_item("https://baltic-wire.example/ok", WIRE_TEXT)
    record = json.loads(good.model_dump_json())
    missing = {k: v for k, v in record.items() if k != "body"}
    naive = {**record, "url": "https://baltic-wire.example/naive", "published_at": "2025-05-16T09:00:00"}
    lines = [good.model_dump_json(), '{"url": "https://baltic-wire.example/broken", ', json.dumps(missing),
             json.dumps(naive), "[1, 2]"]
    run_dir = tmp_path / "landing" / "20250516T100000000000Z"
    run_dir.mkdir(parents=True)
    data = ("\n".join(lines) + "\n").encode()
    (run_dir / "items-baltic_wire.jsonl").write_bytes(data)
    manifest = {
        "run_id": run_dir.name, "started_at": T0.isoformat(), "finished_at": T0.isoformat(),
        "files": [{"name": "items-baltic_wire.jsonl", "sha256": hashlib.sha256(data).hexdigest(), "rows": 5}],
        "sources": [{"source_id": "baltic_wire", "items": 5}],
    }
    (run_dir / MANIFEST).write_text(json.dumps(manifest))

    stats = load(tmp_path, db_path)
    assert (stats.files_loaded, stats.articles_new, stats.quarantined) == (1, 1, 4)
    reasons = dict(rows(db_path, "SELECT line, reason FROM quarantine ORDER BY line"))
    assert reasons[2].startswith("invalid JSON")
    assert reasons[3] == "contract violation: body: Field required"
    assert "published_at" in reasons[4] and "timezone" in reasons[4]
    assert reasons[5] == "not a JSON object"
    raw = dict(rows(db_path, "SELECT line, raw_record FROM quarantine"))
    assert raw[3] == json.dumps(missing)
    assert rows(db_path, "SELECT rows, rows_loaded, rows_quarantined FROM load_ledger") == [(5, 1, 4)]
    assert rows(db_path, "SELECT items_loaded, items_quarantined FROM crawl_runs") == [(1, 4)]
    # loading again does not quarantine the same lines twice
    assert load(tmp_path, db_path).quarantined == 0
    assert scalar(db_path, "SELECT count(*) FROM quarantine") == 4


def test_json_that_only_pythons_parser_reads_gets_a_contract_reason(tmp_path: Path, db_path: Path):
    """pydantic's JSON parser refuses NaN; such a line is still judged as the object Python reads."""
    record = json.loads(make_item("https://baltic-wire.example/nan", WIRE_TEXT).model_dump_json())
    line = json.dumps({**record, "http_status": float("nan")})  # -> "http_status": NaN
    run_dir = tmp_path / "landing" / "20250516T100000000000Z"
    run_dir.mkdir(parents=True)
    data = (line + "\n").encode()
    (run_dir / "items-baltic_wire.jsonl").write_bytes(data)
    manifest = {
        "run_id": run_dir.name, "started_at": T0.isoformat(), "finished_at": T0.isoformat(),
        "files": [{"name": "items-baltic_wire.jsonl", "sha256": hashlib.sha256(data).hexdigest(), "rows": 1}],
        "sources": [{"source_id": "baltic_wire", "items": 1}],
    }
    (run_dir / MANIFEST).write_text(json.dumps(manifest))
    assert load(tmp_path, db_path).quarantined == 1
    (reason,) = rows(db_path, "SELECT reason FROM quarantine")[0]
    assert reason.startswith("contract violation: http_status: ")


def test_checksum_mismatch_quarantines_the_whole_file(tmp_path: Path, db_path: Path):
    run_dir = write_run(tmp_path, [make_item("https://baltic-wire.example/a", WIRE_TEXT)], "20250516T100000000000Z")
    path = run_dir / "items-baltic_wire.jsonl"
    path.write_text(path.read_text().replace("Istanbul", "Ankara"))  # tampered after publishing
    stats = load(tmp_path, db_path)
    assert (stats.files_loaded, stats.articles_new, stats.quarantined) == (0, 0, 1)
    reason, line = rows(db_path, "SELECT reason, line FROM quarantine")[0]
    assert reason.startswith("checksum mismatch: manifest sha256 ") and line is None
    assert scalar(db_path, "SELECT count(*) FROM articles") == 0
    assert rows(db_path, "SELECT status FROM load_ledger") == [("quarantined",)]
    # the source's crawl stats are still recorded, and a re-load changes nothing
    assert scalar(db_path, "SELECT count(*) FROM crawl_runs") == 1
    assert load(tmp_path, db_path) == LoadStats(files_skipped=1)
    assert scalar(db_path, "SELECT count(*) FROM quarantine") == 1


def test_incomplete_runs_are_invisible(tmp_path: Path, db_path: Path):
    writer = RunWriter(tmp_path, run_id="20250516T100000000000Z")
    writer.add(make_item("https://baltic-wire.example/a", WIRE_TEXT))
    assert load(tmp_path, db_path) == LoadStats()
    assert scalar(db_path, "SELECT count(*) FROM articles") == 0


def test_crawl_runs_come_from_the_manifest_including_silent_sources(tmp_path: Path, db_path: Path):
    stats = [
        SourceStats(source_id="baltic_wire", requests=12, items=1, responses_by_status={"200": 10, "503": 2},
                    drops_by_reason={"not_article": 4}),
        SourceStats(source_id="eastern_courier", requests=5, items=0, responses_by_status={"403": 5}),
    ]
    write_run(tmp_path, [make_item("https://baltic-wire.example/a", "")], "20250516T100000000000Z", stats)
    load(tmp_path, db_path)
    runs = rows(db_path, "SELECT source_id, requests, items, empty_bodies, items_loaded, "
                         "responses_by_status::VARCHAR, drops_by_reason::VARCHAR FROM crawl_runs ORDER BY source_id")
    assert runs == [
        ("baltic_wire", 12, 1, 1, 1, '{"200": 10, "503": 2}', '{"not_article": 4}'),
        ("eastern_courier", 5, 0, None, None, '{"403": 5}', "{}"),
    ]


# --- crash safety ----------------------------------------------------------------------------------------

_KILL_AT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import peacewatch.warehouse.loader as loader

    real_run, target, seen = loader.run, sys.argv[3], {"n": 0}

    def run(con, name, params=None):
        result = real_run(con, name, params)
        if name == target:
            seen["n"] += 1
            if seen["n"] == int(sys.argv[4]):
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no rollback: like a power cut
        return result

    loader.run = run
    loader.PROCESS_MIN_BYTES = int(os.environ.get("PW_PROCESS_MIN_BYTES", loader.PROCESS_MIN_BYTES))
    loader.load(Path(sys.argv[1]), Path(sys.argv[2]))
    """
)


def _four_files(data_dir: Path) -> None:
    items = syndication_items()[:3] + [
        make_item(f"https://x.example/{i}", random_text(i), "eastern_courier") for i in range(40)
    ]
    write_run(data_dir, items, "20250516T100000000000Z")


@pytest.mark.slow
@pytest.mark.parametrize("prepare_in", ["thread", "process"])
def test_killed_mid_file_leaves_no_partial_rows_and_resumes(tmp_path: Path, prepare_in: str):
    data = tmp_path / "data"
    _four_files(data)
    db_path = tmp_path / "killed.duckdb"
    # Killed right after the second file's articles were written, before its ledger row and commit. With
    # files prepared in a worker process, the worker must die too (else it would hold the pipes open and
    # subprocess.run would time out).
    env = {**os.environ, "PW_PROCESS_MIN_BYTES": "0" if prepare_in == "process" else str(1 << 40)}
    proc = subprocess.run([sys.executable, "-c", _KILL_AT, str(data), str(db_path), "loader_write_articles", "2"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    files = sorted(p.relative_to(data).as_posix() for p in data.glob("landing/*/items-*.jsonl"))
    assert rows(db_path, "SELECT file_path FROM load_ledger") == [(files[0],)]
    loaded = scalar(db_path, "SELECT count(*) FROM articles")
    assert loaded == scalar(db_path, "SELECT rows_loaded FROM load_ledger")   # the first file only
    assert scalar(db_path, "SELECT count(*) FROM article_versions") == loaded
    assert scalar(db_path, "SELECT count(*) FROM article_minhash") == loaded

    stats = load(data, db_path)
    assert stats.files_loaded == len(files) - 1 and stats.files_skipped == 1
    clean = tmp_path / "clean.duckdb"
    load(data, clean)
    assert snapshot(db_path) == snapshot(clean)
    assert_keys_unique(db_path)


@pytest.mark.slow
def test_killed_before_the_search_index_is_rebuilt_catches_up(tmp_path: Path):
    data = tmp_path / "data"
    _four_files(data)
    db_path = tmp_path / "w.duckdb"
    proc = subprocess.run([sys.executable, "-c", _KILL_AT, str(data), str(db_path), "rebuild_fts", "1"],
                          capture_output=True, text=True, timeout=120)
    # Killed after the files were committed, inside the transaction that rebuilds the index.
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert scalar(db_path, "SELECT count(*) FROM load_ledger") == 4
    assert load(data, db_path) == LoadStats(files_skipped=4)
    with reader(db_path) as con:
        hits = con.execute("SELECT source_id FROM search_articles('Medinsky', 10) ORDER BY source_id").fetchall()
    assert hits == [("baltic_wire",), ("continental_review",), ("harbor_times",)]


def test_files_prepared_in_a_worker_process_load_the_same(tmp_path: Path, monkeypatch):
    import peacewatch.warehouse.loader as loader

    items = syndication_items() + [make_item(f"https://x.example/{i}", random_text(i), f"s{i % 3}") for i in range(30)]
    write_run(tmp_path / "a", items, "20250516T100000000000Z")
    write_run(tmp_path / "b", items, "20250516T100000000000Z")
    bad = tmp_path / "b" / "landing" / "20250516T100000000000Z" / "items-s0.jsonl"
    bad.write_text(bad.read_text() + "not json\n")  # a refused file travels back from the worker too
    bad_a = tmp_path / "a" / "landing" / "20250516T100000000000Z" / "items-s0.jsonl"
    bad_a.write_text(bad.read_text())
    load(tmp_path / "a", tmp_path / "thread.duckdb")
    monkeypatch.setattr(loader, "PROCESS_MIN_BYTES", 0)
    started = []
    real = loader._ProcessPreparer.__init__
    monkeypatch.setattr(loader._ProcessPreparer, "__init__", lambda self: (started.append(1), real(self))[1])
    stats = load(tmp_path / "b", tmp_path / "process.duckdb")
    assert started == [1] and stats.files_loaded == 7 and stats.quarantined == 1
    a, b = snapshot(tmp_path / "thread.duckdb"), snapshot(tmp_path / "process.duckdb")
    strip = lambda rows: [tuple(v for v in row if not isinstance(v, datetime)) for row in rows]  # noqa: E731
    assert {k: strip(v) for k, v in a.items() if k not in ("quarantine", "crawl_runs")} == {
        k: strip(v) for k, v in b.items() if k not in ("quarantine", "crawl_runs")}


# --- throughput ------------------------------------------------------------------------------------------


def synthetic_batch(data_dir: Path, n: int, words: int = 300, sources: int = 10, seed: int = 7) -> None:
    """n articles in syndication groups of 1-6 outlets (copies get a dateline, some lose the tail)."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(30000)]
    names = [f"src{i:02d}" for i in range(sources)]
    writer = RunWriter(data_dir, run_id="20250516T100000000000Z")
    i = 0
    while i < n:
        text = rng.choices(vocab, k=words)
        for copy, source in enumerate(rng.sample(names, min(rng.randint(1, 6), n - i))):
            body = text if not copy else ["KYIV", "(Wire)", "-"] + (text[: int(words * 0.9)] if copy % 2 else text)
            body_text = " ".join(body)
            url = f"https://{source}.example/a/{i}"
            writer.add(make_item(url, body_text, source, title=f"Title {i}", published=T0 + timedelta(seconds=i)))
            i += 1
    writer.publish([SourceStats(source_id=s, items=n // sources) for s in names])


@pytest.mark.slow
def test_load_throughput(tmp_path: Path, db_path: Path, capsys):
    """Prints articles/s for a synthetic batch (no strict bound: CI machines vary)."""
    n = 5000
    synthetic_batch(tmp_path, n)
    started = time.perf_counter()
    stats = load(tmp_path, db_path, rebuild_search=False)
    loaded = time.perf_counter()
    assert load(tmp_path, db_path) == LoadStats(files_skipped=10)  # only rebuilds the full-text index
    indexed = time.perf_counter()
    assert stats.articles_new == n and stats.quarantined == 0
    assert 1000 < stats.stories_new < 2500  # groups average 3.5 outlets
    with reader(db_path) as con:
        assert con.execute("SELECT count(*) FROM search_articles('kyiv', 5)").fetchone()[0] == 5
    with capsys.disabled():
        print(f"\nloader: {n} articles x 300 words: {n / (loaded - started):.0f} articles/s "
              f"({loaded - started:.2f} s), full-text index rebuild {indexed - loaded:.2f} s, "
              f"together {n / (indexed - started):.0f} articles/s")
    assert n / (indexed - started) > 50  # only catches pathological regressions; see the printed rate
