"""Render the daily digest from the warehouse views into HTML, plain text and Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from peacewatch.config import settings
from peacewatch.landing import write_atomic
from peacewatch.nlp.codebook import default_codebook
from peacewatch.warehouse.db import reader

QUERIES = files("peacewatch.warehouse") / "queries"


@dataclass
class DigestReport:
    day: date
    out_dir: Path
    html_path: Path
    text_path: Path
    markdown_path: Path
    data: dict[str, Any] = field(repr=False, default_factory=dict)


def _rows(con, query_name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    sql = (QUERIES / f"{query_name}.sql").read_text(encoding="utf-8")
    cursor = con.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _latest_day(con) -> date | None:
    return con.execute("SELECT max(CAST(published_at AS DATE)) FROM articles").fetchone()[0]


def collect(con, day: date, recent_days: int) -> dict[str, Any]:
    """Everything the digest shows, as plain rows from the views."""
    cfg = settings()["digest"]
    baseline_days = int(cfg["baseline_days"])
    window = {
        "as_of": day,
        "recent_days": recent_days,
        "baseline_days": baseline_days,
        "min_stories": int(cfg["min_stories"]),
        "min_delta": float(cfg["min_delta"]),
        "z_min": float(cfg["z_min"]),
    }
    shifts = _rows(con, "digest_shifts", window)
    since = day - timedelta(days=recent_days - 1)
    for shift in shifts:
        shift["evidence"] = _rows(con, "digest_shift_evidence", {
            "actor": shift["actor"], "position": shift["position"], "stance": shift["to_stance"],
            "since": since, "as_of": day,
        })
    method = _rows(con, "digest_method", {})
    return {
        "day": day,
        "window": window,
        "recent_from": since,
        "baseline_from": since - timedelta(days=baseline_days),
        "shifts": shifts,
        "top_stories": _rows(con, "digest_top_stories", {"day": day}),
        "matrix": _rows(con, "digest_matrix", {"day": day}),
        "statements": _rows(con, "digest_statements", {"day": day}),
        "coverage": _rows(con, "digest_coverage", {"day": day}),
        "method": method[0] if method else None,
    }


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("peacewatch.digest", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    codebook = default_codebook()
    env.globals["actor_name"] = lambda a: codebook.actors[a].name if a in codebook.actors else a
    env.globals["proposition"] = lambda p: codebook.positions[p].proposition if p in codebook.positions else p
    env.filters["pct"] = lambda x: "–" if x is None else f"{100 * float(x):.0f}%"
    env.filters["signed"] = lambda x: "–" if x is None else f"{float(x):+.2f}"
    return env


def render_digest(db_path: Path, day: date | None, window_days: int | None, out_root: Path) -> DigestReport:
    """Write reports/YYYY-MM-DD/digest.{html,txt,md}; an empty day gives a short 'nothing moved' digest."""
    recent_days = window_days or int(settings()["digest"]["recent_days"])
    with reader(db_path) as con:
        day = day or _latest_day(con) or date.today()
        data = collect(con, day, recent_days)
    out_dir = Path(out_root) / day.isoformat()
    env = _environment()
    paths = {}
    for name, template in (("html", "digest.html.j2"), ("txt", "digest.txt.j2"), ("md", "digest.md.j2")):
        text = env.get_template(template).render(**data)
        paths[name] = out_dir / f"digest.{name}"
        write_atomic(paths[name], text.encode("utf-8"))
    return DigestReport(day, out_dir, paths["html"], paths["txt"], paths["md"], data)
