"""The bundled demo newsroom: stories -> articles -> pages, feeds, sitemaps, broken cases, gold."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser
from xml.etree import ElementTree as ET

import feedparser
import lxml.html
import pytest
import yaml
from markupsafe import escape

from peacewatch.newsroom.server import running_newsroom, serve
from peacewatch.newsroom.site import (
    DEFAULT_BASE_URL,
    EDITION_1_END,
    GOLD_PATH,
    HERE,
    HUGE_PAGE_BYTES,
    UPDATE_AT,
    UPDATE_PARAGRAPH,
    WIRE_OUTLET,
    build_articles,
    build_site,
    gold_jsonl,
    load_outlets,
    load_stories,
)

SLOW_SECONDS = 1.0
OUTLETS = {o["id"]: o for o in load_outlets()}
BROKEN = {c["kind"]: f"{o['prefix']}/{c['path']}" for o in OUTLETS.values() for c in o.get("broken", [])}
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"


@pytest.fixture(scope="module")
def stories() -> list[dict]:
    return load_stories()


@pytest.fixture(scope="module")
def articles(stories) -> list:
    return build_articles(2, stories)


@pytest.fixture(scope="module")
def site(stories) -> dict:
    return build_site(2, DEFAULT_BASE_URL, stories)


@pytest.fixture(scope="module")
def newsroom() -> str:
    with running_newsroom(slow_seconds=SLOW_SECONDS) as base_url:
        yield base_url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # let the test see each 3xx itself


# No proxy handler: a proxy from the environment must not intercept loopback requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def fetch(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0):
    """(status, headers, body) of one request, without following redirects."""
    try:
        with _OPENER.open(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def feed_paths(body: bytes) -> list[str]:
    """Paths (no query) of a feed's item links, in feed order."""
    return [urlsplit(entry.link).path for entry in feedparser.parse(body).entries]


def sitemap_locs(body: bytes) -> list[str]:
    return [urlsplit(loc.text).path for loc in ET.fromstring(body).iter(f"{SM}loc")]


def listing_paths(base_url: str, first: str) -> list[str]:
    """Every link of a paginated listing, following rel="next" over HTTP."""
    paths, url, pages = [], base_url + first, 0
    while url and pages < 50:
        status, _, body = fetch(url)
        assert status == 200, url
        html = body.decode("utf-8")
        paths += [urlsplit(h).path for h in re.findall(r'class="teaser__link" href="([^"]+)"', html)]
        match = re.search(r'<a rel="next" href="([^"]+)"', html)
        url, pages = (match.group(1) if match else None), pages + 1
    return paths


def newest_first(items: list) -> list:
    return sorted(items, key=lambda a: (a.published_at, a.article_id), reverse=True)


# ---------------------------------------------------------------------------------------------------
# Stories and articles


def test_every_outlet_publishes_and_the_newsroom_is_big_enough(articles):
    by_outlet = {o: [a for a in articles if a.outlet == o] for o in OUTLETS}
    assert len(OUTLETS) >= 10
    assert all(by_outlet.values()), {o: len(a) for o, a in by_outlet.items()}
    assert len(articles) >= 200, f"only {len(articles)} articles"
    assert len({a.article_id for a in articles}) == len({a.path for a in articles}) == len(articles)
    assert len({o["template"] for o in OUTLETS.values()}) == len(OUTLETS)
    for article in articles:
        assert article.body == "\n\n".join(article.paragraphs)
        assert article.path.isascii()
        assert article.language == OUTLETS[article.outlet]["language"]


def test_wire_stories_are_syndicated_with_small_edits(stories, articles):
    by_story: dict[str, list] = {}
    for article in articles:
        by_story.setdefault(article.story_id, []).append(article)
    english = {o for o, d in OUTLETS.items() if d["language"] == "en"} - {WIRE_OUTLET}
    edits = {"alt_headline": 0, "dropped_paragraph": 0}
    for story in (s for s in stories if s["wire"]):
        [original] = [a for a in by_story[story["id"]] if a.outlet == WIRE_OUTLET]
        copies = [a for a in by_story[story["id"]] if a.outlet != WIRE_OUTLET]
        assert 2 <= len(copies) <= 4 and {c.outlet for c in copies} <= english
        for copy in copies:
            assert copy.syndicated and copy.headline in (story["headline"], story["alt_headline"])
            assert timedelta(minutes=1) <= copy.published_at - story["published"] <= timedelta(hours=6)
            edits["alt_headline"] += copy.headline != story["headline"]
            if len(copy.paragraphs) < len(story["paragraphs"]):
                edits["dropped_paragraph"] += 1
                dropped = story["paragraphs"][-1]
                assert copy.paragraphs == original.paragraphs[:len(copy.paragraphs)]
                assert all(c in copy.claims for c in original.claims if c not in dropped["claims"])
                assert not any(c in copy.claims for c in dropped["claims"] if c not in
                               [x for p in story["paragraphs"][:-1] for x in p["claims"]])
    assert edits["alt_headline"] > 0 and edits["dropped_paragraph"] > 0, edits


