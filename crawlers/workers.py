"""Article extraction off the reactor thread: a small process pool, so a crawl uses more than one core.

Extraction (trafilatura, language detection, date parsing) is pure CPU under the GIL; run inline it caps
a crawl at one core and stalls the downloader while each page is parsed. With PEACEWATCH_EXTRACT_PROCESSES
= N > 0 the spider awaits `extract_article` in N worker processes instead; 0 runs it inline (the
simplest to debug). Raw-HTML storage (a gzip and an fsync per page) goes to a thread for the same reason.
Needs the asyncio reactor (the project's setting).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Any

from peacewatch.crawlers.extract import Extracted, extract_article, warm_up
from peacewatch.landing import store_raw_html

logger = logging.getLogger(__name__)


def default_processes() -> int:
    """One worker per core beyond the reactor's own, at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


def _init_worker() -> None:
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    warm_up()


class Extractor:
    """`await extractor.extract(...)`: extract_article inline (processes=0) or in a process pool."""

    def __init__(self, processes: int):
        self.processes = processes
        self._pool: Executor | None = None
        if processes > 0:
            # forkserver: workers never inherit the reactor's threads and sockets, and start while the
            # crawl fetches its first discovery documents.
            context = multiprocessing.get_context("forkserver")
            # import extraction once in the fork server, not once per worker
            context.set_forkserver_preload(["peacewatch.crawlers.extract"])
            self._pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_init_worker)
            # start the workers (and load the language model) now, not on the first article
            for _ in range(processes):
                self._pool.submit(warm_up)
        else:
            warm_up()

    async def extract(self, html: bytes, url: str, **kwargs: Any) -> Extracted:
        if self._pool is None:
            return extract_article(html, url, **kwargs)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, partial(extract_article, html, url, **kwargs))
        except BrokenProcessPool:  # a worker died (out of memory?): carry on inline, say so once
            logger.error("extraction worker pool broke; extracting in the crawler process from now on")
            self._pool = None
            return extract_article(html, url, **kwargs)

    async def store_raw(self, data_dir: Path, source_id: str, url: str, body: bytes) -> str:
        """store_raw_html in a thread: its fsync would otherwise stall every other request."""
        return await asyncio.get_running_loop().run_in_executor(None, store_raw_html, data_dir, source_id, url, body)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
