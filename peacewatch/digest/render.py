"""Render the daily digest from the warehouse views into HTML, plain text, Markdown and PNG charts.

Every number comes from SQL in warehouse/queries/digest_*.sql over the views (position_shifts,
top_stories, actor_position_matrix, stance_weekly, source_coverage_daily, crawl_health); this module only
arranges rows for the templates. Output: <out>/YYYY-MM-DD/digest.html (images by relative file name),
digest.txt, digest.md, matrix.png and stance_<position>.png. A day without any data in the digest's
windows (an empty warehouse, a date outside the data) gets a short digest that says nothing moved.

Text from the web (titles, quotes, outlet names, URLs) is escaped for each format: jinja2 autoescape in
HTML (links only for http(s) URLs), Markdown escaping by default in Markdown (`finalize`), and in plain
text it is only flattened to one line.
"""

from __future__ import annotations

import logging
import math
import re
import textwrap
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from peacewatch.config import settings
from peacewatch.digest import charts
from peacewatch.landing import write_atomic
from peacewatch.nlp.codebook import default_codebook
from peacewatch.warehouse.db import reader, run

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "recent_days": 14,          # "what moved": the last N days ...
    "baseline_days": 42,        # ... against the N days before them
    "min_stories": 3,
    "min_delta": 0.4,
    "z_min": 3.0,
    "top_stories_days": 1,      # top stories of the digest day (1) or of the last N days
    "top_stories_limit": 10,
    "statements_limit": 80,
    "timeline_days": 60,        # stance timelines cover the last N days ...
    "timeline_max_charts": 6,   # ... at most this many positions (moved ones always) ...
    "timeline_min_stories": 5,  # ... each with at least this many story-weeks of evidence
}
CHART_PATTERN = re.compile(r"^(matrix|stance_[a-z0-9_-]+)\.png$")


@dataclass
class DigestReport:
    day: date
    out_dir: Path
    html_path: Path
    text_path: Path
    markdown_path: Path
    images: list[Path] = field(default_factory=list)
    subject: str = ""
    empty: bool = False
    data: dict[str, Any] = field(repr=False, default_factory=dict)


def digest_settings() -> dict[str, Any]:
    """digest.* from config/peacewatch.yaml over the defaults above."""
    configured = settings().get("digest") or {}
    return {**DEFAULTS, **{k: v for k, v in configured.items() if v is not None}}