def test_build_is_deterministic(stories, articles, site):
    assert build_articles(2, stories) == articles
    assert build_site(2, DEFAULT_BASE_URL, stories) == site


def test_gold_file_is_up_to_date(articles):
    assert GOLD_PATH.read_text(encoding="utf-8") == gold_jsonl(articles), (
        "gold/articles.jsonl is stale: run `python -m peacewatch.newsroom.site --write-gold`")
    rows = [json.loads(line) for line in GOLD_PATH.read_text(encoding="utf-8").splitlines()]
    assert [r["article_id"] for r in rows] == sorted(r["article_id"] for r in rows)
    assert all(r["published_at"].endswith("Z") for r in rows)


def test_shifts_file_matches_the_stories_readme():
    readme = (HERE / "stories" / "README.md").read_text(encoding="utf-8")
    shifts = yaml.safe_load((HERE / "gold" / "shifts.yaml").read_text(encoding="utf-8"))
    planted = re.findall(r"^\d\. (\w+) / (\w+): (.*?)(?=^\d\. |^Stable)", readme, re.M | re.S)
    expected = []
    for actor, position, text in planted:
        stances = re.findall(r"\*\*(\w+)\*\*", text)
        expected.append((actor, position, stances[0], stances[-1]))
    assert [(s["actor"], s["position"], s["from"], s["to"]) for s in shifts["shifts"]] == expected
    starts = {p["start"] for p in shifts["periods"].values()}
    assert all(s["date"] in starts for s in shifts["shifts"])
    stable_text = readme.split("must not be reported as moving):", 1)[1].split("\n\n", 1)[0]
    assert [(s["actor"], s["position"], s["stance"]) for s in shifts["stable"]] == re.findall(
        r"(\w+)/(\w+) (favor|against|neutral)", stable_text)


def _story(**overrides) -> dict:
    story = {
        "id": "2025-03-01-test-story", "published": "2025-03-01T10:00:00Z", "language": "en", "wire": False,
        "outlet": "harbor_times", "byline": "Test Writer", "headline": "A test headline", "topics": ["diplomacy"],
        "paragraphs": ["Plain first paragraph.", {"text": "Peskov said no troops. Nothing else.", "claims": [
            {"actor": "russia", "position": "no_foreign_troops", "stance": "favor",
             "evidence": "Peskov said no troops."}]}],
    }
    story.update(overrides)
    return story


@pytest.mark.parametrize(("change", "field"), [
    ({"paragraphs": [{"text": "X said y.", "claims": [
        {"actor": "martians", "position": "ceasefire_first", "stance": "favor", "evidence": "X said y."}]}]},
     "paragraphs[1].claims.actor"),
    ({"paragraphs": [{"text": "X said y.", "claims": [
        {"actor": "russia", "position": "ceasefire_first", "stance": "favor", "evidence": "X said z."}]}]},
     "paragraphs[1].claims.evidence"),
    ({"topics": ["weather"]}, "topics"),
    ({"published": "2025-06-02T10:00:00Z"}, "published"),
    ({"outlet": "no_such_outlet"}, "outlet"),
])
def test_invalid_stories_are_rejected_with_file_story_and_field(tmp_path, change, field):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump([_story(**change)]), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"bad.yaml: story 2025-03-01-test-story: {field}:")):
        load_stories(tmp_path)


