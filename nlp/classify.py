"""The classify job: run the configured analyzer over articles in the warehouse and store claims.

The analyzer is CPU-bound Python and numpy between encoder passes, so one process with two encoder threads
leaves a core idle half the time. With nlp.processes = N > 1 the articles are analyzed in N worker
processes of one thread each (each loads the same model), and this process writes their results in order.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from peacewatch.config import ConfigError, settings
from peacewatch.contracts import Claim
from peacewatch.nlp.analyze import Analyzer, load_analyzer
from peacewatch.warehouse.db import writer
from peacewatch.warehouse.store import (
    articles_to_classify,
    finish_model_run,
    save_article_results,
    start_model_run,
)

log = logging.getLogger(__name__)


@dataclass
class ClassifyStats:
    model_id: str
    model_version: str
    codebook_version: str
    articles: int = 0
    claims: int = 0


# below this many articles, loading the model in every worker costs more than the workers save
MIN_ARTICLES_PER_PROCESS = 20
CHUNK = 8  # articles per task: neighbours in publication order (syndicated copies) share a worker's cache

_WARM_UP = "Moscow said it would not accept a ceasefire before a settlement."
_worker_analyzer: Analyzer | None = None


def configured_processes() -> int:
    """nlp.processes from config: a number, or "auto" for one per core."""
    value = str(settings()["nlp"].get("processes", 1)).strip()
    if value == "auto":
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"nlp.processes: expected a positive number or auto, got {value!r}")
    return int(value)


def _start_worker(backend: str | None) -> None:
    global _worker_analyzer
    os.environ["PEACEWATCH_NLP_THREADS"] = "1"
    _worker_analyzer = load_analyzer(backend)


def _analyze_in_worker(text: str) -> tuple[list[str], list[Claim]]:
    assert _worker_analyzer is not None
    return _worker_analyzer.analyze(text)


class AnalyzerPool:
    """`load_analyzer(backend)` in `processes` worker processes of one thread each; `map` keeps the order."""

    def __init__(self, processes: int, backend: str | None = None):
        # spawn: a forked child would inherit the parent's torch/onnxruntime thread pools in an unusable state
        self.processes = processes
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_start_worker, initargs=(backend,))
        # start every worker (and load its model) now, not on the first article
        for started in [self._pool.submit(_analyze_in_worker, _WARM_UP) for _ in range(processes)]:
            started.result()

    def map(self, texts: list[str]) -> Iterator[tuple[list[str], list[Claim]]]:
        # chunks of at most CHUNK, as many for each worker (else one may get a whole chunk more than the others)
        per_worker = math.ceil(len(texts) / self.processes)
        chunks_per_worker = max(1, math.ceil(per_worker / CHUNK))
        chunk = max(1, math.ceil(per_worker / chunks_per_worker))
        return self._pool.map(_analyze_in_worker, texts, chunksize=chunk)

    def __enter__(self) -> AnalyzerPool:
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def analyze_texts(texts: list[str], analyzer: Analyzer, processes: int = 1,
                  backend: str | None = None) -> Iterator[tuple[list[str], list[Claim]]]:
    """(topics, claims) of each text, in order: with `analyzer` in this process, or (`processes` > 1 and
    enough texts) in an AnalyzerPool running `load_analyzer(backend)`."""
    processes = min(processes, len(texts) // MIN_ARTICLES_PER_PROCESS)
    if processes > 1 and multiprocessing.current_process().daemon:
        log.warning("classify: running inside a daemonic process (no children allowed): analyzing in this process")
        processes = 1
    if processes <= 1:
        for text in texts:
            yield analyzer.analyze(text)
        return
    with AnalyzerPool(processes, backend) as pool:
        yield from pool.map(texts)


def classify(db_path: Path, reclassify: bool = False, analyzer: Analyzer | None = None,
             processes: int | None = None) -> ClassifyStats:
    """Classify articles without results from this model and codebook (all of them with `reclassify`).
    Worker processes (`processes`, default nlp.processes) run only with the configured analyzer: an analyzer
    passed in is used as it is, in this process."""
    if analyzer is not None:
        processes = 1
    analyzer = analyzer or load_analyzer()
    processes = configured_processes() if processes is None else processes
    codebook = analyzer.codebook
    stats = ClassifyStats(analyzer.model_id, analyzer.model_version, codebook.version)
    with writer(db_path) as con:
        pending = articles_to_classify(con, analyzer.model_id, analyzer.model_version, codebook.sha256, reclassify)
        if not pending:
            log.info("classify: nothing to do for %s %s", analyzer.model_id, analyzer.model_version)
            return stats
        run_id = start_model_run(con, analyzer.model_id, analyzer.model_version, codebook.version, codebook.sha256)
        texts = [f"{title}\n\n{body}" if title else body for _id, title, body in pending]
        results = analyze_texts(texts, analyzer, processes)
        for (article_id, _title, _body), (topics, claims) in zip(pending, results):
            save_article_results(
                con,
                run_id,
                article_id,
                topics=[(topic, 1.0) for topic in topics],
                claims=[claim.model_dump() for claim in claims],
            )
            stats.articles += 1
            stats.claims += len(claims)
        finish_model_run(con, run_id, stats.articles, stats.claims)
    log.info("classify: %d articles, %d claims (%s)", stats.articles, stats.claims, analyzer.model_version)
    return stats
