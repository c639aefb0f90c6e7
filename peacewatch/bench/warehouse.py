"""Warehouse benchmark: the loader's throughput, and the trend queries on a large synthetic warehouse
against the same aggregation done naively in pandas, in the same run.

    .venv/bin/python -m peacewatch.bench warehouse
    PEACEWATCH_BENCH_SCALE=0.1 .venv/bin/python -m peacewatch.bench warehouse    # a tenth of the sizes

Four measurements (sizes at scale 1):
(a) generation of a synthetic warehouse of 1M articles and 5M claims of the current model (plus 0.5M of
    an older model, which the views must ignore) over two years, written with bulk SQL
    (warehouse/queries/bench_generate.sql) into <repo>/.bench/ (or $PEACEWATCH_BENCH_DIR);
(b) the real loader on a synthetic landing batch of 50k articles (10 outlet files, syndication groups of
    1-6 copies, 300 words each): articles/s for the load itself (CPU seconds too: the machine is
    shared) and for the full-text index update that follows, next to the fts extension's own
    PRAGMA create_fts_index over the same articles; then a second, 5k batch into the same warehouse,
    whose index update must cost in proportion to the batch, not to the warehouse;
(c) the trend queries over the synthetic warehouse, median of several runs: stance_daily over the whole
    range, stance_weekly, actor_position_matrix(as_of) and position_shifts(as_of) on the last day;
(d) the same aggregations in pandas over the claims exported once to a DataFrame (story majorities
    included), checked equal to the views' results: "stance_daily: 0.31 s (pandas 4.2 s, 13.5x)".
Goals: loader >= 5,000 articles/s on 2 cores; every trend query < 1 s.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb

ARTICLES = 1_000_000
CLAIMS = 5_000_000
OLD_MODEL_SHARE = 0.1          # claims of an older model run, per current claim
LANDING_ARTICLES = 50_000
SECOND_BATCH = 5_000
DAYS = 730
START = date(2024, 1, 1)
SEED = 20250215
REPEATS = 5
MEMORY_LIMIT = "4GB"           # DuckDB's, for the generator and the queries (the whole run stays < 8 GB)


def scale() -> float:
    """PEACEWATCH_BENCH_SCALE (default 1): multiplies every size."""
    value = float(os.environ.get("PEACEWATCH_BENCH_SCALE", "1"))
    if not 0 < value <= 10:
        raise ValueError(f"PEACEWATCH_BENCH_SCALE must be in (0, 10], not {value}")
    return value


def bench_dir() -> Path:
    """$PEACEWATCH_BENCH_DIR, else <repo>/.bench in a source checkout, else a temporary directory."""
    if os.environ.get("PEACEWATCH_BENCH_DIR"):
        return Path(os.environ["PEACEWATCH_BENCH_DIR"])
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file():
        return repo / ".bench"
    return Path(tempfile.gettempdir()) / "peacewatch-bench"


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the loader's worker process)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"


# --- (a) the synthetic warehouse ---------------------------------------------------------------------


def generate(db_path: Path, articles: int, claims: int, seed: int = SEED) -> dict[str, Any]:
    """Write the synthetic warehouse (schema, views, data) to a new file at `db_path`."""
    from peacewatch.warehouse.db import apply_migrations, run, writer

    db_path = Path(db_path)
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    started, cpu = time.perf_counter(), _cpu()
    with writer(db_path) as con:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = '{db_path.parent / 'duckdb-tmp'}'")
        apply_migrations(con)
        con.begin()
        run(con, "bench_generate", {"n": articles, "m": claims, "m_old": int(claims * OLD_MODEL_SHARE),
                                    "days": DAYS, "seed": seed})
        run(con, "stance_days_rebuild")  # what warehouse/store.py maintains with every write of claims
        con.commit()
        con.execute("CHECKPOINT")
        counts = con.execute("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM claims), "
                             "(SELECT count(*) FROM current_claims), (SELECT count(*) FROM stories)").fetchone()
    return {
        "seconds": time.perf_counter() - started, "cpu_seconds": _cpu() - cpu,
        "articles": counts[0], "claims": counts[1], "current_claims": counts[2], "stories": counts[3],
        "megabytes": db_path.stat().st_size / 1e6,
    }


# --- (b) the loader ----------------------------------------------------------------------------------

_VOCAB_SIZE = 30_000


def landing_batch(data_dir: Path, n: int, words: int = 300, sources: int = 10, seed: int = 7,
                  run_id: str = "20250516T100000000000Z", first: int = 0) -> None:
    """One crawl run of n articles in syndication groups of 1-6 outlets (copies get a dateline, every
    other one loses its tail), one landing file per outlet (tests/test_loader.py's synthetic_batch)."""
    from peacewatch.contracts import CrawledItem, SourceStats, content_hash
    from peacewatch.landing import RunWriter

    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(_VOCAB_SIZE)]
    names = [f"src{i:02d}" for i in range(sources)]
    writer = RunWriter(data_dir, run_id=run_id)
    t0 = datetime(2025, 5, 16, 9, 0, tzinfo=timezone.utc)
    i = 0
    while i < n:
        text = rng.choices(vocab, k=words)
        for copy, source in enumerate(rng.sample(names, min(rng.randint(1, 6), n - i))):
            body = text if not copy else ["KYIV", "(Wire)", "-"] + (text[: int(words * 0.9)] if copy % 2 else text)
            body_text = " ".join(body)
            k = first + i
            published = t0 + timedelta(seconds=k)
            writer.add(CrawledItem(
                url=f"https://{source}.example/a/{k}", canonical_url=f"https://{source}.example/a/{k}",
                source_id=source, title=f"Title {k}", authors=["Ilze Kalnina"], published_at=published,
                language="en", body=body_text, raw_html_path=f"raw/{source}/00/x.html.gz",
                fetched_at=published + timedelta(minutes=30), http_status=200,
                content_hash=content_hash(body_text),
            ))
            i += 1
    writer.publish([SourceStats(source_id=s, items=n // sources) for s in names])


def measure_loader(work: Path, n: int, second: int) -> dict[str, float]:
    """Load n articles (index update separately), then `second` more; the PRAGMA rebuild for comparison."""
    from peacewatch.warehouse import search
    from peacewatch.warehouse.db import run, writer
    from peacewatch.warehouse.loader import load

    data, db_path = work / "landing", work / "loader.duckdb"
    shutil.rmtree(data, ignore_errors=True)
    db_path.unlink(missing_ok=True)
    landing_batch(data, n)
    result: dict[str, float] = {"articles": n, "second_articles": second}

    started, cpu = time.perf_counter(), _cpu()
    stats = load(data, db_path, rebuild_search=False)
    result["load_seconds"], result["load_cpu"] = time.perf_counter() - started, _cpu() - cpu
    assert stats.articles_new == n and stats.quarantined == 0, stats
    with writer(db_path) as con:
        started, cpu = time.perf_counter(), _cpu()
        update = search.refresh(con)
        result["index_seconds"], result["index_cpu"] = time.perf_counter() - started, _cpu() - cpu
        assert update.articles == n, update

    # A second crawl run into the same warehouse: the index update is incremental.
    landing_batch(data, second, seed=8, run_id="20250517T100000000000Z", first=n)
    started = time.perf_counter()
    stats = load(data, db_path, rebuild_search=False)
    result["second_load_seconds"] = time.perf_counter() - started
    assert stats.articles_new == second, stats
    with writer(db_path) as con:
        started = time.perf_counter()
        update = search.refresh(con)
        result["second_index_seconds"] = time.perf_counter() - started
        assert update.mode == "incremental" and update.articles == second, update
        # The baseline: the extension rebuilding the whole index, as every load used to.
        started, cpu = time.perf_counter(), _cpu()
        con.begin()
        run(con, "create_fts_index")
        con.rollback()
        result["pragma_seconds"], result["pragma_cpu"] = time.perf_counter() - started, _cpu() - cpu
    return result


# --- (c) the trend queries, (d) their pandas equivalents ---------------------------------------------

# stance_daily computed from the claims themselves, as the view did before story_stance_days (migration
# 009): what the materialised per-story-and-day counts save.
FROM_CLAIMS = """
SELECT count(*), sum(favor), sum(against), sum(neutral), sum(stories) FROM (
    SELECT day, actor, position,
           count(*) FILTER (WHERE stance = 'favor') AS favor, count(*) FILTER (WHERE stance = 'against') AS against,
           count(*) FILTER (WHERE stance = 'neutral') AS neutral, count(*) AS stories
    FROM (
        SELECT utc_day(published_at) AS day, coalesce(story_id, article_id) AS story_id, actor, position,
               majority_stance(count(*) FILTER (WHERE stance = 'favor'), count(*) FILTER (WHERE stance = 'against'),
                               count(*) FILTER (WHERE stance = 'neutral')) AS stance
        FROM current_claims
        WHERE published_at IS NOT NULL
        GROUP BY 1, 2, 3, 4
    )
    GROUP BY day, actor, position
)"""

QUERIES: dict[str, str] = {
    # Whole-range aggregates are summed in SQL so that fetching 50k rows into Python is not timed.
    "stance_daily": "SELECT count(*), sum(favor), sum(against), sum(neutral), sum(stories) FROM stance_daily",
    "stance_daily_from_claims": FROM_CLAIMS,
    "stance_weekly": "SELECT count(*), sum(favor), sum(against), sum(neutral), sum(stories) FROM stance_weekly",
    "actor_position_matrix": "SELECT * FROM actor_position_matrix($as_of)",
    "position_shifts": "SELECT * FROM position_shifts($as_of)",
    "stance_weekly_until": "SELECT * FROM stance_weekly_until($as_of, days := 182)",
}


def _median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    result = fn()  # warm-up (and the result)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measure_queries(db_path: Path, as_of: date, repeats: int = REPEATS) -> dict[str, float]:
    from peacewatch.warehouse.db import reader

    seconds = {}
    with reader(db_path) as con:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        for name, query in QUERIES.items():
            params = {"as_of": as_of} if "$as_of" in query else None
            seconds[name], _ = _median_seconds(lambda q=query, p=params: con.execute(q, p).fetchall(), repeats)
    return seconds


def export_claims(db_path: Path):
    """The current model's claims as a pandas DataFrame (what a naive analysis would start from)."""
    from peacewatch.warehouse.db import reader

    with reader(db_path) as con:
        return con.execute("SELECT article_id, story_id, actor, position, stance, published_at "
                           "FROM current_claims").df()


_STANCES = ["favor", "against", "neutral"]


def _story_majorities(claims, keys: list[str]):
    """Per story (claims without a story: their article) and `keys`, the majority stance (ties neutral)."""
    import numpy as np

    frame = claims.assign(story=claims["story_id"].fillna(claims["article_id"]))
    counts = (frame.groupby([*keys, "story", "stance"], sort=False).size()
              .unstack("stance", fill_value=0).reindex(columns=_STANCES, fill_value=0))
    f, a, u = counts["favor"], counts["against"], counts["neutral"]
    stance = np.where((f > a) & (f > u), "favor", np.where((a > f) & (a > u), "against", "neutral"))
    return counts.assign(stance=stance).reset_index(), (f, a, u)


def _tally(majorities, keys: list[str]):
    """Stories per `keys` by their majority stance."""
    table = (majorities.groupby([*keys, "stance"], sort=False).size()
             .unstack("stance", fill_value=0).reindex(columns=_STANCES, fill_value=0))
    return table.assign(stories=table.sum(axis=1))


def pandas_stance_daily(claims):
    frame = claims.assign(day=claims["published_at"].dt.tz_convert("UTC").dt.date)
    majorities, _ = _story_majorities(frame, ["day", "actor", "position"])
    return _tally(majorities, ["day", "actor", "position"])


def pandas_stance_weekly(claims):
    import pandas as pd

    day = claims["published_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    frame = claims.assign(week=(day - pd.to_timedelta(day.dt.weekday, unit="D")).dt.date)
    majorities, _ = _story_majorities(frame, ["week", "actor", "position"])
    return _tally(majorities, ["week", "actor", "position"])


def _window(claims, first: date, last: date):
    day = claims["published_at"].dt.tz_convert("UTC").dt.date
    return claims[(day >= first) & (day <= last)]


def pandas_matrix(claims, as_of: date):
    majorities, _ = _story_majorities(_window(claims, as_of - timedelta(days=29), as_of), ["actor", "position"])
    table = _tally(majorities, ["actor", "position"])
    f, a, u = table["favor"], table["against"], table["neutral"]
    import numpy as np

    stance = np.where((f > a) & (f > u), "favor", np.where((a > f) & (a > u), "against", "neutral"))
    return table.assign(stance=stance)


def pandas_shifts(claims, as_of: date, recent_days: int = 14, baseline_days: int = 42):
    import numpy as np
    import pandas as pd

    recent = _tally(_story_majorities(
        _window(claims, as_of - timedelta(days=recent_days - 1), as_of), ["actor", "position"])[0],
        ["actor", "position"])
    baseline = _tally(_story_majorities(
        _window(claims, as_of - timedelta(days=recent_days + baseline_days - 1), as_of - timedelta(days=recent_days)),
        ["actor", "position"])[0], ["actor", "position"])
    both = pd.concat({"r": recent, "b": baseline}, axis=1).fillna(0)
    fr, ar, nr = both[("r", "favor")], both[("r", "against")], both[("r", "stories")]
    fb, ab, nb = both[("b", "favor")], both[("b", "against")], both[("b", "stories")]
    mr, mb = (fr - ar) / (nr + 3.0), (fb - ab) / (nb + 3.0)
    vr, vb = (fr + ar + 2) / (nr + 3.0) - mr**2, (fb + ab + 2) / (nb + 3.0) - mb**2
    z = (mr - mb) / np.sqrt(vr / (nr + 3.0) + vb / (nb + 3.0))
    delta = (fr - ar) / nr.where(nr > 0) - (fb - ab) / nb.where(nb > 0)
    shifted = (nb >= 3) & (nr >= 3) & (delta.abs() >= 0.4) & (z.abs() >= 3.0)
    return pd.DataFrame({"baseline_stories": nb, "recent_stories": nr, "delta": delta, "z": z,
                         "shifted": shifted.fillna(False)})


def compare_with_pandas(db_path: Path, claims, as_of: date, repeats: int) -> dict[str, tuple[float, bool]]:
    """pandas seconds (median) per query, and whether pandas got the same numbers as the view."""
    from peacewatch.warehouse.db import reader

    runs = {
        "stance_daily": (lambda: pandas_stance_daily(claims),
                         "SELECT day, actor, position, favor, against, neutral, stories FROM stance_daily",
                         ["day", "actor", "position"], ["favor", "against", "neutral", "stories"]),
        "stance_weekly": (lambda: pandas_stance_weekly(claims),
                          "SELECT week, actor, position, favor, against, neutral, stories FROM stance_weekly",
                          ["week", "actor", "position"], ["favor", "against", "neutral", "stories"]),
        "actor_position_matrix": (lambda: pandas_matrix(claims, as_of),
                                  "SELECT actor, position, favor, against, neutral, evidence_count AS stories, "
                                  "stance FROM actor_position_matrix($as_of)",
                                  ["actor", "position"], ["favor", "against", "neutral", "stories", "stance"]),
        "position_shifts": (lambda: pandas_shifts(claims, as_of),
                            "SELECT actor, position, baseline_stories, recent_stories, delta, z, shifted "
                            "FROM position_shifts($as_of)",
                            ["actor", "position"], ["baseline_stories", "recent_stories", "delta", "z", "shifted"]),
    }
    out = {}
    with reader(db_path) as con:
        for name, (fn, query, keys, columns) in runs.items():
            seconds, frame = _median_seconds(fn, max(1, repeats // 2))
            expected = con.execute(query, {"as_of": as_of} if "$as_of" in query else None).df()
            out[name] = (seconds, _same(frame, expected, keys, columns))
    return out


def _same(frame, expected, keys: list[str], columns: list[str]) -> bool:
    import numpy as np

    got = frame.reset_index()
    for key in keys:  # dates: DuckDB gives datetime64, pandas python dates
        if key in ("day", "week"):
            got[key] = got[key].astype("datetime64[ns]")
            expected[key] = expected[key].astype("datetime64[ns]")
    got = got.set_index(keys).sort_index()[columns]
    expected = expected.set_index(keys).sort_index()[columns]
    if len(got) != len(expected) or not got.index.equals(expected.index):
        return False
    for column in columns:
        a, b = got[column].to_numpy(), expected[column].to_numpy()
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            if not np.allclose(a.astype(float), b.astype(float), equal_nan=True):
                return False
        elif not (a.astype(str) == b.astype(str)).all():
            return False
    return True


# --- the benchmark -----------------------------------------------------------------------------------


def run() -> list[str]:
    factor = scale()
    root = bench_dir()
    root.mkdir(parents=True, exist_ok=True)
    n_articles, n_claims = round(ARTICLES * factor), round(CLAIMS * factor)
    lines = [f"scale {factor:g} (PEACEWATCH_BENCH_SCALE), files in {root}, load average {_load_average()}"]

    # (b) first, before the large warehouse occupies the page cache.
    with tempfile.TemporaryDirectory(prefix="loader-", dir=root) as work:
        n = max(1000, round(LANDING_ARTICLES * factor))
        second = max(100, round(SECOND_BATCH * factor))
        r = measure_loader(Path(work), n, second)
    lines += [
        f"loader: {n:,} articles x 300 words in 10 files: {n / r['load_seconds']:,.0f} articles/s "
        f"({r['load_seconds']:.2f} s, {r['load_cpu']:.2f} CPU-s: {n / r['load_cpu']:,.0f} articles per CPU-s; "
        f"target >= 5,000/s)",
        f"full-text index of those: {n / r['index_seconds']:,.0f} articles/s ({r['index_seconds']:.2f} s, "
        f"{r['index_cpu']:.2f} CPU-s); load and index together {n / (r['load_seconds'] + r['index_seconds']):,.0f} "
        f"articles/s",
        f"next crawl run of {second:,} articles: load {r['second_load_seconds']:.2f} s, index update "
        f"{r['second_index_seconds']:.2f} s (PRAGMA create_fts_index over all {n + second:,}: "
        f"{r['pragma_seconds']:.2f} s, {r['pragma_seconds'] / r['second_index_seconds']:.1f}x)",
        f"load average {_load_average()}",
    ]

    # (a)
    db_path = root / f"warehouse-synthetic-{factor:g}.duckdb"
    g = generate(db_path, n_articles, n_claims)
    lines.append(
        f"synthetic warehouse: {g['articles']:,} articles, {g['stories']:,} stories, {g['claims']:,} claims "
        f"({g['current_claims']:,} of the current model) over {DAYS} days: generated in {g['seconds']:.1f} s "
        f"({g['cpu_seconds']:.1f} CPU-s), {g['megabytes']:,.0f} MB")

    # (c) and (d)
    as_of = START + timedelta(days=DAYS - 1)
    seconds = measure_queries(db_path, as_of)
    try:
        import pandas  # noqa: F401
    except ImportError:
        lines += [f"{name}: {s:.3f} s (pandas not installed: no baseline)" for name, s in seconds.items()]
        return lines
    started = time.perf_counter()
    claims = export_claims(db_path)
    exported = time.perf_counter() - started
    baseline = compare_with_pandas(db_path, claims, as_of, REPEATS)
    labels = {"actor_position_matrix": f"actor_position_matrix({as_of})",
              "position_shifts": f"position_shifts({as_of})",
              "stance_weekly_until": f"stance_weekly_until({as_of}, days := 182)"}
    for name, s in seconds.items():
        if name == "stance_daily_from_claims":
            continue
        if name not in baseline:
            lines.append(f"{labels.get(name, name)}: {s:.3f} s")
            continue
        naive, same = baseline[name]
        extra = (f"; from the claims without story_stance_days {seconds['stance_daily_from_claims']:.2f} s"
                 if name == "stance_daily" else "")
        lines.append(f"{labels.get(name, name)}: {s:.3f} s (pandas {naive:.2f} s, {naive / s:.1f}x{extra})"
                     f"{'' if same else '  RESULTS DIFFER'}")
    lines.append(f"(median of {REPEATS} runs after a warm-up; pandas over {len(claims):,} claims exported in "
                 f"{exported:.1f} s, same results as the views: "
                 f"{'yes' if all(same for _, same in baseline.values()) else 'NO'}); goal: every query < 1 s")
    lines.append(f"load average {_load_average()}")
    return lines