def test_duplicate_story_ids_are_rejected(tmp_path):
    for name in ("one.yaml", "two.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump([_story()]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"two.yaml: story 2025-03-01-test-story: id: duplicate"):
        load_stories(tmp_path)


def test_text_from_stories_is_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    story = _story(wire=True, outlet=None, byline=f"Eve {evil}", headline=f"Headline {evil} & more",
                   alt_headline=f"Alt {evil}", paragraphs=[f"First {evil} paragraph.", "Second.", "Third."])
    (tmp_path / "evil.yaml").write_text(yaml.safe_dump([story]), encoding="utf-8")
    routes = build_site(2, DEFAULT_BASE_URL, load_stories(tmp_path))
    pages = [r.body.decode("utf-8") for r in routes.values() if r.content_type.startswith(("text/html", "app"))
             and r.content_type != "application/pdf"]
    assert sum("alert(1)" in page for page in pages) >= 4  # the wire story and its copies
    assert not any("<script>alert" in page for page in pages)
    [page] = [routes[p].body.decode() for p in routes if p.startswith("/baltic-wire/news/2025/03/01/")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    ET.fromstring(routes["/baltic-wire/rss.xml"].body)  # still well-formed XML


# ---------------------------------------------------------------------------------------------------
# Pages, feeds, sitemaps, listings (from the routing table)

_LAYOUT = {
    "baltic_wire": r"/baltic-wire/news/\d{4}/\d{2}/\d{2}/[a-z0-9-]+\.html",
    "dnipro_ledger": r"/dnipro-ledger/articles/[a-z0-9-]+-\d+",
    "capitol_dispatch": r"/capitol-dispatch/politics/world/[a-z0-9-]+/",
    "continental_review": r"/continental-review/europe/\d{4}-\d{2}-\d{2}-[a-z0-9-]+\.html",
    "eastern_courier": r"/eastern-courier/\d{4}/\d{2}/\d{2}/[a-z0-9-]+/",
    "geneva_monitor": r"/geneva-monitor/analysis/[a-z0-9-]+\.html",
    "pacific_observer": r"/pacific-observer/story/\d+/[a-z0-9-]+",
    "harbor_times": r"/harbor-times/world/[a-z0-9-]+",
    "moskva_vestnik": r"/moskva-vestnik/politika/\d+-[a-z0-9-]+\.html",
    "kyiv_khvylia": r"/kyiv-khvylia/novyny/\d+/",
}


def test_url_layout_matches_sources_yaml(articles):
    sources = yaml.safe_load((Path(__file__).parents[1] / "config" / "sources.yaml").read_text(encoding="utf-8"))
    patterns = {s["id"]: [x["link_pattern"] for x in s["discovery"].get("listings", [])] for s in sources["sources"]}
    for article in articles:
        assert re.fullmatch(_LAYOUT[article.outlet], article.path), article.path
        assert all(re.search(p, article.path) for p in patterns[article.outlet]), article.path
    assert re.search(patterns["geneva_monitor"][0], BROKEN["robots_disallowed"])
    assert re.search(patterns["harbor_times"][0], BROKEN["redirect_loop"])
    assert re.search(patterns["eastern_courier"][0], BROKEN["huge"])


_DATE_META = {
    "json_ld": r'<script type="application/ld\+json">(.*?)</script>',
    "og": r'<meta property="article:published_time" content="([^"]+)">',
    "time": r'<time[^>]* datetime="([^"]+)"',
    "dc": r'<meta name="dc.date" content="([^"]+)">',
    "date": r'<meta name="date" content="([^"]+)">',
}
_OUTLET_META = {"baltic_wire": "json_ld", "capitol_dispatch": "json_ld", "continental_review": "json_ld",
                "dnipro_ledger": "og", "pacific_observer": "og", "kyiv_khvylia": "og", "eastern_courier": "time",
                "harbor_times": "time", "geneva_monitor": "dc", "moskva_vestnik": "date"}


def test_article_pages_carry_text_and_metadata(articles, site):
    date_only_in_url = 0
    for article in articles:
        page = site[article.path].body.decode("utf-8")
        assert re.search(rf'<html lang="{article.language}[-"]', page)
        assert f"<title>{escape(article.headline)}" in page
        assert f'<link rel="canonical" href="{DEFAULT_BASE_URL}{article.path}">' in page
        assert all(str(escape(p)) in page for p in article.paragraphs)
        match = re.search(_DATE_META[_OUTLET_META[article.outlet]], page, re.S)
        if match is None and article.outlet == "eastern_courier":
            date_only_in_url += 1
            continue
        value = match.group(1)
        if _OUTLET_META[article.outlet] == "json_ld":
            data = json.loads(value)
            value = data["datePublished"]
            assert [a["name"] for a in data["author"]] == article.authors
        assert datetime.fromisoformat(value) == article.published_at, article.path
    assert date_only_in_url > 0


def test_malformed_page_text_is_recoverable(articles, site):
    pacific = min((a for a in articles if a.outlet == "pacific_observer"), key=lambda a: (a.published_at, a.article_id))
    page = site[pacific.path].body.decode("utf-8")
    assert "po-body__inner" in page and "</span>" in page and page.count("<p>") > page.count("</p>")
    tree = lxml.html.fromstring(page)
    # The unclosed divs swallow the rest of the page, but the story's paragraphs come first and intact.
    texts = [p.text_content().strip() for p in tree.xpath('//div[contains(@class, "po-body")]//p')]
    assert texts[:len(pacific.paragraphs)] == pacific.paragraphs


def _linked_paths(kind: str, body: bytes) -> list[str]:
    return sitemap_locs(body) if kind in ("news_sitemap", "sitemap_index") else feed_paths(body)


@pytest.mark.parametrize("outlet_id", [o for o, d in OUTLETS.items()
                                       if any(x["kind"] in ("rss2", "atom", "rdf", "news_sitemap")
                                              for x in d["discovery"])])
def test_feeds_list_every_article_newest_first_with_dates(outlet_id, articles, site):
    outlet = OUTLETS[outlet_id]
    own = newest_first([a for a in articles if a.outlet == outlet_id])
    for discovery in (d for d in outlet["discovery"] if d["kind"] in ("rss2", "atom", "rdf", "news_sitemap")):
        response = site[f"{outlet['prefix']}/{discovery['path']}"]
        assert "ETag" in response.headers and "Last-Modified" in response.headers
        broken = {BROKEN[c["kind"]] for c in outlet.get("broken", [])
                  if discovery["kind"] in c.get("linked_from", [discovery["kind"]])}
        paths = _linked_paths(discovery["kind"], response.body)
        assert [p for p in paths if p not in broken] == [a.path for a in own]
        assert set(paths) - {a.path for a in own} == broken
        if discovery["kind"] == "news_sitemap":
            urls = [u for u in ET.fromstring(response.body) if urlsplit(u.find(f"{SM}loc").text).path not in broken]
            dates = [datetime.fromisoformat(u.find(f".//{NEWS}publication_date").text) for u in urls]
            titles = [u.find(f".//{NEWS}title").text for u in urls]
            assert all(u.find(f".//{NEWS}language").text == outlet["language"] for u in urls)
        else:
            entries = [e for e in feedparser.parse(response.body).entries if urlsplit(e.link).path not in broken]
            # RSS 1.0 has no publication date element: feedparser files dc:date under "updated".
            dates = [datetime(*(e.get("published_parsed") or e.updated_parsed)[:6], tzinfo=timezone.utc)
                     for e in entries]
            titles = [e.title for e in entries]
            assert [e.author for e in entries] == [", ".join(a.authors) for a in own]
            assert all(e.summary for e in entries)
        assert dates == [a.published_at for a in own]
        assert titles == [a.headline for a in own]


def test_continental_sitemap_index_points_at_monthly_urlsets(articles, site):
    index = ET.fromstring(site["/continental-review/sitemap-index.xml"].body)
    urlsets = [urlsplit(loc.text).path for loc in index.iter(f"{SM}loc")]
    assert urlsets and urlsets == sorted(urlsets, reverse=True)
    assert all(re.fullmatch(r"/continental-review/sitemap-2025-0[2-5]\.xml", u) for u in urlsets)
    assert len(list(index.iter(f"{SM}lastmod"))) == len(urlsets)
    paths = [p for u in urlsets for p in sitemap_locs(site[u].body)]
    own = {a.path for a in articles if a.outlet == "continental_review"}
    assert set(paths) == own | {BROKEN["empty_body"]} and len(paths) == len(own) + 1


def test_listings_paginate_with_rel_next(articles, site):
    for outlet_id, first, per_page in (("eastern_courier", "/eastern-courier/news/", 10),
                                       ("harbor_times", "/harbor-times/world/", 12),
                                       ("geneva_monitor", "/geneva-monitor/analysis/", 8)):
        pages, url = [], first
        while url:
            html = site[url].body.decode("utf-8")
            pages.append(re.findall(r'class="teaser__link" href="[^"]+?(/[a-z][^"]*)"', html))
            match = re.search(r'<a rel="next" href="[^"]+?(/[a-z][^"]*)"', html)
            url = match.group(1) if match else None
        own = [a.path for a in newest_first([a for a in articles if a.outlet == outlet_id])]
        assert len(pages) > 1 and all(len(p) == per_page for p in pages[:-1])
        linked = [p for page in pages for p in page]
        assert [p for p in linked if p in own] == own
        assert len(linked) == len(own) + 1  # plus the outlet's broken case


# ---------------------------------------------------------------------------------------------------
# Editions


def test_edition_1_is_the_snapshot_before_the_update(stories, articles, site):
    first = build_articles(1, stories)
    first_site = build_site(1, DEFAULT_BASE_URL, stories)
    assert 0 < len(first) < len(articles)
    assert all(a.published_at < EDITION_1_END for a in first)
    assert {a.article_id for a in articles if a.published_at < EDITION_1_END} == {a.article_id for a in first}
    paths = {a.article_id: a.path for a in articles}
    assert all(paths[a.article_id] == a.path for a in first)

    [new] = [a for a in articles if a.updated_at]
    [old] = [a for a in first if a.article_id == new.article_id]
    wire_stories = [s for s in stories if s["wire"] and s["published"] < EDITION_1_END]
    assert new.story_id == max(wire_stories, key=lambda s: s["published"])["id"]
    assert new.outlet == WIRE_OUTLET and new.path == old.path
    assert old.updated_at is None and new.updated_at == UPDATE_AT
    assert new.paragraphs == [*old.paragraphs, UPDATE_PARAGRAPH] and new.claims == old.claims

    old_page, new_page = first_site[old.path], site[new.path]
    assert UPDATE_PARAGRAPH not in old_page.body.decode() and UPDATE_PARAGRAPH in new_page.body.decode()
    assert old_page.headers["Last-Modified"] != new_page.headers["Last-Modified"]
    assert '"dateModified": "2025-05-30T12:15:00+03:00"' in new_page.body.decode()
    feed_old = feedparser.parse(first_site["/baltic-wire/rss.xml"].body)
    feed_new = feedparser.parse(site["/baltic-wire/rss.xml"].body)
    [entry] = [e for e in feed_new.entries if e.guid.endswith(new.path)]
    assert datetime.fromisoformat(entry.updated) == UPDATE_AT
    assert not any("updated" in e for e in feed_old.entries)


# ---------------------------------------------------------------------------------------------------
# Over real HTTP: broken cases, robots.txt, conditional GET


@pytest.mark.slow
def test_robots_txt(newsroom):
    status, headers, body = fetch(newsroom + "/robots.txt")
    assert status == 200 and headers.get_content_type() == "text/plain"
    assert body.decode().splitlines()[:2] == ["User-agent: *", "Disallow: /geneva-monitor/drafts/"]
    robots = RobotFileParser()
    robots.parse(body.decode().splitlines())
    assert not robots.can_fetch("peacewatch", newsroom + BROKEN["robots_disallowed"])
    assert robots.can_fetch("peacewatch", newsroom + "/geneva-monitor/analysis/")


@pytest.mark.slow
def test_rss_item_with_tracking_params_answers_404(newsroom, site):
    _, _, body = fetch(newsroom + "/baltic-wire/rss.xml")
    links = [e.link for e in feedparser.parse(body).entries]
    assert all(link.endswith("?utm_source=rss&utm_medium=feed") for link in links)
    [gone] = [link for link in links if urlsplit(link).path == BROKEN["not_found"]]
    assert fetch(gone)[0] == 404
    status, _, page = fetch(links[0])  # tracking params are ignored; the page's canonical URL is clean
    assert status == 200 and f'rel="canonical" href="{newsroom}{urlsplit(links[0]).path}"' in page.decode()


@pytest.mark.slow
def test_atom_entry_answers_500(newsroom):
    _, _, body = fetch(newsroom + "/dnipro-ledger/atom.xml")
    assert BROKEN["server_error"] in feed_paths(body)
    assert fetch(newsroom + BROKEN["server_error"])[0] == 500


@pytest.mark.slow
def test_sitemap_url_serves_a_pdf(newsroom):
    _, _, body = fetch(newsroom + "/capitol-dispatch/news-sitemap.xml")
    assert BROKEN["pdf"] in sitemap_locs(body)
    status, headers, pdf = fetch(newsroom + BROKEN["pdf"])
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert pdf.startswith(b"%PDF-") and any(byte > 127 for byte in pdf)


@pytest.mark.slow
def test_listing_link_to_a_huge_page(newsroom):
    assert BROKEN["huge"] in listing_paths(newsroom, "/eastern-courier/news/")
    status, headers, body = fetch(newsroom + BROKEN["huge"], timeout=10)
    assert status == 200 and len(body) >= HUGE_PAGE_BYTES and int(headers["Content-Length"]) == len(body)


@pytest.mark.slow
def test_listing_link_to_a_redirect_loop(newsroom):
    assert BROKEN["redirect_loop"] in listing_paths(newsroom, "/harbor-times/world/")
    status, headers, _ = fetch(newsroom + "/harbor-times/loop/a")
    assert status == 302 and headers["Location"] == newsroom + "/harbor-times/loop/b"
    status, headers, _ = fetch(headers["Location"])
    assert status == 302 and headers["Location"] == newsroom + "/harbor-times/loop/a"


@pytest.mark.slow
def test_feed_item_that_answers_slowly(newsroom):
    _, _, body = fetch(newsroom + "/pacific-observer/feed/")
    assert "/pacific-observer/slow/" in feed_paths(body)
    started = time.monotonic()
    assert fetch(newsroom + "/pacific-observer/slow/")[0] == 200
    assert time.monotonic() - started >= SLOW_SECONDS
    with pytest.raises(OSError):  # a crawler with a shorter timeout gives up
        _OPENER.open(newsroom + "/pacific-observer/slow/", timeout=SLOW_SECONDS / 4)


@pytest.mark.slow
def test_listing_links_a_robots_disallowed_draft(newsroom, site):
    assert BROKEN["robots_disallowed"] in listing_paths(newsroom, "/geneva-monitor/analysis/")
    assert BROKEN["robots_disallowed"] not in feed_paths(site["/geneva-monitor/index.rdf"].body)
    assert fetch(newsroom + BROKEN["robots_disallowed"])[0] == 200


@pytest.mark.slow
def test_gold_article_with_a_wrong_charset_header(newsroom, articles, site):
    wrong = [p for p, r in site.items() if "iso-8859-1" in r.content_type]
    [article] = [a for a in articles if a.path in wrong]
    assert article.outlet == "kyiv_khvylia"
    _, _, feed = fetch(newsroom + "/kyiv-khvylia/feed.atom")
    assert article.path in feed_paths(feed)
    status, headers, body = fetch(newsroom + article.path)
    assert status == 200 and headers["Content-Type"] == "text/html; charset=iso-8859-1"
    page = body.decode("utf-8")  # the bytes are UTF-8, as the page's own meta says
    assert '<meta charset="utf-8">' in page and str(escape(article.paragraphs[0])) in page


@pytest.mark.slow
def test_sitemap_page_with_an_empty_body(newsroom, site):
    index = fetch(newsroom + "/continental-review/sitemap-index.xml")[2]
    locs = [p for u in sitemap_locs(index) for p in sitemap_locs(fetch(newsroom + u)[2])]
    assert BROKEN["empty_body"] in locs
    status, _, body = fetch(newsroom + BROKEN["empty_body"])
    assert status == 200 and re.search(rb"<body>\s*</body>", body)


@pytest.mark.slow
def test_malformed_feed(newsroom):
    status, _, body = fetch(newsroom + "/moskva-vestnik/rss-broken.xml")
    assert status == 200 and not body.rstrip().endswith(b"</rss>")
    assert re.search(rb"<title>[^<]* & ", body)
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    assert feedparser.parse(body).bozo


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/baltic-wire/rss.xml", "/capitol-dispatch/news-sitemap.xml",
                                  "/continental-review/sitemap-index.xml", "/kyiv-khvylia/feed.atom"])
