"""Run one crawl in a child process and return its manifest.

Twisted's reactor cannot be restarted within a process, so every crawl gets a fresh interpreter:

    python -m peacewatch.crawlers.run --data-dir D [--sources FILE] [--source ID ...] [--full] [--set KEY=VALUE ...]

runs the news spider with the project settings and prints the path of the published manifest as the last
line of stdout (logs go to stderr). `crawl()` launches that command and parses the manifest.

Crawls are incremental: <data_dir>/state/ remembers feed validators and fetched URLs (crawlers/state.py),
so a run fetches only new or changed articles; `--full` ignores that state and fetches everything.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

from peacewatch.contracts import RunManifest

GRACE_SECONDS = 30  # after SIGTERM on timeout, how long Scrapy gets to close and publish


def _parse_override(text: str) -> tuple[str, Any]:
    """KEY=VALUE with VALUE read as JSON when it parses (numbers, booleans, lists), else as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def run_crawl(data_dir: Path, sources_path: Path | None, source_ids: list[str],
              overrides: dict[str, Any], full: bool = False) -> Path:
    """Crawl in this process (the reactor starts and stops here) and return the manifest path."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from peacewatch.crawlers.sources import load_sources, select_sources
    from peacewatch.crawlers.spiders.news import NewsSpider
    from peacewatch.landing import MANIFEST, new_run_id

    select_sources(load_sources(sources_path), source_ids)  # a config error fails here, in one line
    settings = Settings()
    settings.setmodule("peacewatch.crawlers.settings", priority="project")
    run_id = new_run_id()
    settings.setdict({"PEACEWATCH_DATA_DIR": str(data_dir), "PEACEWATCH_RUN_ID": run_id}, priority="cmdline")
    settings.setdict(overrides, priority="cmdline")
    if full:
        settings.set("PEACEWATCH_FULL_CRAWL", True, priority="cmdline")
    failures: list[str] = []
    process = CrawlerProcess(settings)
    deferred = process.crawl(
        NewsSpider,
        sources=str(sources_path) if sources_path else None,
        source_ids=",".join(source_ids) or None,
    )
    deferred.addErrback(lambda failure: failures.append(failure.getTraceback()))
    process.start()
    manifest = data_dir / "landing" / run_id / MANIFEST
    if failures:
        raise RuntimeError(f"crawl failed:\n{failures[0]}")
    if not manifest.is_file():
        raise RuntimeError(f"crawl finished without publishing {manifest}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peacewatch.crawlers.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="data folder (landing/ and raw/ go here)")
    parser.add_argument("--sources", type=Path, help="sources file (default: `sources` in peacewatch.yaml)")
    parser.add_argument("--source", action="append", default=[], dest="source_ids", metavar="ID",
                        help="crawl only this source (repeatable; default: every enabled source)")
    parser.add_argument("--full", action="store_true",
                        help="ignore the incremental state: fetch every discovered article again")
    parser.add_argument("--set", action="append", default=[], type=_parse_override, dest="overrides",
                        metavar="KEY=VALUE", help="override a Scrapy setting (repeatable)")
    args = parser.parse_args(argv)
    try:
        manifest = run_crawl(args.data_dir.resolve(), args.sources, args.source_ids, dict(args.overrides), args.full)
    except Exception as exc:  # report any failure as one message and a non-zero status
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(manifest)
    return 0


def _tail(path: Path, lines: int = 30) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return "".join(deque(handle, maxlen=lines))


def crawl(
    data_dir: Path,
    sources_path: Path | None = None,
    source_ids: list[str] | None = None,
    settings_overrides: dict[str, Any] | None = None,
    timeout: float | None = None,
    log_path: Path | None = None,
    full: bool = False,
) -> RunManifest:
    """Run one crawl in a subprocess and return its manifest.

    The crawl is incremental over the state in `data_dir` (only new or changed articles); `full=True`
    ignores the state and fetches everything (the state is rewritten from what this run saw).

    The child inherits the environment; it is stopped (SIGTERM, then SIGKILL) after `timeout` seconds
    (default: crawler.subprocess_timeout in peacewatch.yaml). The crawl log goes to `log_path` if given.
    Raises RuntimeError with the last log lines when the crawl fails or times out.
    """
    if timeout is None:
        from peacewatch.config import settings

        timeout = float((settings().get("crawler") or {}).get("subprocess_timeout", 1800))
    command = [sys.executable, "-m", "peacewatch.crawlers.run", "--data-dir", str(Path(data_dir).resolve())]
    if sources_path is not None:
        command += ["--sources", str(Path(sources_path).resolve())]
    for source_id in source_ids or []:
        command += ["--source", source_id]
    if full:
        command.append("--full")
    for key, value in (settings_overrides or {}).items():
        command += ["--set", f"{key}={json.dumps(value)}"]

    with tempfile.TemporaryDirectory(prefix="peacewatch-crawl-") as scratch:
        log = Path(log_path) if log_path else Path(scratch) / "crawl.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as stderr:
            child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=os.environ.copy())
            try:
                stdout, _ = child.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGTERM)
                try:
                    child.communicate(timeout=GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.communicate()
                raise RuntimeError(f"crawl timed out after {timeout:.0f}s; last log lines:\n{_tail(log)}") from None
        if child.returncode != 0:
            raise RuntimeError(f"crawl exited with status {child.returncode}; last log lines:\n{_tail(log)}")
        lines = stdout.decode("utf-8", errors="replace").strip().splitlines()
        if not lines or not Path(lines[-1]).is_file():
            raise RuntimeError(f"crawl printed no manifest path; last log lines:\n{_tail(log)}")
        return RunManifest.model_validate_json(Path(lines[-1]).read_bytes())


if __name__ == "__main__":
    raise SystemExit(main())