def _rows(con, query_name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = run(con, query_name, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _one(con, query_name: str, params: dict[str, Any]) -> dict[str, Any]:
    rows = _rows(con, query_name, params)
    return rows[0] if rows else {}


def latest_day(con) -> date | None:
    return _one(con, "digest_latest_day", {}).get("day")


def false_alarm_bound(z_min: float, tests: int) -> tuple[float, float]:
    """(two-sided p of |z| >= z_min under no change, Bonferroni bound on any false alarm among `tests`)."""
    p_single = math.erfc(z_min / math.sqrt(2))
    return p_single, min(1.0, tests * p_single)


def collect(con, day: date, recent_days: int, cfg: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the digest shows, as plain rows from the digest_* queries."""
    cfg = cfg or digest_settings()
    baseline_days = int(cfg["baseline_days"])
    recent_from = day - timedelta(days=recent_days - 1)
    baseline_from = recent_from - timedelta(days=baseline_days)
    window = {
        "as_of": day,
        "recent_days": recent_days,
        "baseline_days": baseline_days,
        "min_stories": int(cfg["min_stories"]),
        "min_delta": float(cfg["min_delta"]),
        "z_min": float(cfg["z_min"]),
    }
    codebook = default_codebook()
    data: dict[str, Any] = {
        "day": day,
        "window": window,
        "recent_from": recent_from,
        "baseline_from": baseline_from,
        "baseline_to": recent_from - timedelta(days=1),
        "week_ago": day - timedelta(days=7),
        "timeline_days": int(cfg["timeline_days"]),
        "top_stories_days": int(cfg["top_stories_days"]),
        "codebook_pairs": len(codebook.actors) * len(codebook.positions),
        "generated_at": datetime.now(timezone.utc).replace(microsecond=0),
    }
    data["activity"] = activity = _one(con, "digest_activity", {
        "as_of": day, "baseline_from": baseline_from, "recent_from": recent_from,
    })
    data["method"] = _rows(con, "digest_method", {"as_of": day, "baseline_from": baseline_from})
    data["empty"] = not activity.get("articles_in_windows") and not activity.get("claims_in_windows")
    if data["empty"]:
        data.update(shifts=[], tests={}, top_stories=[], matrix=[], statements=[], statement_groups=[],
                    coverage=[], timelines=[])
        return data

    shifts = _rows(con, "digest_shifts", window)
    for shift in shifts:
        shift["evidence"] = _rows(con, "digest_shift_evidence", {
            "actor": shift["actor"], "position": shift["position"], "stance": shift["to_stance"],
            "since": recent_from, "as_of": day,
        })
    data["shifts"] = shifts
    tests = _one(con, "digest_shift_tests", window)
    tests["p_single"], tests["family_bound"] = false_alarm_bound(window["z_min"], int(tests.get("pairs_tested") or 0))
    tests["near_misses"] = (tests.get("near_misses") or [])[:5]
    data["tests"] = tests
    data["top_stories"] = _rows(con, "digest_top_stories", {
        "day": day, "days": int(cfg["top_stories_days"]), "limit": int(cfg["top_stories_limit"]),
    })
    matrix = _rows(con, "digest_matrix", {"day": day})
    data["matrix"] = matrix
    data["matrix_changes"] = [m for m in matrix if m["changed"]]
    statements = _rows(con, "digest_statements", {"day": day, "limit": int(cfg["statements_limit"])})
    data["statements"] = statements
    data["statement_groups"] = [
        {"actor": actor, "statements": list(group)} for actor, group in groupby(statements, key=lambda s: s["actor"])
    ]
    coverage = _rows(con, "digest_coverage", {"day": day})
    data["coverage"] = coverage
    data["attention"] = [c for c in coverage if c["status"] in ("failing", "silent", "quiet")]
    data["anomalies"] = [c for c in coverage if c["status"] == "warning"]
    weekly = _rows(con, "digest_stance_weekly", {"as_of": day, "days": int(cfg["timeline_days"])})
    data["timelines"] = _timelines(weekly, shifts, int(cfg["timeline_max_charts"]), int(cfg["timeline_min_stories"]))
    charted = set()
    for shift in shifts:  # each moved position's chart goes with its first (strongest) shift
        timeline = next((t for t in data["timelines"] if t["position"] == shift["position"]), None)
        shift["chart"] = timeline["file"] if timeline and shift["position"] not in charted else None
        charted.add(shift["position"])
    return data


def _timelines(weekly: list[dict[str, Any]], shifts: list[dict[str, Any]], max_charts: int,
               min_stories: int) -> list[dict[str, Any]]:
    """One chart per position: every moved position (in shift order), then the positions with the most
    evidence (at least `min_stories` story-weeks), up to `max_charts` charts in all."""
    by_position: dict[str, list[dict[str, Any]]] = {}
    for row in weekly:
        by_position.setdefault(row["position"], []).append(row)
    moved: dict[str, list[str]] = {}
    for shift in shifts:
        moved.setdefault(shift["position"], []).append(shift["actor"])
    order = [p for p in moved if p in by_position]
    others = sorted((p for p in by_position if p not in moved and sum(r["stories"] for r in by_position[p]) >= min_stories),
                    key=lambda p: (-sum(r["stories"] for r in by_position[p]), p))
    order += others[:max(0, max_charts - len(order))]
    return [
        {
            "position": position,
            "rows": by_position[position],
            "moved_actors": moved.get(position, []),
            "file": f"stance_{re.sub(r'[^a-z0-9_-]', '-', position.lower())}.png",
            "stories": sum(r["stories"] for r in by_position[position]),
        }
        for position in order
    ]


# --- formatting ------------------------------------------------------------------------------------------


class MdSafe(str):
    """Markdown that the template may emit as is (already escaped or built by us)."""


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#|~!])")


def one_line(value: Any) -> str:
    return " ".join(str(value).split())


def md_escape(value: Any) -> str:
    """Escape text for Markdown: no HTML, links, emphasis or table breaks can come from the data."""
    if value is None:
        return ""
    if isinstance(value, MdSafe):
        return value
    text = _MD_SPECIAL.sub(r"\\\1", one_line(value))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def href(url: Any) -> str | None:
    """The URL if it is an absolute http(s) URL, else None (no javascript:, data: or relative links)."""
    if not url:
        return None
    text = str(url).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def md_url(url: Any) -> MdSafe:
    """An http(s) URL usable inside Markdown's (...), else an empty string."""
    safe = href(url)
    if not safe:
        return MdSafe("")
    for char, code in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E"), ('"', "%22"),
                       ("\\", "%5C")):
        safe = safe.replace(char, code)
    return MdSafe(safe)


class TextBlock(str):
    """Multi-line plain text built by the `wrap` filter: kept as it is by the text template's finalize."""


def _finalize_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, TextBlock):
        return value
    return one_line(value) if isinstance(value, str) else value


def wrap(text: Any, indent: str = "    ", width: int = 78) -> TextBlock:
    return TextBlock(textwrap.fill(one_line(text), width=width, initial_indent=indent, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False))


def signed(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):+.2f}"


def pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.1f}%"


def fmt_day(d: Any, year: bool = False) -> str:
    if d is None:
        return "n/a"
    if isinstance(d, datetime):
        d = d.date()
    return f"{d.day} {d:%b %Y}" if year else f"{d.day} {d:%b}"


