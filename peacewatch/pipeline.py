"""The pipeline's stages as plain functions over a data dir: what the CLI and the Airflow DAGs call.

    <data>/landing/       crawl runs (see peacewatch.landing)
    <data>/raw/           gzipped raw HTML
    <data>/warehouse.duckdb
    <data>/reports/YYYY-MM-DD/
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date
from pathlib import Path

from peacewatch.contracts import RunManifest

DB_FILE = "warehouse.duckdb"


def db_path(data_dir: Path) -> Path:
    return Path(data_dir) / DB_FILE


def migrate(data_dir: Path) -> int:
    from peacewatch.warehouse.db import migrate as migrate_db

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return migrate_db(db_path(data_dir))


def reindex(data_dir: Path, full: bool = False):
    """Index the articles queued for full-text search (all of them with `full`)."""
    from peacewatch.warehouse.search import refresh_index

    migrate(data_dir)
    return refresh_index(db_path(data_dir), full=full)


def crawl(data_dir: Path, sources_path: Path | None = None, source_ids: list[str] | None = None,
          settings_overrides: dict | None = None, full: bool = False) -> RunManifest:
    """Crawl in a subprocess; `full` ignores the per-source state and refetches everything."""
    from peacewatch.crawlers.run import crawl as run_crawl

    return run_crawl(Path(data_dir), sources_path, source_ids, settings_overrides, full=full)


def load(data_dir: Path):
    from peacewatch.warehouse.loader import load as load_landing

    migrate(data_dir)
    return load_landing(Path(data_dir), db_path(data_dir))


def classify(data_dir: Path, reclassify: bool = False):
    from peacewatch.nlp.classify import classify as classify_articles

    migrate(data_dir)
    return classify_articles(db_path(data_dir), reclassify=reclassify)


def digest(data_dir: Path, day: date | None = None, window_days: int | None = None,
           out_dir: Path | None = None, send: bool = False):
    from peacewatch.digest.render import render_digest

    report = render_digest(db_path(data_dir), day, window_days, out_dir or Path(data_dir) / "reports")
    if send:
        from peacewatch.digest.send import send_digest

        send_digest(report)
    return report


def query(data_dir: Path, sql: str, fmt: str = "table") -> str:
    """Run SQL on a read-only connection; the result as an aligned table, CSV or JSON lines."""
    from peacewatch.warehouse.db import reader

    with reader(db_path(data_dir)) as con:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    if fmt == "json":
        return "\n".join(json.dumps(dict(zip(columns, row)), default=str, ensure_ascii=False) for row in rows)
    if fmt == "csv":
        buffer = io.StringIO()
        out = csv.writer(buffer)
        out.writerow(columns)
        out.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    cells = [columns] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [min(60, max(len(r[i]) for r in cells)) for i in range(len(columns))]
    lines = [" | ".join(c[:60].ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines.append(f"({len(rows)} rows)")
    return "\n".join(lines)


def export(data_dir: Path, fmt: str, out_dir: Path | None = None) -> list[Path]:
    from peacewatch.warehouse.export import export as export_tables

    return export_tables(db_path(data_dir), out_dir or Path(data_dir) / "export", fmt)


def describe(stats) -> str:
    """One line for a stage's stats dataclass: `ClassName: field=value ...`."""
    fields = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(stats).items())
    return f"{type(stats).__name__}: {fields}"


def describe_crawl(manifest: RunManifest) -> str:
    items = sum(s.items for s in manifest.sources)
    drops = {}
    for source in manifest.sources:
        for reason, count in source.drops_by_reason.items():
            drops[reason] = drops.get(reason, 0) + count
    dropped = ", ".join(f"{r}={n}" for r, n in sorted(drops.items())) or "none"
    return f"crawl {manifest.run_id}: {items} articles from {len(manifest.sources)} sources; skipped: {dropped}"
