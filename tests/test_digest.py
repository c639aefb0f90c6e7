"""The daily digest on real DuckDB warehouses built by the pipeline functions.

Two kinds of warehouse:
- a synthetic one (`build_synthetic`): landing files written with landing.RunWriter, loaded with
  pipeline.load, classified by the real classify job with a marker analyzer that reads claims planted in
  the article bodies ("[[actor position stance]] quote"). It has one planted shift, stable pairs, a
  matrix change, "no data" pairs, silent and failing sources, an empty body, and an article whose title,
  body and URL carry HTML and <script>. tests/test_digest_email.py and test_digest_browser.py use it too.
- the demo newsroom (`demo_data`, run once per session): the planted shifts and stable pairs of
  peacewatch/newsroom/gold/shifts.yaml, once with the current classifier backend and once with the gold
  claims themselves (which checks the views and the digest independently of the classifier).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest
import yaml

from peacewatch import pipeline
from peacewatch.contracts import Claim, CrawledItem, SourceStats, content_hash
from peacewatch.digest.render import md_escape, render_digest
from peacewatch.landing import RunWriter
from peacewatch.nlp.codebook import default_codebook

AS_OF = date(2025, 5, 31)
GOLD_DIR = Path(__file__).resolve().parents[1] / "peacewatch" / "newsroom" / "gold"
SECTIONS_HTML = ("What moved", "Top stories", "Actor &times; position", "New statements", "Coverage and health",
                 "Method")
SECTIONS_TEXT = ("WHAT MOVED", "TOP STORIES", "ACTOR x POSITION", "NEW STATEMENTS", "COVERAGE AND HEALTH", "METHOD")
SECTIONS_MD = ("## What moved", "## Top stories", "## Actor × position", "## New statements",
               "## Coverage and health", "## Method")

# Set PEACEWATCH_STRICT_GOLD=1 to make a planted shift that the current classifier misses a failure
# instead of an expected failure (xfail, listed with its reason in pytest's summary).
STRICT_GOLD = os.environ.get("PEACEWATCH_STRICT_GOLD", "") == "1"

# --- the synthetic warehouse -------------------------------------------------------------------------------

EVIL_TITLE = ("Talks <b>stall</b> <script>alert(1)</script><script>document.title='pwned'</script> "
              "& \"more\" [link](javascript:alert(4))")
EVIL_URL = "https://alpha.example/news/evil?q=\"><script>alert(3)</script>"
EVIL_QUOTE = "Kyiv asks for <img src=x onerror=alert(2)> more air defence <script>alert(1)</script> now."
_MARKER = re.compile(r"\[\[(\w+) (\w+) (favor|against|neutral)(?: ([0-9.]+))?\]\]\s*(.+)")
_WORDS = (
    "ceasefire talks envoy kremlin kyiv moscow washington brussels sanctions troops guarantees summit "
    "delegation minister president proposal offensive frontline drones energy prisoners exchange border "
    "treaty negotiators adviser statement briefing reporters officials spokesman allies partners weapons "
    "aid package reconstruction corridor monitoring mission observers referendum elections ballot region"
).split()


class MarkerAnalyzer:
    """A classifier backend for tests: claims are the "[[actor position stance conf]] quote" lines."""

    model_id = "marker"
    model_version = "marker-1"

    def __init__(self) -> None:
        self.codebook = default_codebook()

    def analyze(self, text: str) -> tuple[list[str], list[Claim]]:
        claims = []
        for line in text.splitlines():
            match = _MARKER.search(line)
            if match:
                actor, position, stance, conf, quote = match.groups()
                claims.append(Claim(actor=actor, position=position, stance=stance,
                                    confidence=float(conf or 0.8), evidence=quote.strip()))
        return (["diplomacy"] if claims else []), claims


def filler(seed: int, words: int = 90) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(words)) + "."


@dataclass
class Planted:
    """What build_synthetic planted, for the assertions."""

    shift: tuple[str, str] = ("russia", "ceasefire_first")
    stable: tuple[str, str] = ("ukraine", "military_aid")
    matrix_change: tuple[str, str] = ("europe", "sanctions_relief")
    no_data_before: tuple[str, str] = ("china", "military_aid")
    no_data_now: tuple[str, str] = ("nato", "no_foreign_troops")


SOURCES = ("alpha_news", "beta_post", "gamma_daily")


def synthetic_items(as_of: date = AS_OF) -> list[CrawledItem]:
    items: list[CrawledItem] = []
    counter = 0

    def add(k: int, claims: list[str], title: str | None = None, source: str | None = None,
            body: str | None = None, url: str | None = None, hour: int = 9) -> None:
        nonlocal counter
        counter += 1
        source = source or SOURCES[counter % len(SOURCES)]
        published = datetime(as_of.year, as_of.month, as_of.day, hour, counter % 60, tzinfo=timezone.utc) - timedelta(days=k)
        text = body if body is not None else "\n\n".join([filler(counter), *claims, filler(counter + 10_000, 40)])
        link = url or f"https://{source.replace('_', '-')}.example/news/{published:%Y/%m/%d}/story-{counter}"
        items.append(CrawledItem(
            url=link, canonical_url=link, source_id=source, title=title or f"Story {counter} on day -{k}",
            authors=["Desk"], published_at=published, language="en", body=text,
            raw_html_path=f"raw/{source}/00/{counter}.html.gz", fetched_at=published + timedelta(hours=1),
            http_status=200, content_hash=content_hash(text),
        ))

    # The planted shift: Russia against a ceasefire first in the baseline, for it in the recent window.
    for k in range(55, 14, -4):
        add(k, ["[[russia ceasefire_first against 0.9]] Moscow rejects any truce before a settlement."])
    for i, k in enumerate(range(12, -1, -2)):
        add(k, [f"[[russia ceasefire_first favor {0.95 - i * 0.05:.2f}]] Moscow now accepts a truce first, "
                f"statement {i}."])
    # A stable pair: Ukraine always for military aid.
    for k in range(58, 0, -5):
        add(k, ["[[ukraine military_aid favor]] Kyiv says Western weapons must keep coming."])
    # A matrix change that is not a shift (too little evidence): Europe against, then for, sanctions relief.
    for k in (25, 20, 15):
        add(k, ["[[europe sanctions_relief against]] Brussels keeps every sanction in place."])
    for k in (6, 4, 2, 1):
        add(k, ["[[europe sanctions_relief favor]] Brussels floats easing some sanctions."])
    # "No data" in one window: new evidence this week, and evidence that only the week-ago window has.
    add(2, ["[[china military_aid against]] Beijing criticises arms deliveries."])
    add(33, ["[[nato no_foreign_troops favor]] The alliance rules out troops on the ground."])
    # A syndicated story on the digest day: the same agency text in two outlets (one story, two outlets).
    wire = "\n\n".join([filler(777, 120), "[[united_states ukraine_elections neutral]] Washington takes no view "
                        "on the timing of elections.", filler(778, 60)])
    add(0, [], title="Agency: envoys meet again in Istanbul", source="alpha_news", body=wire, hour=7)
    add(0, [], title="Envoys meet again in Istanbul", source="beta_post", body="ISTANBUL (Agency) - " + wire, hour=8)
    # Web content with HTML and scripts, on the digest day.
    add(0, [f"[[ukraine military_aid favor 0.99]] {EVIL_QUOTE}"], title=EVIL_TITLE, source="gamma_daily",
        url=EVIL_URL, hour=10)
    # An extraction anomaly: an empty body.
    add(1, [], title="Empty page", source="gamma_daily", body="")
    return items


def synthetic_stats() -> list[SourceStats]:
    return [
        SourceStats(source_id="alpha_news", requests=30, responses_by_status={"200": 30}, items=25),
        SourceStats(source_id="beta_post", requests=30, responses_by_status={"200": 27, "404": 3}, items=24,
                    drops_by_reason={"http_404": 3}),
        SourceStats(source_id="gamma_daily", requests=30, responses_by_status={"200": 30}, items=22,
                    drops_by_reason={"empty_body": 1}),
        SourceStats(source_id="delta_silent", requests=2, responses_by_status={"200": 2}, items=0),
        SourceStats(source_id="epsilon_failing", requests=4, responses_by_status={"500": 3, "timeout": 1}, items=0,
                    drops_by_reason={"http_500": 3}),
    ]


def build_synthetic(data_dir: Path, as_of: date = AS_OF) -> Path:
    """Landing run -> pipeline.load -> classify (marker analyzer); returns the data dir."""
    from peacewatch.nlp.classify import classify

    writer = RunWriter(data_dir)
    for item in synthetic_items(as_of):
        writer.add(item)
    writer.publish(synthetic_stats())
    pipeline.load(data_dir)
    classify(pipeline.db_path(data_dir), analyzer=MarkerAnalyzer())
    return data_dir


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory) -> Path:
    return build_synthetic(tmp_path_factory.mktemp("synthetic") / "data")


@pytest.fixture(scope="session")
def synthetic_report(synthetic_data, tmp_path_factory):
    return render_digest(pipeline.db_path(synthetic_data), AS_OF, None, tmp_path_factory.mktemp("reports"))


def section(text: str, start: str, end: str) -> str:
    """The part of a rendered digest between two headings."""
    begin = text.index(start)
    stop = text.index(end, begin)
    return text[begin:stop]


# --- synthetic: structure and content ----------------------------------------------------------------


def test_all_formats_and_sections_are_written(synthetic_report):
    report = synthetic_report
    assert report.out_dir.name == "2025-05-31" and not report.empty
    html = report.html_path.read_text(encoding="utf-8")
    text = report.text_path.read_text(encoding="utf-8")
    markdown = report.markdown_path.read_text(encoding="utf-8")
    for heading in SECTIONS_HTML:
        assert heading in html, heading
    for heading in SECTIONS_TEXT:
        assert heading in text, heading
    for heading in SECTIONS_MD:
        assert heading in markdown, heading
    # Charts: PNG files next to the HTML, referenced by relative name, all of them used.
    names = {p.name for p in report.images}
    assert "matrix.png" in names and "stance_ceasefire_first.png" in names
    for path in report.images:
        assert path.parent == report.out_dir and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    referenced = set(re.findall(r'<img [^>]*src="([^"]+)"', html))
    assert referenced == names
    assert all("/" not in name for name in referenced)


def test_what_moved_reports_the_planted_shift_with_numbers_and_quotes(synthetic_report):
    shifts = synthetic_report.data["shifts"]
    assert [(s["actor"], s["position"]) for s in shifts] == [Planted.shift]
    shift = shifts[0]
    assert (shift["from_stance"], shift["to_stance"]) == ("against", "favor")
    assert shift["baseline_stories"] == 11 and shift["recent_stories"] == 7
    assert shift["delta"] == pytest.approx(2.0) and shift["z"] >= 3.0
    # 2-3 quotes with the new stance, strongest first, each linking to its article.
    quotes = shift["evidence"]
    assert 2 <= len(quotes) <= 3
    assert [q["confidence"] for q in quotes] == sorted((q["confidence"] for q in quotes), reverse=True)
    assert quotes[0]["evidence"].startswith("Moscow now accepts a truce first, statement 0")
    text = synthetic_report.text_path.read_text(encoding="utf-8")
    moved = section(text, "WHAT MOVED", "TOP STORIES")
    assert "Russia: against -> favor" in moved and "ceasefire_first" in moved
    assert "11 stories (0 favor / 0 neutral / 11 against), net -1.00" in moved
    assert "7 stories (7 favor / 0 neutral / 0 against), net +1.00" in moved
    assert quotes[0]["url"] in moved
    html = synthetic_report.html_path.read_text(encoding="utf-8")
    assert f'href="{quotes[0]["url"]}"' in html
    # The stated method: thresholds and the false-alarm bound over the tested pairs.
    method = section(text, "METHOD", "Warehouse:")
    assert ">= 3 stories" in method and "|z| >= 3.0" in method and "Bonferroni" in method


def test_stable_and_thin_pairs_do_not_move(synthetic_report):
    moved = {(s["actor"], s["position"]) for s in synthetic_report.data["shifts"]}
    assert Planted.stable not in moved
    assert Planted.matrix_change not in moved  # its change is too thinly evidenced to call a shift
    html = synthetic_report.html_path.read_text(encoding="utf-8")
    what_moved = section(html, 'id="what-moved"', 'id="top-stories"')
    assert "military aid" not in what_moved and "sanctions relief" not in what_moved


def test_top_stories_rank_by_outlets(synthetic_report):
    stories = synthetic_report.data["top_stories"]
    assert stories[0]["headline"] == "Agency: envoys meet again in Istanbul"
    assert stories[0]["n_outlets"] == 2 and stories[0]["outlets"] == ["alpha_news", "beta_post"]
    assert all(s["n_outlets"] == 1 for s in stories[1:])
    text = synthetic_report.text_path.read_text(encoding="utf-8")
    assert "2 outlets: Agency: envoys meet again in Istanbul" in section(text, "TOP STORIES", "ACTOR x POSITION")


def test_matrix_compares_with_a_week_ago_and_no_data_is_not_a_change(synthetic_report):
    rows = {(m["actor"], m["position"]): m for m in synthetic_report.data["matrix"]}
    change = rows[Planted.matrix_change]
    assert (change["stance_week_ago"], change["stance"], change["changed"]) == ("against", "favor", True)
    assert rows[Planted.no_data_before]["comparison"] == "no_data_before" and not rows[Planted.no_data_before]["changed"]
    assert rows[Planted.no_data_now]["comparison"] == "no_data_now" and not rows[Planted.no_data_now]["changed"]
    assert not rows[Planted.stable]["changed"]
    changed = {(m["actor"], m["position"]) for m in synthetic_report.data["matrix_changes"]}
    assert Planted.matrix_change in changed
    assert Planted.no_data_before not in changed and Planted.no_data_now not in changed
    text = synthetic_report.text_path.read_text(encoding="utf-8")
    changes = section(text, "ACTOR x POSITION", "NEW STATEMENTS")
    assert "Europe on sanctions_relief: against (3 stories) -> favor (7 stories)" in changes
    assert "China" not in changes and "NATO" not in changes
    html = synthetic_report.html_path.read_text(encoding="utf-8")
    assert "no data" in section(html, 'id="matrix"', 'id="statements"')


def test_new_statements_are_grouped_by_actor_with_links(synthetic_report):
    groups = synthetic_report.data["statement_groups"]
    actors = [g["actor"] for g in groups]
    assert actors == sorted(actors) and len(actors) == len(set(actors))
    assert {"russia", "ukraine", "united_states"} <= set(actors)
    # The syndicated story's claim is one statement, not one per outlet.
    us = next(g for g in groups if g["actor"] == "united_states")["statements"]
    assert len([s for s in us if s["position"] == "ukraine_elections"]) == 1
    text = synthetic_report.text_path.read_text(encoding="utf-8")
    statements = section(text, "NEW STATEMENTS", "COVERAGE AND HEALTH")
    assert "Russia\n* favor on ceasefire_first:" in statements
    assert "https://" in statements


def test_coverage_flags_silent_failing_and_anomalous_sources(synthetic_report):
    status = {c["source_id"]: c for c in synthetic_report.data["coverage"]}
    assert status["delta_silent"]["status"] == "silent"
    assert status["epsilon_failing"]["status"] == "failing"
    assert status["epsilon_failing"]["error_summary"] == "500 x3, timeout x1"
    assert status["beta_post"]["status"] == "warning" and "http_404 x3" in status["beta_post"]["drop_summary"]
    assert status["gamma_daily"]["empty_bodies_7d"] == 1
    assert status["alpha_news"]["status"] == "ok"
    assert status["alpha_news"]["articles_on_day"] >= 1
    html = synthetic_report.html_path.read_text(encoding="utf-8")
    health = section(html, 'id="coverage"', 'id="method"')
    assert "Needs attention" in health and "delta_silent (silent)" in health and "epsilon_failing (failing)" in health


def test_method_names_the_model_and_codebook(synthetic_report):
    method = synthetic_report.data["method"]
    assert [(m["model_id"], m["model_version"]) for m in method] == [("marker", "marker-1")]
    assert method[0]["codebook_version"] == default_codebook().version
    tests = synthetic_report.data["tests"]
    assert tests["pairs_tested"] >= 2 and tests["pairs_shifted"] == 1
    assert tests["family_bound"] == pytest.approx(tests["pairs_tested"] * tests["p_single"])
    html = synthetic_report.html_path.read_text(encoding="utf-8")
    assert "marker marker-1" in html and default_codebook().sha256[:12] in html


class ContraryAnalyzer(MarkerAnalyzer):
    """Another model that reads every marker with the opposite stance and its own evidence."""

    model_id = "contrary"
    model_version = "contrary-1"

    def analyze(self, text: str) -> tuple[list[str], list[Claim]]:
        topics, claims = super().analyze(text)
        flip = {"favor": "against", "against": "favor", "neutral": "neutral"}
        return topics, [c.model_copy(update={"stance": flip[c.stance], "evidence": "CONTRARY " + c.evidence})
                        for c in claims]


def test_digest_counts_only_the_current_model(synthetic_data, tmp_path):
    """Claims of a model that is no longer current stay in `claims` but never reach the digest."""
    from peacewatch.nlp.classify import classify

    data_dir = tmp_path / "data"
    shutil.copytree(synthetic_data, data_dir)
    db = pipeline.db_path(data_dir)
    classify(db, analyzer=ContraryAnalyzer())
    classify(db, analyzer=MarkerAnalyzer(), reclassify=True)  # the marker model is current again
    report = render_digest(db, AS_OF, None, tmp_path / "reports")
    assert [m["model_id"] for m in report.data["method"]] == ["marker"]
    assert [(s["actor"], s["position"], s["to_stance"]) for s in report.data["shifts"]] == [
        ("russia", "ceasefire_first", "favor")]
    text = report.text_path.read_text(encoding="utf-8")
    assert "CONTRARY" not in text and "contrary" not in text
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM claims WHERE model_id = 'contrary'").fetchone()[0] > 20


# --- escaping ------------------------------------------------------------------------------------------


def test_web_content_is_escaped_in_html(synthetic_report):
    html = synthetic_report.html_path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<img src=x" not in html and "onerror=alert" not in html.replace("onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Talks &lt;b&gt;stall&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # the quote, as text
    # The attribute cannot be broken out of: the URL's quote is escaped inside href.
    assert 'href="https://alpha.example/news/evil?q=&#34;&gt;&lt;script&gt;' in html
    # Only the template's own tags: every <img> is a chart, every <a> an http(s) link.
    assert all(src.endswith(".png") for src in re.findall(r'<img [^>]*src="([^"]*)"', html))
    assert all(h.startswith(("http://", "https://")) for h in re.findall(r'<a [^>]*href="([^"]*)"', html))


def test_web_content_is_inert_in_markdown_and_text(synthetic_report):
    markdown = synthetic_report.markdown_path.read_text(encoding="utf-8")
    assert "<script" not in markdown.lower() and "<img" not in markdown and "<b>" not in markdown
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in markdown
    # The title's own Markdown link syntax is escaped, so it cannot become a javascript: link.
    assert "](javascript:" not in markdown
    assert "\\[link\\]\\(javascript:alert\\(4\\)\\)" in markdown
    text = synthetic_report.text_path.read_text(encoding="utf-8")
    assert EVIL_QUOTE in " ".join(text.split())  # plain text shows the words as they are; nothing interprets them
    assert md_escape("a <b> & [x](y) | *z*") == "a &lt;b&gt; &amp; \\[x\\]\\(y\\) \\| \\*z\\*"


def test_non_http_links_are_not_linked():
    from peacewatch.digest.render import href, md_url

    assert href("javascript:alert(1)") is None and href("data:text/html,x") is None and href("/relative") is None
    assert href(" https://ok.example/a ") == "https://ok.example/a"
    assert md_url("https://ok.example/a (b)") == "https://ok.example/a%20%28b%29"
    assert md_url("JavaScript:alert(1)") == ""


# --- empty days ----------------------------------------------------------------------------------------


def _assert_short_digest(report) -> None:
    assert report.empty
    html = report.html_path.read_text(encoding="utf-8")
    text = report.text_path.read_text(encoding="utf-8")
    markdown = report.markdown_path.read_text(encoding="utf-8")
    for output in (html, text, markdown):
        assert "Nothing moved" in output
    assert "What moved" in html and "Method" in html
    for heading in ("Top stories", "New statements", "Coverage and health"):
        assert heading not in html
    assert "nothing moved" in report.subject
    assert report.images == [] and not list(report.out_dir.glob("*.png"))
    assert len(text.splitlines()) < 20


@pytest.mark.parametrize("day", [date(2030, 1, 1), date(2024, 1, 1)])
def test_a_date_outside_the_data_gives_a_short_digest(synthetic_data, tmp_path, day):
    report = render_digest(pipeline.db_path(synthetic_data), day, None, tmp_path)
    _assert_short_digest(report)
    assert report.out_dir == tmp_path / day.isoformat()
    assert "The warehouse holds" in report.text_path.read_text(encoding="utf-8")


def test_an_empty_warehouse_gives_a_short_digest(tmp_path):
    pipeline.migrate(tmp_path / "data")
    report = render_digest(pipeline.db_path(tmp_path / "data"), AS_OF, None, tmp_path / "reports")
    _assert_short_digest(report)
    assert "no articles yet" in report.text_path.read_text(encoding="utf-8")
    # Without --date, an empty warehouse renders for today rather than failing.
    assert render_digest(pipeline.db_path(tmp_path / "data"), None, None, tmp_path / "reports").empty


def test_rerendering_replaces_stale_charts(synthetic_data, tmp_path):
    stale = tmp_path / AS_OF.isoformat() / "stance_old_position.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"\x89PNG old")
    report = render_digest(pipeline.db_path(synthetic_data), AS_OF, None, tmp_path)
    assert not stale.exists() and report.images


def test_window_days_changes_the_recent_window(synthetic_data, tmp_path):
    report = render_digest(pipeline.db_path(synthetic_data), AS_OF, 7, tmp_path)
    assert report.data["recent_from"] == AS_OF - timedelta(days=6)
    assert report.data["window"]["recent_days"] == 7
    assert "Recent window 2025-05-25 to 2025-05-31 (7 days)" in report.text_path.read_text(encoding="utf-8")


def test_cli_digest_command(synthetic_data, tmp_path):
    from click.testing import CliRunner

    from peacewatch.cli import main

    result = CliRunner().invoke(main, ["--data-dir", str(synthetic_data), "digest", "--date", "2025-05-31",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "2025-05-31" / "digest.html").is_file()
    assert (tmp_path / "2025-05-31" / "matrix.png").is_file()


# --- the demo newsroom: planted shifts and stable pairs ------------------------------------------------------


def gold() -> dict:
    return yaml.safe_load((GOLD_DIR / "shifts.yaml").read_text(encoding="utf-8"))


def detectable_shifts(as_of: date, recent_days: int, baseline_days: int) -> list[dict]:
    """Gold shifts that the digest for `as_of` must report: the new stance began inside the recent window
    and fills at least half of it, and the pair did not also shift during the baseline window."""
    shifts = gold()["shifts"]
    recent_from = as_of - timedelta(days=recent_days - 1)
    baseline_from = recent_from - timedelta(days=baseline_days)
    found = []
    for shift in shifts:
        began = date.fromisoformat(str(shift["date"]))
        if not recent_from <= began <= as_of - timedelta(days=recent_days // 2):
            continue
        earlier = [s for s in shifts if (s["actor"], s["position"]) == (shift["actor"], shift["position"])
                   and baseline_from < date.fromisoformat(str(s["date"])) < began]
        if not earlier:
            found.append(shift)
    return found


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """The demo once per session: newsroom on loopback -> crawl -> load -> classify -> digest."""
    from peacewatch.demo import run_demo

    data_dir = tmp_path_factory.mktemp("demo") / "data"
    run_demo(data_dir, digest_date=AS_OF)
    return data_dir


@pytest.fixture(scope="session")
def gold_claims_data(demo_data, tmp_path_factory) -> Path:
    """The demo's crawl, loaded afresh and 'classified' with the newsroom's gold claims."""
    from peacewatch.warehouse.db import writer
    from peacewatch.warehouse.store import finish_model_run, save_article_results, start_model_run

    data_dir = tmp_path_factory.mktemp("gold") / "data"
    shutil.copytree(demo_data / "landing", data_dir / "landing")
    shutil.copytree(demo_data / "raw", data_dir / "raw")
    pipeline.load(data_dir)
    labels = {}
    for line in (GOLD_DIR / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        labels[(record["outlet"], record["url_path"])] = record
    codebook = default_codebook()
    with writer(pipeline.db_path(data_dir)) as con:
        articles = con.execute("SELECT article_id, source_id, url, canonical_url FROM articles").fetchall()
        run_id = start_model_run(con, "gold", "gold-1", codebook.version, codebook.sha256)
        n_claims = 0
        for article_id, source_id, url, canonical in articles:
            record = labels.get((source_id, urlsplit(url).path)) or labels.get((source_id, urlsplit(canonical).path))
            claims = [{**c, "confidence": 1.0} for c in (record or {}).get("claims", [])]
            save_article_results(con, run_id, article_id, [(t, 1.0) for t in (record or {}).get("topics", [])], claims)
            n_claims += len(claims)
        finish_model_run(con, run_id, len(articles), n_claims)
    return data_dir


def _position_shift_row(data_dir: Path, actor: str, position: str) -> str:
    with duckdb.connect(str(pipeline.db_path(data_dir)), read_only=True) as con:
        row = con.execute(
            "SELECT baseline_stories, baseline_net, recent_stories, recent_net, delta, z "
            "FROM position_shifts(DATE '2025-05-31') WHERE actor = ? AND position = ?", [actor, position]).fetchone()
    if row is None:
        return "no claims for this pair in either window"
    nb, net_b, nr, net_r, delta, z = row
    fmt = lambda x: "n/a" if x is None else f"{x:+.2f}"  # noqa: E731
    return f"baseline {nb} stories net {fmt(net_b)}, recent {nr} stories net {fmt(net_r)}, delta {fmt(delta)}, z {fmt(z)}"


def _check_against_gold(data_dir: Path, report, backend: str) -> list[str]:
    """Stable pairs under What moved fail at once; returns the detectable planted shifts it missed."""
    window = report.data["window"]
    moved = {(s["actor"], s["position"]): s for s in report.data["shifts"]}
    text = report.text_path.read_text(encoding="utf-8")
    what_moved = section(text, "WHAT MOVED", "TOP STORIES")

    false_alarms = [f"{p['actor']}/{p['position']} (stable {p['stance']})" for p in gold()["stable"]
                    if (p["actor"], p["position"]) in moved]
    assert not false_alarms, f"{backend}: stable pairs reported under What moved: {', '.join(false_alarms)}"

    expected = detectable_shifts(AS_OF, window["recent_days"], window["baseline_days"])
    assert expected, "the gold should plant shifts detectable on 2025-05-31"
    missed = []
    for shift in expected:
        key = (shift["actor"], shift["position"])
        line = f"({shift['position']})"
        if key in moved:
            found = moved[key]
            assert (found["from_stance"], found["to_stance"]) == (shift["from"], shift["to"]), (
                f"{backend}: {key} reported as {found['from_stance']} -> {found['to_stance']}, "
                f"gold says {shift['from']} -> {shift['to']}")
            assert f"{shift['from']} -> {shift['to']} on" in what_moved and line in what_moved
        else:
            missed.append(f"{shift['actor']}/{shift['position']} {shift['from']} -> {shift['to']} from "
                          f"{shift['date']} [{_position_shift_row(data_dir, *key)}]")
    return missed


def test_gold_claims_find_every_detectable_planted_shift_and_no_stable_pair(gold_claims_data, tmp_path):
    """The views and the digest, independent of any classifier: with the newsroom's own labels the
    digest must report exactly the planted shifts that are detectable on 2025-05-31."""
    report = render_digest(pipeline.db_path(gold_claims_data), AS_OF, None, tmp_path)
    missed = _check_against_gold(gold_claims_data, report, "gold claims")
    assert not missed, "gold claims: planted shifts missing under What moved: " + "; ".join(missed)
    expected = {(s["actor"], s["position"]) for s in detectable_shifts(AS_OF, 14, 42)}
    assert {(s["actor"], s["position"]) for s in report.data["shifts"]} == expected


def test_current_backend_digest_finds_the_planted_shifts_and_no_stable_pair(demo_data):
    """The demo's own digest (current classifier backend). A stable pair reported as moving fails; a
    planted shift the backend misses is reported by name and numbers (xfail, or a failure with
    PEACEWATCH_STRICT_GOLD=1): the digest itself is checked by the gold-claims test above."""
    report_dir = demo_data / "reports" / AS_OF.isoformat()
    for name in ("digest.html", "digest.txt", "digest.md", "matrix.png"):
        assert (report_dir / name).is_file(), name
    report = render_digest(pipeline.db_path(demo_data), AS_OF, None, report_dir.parent)
    backend = ", ".join(f"{m['model_id']} {m['model_version']}" for m in report.data["method"])
    missed = _check_against_gold(demo_data, report, backend)
    if missed:
        message = f"classifier {backend} misses planted shift(s) on 2025-05-31: " + "; ".join(missed)
        if STRICT_GOLD:
            pytest.fail(message)
        pytest.xfail(message)
