"""`peacewatch demo` end to end, as `make demo` runs it: newsroom on loopback -> crawl -> load -> classify -> digest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from peacewatch.newsroom.site import load_outlets

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    result = subprocess.run(
        [sys.executable, "-m", "peacewatch.cli", "--data-dir", str(data_dir), "demo"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return data_dir, result.stdout


def test_demo_loads_articles_from_every_outlet(demo_run):
    data_dir, _stdout = demo_run
    outlets = {o["id"] for o in load_outlets()}
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        per_source = dict(con.execute("SELECT source_id, count(*) FROM articles GROUP BY ALL").fetchall())
        claims = con.execute("SELECT count(*) FROM claims").fetchone()[0]
        stories, articles = con.execute("SELECT count(DISTINCT story_id), count(*) FROM articles").fetchone()
    assert set(per_source) == outlets
    assert sum(per_source.values()) >= 200
    assert stories < articles, "syndicated copies should share a story"
    assert claims > 100


def test_demo_prints_a_summary_and_writes_the_digest(demo_run):
    data_dir, stdout = demo_run
    assert "DuckDB:" in stdout and "digest:" in stdout
    for outlet in ("baltic_wire", "moskva_vestnik", "kyiv_khvylia"):
        assert outlet in stdout
    report = data_dir / "reports" / "2025-05-31"
    html = (report / "digest.html").read_text(encoding="utf-8")
    for section in ("What moved", "Top stories", "Actor &times; position", "New statements", "Coverage and health", "Method"):
        assert section in html
    assert (report / "digest.txt").stat().st_size > 0 and (report / "digest.md").stat().st_size > 0


def test_rerunning_the_pipeline_is_idempotent(demo_run):
    data_dir, _stdout = demo_run
    db = data_dir / "warehouse.duckdb"
    query = "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM claims), (SELECT count(*) FROM article_versions)"
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute(query).fetchone()
    for command in ("load", "classify"):
        result = subprocess.run([sys.executable, "-m", "peacewatch.cli", "--data-dir", str(data_dir), command],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(query).fetchone() == before


def test_cli_errors_are_one_line(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "peacewatch.cli", "--data-dir", str(tmp_path), "query", "SELECT * FROM no_such_table"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
