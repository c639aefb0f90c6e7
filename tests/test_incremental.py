"""Incremental crawling end to end: real subprocess crawls over loopback HTTP against the demo newsroom.

Edition 1 of the newsroom, then edition 2 (six new articles, one wire story updated in place) on the same
address and data dir: the second run fetches only what is new or changed, unchanged feeds and sitemaps
answer 304, a third run lands nothing, and `full=True` fetches everything again.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from peacewatch.contracts import CrawledItem, RunManifest
from peacewatch.crawlers.run import crawl
from peacewatch.crawlers.state import SourceState, is_permanent, load_state, state_path
from peacewatch.crawlers.urls import canonicalize_url

TEST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_TIMEOUT": 1,             # the newsroom's slow page answers after 3 s
    "DOWNLOAD_MAXSIZE": 1024 * 1024,   # the live-blog archive is 6 MB
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "RETRY_BACKOFF_BASE": 0.05,
}
# Broken cases that may pass on a later try, so later runs try them again (PEACEWATCH_RETRY_RUNS = 3).
TRANSIENT = {"dnipro_ledger": {"http_500": 1}, "pacific_observer": {"timeout": 1}}


@contextmanager
def newsroom(edition: int, port: int = 0) -> Iterator[tuple[str, int]]:
    """The newsroom on a given loopback port (0: a free one): both editions must share one address, since
    URLs and ETags contain it."""
    server = pytest.importorskip("peacewatch.newsroom.server")
    instance = server.serve(port=port, edition=edition, slow_seconds=3.0)
    thread = threading.Thread(target=instance.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield instance.base_url, instance.server_address[1]
    finally:
        instance.shutdown()
        instance.server_close()
        thread.join(timeout=5)


@dataclass
class Run:
    manifest: RunManifest
    items: list[CrawledItem]
    states: dict[str, SourceState]  # as the run left them

    @property
    def stats(self) -> dict:
        return {s.source_id: s for s in self.manifest.sources}

    def paths(self, base_url: str) -> set[str]:
        return {canonicalize_url(i.canonical_url).split(base_url, 1)[-1] for i in self.items}

    def total(self, field: str) -> int:
        return sum(getattr(s, field) for s in self.manifest.sources)


def _run(data_dir: Path, base_url: str, log: Path, monkeypatch: pytest.MonkeyPatch, full: bool = False) -> Run:
    monkeypatch.setenv("PEACEWATCH_NEWSROOM_URL", base_url)
    manifest = crawl(data_dir, settings_overrides=TEST_SETTINGS, timeout=300, log_path=log, full=full)
    run_dir = data_dir / "landing" / manifest.run_id
    items = [CrawledItem.model_validate_json(line)
             for file in manifest.files for line in (run_dir / file.name).read_text(encoding="utf-8").splitlines()]
    states = {s.source_id: load_state(data_dir, s.source_id) for s in manifest.sources}
    assert all(state_path(data_dir, source_id).is_file() for source_id in states)
    return Run(manifest, items, states)


@dataclass
class Editions:
    base_url: str
    data_dir: Path
    first: Run
    second: Run
    third: Run
    full: Run


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> Editions:
    data_dir = tmp_path_factory.mktemp("incremental-data")
    logs = tmp_path_factory.mktemp("incremental-logs")
    with pytest.MonkeyPatch.context() as monkeypatch:
        with newsroom(edition=1) as (base_url, port):
            first = _run(data_dir, base_url, logs / "1.log", monkeypatch)
        with newsroom(edition=2, port=port) as (base_url, _):
            second = _run(data_dir, base_url, logs / "2.log", monkeypatch)
            third = _run(data_dir, base_url, logs / "3.log", monkeypatch)
            full = _run(data_dir, base_url, logs / "4.log", monkeypatch, full=True)
    for name, run in (("first", first), ("second", second), ("third", third), ("full", full)):
        print(f"\n{name}: {len(run.items)} items, {run.total('requests')} requests, "
              f"not_modified {run.total('not_modified')}, already_seen {run.total('already_seen')}")
    return Editions(base_url, data_dir, first, second, third, full)


def _site():
    return pytest.importorskip("peacewatch.newsroom.site")


@pytest.mark.slow
def test_first_run_lands_edition_one_and_writes_state(editions):
    site = _site()
    assert editions.first.paths(editions.base_url) == {a.path for a in site.build_articles(1)}
    for source in editions.first.manifest.sources:
        state = editions.first.states[source.source_id]
        landed = [k for k, r in state.articles.items() if r["outcome"] == "landed"]
        assert len(landed) == source.items
        assert state.validators, f"{source.source_id}: no validators remembered"
        assert source.not_modified == 0 and source.already_seen == 0
    assert not list(editions.data_dir.rglob("*.tmp"))


@pytest.mark.slow
def test_second_run_fetches_only_new_and_updated_articles(editions):
    site = _site()
    first = {a.article_id: a for a in site.build_articles(1)}
    second = site.build_articles(2)
    new = {a.path for a in second if a.article_id not in first}
    updated = {a.path for a in second if a.article_id in first and a.paragraphs != first[a.article_id].paragraphs}
    assert len(new) == 6 and len(updated) == 1
    run = editions.second
    assert run.paths(editions.base_url) == new | updated
    # Articles requested = landed + the two broken cases that may pass later; the permanent ones
    # (404, PDF, robots, redirect loop, too large, empty) are not asked for again.
    assert {s.source_id: s.drops_by_reason for s in run.manifest.sources if s.drops_by_reason} == TRANSIENT
    [item] = [i for i in run.items if canonicalize_url(i.canonical_url).endswith(next(iter(updated)))]
    assert item.source_id == "baltic_wire"
    assert site.UPDATE_PARAGRAPH in item.body and item.updated_at == site.UPDATE_AT
    assert run.total("already_seen") > 100  # the old entries of the feeds, sitemaps and listings that changed


@pytest.mark.slow
def test_unchanged_feeds_and_sitemaps_answer_304(editions):
    stats = editions.second.stats
    # Outlets with nothing new in edition 2: every discovery document is 304.
    for source_id in ("capitol_dispatch", "geneva_monitor", "pacific_observer", "moskva_vestnik", "kyiv_khvylia"):
        assert stats[source_id].not_modified >= 1, source_id
        assert stats[source_id].responses_by_status.get("304") == stats[source_id].not_modified
        assert stats[source_id].already_seen == 0 and stats[source_id].items == 0
    assert stats["moskva_vestnik"].not_modified == 2               # its feed and its damaged feed
    # The monthly sitemaps of February to April did not change; the index and May's did.
    assert stats["continental_review"].not_modified == 3
    assert stats["continental_review"].responses_by_status["200"] == 2 + 1  # index, May, the new article
    assert "304" not in stats["baltic_wire"].responses_by_status    # its feed changed


@pytest.mark.slow
def test_third_run_with_nothing_new_lands_nothing(editions):
    run = editions.third
    assert run.items == [] and run.manifest.files == []
    for source in run.manifest.sources:
        statuses = source.responses_by_status
        errors = TRANSIENT.get(source.source_id, {})
        assert source.drops_by_reason == errors
        assert source.already_seen == 0                            # nothing was even listed: all 304
        assert set(statuses) <= {"304", "500"}, (source.source_id, statuses)
    # Third failed run of the transient cases: given up, recorded with the failure.
    state = run.states["dnipro_ledger"]
    assert not state.pending
    assert [r["outcome"] for r in state.articles.values() if r["outcome"] != "landed"] == ["gave_up:http_500"]


@pytest.mark.slow
def test_full_run_refetches_everything(editions):
    site = _site()
    run = editions.full
    assert run.paths(editions.base_url) == {a.path for a in site.build_articles(2)}
    assert run.total("not_modified") == 0 and run.total("already_seen") == 0
    assert Counter(i.source_id for i in run.items) == Counter(a.outlet for a in site.build_articles(2))
    landing = [path for path in (editions.data_dir / "landing").iterdir() if path.is_dir()]
    assert len(landing) == 4


# --- the state alone --------------------------------------------------------------------------------------


def test_state_verdicts_and_round_trip(tmp_path):
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    day = timedelta(days=1)
    state = SourceState("s")
    assert state.verdict("https://x/a", now - 3 * day, now) == "new"
    state.fetched("https://x/a", now - 3 * day, "landed", now)
    assert state.verdict("https://x/a", now - 3 * day, now) == "already_seen"
    assert state.verdict("https://x/a", None, now) == "already_seen"
    assert state.verdict("https://x/a", now - 2 * day, now) == "changed"
    state.fetched("https://x/b", None, "landed", now)
    assert state.verdict("https://x/b", now - day, now) == "already_seen"  # a first date is no change
    assert state.verdict("https://x/b", now, now) == "changed"
    assert state.postpone("https://x/c", "https://x/c?utm_source=a", {"published_at": now}, now, "timeout", now, 2)
    assert state.verdict("https://x/c", None, now) == "retry"
    assert json.loads(state.to_json())["pending"]["https://x/c"]["hints"] == {"published_at": now.isoformat()}
    assert not state.postpone("https://x/c", "https://x/c", {}, now, "timeout", now, 2)  # second failure: gave up
    assert state.articles["https://x/c"]["outcome"] == "gave_up:timeout" and not state.pending
    state.remember_validators("https://x/feed", '"abc"', "Tue, 01 Apr 2025 10:00:00 GMT")
    assert state.conditional_headers("https://x/feed") == {
        "If-None-Match": '"abc"', "If-Modified-Since": "Tue, 01 Apr 2025 10:00:00 GMT"}
    again = SourceState.from_json("s", state.to_json())
    assert again == state
    assert state.prune(now + 400 * day, timedelta(days=180)) == 3 and not state.articles
    assert is_permanent("http_404") and is_permanent("not_html") and not is_permanent("http_503")
    assert not is_permanent("http_429") and not is_permanent("timeout") and not is_permanent("connection_error")


def test_unreadable_state_starts_afresh(tmp_path):
    path = state_path(tmp_path, "s")
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    assert load_state(tmp_path, "s") == SourceState("s")
