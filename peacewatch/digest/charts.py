"""PNG charts for the digest, drawn with matplotlib's Agg canvas (no display, no pyplot state).

- one stance timeline per position: net stance per week by actor over the last 60 days, each story
  counted once per week (rows of warehouse/queries/digest_stance_weekly.sql);
- the actor x position matrix as a heatmap of net stance over the 30 days to the digest day, changes
  since a week earlier outlined (rows of warehouse/queries/digest_matrix.sql).

The functions take rows and return PNG bytes; render.py decides the file names and writes them.
Sized for a 600 px e-mail column (drawn at 1.5x for sharp text on high-density screens).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import matplotlib

matplotlib.use("Agg")  # harmless when pyplot is never imported; keeps any later pyplot import headless

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
import matplotlib.dates as mdates  # noqa: E402

DPI = 150
WIDTH_IN = 6.0  # 900 px at DPI: shown at 600 px

# One colour per actor, the same in every chart (Okabe-Ito, readable for colour-blind readers).
ACTOR_COLORS = {
    "russia": "#D55E00",
    "ukraine": "#0072B2",
    "united_states": "#009E73",
    "europe": "#CC79A7",
    "nato": "#56B4E9",
    "china": "#E69F00",
    "other": "#7F7F7F",
}
_FALLBACK_COLORS = ["#000000", "#F0E442", "#999933", "#882255", "#44AA99"]

# against (red) .. neutral (pale) .. favor (blue)
STANCE_CMAP = LinearSegmentedColormap.from_list("stance", ["#b2182b", "#f7f7f7", "#2166ac"])
NO_DATA = "#e5e7eb"


def actor_color(actor: str, index: int = 0) -> str:
    return ACTOR_COLORS.get(actor, _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)])


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    # No timestamp or software tag: the same data gives the same bytes.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return buffer.getvalue()


def short_label(position: str) -> str:
    return position.replace("_", " ")


def stance_timeline(
    rows: Sequence[dict[str, Any]],
    position: str,
    proposition: str,
    as_of: date,
    recent_from: date,
    actor_name: Callable[[str], str],
    actor_order: Sequence[str] = (),
    emphasize: Iterable[str] = (),
    days: int = 60,
) -> bytes:
    """Net stance ((favor - against) / stories) per ISO week for each actor on one position.

    Weeks without stories leave a gap (the line is not drawn across them); marker area grows with the
    number of stories that week; the digest's recent window is shaded; `emphasize` actors (those that
    moved) are drawn bold.
    """
    emphasize = set(emphasize)
    start = as_of - timedelta(days=days - 1)
    first_week = start - timedelta(days=start.weekday())
    weeks = []
    week = first_week
    while week <= as_of:
        weeks.append(week)
        week += timedelta(days=7)
    by_actor: dict[str, dict[date, dict[str, Any]]] = {}
    for row in rows:
        by_actor.setdefault(row["actor"], {})[row["week"]] = row
    order = [a for a in actor_order if a in by_actor] + sorted(a for a in by_actor if a not in actor_order)

    fig = Figure(figsize=(WIDTH_IN, 3.1))
    ax = fig.add_axes((0.13, 0.30, 0.84, 0.52))
    ax.axvspan(recent_from, as_of + timedelta(days=1), color="#fef3c7", zorder=0, lw=0)
    ax.text(recent_from + timedelta(hours=12), 1.22, "recent window", fontsize=7, color="#92400e", va="center")
    ax.axhline(0, color="#9ca3af", lw=0.8, zorder=1)
    for index, actor in enumerate(order):
        points = by_actor[actor]
        offset = (index - (len(order) - 1) / 2) * 0.035
        xs, ys, sizes = [], [], []
        for week in weeks:
            # Plot at mid-week, clipped to the digest day for the current (partial) week.
            x = min(week + timedelta(days=3), as_of)
            row = points.get(week)
            xs.append(x)
            # A small per-actor offset keeps actors with the same value (often +1 or -1) apart.
            ys.append(float(row["net"]) + offset if row else math.nan)
            sizes.append(14 + 10 * float(row["stories"]) if row else 0)
        bold = actor in emphasize
        color = actor_color(actor, index)
        ax.plot(xs, ys, color=color, lw=2.6 if bold else 1.3, alpha=1.0 if bold or not emphasize else 0.75,
                zorder=3 if bold else 2, label=actor_name(actor) + (" (moved)" if bold else ""))
        ax.scatter(xs, ys, s=sizes, color=color, zorder=4 if bold else 3, edgecolors="white", linewidths=0.6)
    ax.set_ylim(-1.35, 1.35)
    ax.set_yticks([-1, 0, 1], ["against", "0", "favor"], fontsize=8)
    ax.set_xlim(first_week, as_of + timedelta(days=1))
    ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO, interval=2))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="y", color="#f3f4f6", lw=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_ylabel("net stance", fontsize=8)
    fig.text(0.02, 0.95, short_label(position), fontsize=11, fontweight="bold", va="top")
    fig.text(0.02, 0.865, textwrap.shorten(proposition, 110, placeholder="..."), fontsize=7.5, color="#4b5563",
             va="top")
    if order:
        ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.17), ncol=min(len(order), 4), fontsize=7.5,
                  frameon=False, handlelength=1.6, columnspacing=1.2)
    fig.text(0.99, 0.01, "net = (favor - against) / stories, per week; dot size = stories", fontsize=6.5,
             color="#6b7280", ha="right", va="bottom")
    return _png(fig)


def matrix_heatmap(
    rows: Sequence[dict[str, Any]],
    actors: Sequence[str],
    positions: Sequence[str],
    as_of: date,
    actor_name: Callable[[str], str],
) -> bytes:
    """Net stance over the 30 days to `as_of` per actor (row) and position (column); grey = no evidence.
    Each cell shows the number of stories; a cell whose dominant stance changed since a week earlier is
    outlined in black."""
    cells = {(r["actor"], r["position"]): r for r in rows}
    used_actors = [a for a in actors if any((a, p) in cells for p in positions)] or list(actors)[:1]
    used_positions = [p for p in positions if any((a, p) in cells for a in actors)] or list(positions)[:1]
    height = 1.5 + 0.36 * len(used_actors)
    fig = Figure(figsize=(WIDTH_IN, height))
    left, bottom = 0.18, 1.05 / height
    ax = fig.add_axes((left, bottom, 0.68, 1 - bottom - 0.42 / height))
    cax = fig.add_axes((0.885, bottom, 0.018, 1 - bottom - 0.42 / height))
    for i, actor in enumerate(used_actors):
        for j, position in enumerate(used_positions):
            row = cells.get((actor, position))
            has_now = row is not None and row.get("evidence_count")
            net = row.get("net") if has_now else None
            face = STANCE_CMAP((float(net) + 1) / 2) if net is not None else NO_DATA
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=face, edgecolor="white", lw=1.5))
            if has_now:
                dark = net is not None and abs(float(net)) > 0.6
                ax.text(j + 0.5, i + 0.5, str(row["evidence_count"]), ha="center", va="center", fontsize=7,
                        color="white" if dark else "#111827")
            if row is not None and row.get("changed"):
                ax.add_patch(Rectangle((j + 0.06, i + 0.06), 0.88, 0.88, fill=False, edgecolor="#111827", lw=1.8))
    ax.set_xlim(0, len(used_positions))
    ax.set_ylim(len(used_actors), 0)
    ax.set_xticks([j + 0.5 for j in range(len(used_positions))],
                  [short_label(p) for p in used_positions], rotation=40, ha="right", fontsize=7.5)
    ax.set_yticks([i + 0.5 for i in range(len(used_actors))], [actor_name(a) for a in used_actors], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    gradient = [[v / 50 - 1] for v in range(101)]
    cax.imshow(gradient, aspect="auto", cmap=STANCE_CMAP, vmin=-1, vmax=1, origin="lower", extent=(0, 1, -1, 1))
    cax.set_xticks([])
    cax.yaxis.tick_right()
    cax.set_yticks([-1, 0, 1], ["against", "0", "favor"], fontsize=7)
    fig.text(0.02, 1 - 0.12 / height, f"Net stance by actor and position, 30 days to {as_of.isoformat()}",
             fontsize=10, fontweight="bold", va="top")
    fig.text(0.02, 0.02, "number = stories with evidence; grey = no data; outlined = dominant stance changed "
             "since a week earlier", fontsize=6.5, color="#6b7280", va="bottom")
    return _png(fig)
