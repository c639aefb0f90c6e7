"""Crawl benchmark: a real subprocess crawl of the whole demo newsroom over loopback (throttling off), against
plain extraction of the same article pages in this process, in the same run.

    .venv/bin/python -m peacewatch.bench crawl

Three measurements:
- the crawl as configured (extraction in worker processes): articles landed per second between the run's
  start and its publication (interpreter start-up and imports left out; end to end shown too);
- the same crawl with extraction inline (one process), timed in CPU seconds of the crawling process minus
  those of a crawl that fetches nothing (start-up, imports, model loading): pages per CPU-second, what
  one uncontended core sustains, whatever else runs on the machine;
- plain `extract_article` over the same pages in this process, per CPU-second: the ratio of the two is
  what crawling (HTTP, Scrapy, feeds, state, landing) costs on top of extraction.
Target: >= 50 crawl pages/s on 2 cores.
"""

from __future__ import annotations

import logging
import os
import resource
import tempfile
import time
from pathlib import Path

import yaml

BENCH_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "DOWNLOAD_TIMEOUT": 5,
    "DOWNLOAD_MAXSIZE": 1024 * 1024,   # the live-blog archive (6 MB) is skipped, as in the tests
    "RETRY_BACKOFF_BASE": 0.05,
    "LOG_LEVEL": "WARNING",
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_crawl(base_url: str, data_dir: Path, processes: int | str = "auto",
                  sources_path: Path | None = None) -> dict[str, float]:
    """One full crawl (of config/sources.yaml unless `sources_path`) against the newsroom at `base_url`."""
    from peacewatch.crawlers.run import crawl

    os.environ["PEACEWATCH_NEWSROOM_URL"] = base_url
    settings = {**BENCH_SETTINGS, "PEACEWATCH_EXTRACT_PROCESSES": processes}
    cpu_before, started = _children_cpu(), time.perf_counter()
    manifest = crawl(data_dir, sources_path=sources_path, settings_overrides=settings, timeout=600, full=True)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    items = sum(s.items for s in manifest.sources)
    responses = sum(sum(s.responses_by_status.values()) for s in manifest.sources)
    in_crawl = (manifest.finished_at - manifest.started_at).total_seconds()
    return {"items": items, "responses": responses, "crawl_seconds": in_crawl, "wall_seconds": wall,
            "cpu_seconds": cpu}


def _empty_sources(base_url: str, folder: Path) -> Path:
    """A sources file with one source whose only feed is missing: a crawl that starts, fetches nothing
    and publishes an empty run."""
    path = folder / "empty-sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [{
        "id": "nothing", "name": "Nothing", "homepage": f"{base_url}/", "country": "LV", "language": "en",
        "discovery": {"feeds": [f"{base_url}/no-such-feed.xml"]}, "schedule": "0 * * * *", "max_pages": 1}]}),
        encoding="utf-8")
    return path


def measure_plain_extraction(repeat: int = 2) -> dict[str, float]:
    """extract_article over every gold article page of the newsroom, in this process (best of `repeat`)."""
    from w3lib.encoding import http_content_type_encoding

    from peacewatch.crawlers.extract import extract_article
    from peacewatch.newsroom import site

    base = "http://127.0.0.1:8765"
    routes = site.build_site(2, base)
    pages = [(routes[article.path], base + article.path) for article in site.build_articles(2)]
    extract_article(pages[0][0].body, pages[0][1])  # warm-up: lazy imports and language models
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for response, url in pages:
            extract_article(response.body, url, headers_charset=http_content_type_encoding(response.content_type))
        best = min(best, time.process_time() - started)
    return {"pages": len(pages), "cpu_seconds": best}


def run() -> list[str]:
    from peacewatch.crawlers.workers import default_processes
    from peacewatch.newsroom.server import running_newsroom

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    plain = measure_plain_extraction()
    with tempfile.TemporaryDirectory(prefix="peacewatch-bench-") as scratch, \
            running_newsroom(edition=2, slow_seconds=0.0) as base_url:
        folder = Path(scratch)
        pooled = measure_crawl(base_url, folder / "pooled")
        inline = measure_crawl(base_url, folder / "inline", processes=0)
        idle = measure_crawl(base_url, folder / "idle", processes=0, sources_path=_empty_sources(base_url, folder))
    plain_rate = plain["pages"] / plain["cpu_seconds"]
    pooled_rate = pooled["items"] / pooled["crawl_seconds"]
    crawl_cpu = inline["cpu_seconds"] - idle["cpu_seconds"]
    inline_cpu_rate = inline["items"] / crawl_cpu
    return [
        f"crawl, extraction in {default_processes()} worker process(es): {pooled['items']:.0f} articles "
        f"({pooled['responses']:.0f} responses) in {pooled['crawl_seconds']:.2f} s = {pooled_rate:.1f} pages/s "
        f"(target >= 50); end to end incl. start-up {pooled['wall_seconds']:.2f} s",
        f"crawl, extraction inline: {inline['items']:.0f} articles in {inline['crawl_seconds']:.2f} s = "
        f"{inline['items'] / inline['crawl_seconds']:.1f} pages/s; {crawl_cpu:.2f} CPU-s beyond start-up "
        f"({idle['cpu_seconds']:.2f} CPU-s) = {inline_cpu_rate:.1f} pages per CPU-second",
        f"plain extract_article, one process: {plain['pages']:.0f} pages in {plain['cpu_seconds']:.2f} CPU-s "
        f"= {plain_rate:.1f} pages per CPU-second",
        f"ratio crawl / plain extraction (per CPU-second): {inline_cpu_rate / plain_rate:.2f}; "
        f"1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
    ]


if __name__ == "__main__":
    for line in run():
        print(line)
