"""Export warehouse tables and views to Parquet or CSV files (one file per table or view)."""

from __future__ import annotations

import os
from pathlib import Path

from peacewatch.warehouse.db import reader, run

# Core tables and the question views; table macros need arguments and are not exported.
DEFAULT_TABLES = (
    "sources", "crawl_runs", "load_ledger", "articles", "article_versions", "stories", "quarantine",
    "model_runs", "article_topics", "claims",
    "stance_daily", "stance_weekly", "source_coverage_daily", "crawl_health",
)
FORMATS = ("parquet", "csv")


def export(db_path: Path, out_dir: Path, fmt: str = "parquet", tables: list[str] | None = None) -> list[Path]:
    """Write each table or view to out_dir/<name>.<fmt>; returns the paths written.

    Names are checked against the catalog (no SQL is built from them). Each file is written under a
    temporary name and renamed, so a reader never sees a half-written export.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = list(tables or DEFAULT_TABLES)
    written: list[Path] = []
    with reader(db_path) as con:
        known = {name for (name,) in run(con, "export_relations").fetchall()}
        unknown = [t for t in wanted if t not in known]
        if unknown:
            raise ValueError(f"no table or view named {', '.join(unknown)} (available: {', '.join(sorted(known))})")
        for name in wanted:
            target = out_dir / f"{name}.{fmt}"
            partial = out_dir / f".{name}.{fmt}.tmp"
            relation = con.table(name)
            if fmt == "parquet":
                relation.write_parquet(str(partial), compression="zstd")
            else:
                relation.write_csv(str(partial), header=True)
            os.replace(partial, target)
            written.append(target)
    return written