def test_conditional_get_answers_304(newsroom, path):
    status, headers, body = fetch(newsroom + path)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and body
    status, headers, body = fetch(newsroom + path, {"If-None-Match": etag})
    assert status == 304 and body == b"" and headers["ETag"] == etag
    assert fetch(newsroom + path, {"If-Modified-Since": last_modified})[0] == 304
    assert fetch(newsroom + path, {"If-Modified-Since": "Sat, 01 Feb 2025 00:00:00 GMT"})[0] == 200
    assert fetch(newsroom + path, {"If-None-Match": '"stale"', "If-Modified-Since": last_modified})[0] == 200


def test_server_binds_loopback_only():
    with pytest.raises(ValueError):
        serve(host="0.0.0.0")


@pytest.mark.slow
def test_edition_1_server_serves_the_first_version(articles):
    updated = next(a for a in articles if a.updated_at)
    later = next(a for a in articles if a.published_at >= EDITION_1_END)
    with running_newsroom(edition=1) as base_url:
        status, headers, body = fetch(base_url + updated.path)
        assert status == 200 and UPDATE_PARAGRAPH not in body.decode("utf-8")
        assert headers["Last-Modified"] != "Fri, 30 May 2025 09:15:00 GMT"
        assert fetch(base_url + later.path)[0] == 404