STANCE_COLORS = {"favor": "#1d4ed8", "against": "#b91c1c", "neutral": "#4b5563"}
STATUS_COLORS = {"failing": "#b91c1c", "silent": "#b91c1c", "quiet": "#b45309", "warning": "#92400e", "ok": "#047857"}


def _environment(kind: str) -> Environment:
    """kind: html (autoescape), md (Markdown-escape every expression), txt (one-line text)."""
    options: dict[str, Any] = {}
    if kind == "md":
        options["finalize"] = md_escape
    elif kind == "txt":
        options["finalize"] = _finalize_text
    else:
        options["finalize"] = lambda value: "" if value is None else value
    env = Environment(
        loader=PackageLoader("peacewatch.digest", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        **options,
    )
    codebook = default_codebook()
    env.globals["actor_name"] = lambda a: codebook.actors[a].name if a in codebook.actors else a
    env.globals["proposition"] = lambda p: codebook.positions[p].proposition if p in codebook.positions else p
    env.globals["label"] = charts.short_label
    env.globals["stance_color"] = lambda s: STANCE_COLORS.get(s or "", "#6b7280")
    env.globals["status_color"] = lambda s: STATUS_COLORS.get(s or "", "#374151")
    env.filters["pct"] = pct
    env.filters["signed"] = signed
    env.filters["day"] = fmt_day
    env.filters["href"] = href
    env.filters["md_url"] = md_url
    env.filters["one_line"] = one_line
    env.filters["wrap"] = wrap
    env.filters["md_url_file"] = lambda name: MdSafe(quote(str(name)))
    env.filters["plural"] = lambda n, word, many=None: f"{n} {word if n == 1 else (many or word + 's')}"
    return env


def subject_line(data: dict[str, Any]) -> str:
    day = data["day"].isoformat()
    if data.get("empty"):
        return f"peacewatch digest {day}: nothing moved (no data for these dates)"
    shifts = data.get("shifts") or []
    if not shifts:
        return f"peacewatch digest {day}: nothing moved"
    codebook = default_codebook()
    names = [
        f"{codebook.actors[s['actor']].name if s['actor'] in codebook.actors else s['actor']} on "
        f"{charts.short_label(s['position'])}"
        for s in shifts[:2]
    ]
    more = f" and {len(shifts) - 2} more" if len(shifts) > 2 else ""
    word = "shift" if len(shifts) == 1 else "shifts"
    return f"peacewatch digest {day}: {len(shifts)} {word}: {', '.join(names)}{more}"


def _draw_charts(data: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write the PNGs (removing charts of an earlier render of the same day first); returns their paths."""
    for old in out_dir.glob("*.png"):
        if CHART_PATTERN.match(old.name):
            old.unlink()
    if data.get("empty"):
        return []
    codebook = default_codebook()
    name = lambda a: codebook.actors[a].name if a in codebook.actors else a  # noqa: E731
    written = []
    for timeline in data["timelines"]:
        png = charts.stance_timeline(
            timeline["rows"], timeline["position"],
            codebook.positions[timeline["position"]].proposition if timeline["position"] in codebook.positions else "",
            data["day"], data["recent_from"], name, actor_order=list(codebook.actors),
            emphasize=timeline["moved_actors"], days=data["timeline_days"],
        )
        path = out_dir / timeline["file"]
        write_atomic(path, png)
        written.append(path)
    if data["matrix"]:
        path = out_dir / "matrix.png"
        write_atomic(path, charts.matrix_heatmap(data["matrix"], list(codebook.actors), list(codebook.positions),
                                                 data["day"], name))
        data["matrix_image"] = path.name
        written.append(path)
    return written


def render_digest(db_path: Path, day: date | None, window_days: int | None, out_root: Path) -> DigestReport:
    """Write <out_root>/YYYY-MM-DD/digest.{html,txt,md} and the charts; an empty day gives a short digest."""
    cfg = digest_settings()
    recent_days = int(window_days or cfg["recent_days"])
    if recent_days < 1:
        raise ValueError(f"window_days must be at least 1, not {recent_days}")
    with reader(db_path) as con:
        day = day or latest_day(con) or datetime.now(timezone.utc).date()
        data = collect(con, day, recent_days, cfg)
    out_dir = Path(out_root) / day.isoformat()
    out_dir.mkdir(parents=True, exist_ok=True)
    data.setdefault("matrix_image", None)
    images = _draw_charts(data, out_dir)
    data["subject"] = subject_line(data)
    paths = {}
    # HTML last: a digest.html on disk means its images and the other formats are in place.
    for ext in ("txt", "md", "html"):
        text = _environment(ext).get_template(f"digest.{ext}.j2").render(**data)
        paths[ext] = out_dir / f"digest.{ext}"
        write_atomic(paths[ext], text.encode("utf-8"))
    log.info("digest %s: %d shift(s), %d chart(s) in %s", day, len(data["shifts"]), len(images), out_dir)
    return DigestReport(day, out_dir, paths["html"], paths["txt"], paths["md"], images, data["subject"],
                        bool(data["empty"]), data)
