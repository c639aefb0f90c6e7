"""Item pipelines: validate items against the landing contract, then land them as one crawl run."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from pydantic import ValidationError
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from peacewatch.contracts import CrawledItem, SourceStats
from peacewatch.crawlers.middlewares import STATS_PREFIX, source_stat
from peacewatch.landing import MANIFEST, RunWriter

logger = logging.getLogger(__name__)


class ValidateItemPipeline:
    """Build a CrawledItem from each scraped item; an invalid one is dropped with a counted reason."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidateItemPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> CrawledItem:
        if isinstance(item, CrawledItem):
            return item
        fields = ItemAdapter(item).asdict()
        try:
            return CrawledItem.model_validate(fields)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or "item"
            self.stats.inc_value(source_stat(str(fields.get("source_id") or "unknown"), "drops", "invalid_item"))
            raise DropItem(f"invalid item {fields.get('url')}: {field}: {error['msg']}") from exc


def source_stats_from(stats: dict[str, Any], finished_at: datetime) -> list[SourceStats]:
    """Per-source SourceStats from `peacewatch/<source>/...` stats-collector keys."""
    per_source: dict[str, dict[str, Any]] = {}
    for key, value in stats.items():
        parts = key.split("/")
        if len(parts) < 3 or parts[0] != STATS_PREFIX:
            continue
        entry = per_source.setdefault(
            parts[1], {"source_id": parts[1], "responses_by_status": {}, "drops_by_reason": {},
                       "extraction_failed": {}}
        )
        match parts[2:]:
            case ["requests"] | ["items"] | ["not_modified"] | ["already_seen"]:
                entry[parts[2]] = int(value)
            case ["responses", status]:
                entry["responses_by_status"][status] = int(value)
            case ["drops", reason]:
                entry["drops_by_reason"][reason] = int(value)
            case ["extraction_failed", kind]:
                entry["extraction_failed"][kind] = int(value)
            case ["started_at"] | ["finished_at"]:
                entry[parts[2]] = value
    result = []
    for source_id, entry in sorted(per_source.items()):
        entry.setdefault("finished_at", entry.get("started_at") and finished_at)
        entry["responses_by_status"] = dict(sorted(entry["responses_by_status"].items()))
        entry["drops_by_reason"] = dict(sorted(entry["drops_by_reason"].items()))
        entry["extraction_failed"] = dict(sorted(entry["extraction_failed"].items()))
        result.append(SourceStats.model_validate(entry))
    return result


class LandingPipeline:
    """Write items into a RunWriter; on spider close publish the run with per-source stats."""

    def __init__(self, crawler: Crawler, data_dir: Path, run_id: str | None):
        self.crawler = crawler
        self.data_dir = data_dir
        self.run_id = run_id
        self.writer: RunWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LandingPipeline:
        data_dir = crawler.settings.get("PEACEWATCH_DATA_DIR")
        if not data_dir:
            raise NotConfigured("PEACEWATCH_DATA_DIR is not set")
        return cls(crawler, Path(data_dir), crawler.settings.get("PEACEWATCH_RUN_ID") or None)

    def open_spider(self) -> None:
        self.writer = RunWriter(self.data_dir, self.run_id)

    def process_item(self, item: CrawledItem) -> CrawledItem:
        self.writer.add(item)
        self.crawler.stats.inc_value(source_stat(item.source_id, "items"))
        self.crawler.stats.max_value(source_stat(item.source_id, "finished_at"), datetime.now(timezone.utc))
        return item

    def close_spider(self) -> None:
        if self.writer is None:
            return
        stats = source_stats_from(self.crawler.stats.get_stats(), datetime.now(timezone.utc))
        manifest = self.writer.publish(stats)
        path = self.writer.run_dir / MANIFEST
        self.crawler.stats.set_value("peacewatch_run/manifest", str(path))
        logger.info("published run %s: %d items in %d files -> %s",
                    manifest.run_id, sum(f.rows for f in manifest.files), len(manifest.files), path)
