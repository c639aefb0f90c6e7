"""`peacewatch demo`: the whole pipeline on the bundled newsroom, served on loopback."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from peacewatch import pipeline
from peacewatch.newsroom.server import running_newsroom

# The newsroom is our own server on loopback: no need to be polite to it, and the demo should be quick.
DEMO_CRAWL_SETTINGS = {"AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "DOWNLOAD_DELAY": 0}


def run_demo(data_dir: Path, digest_date: date = date(2025, 5, 31)) -> str:
    """Crawl, load, classify and digest the demo newsroom; returns a printable summary."""
    data_dir = Path(data_dir)
    with running_newsroom() as base_url:
        previous = os.environ.get("PEACEWATCH_NEWSROOM_URL")
        os.environ["PEACEWATCH_NEWSROOM_URL"] = base_url
        try:
            manifest = pipeline.crawl(data_dir, settings_overrides=DEMO_CRAWL_SETTINGS)
        finally:
            if previous is None:
                os.environ.pop("PEACEWATCH_NEWSROOM_URL", None)
            else:
                os.environ["PEACEWATCH_NEWSROOM_URL"] = previous
    loaded = pipeline.load(data_dir)
    classified = pipeline.classify(data_dir)
    report = pipeline.digest(data_dir, digest_date)
    per_source = pipeline.query(
        data_dir,
        "SELECT a.source_id, count(DISTINCT a.article_id) AS articles, count(DISTINCT a.story_id) AS stories, "
        "count(c.claim_id) AS claims FROM articles a LEFT JOIN claims c USING (article_id) "
        "GROUP BY ALL ORDER BY a.source_id",
    )
    return "\n".join([
        f"newsroom: {base_url}",
        pipeline.describe_crawl(manifest),
        pipeline.describe(loaded),
        pipeline.describe(classified),
        "",
        per_source,
        "",
        f"DuckDB:  {pipeline.db_path(data_dir).resolve()}",
        f"digest:  {Path(report.html_path).resolve()}",
        f"query:   .venv/bin/peacewatch query \"SELECT * FROM stance_daily LIMIT 20\"",
    ])
