"""The classify job: run the configured analyzer over articles in the warehouse and store claims."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

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


def classify(db_path: Path, reclassify: bool = False, analyzer: Analyzer | None = None) -> ClassifyStats:
    """Classify articles without results from this model and codebook (all of them with `reclassify`)."""
    analyzer = analyzer or load_analyzer()
    codebook = analyzer.codebook
    stats = ClassifyStats(analyzer.model_id, analyzer.model_version, codebook.version)
    with writer(db_path) as con:
        pending = articles_to_classify(con, analyzer.model_id, analyzer.model_version, codebook.sha256, reclassify)
        if not pending:
            log.info("classify: nothing to do for %s %s", analyzer.model_id, analyzer.model_version)
            return stats
        run_id = start_model_run(con, analyzer.model_id, analyzer.model_version, codebook.version, codebook.sha256)
        for article_id, title, body in pending:
            topics, claims = analyzer.analyze(f"{title}\n\n{body}" if title else body)
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
