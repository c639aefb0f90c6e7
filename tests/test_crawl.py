"""End-to-end: crawl the demo newsroom over loopback HTTP in a subprocess and check the landed run."""

from __future__ import annotations

import gzip
import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from peacewatch.contracts import CrawledItem, RunManifest, content_hash
from peacewatch.crawlers.run import crawl
from peacewatch.crawlers.urls import canonicalize_url, is_tracking_param
from peacewatch.landing import MANIFEST, complete_runs, sha256_file

SOURCES = Path(__file__).resolve().parents[1] / "config" / "sources.yaml"
TEST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_TIMEOUT": 1,             # the newsroom's slow page answers after 3 s
    "DOWNLOAD_MAXSIZE": 1024 * 1024,   # the live-blog archive is 6 MB
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "RETRY_BACKOFF_BASE": 0.05,        # retries still wait, briefly
}


def token_f1(predicted: str, gold: str) -> float:
    """Bag-of-words F1 between two texts (the measure of tests/test_extract.py)."""
    p, g = Counter(re.findall(r"\w+", predicted.lower())), Counter(re.findall(r"\w+", gold.lower()))
    common = sum((p & g).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class CrawlRun:
    data_dir: Path
    manifest: RunManifest
    items: list[CrawledItem]
    seconds: float
    log: str
    base_url: str

    @property
    def stats(self) -> dict:
        return {s.source_id: s for s in self.manifest.sources}

    def by_path(self) -> dict[str, CrawledItem]:
        return {canonicalize_url(i.canonical_url).split(self.base_url, 1)[-1]: i for i in self.items}


def _crawl(tmp_path_factory, name: str, **kwargs) -> CrawlRun:
    server = pytest.importorskip("peacewatch.newsroom.server")
    data_dir = tmp_path_factory.mktemp(f"{name}-data")
    home = tmp_path_factory.mktemp(f"{name}-home")
    log_path = data_dir.parent / f"{name}-crawl.log"
    with server.running_newsroom(edition=2, slow_seconds=3.0) as base_url, pytest.MonkeyPatch.context() as env:
        env.setenv("PEACEWATCH_NEWSROOM_URL", base_url)
        env.setenv("HOME", str(home))
        env.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
        started = time.monotonic()
        manifest = crawl(data_dir, settings_overrides=TEST_SETTINGS, timeout=300, log_path=log_path, **kwargs)
        seconds = time.monotonic() - started
    run_dir = data_dir / "landing" / manifest.run_id
    items = [CrawledItem.model_validate_json(line)
             for file in manifest.files for line in (run_dir / file.name).read_text(encoding="utf-8").splitlines()]
    return CrawlRun(data_dir, manifest, items, seconds, log_path.read_text(encoding="utf-8"), base_url)


@pytest.fixture(scope="session")
def newsroom_run(tmp_path_factory) -> CrawlRun:
    """One crawl of every source of config/sources.yaml against a fresh newsroom."""
    run = _crawl(tmp_path_factory, "newsroom")
    per_source = Counter(i.source_id for i in run.items)
    drops = {s.source_id: s.drops_by_reason for s in run.manifest.sources if s.drops_by_reason}
    print(f"\ncrawl: {len(run.items)} items in {run.seconds:.1f}s; items {dict(sorted(per_source.items()))}; "
          f"drops {drops}")
    return run


@pytest.fixture(scope="session")
def gold() -> list[dict]:
    site = pytest.importorskip("peacewatch.newsroom.site")
    if not site.GOLD_PATH.is_file():
        pytest.skip("newsroom gold not built")
    return [json.loads(line) for line in site.GOLD_PATH.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.slow
def test_items_from_every_outlet(newsroom_run, gold):
    per_source = Counter(i.source_id for i in newsroom_run.items)
    expected = Counter(g["outlet"] for g in gold)
    assert per_source == expected
    assert set(newsroom_run.stats) == set(expected)
    found = newsroom_run.by_path()
    assert set(found) == {g["url_path"] for g in gold}


@pytest.mark.slow
def test_manifest_has_per_source_stats(newsroom_run):
    manifest = newsroom_run.manifest
    rows = {f.name: f.rows for f in manifest.files}
    assert manifest.started_at <= manifest.finished_at
    for source in manifest.sources:
        assert source.items == rows[f"items-{source.source_id}.jsonl"] > 0
        assert source.requests >= source.items + 1  # discovery documents count too
        assert source.responses_by_status.get("200", 0) >= source.items
        assert source.started_at is not None and source.started_at <= source.finished_at


@pytest.mark.slow
def test_syndicated_copies_are_all_emitted(newsroom_run, gold):
    found = newsroom_run.by_path()
    copies_by_story: dict[str, list[dict]] = {}
    for record in gold:
        copies_by_story.setdefault(record["story_id"], []).append(record)
    syndicated = {story: records for story, records in copies_by_story.items() if len(records) > 1}
    assert syndicated, "the newsroom syndicates wire stories"
    for story, records in syndicated.items():
        items = [found[r["url_path"]] for r in records]
        assert len({i.source_id for i in items}) == len(records)          # one copy per outlet, none merged
        assert len({i.canonical_url for i in items}) == len(records)
        for record, item in zip(records, items):
            assert item.content_hash == content_hash(record["body"])       # identical text, identical hash


@pytest.mark.slow
def test_every_broken_case_is_skipped_and_counted(newsroom_run):
    stats = newsroom_run.stats
    expected = {
        "baltic_wire": {"http_404": 1},
        "dnipro_ledger": {"http_500": 1},
        "capitol_dispatch": {"not_html": 1},
        "continental_review": {"empty_body": 1},
        "eastern_courier": {"too_large": 1},
        "geneva_monitor": {"robots_disallowed": 1},
        "harbor_times": {"redirect_loop": 1},
        "pacific_observer": {"timeout": 1},
        "moskva_vestnik": {"malformed_feed": 1},
        "kyiv_khvylia": {},
    }
    assert {s: stats[s].drops_by_reason for s in expected} == expected
    assert stats["dnipro_ledger"].responses_by_status["500"] == 3      # first try + RETRY_TIMES 2
    assert stats["harbor_times"].responses_by_status["302"] == 2
    assert stats["moskva_vestnik"].items == 9                          # the damaged feed still yielded entries
    broken_paths = ("withdrawn", "pokrovsk-48211", "full-text-draft", "commission-briefing-live",
                    "live-blog-archive", "/drafts/", "/loop/", "/slow/")
    assert not [i.url for i in newsroom_run.items if any(p in i.url for p in broken_paths)]
    skip_lines = re.findall(r"WARNING: skip \[(\w+)\] \w+ (\S+): (\w+)", newsroom_run.log)
    assert Counter(reason for _, _, reason in skip_lines) == Counter(
        reason for reasons in expected.values() for reason in reasons)


@pytest.mark.slow
def test_wrong_charset_page_is_decoded(newsroom_run, gold):
    found = newsroom_run.by_path()
    kyiv = sorted((g for g in gold if g["outlet"] == "kyiv_khvylia"), key=lambda g: g["published_at"])
    oldest = found[kyiv[0]["url_path"]]  # served as iso-8859-1, bytes are UTF-8
    assert oldest.body == kyiv[0]["body"] and oldest.title == kyiv[0]["headline"]
    assert oldest.language == "uk"
    mojibake = re.compile("[ÐÑÃÂ][\u0080-\u00bf]")
    assert not [i.url for i in newsroom_run.items if mojibake.search(i.body + i.title)]


@pytest.mark.slow
def test_canonical_urls_carry_no_tracking_parameters(newsroom_run):
    tracked = [i for i in newsroom_run.items if "utm_" in i.url]
    assert tracked, "the wire's RSS links carry utm_ parameters"
    for item in newsroom_run.items:
        query = item.canonical_url.partition("?")[2]
        assert not [k for k in re.findall(r"([^&=]+)=", query) if is_tracking_param(k)]
        assert canonicalize_url(item.canonical_url) == item.canonical_url
    for item in tracked:
        assert item.canonical_url == item.url.split("?")[0]


@pytest.mark.slow
def test_landing_files_appear_atomically(newsroom_run):
    data_dir = newsroom_run.data_dir
    assert not list(data_dir.rglob("*.tmp"))
    runs = list(complete_runs(data_dir))
    assert [m.run_id for _, m in runs] == [newsroom_run.manifest.run_id]
    run_dir, manifest = runs[0]
    assert manifest == newsroom_run.manifest
    assert sorted(p.name for p in run_dir.iterdir()) == sorted([MANIFEST, *(f.name for f in manifest.files)])
    for file in manifest.files:
        path = run_dir / file.name
        assert sha256_file(path) == file.sha256
        assert sum(1 for _ in path.open("rb")) == file.rows
    for item in newsroom_run.items[:: max(1, len(newsroom_run.items) // 25)]:
        raw = gzip.decompress((data_dir / item.raw_html_path).read_bytes())
        assert raw.lstrip().lower().startswith(b"<!doctype html")


@pytest.mark.slow
def test_landed_items_match_gold(newsroom_run, gold):
    """The whole pipeline (discovery hints included) against the gold; printed, asserted at the floor."""
    found = newsroom_run.by_path()
    n = len(gold)
    f1s = [token_f1(found[g["url_path"]].body, g["body"]) for g in gold]
    published = [found[g["url_path"]].published_at == datetime.fromisoformat(g["published_at"].replace("Z", "+00:00"))
                 for g in gold]
    updated = [(found[g["url_path"]].updated_at is None) == (g["updated_at"] is None) for g in gold]
    titles = [found[g["url_path"]].title == g["headline"] for g in gold]
    authors = [found[g["url_path"]].authors == g["authors"] for g in gold]
    languages = [found[g["url_path"]].language == g["language"] for g in gold]
    print(f"\nlanded vs gold ({n}): body F1 {sum(f1s) / n:.4f}, published exact {sum(published) / n:.4f}, "
          f"updated {sum(updated) / n:.4f}, title {sum(titles) / n:.4f}, authors {sum(authors) / n:.4f}, "
          f"language {sum(languages) / n:.4f}")
    assert sum(f1s) / n >= 0.95 and sum(published) / n >= 0.98 and sum(titles) / n >= 0.98


@pytest.mark.slow
def test_budgets_bound_listings_and_articles(tmp_path_factory, tmp_path):
    """--source picks one outlet; listing max_pages and the per-source max_pages cap the crawl."""
    document = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))
    for entry in document["sources"]:
        if entry["id"] == "harbor_times":
            entry["max_pages"] = 15
            entry["discovery"]["listings"][0]["max_pages"] = 2
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    run = _crawl(tmp_path_factory, "budget", sources_path=sources, source_ids=["harbor_times"])
    assert [s.source_id for s in run.manifest.sources] == ["harbor_times"]
    stats = run.stats["harbor_times"]
    assert stats.items == 15                                   # the article budget, all spent on articles
    assert stats.drops_by_reason.get("over_budget", 0) > 0     # more links were found than the budget allows
    listing_pages = stats.requests - stats.items - stats.responses_by_status.get("302", 0)
    assert listing_pages == 2                                  # of the listing's 3 pages


@pytest.mark.slow
def test_failed_crawl_raises_with_log_lines(tmp_path):
    broken = tmp_path / "sources.yaml"
    broken.write_text("defaults: {}\nsources:\n  - id: x\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"(?s)exited with status 1.*sources\[0\]"):
        crawl(tmp_path / "data", sources_path=broken, timeout=120)


# --- the spider's pure helpers (no crawl) ---------------------------------------------------------------


def test_failures_are_classified_by_reason():
    from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest
    from scrapy.http import Request, Response
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet.defer import CancelledError
    from twisted.internet.error import ConnectionRefusedError, DNSLookupError
    from twisted.python.failure import Failure

    from peacewatch.crawlers.middlewares import RedirectLoop
    from peacewatch.crawlers.spiders.news import classify_failure

    response = Response("http://example.org/a", status=503, request=Request("http://example.org/a"))
    cases = {
        HttpError(response, "Ignoring non-200 response"): "http_503",
        RedirectLoop("redirect loop: a -> b -> a"): "redirect_loop",
        IgnoreRequest("max redirections reached"): "redirect_loop",
        IgnoreRequest("Forbidden by robots.txt"): "robots_disallowed",
        DownloadTimeoutError("took longer than 1.0 seconds"): "timeout",
        DownloadCancelledError("Expected to receive 6291576 bytes which is larger than download max size"): "too_large",
        CancelledError(): "too_large",  # the body outgrew DOWNLOAD_MAXSIZE while streaming
        IgnoreRequest("body exceeded DOWNLOAD_MAXSIZE (1 B) during decompression"): "too_large",
        DNSLookupError("no such host"): "connection_error",
        ConnectionRefusedError(): "connection_error",
        ValueError("something else"): "download_error",
    }
    assert {type(e).__name__ + str(e): classify_failure(Failure(e)) for e in cases} == {
        type(e).__name__ + str(e): reason for e, reason in cases.items()}


def test_google_news_sitemap_fields_are_read():
    from peacewatch.crawlers.spiders.news import _FlatSitemap

    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url><loc>https://example.org/a</loc>
    <news:news><news:publication><news:name>Example</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2025-03-11T22:40:00+02:00</news:publication_date><news:title>Truce &amp; talks</news:title>
    </news:news>
    <image:image><image:loc>https://example.org/a.jpg</image:loc></image:image>
  </url>
  <url><loc>https://example.org/b</loc><lastmod>2025-03-12</lastmod></url>
</urlset>"""
    sitemap = _FlatSitemap(body)
    entries = list(sitemap)
    assert sitemap.type == "urlset"
    assert entries[0]["loc"] == "https://example.org/a"       # the image's loc does not replace it
    assert entries[0]["publication_date"] == "2025-03-11T22:40:00+02:00"
    assert entries[0]["title"] == "Truce & talks"
    assert entries[1] == {"loc": "https://example.org/b", "lastmod": "2025-03-12"}


# --- layout change detection, retries -----------------------------------------------------------------


@pytest.mark.slow
def test_changed_layout_is_flagged_per_source(tmp_path_factory, tmp_path, gold):
    """Selectors that no longer match one outlet: its items still land (generic extraction), and the
    run's stats flag extraction_failed/selector_miss for that outlet only."""
    document = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))
    for entry in document["sources"]:
        if entry["id"] == "baltic_wire":       # the outlet's real markup
            entry["selectors"] = {"title": "h1.wire-story__headline", "body": "div.wire-story__body"}
        if entry["id"] == "kyiv_khvylia":      # markup of a redesign that never reached this site
            entry["selectors"] = {"title": "h1.story-v2__title", "body": "section.story-v2__text"}
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    run = _crawl(tmp_path_factory, "layout", sources_path=sources, source_ids=["baltic_wire", "kyiv_khvylia"])
    expected = Counter(g["outlet"] for g in gold)
    stats = run.stats
    assert stats["kyiv_khvylia"].items == expected["kyiv_khvylia"]
    assert stats["kyiv_khvylia"].extraction_failed == {"selector_miss": expected["kyiv_khvylia"]}
    assert stats["baltic_wire"].items == expected["baltic_wire"]
    assert stats["baltic_wire"].extraction_failed == {}
    assert "selector_miss" not in stats["kyiv_khvylia"].drops_by_reason  # a warning sign, not a drop
    assert re.search(r"WARNING: layout \[kyiv_khvylia\] \S+: selectors title, body matched nothing", run.log)


def _flaky_server():
    """A loopback site whose feed lists /a (503 once, Retry-After: 1) and /b (429 twice), then both 200;
    returns the server and the arrival times of the requests per path."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: dict[str, list[float]] = {}
    plan = {"/a": [(503, {"Retry-After": "1"})], "/b": [(429, {}), (429, {})]}
    paragraph = "Negotiators met again on Tuesday to discuss the sequencing of a ceasefire and guarantees. " * 6

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.setdefault(self.path, []).append(time.monotonic())
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/feed.xml":
                items = "".join(f"<item><title>{p}</title><link>{base}{p}</link></item>" for p in ("/a", "/b"))
                self._send(200, "application/rss+xml", f'<rss version="2.0"><channel>{items}</channel></rss>')
            elif self.path in plan:
                if plan[self.path]:
                    status, headers = plan[self.path].pop(0)
                    self._send(status, "text/plain", "busy", headers)
                else:
                    self._send(200, "text/html; charset=utf-8",
                               f"<!doctype html><html lang='en'><head><title>Story {self.path}</title></head>"
                               f"<body><article><h1>Story {self.path}</h1><p>{paragraph}</p></article></body></html>")
            else:
                self._send(404, "text/plain", "not found")

        def _send(self, status: int, content_type: str, text: str, headers: dict | None = None) -> None:
            body = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, hits


@pytest.mark.slow
def test_retries_back_off_and_honour_retry_after(tmp_path):
    server, hits = _flaky_server()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        sources = tmp_path / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": [{
            "id": "flaky", "name": "Flaky", "homepage": f"{base}/", "country": "LV", "language": "en",
            "discovery": {"feeds": [f"{base}/feed.xml"]}, "schedule": "0 * * * *", "max_pages": 10}]}),
            encoding="utf-8")
        settings = {**TEST_SETTINGS, "RETRY_BACKOFF_BASE": 0.3, "RETRY_AFTER_MAX": 5}
        manifest = crawl(tmp_path / "data", sources_path=sources, settings_overrides=settings, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    [stats] = manifest.sources
    assert stats.items == 2 and stats.drops_by_reason == {}
    assert stats.responses_by_status == {"200": 3, "429": 2, "503": 1}
    a, b = hits["/a"], hits["/b"]
    assert len(a) == 2 and a[1] - a[0] >= 0.95                    # waited for Retry-After: 1
    assert len(b) == 3
    assert b[1] - b[0] >= 0.3 * 0.8 and b[2] - b[1] >= 0.6 * 0.8  # 0.3 s, then 0.6 s (+-20 % jitter)


def test_backoff_delays_are_bounded():
    from email.utils import format_datetime

    from peacewatch.crawlers.middlewares import backoff_delay, retry_after_seconds

    assert [round(backoff_delay(n, 1.0, 30.0, jitter=0), 3) for n in (1, 2, 3, 6, 10)] == [1, 2, 4, 30, 30]
    assert backoff_delay(1, 1.0, 30.0, retry_after=10, retry_after_cap=120, jitter=0) == 10
    assert backoff_delay(1, 1.0, 30.0, retry_after=3600, retry_after_cap=120, jitter=0) == 120
    assert 0.8 <= backoff_delay(1, 1.0, 30.0) <= 1.2
    now = datetime(2025, 3, 11, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
