"""What the Airflow tasks run: settings from Airflow Variables (when Airflow is there) or the environment."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from peacewatch import pipeline


def _setting(name: str, default: str) -> str:
    """An Airflow Variable `peacewatch_<name>`, else $PEACEWATCH_<NAME>, else the default."""
    try:
        from airflow.sdk import Variable

        return Variable.get(f"peacewatch_{name}", default=os.environ.get(f"PEACEWATCH_{name.upper()}", default))
    except Exception:  # noqa: BLE001 - outside a task context there are no Variables
        return os.environ.get(f"PEACEWATCH_{name.upper()}", default)


def data_dir() -> Path:
    return Path(_setting("data_dir", "data")).resolve()


def sources_path() -> Path | None:
    value = _setting("sources", "")
    return Path(value) if value else None


def enabled_source_ids() -> list[str]:
    from peacewatch.crawlers.sources import load_sources

    return [source.id for source in load_sources(sources_path()) if source.enabled]


def crawl_source(source_id: str) -> str:
    return pipeline.describe_crawl(pipeline.crawl(data_dir(), sources_path(), [source_id]))


def load() -> str:
    return pipeline.describe(pipeline.load(data_dir()))


def classify() -> str:
    return pipeline.describe(pipeline.classify(data_dir()))


def digest(day: str | None) -> str:
    target = date.fromisoformat(day) if day else None
    send = _setting("send_digest", "false").lower() == "true"
    return str(pipeline.digest(data_dir(), target, send=send).html_path)
