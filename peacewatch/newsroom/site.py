"""Build the demo newsroom: stories -> articles -> a static routing table of every page, feed and sitemap.

Everything here is deterministic: choices (syndication, edits, numbers) come from hashes of story ids,
never from random state or the clock, so two builds are byte-identical and the gold file is reproducible.
Run `python -m peacewatch.newsroom.site --write-gold` after the stories change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any, NoReturn
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import jinja2
import yaml

from peacewatch.config import config_path, load_yaml

HERE = Path(__file__).resolve().parent
STORIES_DIR = HERE / "stories"
GOLD_PATH = HERE / "gold" / "articles.jsonl"
DEFAULT_BASE_URL = "http://127.0.0.1:8765"

PERIOD_START = datetime(2025, 2, 15, tzinfo=timezone.utc)
PERIOD_END = datetime(2025, 6, 1, tzinfo=timezone.utc)  # exclusive
EDITION_1_END = datetime(2025, 5, 30, tzinfo=timezone.utc)  # exclusive: edition 1 stops at 2025-05-29T23:59Z
WIRE_OUTLET = "baltic_wire"
# Edition 2 updates one wire story in place; the update lands after edition 1 was cut.
UPDATE_AT = datetime(2025, 5, 30, 9, 15, tzinfo=timezone.utc)
UPDATE_PARAGRAPH = "This story was updated on 30 May with additional background on the negotiating calendar."
LANGUAGES = ("en", "ru", "uk")
HUGE_PAGE_BYTES = 6 * 1024 * 1024

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rss1": "http://purl.org/rss/1.0/",
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}
for _prefix in ("atom", "dc", "rdf", "news"):
    ET.register_namespace(_prefix, NS[_prefix])

# libyaml's loader parses the ~0.5 MB of stories ten times faster than the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
RU_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
             "октября", "ноября", "декабря")
UK_MONTHS = ("січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня", "вересня",
             "жовтня", "листопада", "грудня")


@dataclass(frozen=True)
class Article:
    """One page of the newsroom that is a gold article."""

    article_id: str
    outlet: str
    path: str
    story_id: str
    language: str
    headline: str
    authors: list[str]
    published_at: datetime
    updated_at: datetime | None
    paragraphs: list[str]
    topics: list[str]
    claims: list[dict[str, str]]
    syndicated: bool = False  # a re-published agency copy (pages credit the wire)

    @property
    def body(self) -> str:
        """The gold clean text: what a perfect extractor returns (no headline, no byline)."""
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True)
class Response:
    """A prebuilt answer of the newsroom server."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    slow: bool = False  # the server waits its `slow_seconds` before answering


@dataclass(frozen=True)
class _Entry:
    """A link in a feed, sitemap or listing: an article or a broken case."""

    path: str
    title: str
    published: datetime
    updated: datetime | None
    authors: list[str]
    summary: str
    topics: list[str]

    @property
    def modified(self) -> datetime:
        return self.updated or self.published


# ---------------------------------------------------------------------------------------------------
# Stories


def load_outlets() -> list[dict[str, Any]]:
    """The outlet definitions of outlets.yaml, in file order."""
    return yaml.safe_load((HERE / "outlets.yaml").read_text(encoding="utf-8"))


def load_stories(stories_dir: Path = STORIES_DIR) -> list[dict[str, Any]]:
    """Read and validate every stories/*.yaml; returns normalised stories sorted by (published, id)."""
    codebook = load_yaml(config_path("codebook"))
    outlets = {o["id"]: o for o in load_outlets()}
    stories: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for path in sorted(Path(stories_dir).glob("*.yaml")):
        try:
            docs = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or []
        except yaml.YAMLError as exc:
            raise ValueError(f"{path.name}: invalid YAML: {exc}") from exc
        if not isinstance(docs, list):
            raise ValueError(f"{path.name}: expected a YAML list of stories")
        for index, raw in enumerate(docs):
            story = _validate_story(raw, path.name, index, codebook, outlets)
            if story["id"] in seen:
                raise ValueError(f"{path.name}: story {story['id']}: id: duplicate (also in {seen[story['id']]})")
            seen[story["id"]] = path.name
            stories.append(story)
    return sorted(stories, key=lambda s: (s["published"], s["id"]))


def _validate_story(raw: Any, file: str, index: int, codebook: dict, outlets: dict) -> dict[str, Any]:
    """Check one story against the README schema and the codebook; return it normalised."""
    name = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"#{index + 1}"

    def fail(field_name: str, problem: str) -> NoReturn:
        raise ValueError(f"{file}: story {name}: {field_name}: {problem}")

    if not isinstance(raw, dict):
        fail("story", "expected a mapping")
    if not isinstance(raw.get("id"), str) or not raw["id"].strip():
        fail("id", "missing")
    published = _parse_time(raw.get("published"))
    if published is None:
        fail("published", f"not a timestamp: {raw.get('published')!r}")
    if not PERIOD_START <= published < PERIOD_END:
        fail("published", f"{published.isoformat()} is outside 2025-02-15..2025-05-31")
    language = raw.get("language")
    if language not in LANGUAGES:
        fail("language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
    wire = raw.get("wire")
    if not isinstance(wire, bool):
        fail("wire", "must be true or false")
    outlet = raw.get("outlet")
    if wire:
        if outlet not in (None, WIRE_OUTLET):
            fail("outlet", "must be null for a wire story")
        if language != "en":
            fail("language", "wire stories are syndicated to English outlets and must be en")
    elif outlet not in outlets:
        fail("outlet", f"unknown outlet {outlet!r}")
    elif outlets[outlet]["language"] != language:
        fail("language", f"{language!r} does not match outlet {outlet} ({outlets[outlet]['language']})")
    byline = raw.get("byline")
    authors = [byline] if isinstance(byline, str) else byline
    if not isinstance(authors, list) or not authors or not all(isinstance(a, str) and a.strip() for a in authors):
        fail("byline", "missing")
    for key in ("headline", "alt_headline"):
        value = raw.get(key)
        if (key == "headline" or value is not None) and not (isinstance(value, str) and value.strip()):
            fail(key, "must be a non-empty string")
    topics = raw.get("topics")
    if not isinstance(topics, list) or not 1 <= len(topics) <= 3:
        fail("topics", "must list 1-3 topic ids")
    for topic in topics:
        if not isinstance(topic, str) or topic not in codebook["topics"]:
            fail("topics", f"unknown topic {topic!r}")
    paragraphs = raw.get("paragraphs")
    if not isinstance(paragraphs, list) or not paragraphs:
        fail("paragraphs", "must be a non-empty list")
    normalised = []
    stances: dict[tuple[str, str], str] = {}
    for number, paragraph in enumerate(paragraphs, start=1):
        where = f"paragraphs[{number}]"
        if isinstance(paragraph, str):
            paragraph = {"text": paragraph}
        text = paragraph.get("text") if isinstance(paragraph, dict) else None
        if not isinstance(text, str) or not text.strip():
            fail(where, "needs non-empty text")
        claims = paragraph.get("claims") or []
        for claim in claims:
            if not isinstance(claim, dict):
                fail(f"{where}.claims", "each claim must be a mapping")
            for key, known in (("actor", codebook["actors"]), ("position", codebook["positions"]),
                               ("stance", codebook["stances"])):
                if not isinstance(claim.get(key), str) or claim[key] not in known:
                    fail(f"{where}.claims.{key}", f"unknown {key} {claim.get(key)!r}")
            evidence = claim.get("evidence")
            if not isinstance(evidence, str) or not evidence.strip() or evidence not in text:
                fail(f"{where}.claims.evidence", f"not a substring of the paragraph: {evidence!r}")
            pair = (claim["actor"], claim["position"])
            if stances.setdefault(pair, claim["stance"]) != claim["stance"]:
                fail(f"{where}.claims", f"two stances for {pair[0]}/{pair[1]} in one story")
        normalised.append({
            "text": text,
            "claims": [{k: c[k] for k in ("actor", "position", "stance", "evidence")} for c in claims],
        })
    return {
        "id": raw["id"], "published": published, "language": language, "wire": wire,
        "outlet": WIRE_OUTLET if wire else outlet, "authors": list(authors), "headline": raw["headline"],
        "alt_headline": raw.get("alt_headline"), "topics": list(topics), "paragraphs": normalised,
    }


def _parse_time(value: Any) -> datetime | None:
    """A story timestamp as aware UTC; naive values are taken as UTC (the schema says UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# ---------------------------------------------------------------------------------------------------
# Articles


def _hash(*parts: str) -> int:
    """A stable integer from strings: the newsroom's only source of 'randomness'."""
    return int(hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:12], 16)


def _slugify(text: str, max_len: int = 72) -> str:
    """ASCII URL slug of at most `max_len` characters, cut at a word boundary."""
    ascii_text = unicodedata.normalize("NFKD", text.replace("'", "").replace("\u2019", ""))
    words = re.findall(r"[a-z0-9]+", ascii_text.encode("ascii", "ignore").decode().lower())
    slug = ""
    for word in words:
        if slug and len(slug) + 1 + len(word) > max_len:
            break
        slug = f"{slug}-{word}" if slug else word[:max_len]
    return slug or "story"


def _syndication(story: dict[str, Any], outlet_ids: list[str]) -> list[dict[str, Any]]:
    """The 2-4 re-publishers of a wire story and each copy's edits, all derived from the story id."""
    count = 2 + _hash(story["id"], "copies") % 3
    chosen = sorted(outlet_ids, key=lambda o: _hash(story["id"], o))[:count]
    copies = []
    for outlet in sorted(chosen):
        h = _hash(story["id"], outlet, "edits")
        copies.append({
            "outlet": outlet,
            "alt_headline": bool(story["alt_headline"]) and h % 2 == 0,
            "drop_last": len(story["paragraphs"]) > 2 and (h >> 1) % 3 == 0,
            "delay": timedelta(minutes=7 + (h >> 3) % 350),
        })
    return copies


def build_articles(edition: int = 2, stories: list[dict[str, Any]] | None = None) -> list[Article]:
    """All gold articles of an edition, sorted by article_id."""
    if edition not in (1, 2):
        raise ValueError(f"edition must be 1 or 2, not {edition!r}")
    stories = load_stories() if stories is None else stories
    outlets = {o["id"]: o for o in load_outlets()}
    republishers = [o for o, d in outlets.items() if d["language"] == "en" and o != WIRE_OUTLET]
    articles = []
    for story in stories:
        articles.append(_article(story, story["outlet"], story["headline"], story["paragraphs"],
                                 story["published"], syndicated=False))
        if story["wire"]:
            for copy in _syndication(story, republishers):
                paragraphs = story["paragraphs"][:-1] if copy["drop_last"] else story["paragraphs"]
                headline = story["alt_headline"] if copy["alt_headline"] else story["headline"]
                # Keep copies inside the newsroom's period even for a story filed late on 31 May.
                published = min(story["published"] + copy["delay"], PERIOD_END - timedelta(minutes=1))
                articles.append(_article(story, copy["outlet"], headline, paragraphs, published, syndicated=True))
    if edition == 1:
        articles = [a for a in articles if a.published_at < EDITION_1_END]
    updated = _updated_article_id(stories)
    if edition == 2 and updated:
        articles = [replace(a, updated_at=UPDATE_AT, paragraphs=[*a.paragraphs, UPDATE_PARAGRAPH])
                    if a.article_id == updated else a for a in articles]
    return _assign_paths(sorted(articles, key=lambda a: a.article_id), outlets)


def _updated_article_id(stories: list[dict[str, Any]]) -> str | None:
    """The article edition 2 updates in place: the baltic_wire copy of the newest wire story of edition 1."""
    wire = [s for s in stories if s["wire"] and s["published"] < EDITION_1_END]
    return f"{WIRE_OUTLET}:{max(wire, key=lambda s: (s['published'], s['id']))['id']}" if wire else None


def _article(story: dict[str, Any], outlet: str, headline: str, paragraphs: list[dict[str, Any]],
             published: datetime, syndicated: bool) -> Article:
    """An article from the paragraphs an outlet kept; a dropped paragraph drops its claims."""
    claims: list[dict[str, str]] = []
    for paragraph in paragraphs:
        for claim in paragraph["claims"]:
            if claim not in claims:
                claims.append(claim)
    return Article(
        article_id=f"{outlet}:{story['id']}", outlet=outlet, path="", story_id=story["id"],
        language=story["language"], headline=headline, authors=list(story["authors"]),
        published_at=published, updated_at=None, paragraphs=[p["text"] for p in paragraphs],
        topics=list(story["topics"]), claims=claims, syndicated=syndicated,
    )


def _assign_paths(articles: list[Article], outlets: dict[str, dict[str, Any]]) -> list[Article]:
    """Give each article its URL path from the outlet's layout; numbers and slugs stay unique per outlet."""
    taken: set[str] = {f"{o['prefix']}/{b['path']}" for o in outlets.values() for b in o.get("broken", [])}
    numbers: set[tuple[str, int]] = set()
    result = []
    for article in articles:
        outlet = outlets[article.outlet]
        number = 100000 + _hash(article.article_id, "number") % 900000
        while (article.outlet, number) in numbers:
            number += 1
        numbers.add((article.outlet, number))
        # English slugs follow the headline; Cyrillic headlines get the story id's Latin name.
        base = article.headline if article.language == "en" else re.sub(r"^\d{4}-\d{2}-\d{2}-", "", article.story_id)
        local = article.published_at.astimezone(ZoneInfo(outlet["timezone"]))
        slug, suffix = _slugify(base), 1
        while True:
            path = outlet["prefix"] + "/" + outlet["article_path"].format(
                yyyy=f"{local.year:04d}", mm=f"{local.month:02d}", dd=f"{local.day:02d}",
                slug=slug if suffix == 1 else f"{slug}-{suffix}", n=number)
            if path not in taken:
                break
            suffix += 1
        taken.add(path)
        result.append(replace(article, path=path))
    return result


# ---------------------------------------------------------------------------------------------------
# Gold


def gold_records(articles: list[Article]) -> list[dict[str, Any]]:
    """The gold rows of articles.jsonl, sorted by article_id."""
    return [
        {
            "article_id": a.article_id, "outlet": a.outlet, "url_path": a.path, "story_id": a.story_id,
            "language": a.language, "headline": a.headline, "authors": a.authors,
            "published_at": _iso_z(a.published_at), "updated_at": _iso_z(a.updated_at) if a.updated_at else None,
            "topics": a.topics, "claims": a.claims, "body": a.body,
        }
        for a in sorted(articles, key=lambda a: a.article_id)
    ]


def gold_jsonl(articles: list[Article]) -> str:
    """The exact text of gold/articles.jsonl for these articles."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in gold_records(articles))


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------------
# Site


def build_site(edition: int = 2, base_url: str = DEFAULT_BASE_URL,
               stories: list[dict[str, Any]] | None = None) -> dict[str, Response]:
    """Every static route of the newsroom: path (with query, if any) -> prebuilt response."""
    base_url = base_url.rstrip("/")
    articles = build_articles(edition, stories)
    outlets = load_outlets()
    routes: dict[str, Response] = {
        "/robots.txt": _response(200, "text/plain; charset=utf-8",
                                 b"User-agent: *\nDisallow: /geneva-monitor/drafts/\n"),
        "/": _html(_ENV.get_template("index.html").render(outlets=outlets, base_url=base_url)),
    }
    for outlet in outlets:
        own = sorted((a for a in articles if a.outlet == outlet["id"]),
                     key=lambda a: (a.published_at, a.article_id), reverse=True)
        routes.update(_outlet_routes(outlet, own, base_url))
    return routes


def _outlet_routes(outlet: dict[str, Any], articles: list[Article], base_url: str) -> dict[str, Response]:
    """Homepage, article pages, discovery documents and broken cases of one outlet (articles newest first)."""
    prefix = outlet["prefix"]
    routes: dict[str, Response] = {}
    quirks = set(outlet.get("quirks", []))
    oldest = min(articles, key=lambda a: (a.published_at, a.article_id)) if articles else None
    for index, article in enumerate(articles):
        # Related links: the next older stories, topped up with newer ones for the oldest pages.
        neighbours = (articles[index + 1:] + articles[:index][::-1])[:3]
        page = _render_article(outlet, article, neighbours, base_url,
                               malformed="malformed_html" in quirks and article is oldest)
        charset = "iso-8859-1" if "wrong_charset" in quirks and article is oldest else "utf-8"
        routes[article.path] = _response(200, f"text/html; charset={charset}", page.encode("utf-8"),
                                         article.updated_at or article.published_at)
    entries = [_article_entry(a) for a in articles]
    broken = outlet.get("broken", [])
    for case in broken:
        routes.update(_broken_routes(outlet, case, base_url))
    newest = max((e.modified for e in entries), default=None)
    routes[prefix + "/"] = _html(_ENV.get_template("listing.html").render(
        outlet=outlet, title=outlet["name"], entries=entries[:15], base_url=base_url, url=f"{base_url}{prefix}/",
        feeds=[_feed_link(d, prefix, base_url) for d in outlet["discovery"] if d["kind"] in _ADVERTISED],
        prev_url=None, next_url=None), newest)
    for discovery in outlet["discovery"]:
        linked = [_broken_entry(outlet, c) for c in broken
                  if discovery["kind"] in c.get("linked_from", [discovery["kind"]])]
        all_entries = sorted(entries + linked, key=lambda e: (e.published, e.path), reverse=True)
        routes.update(_DISCOVERY[discovery["kind"]](outlet, discovery, all_entries, base_url))
    return routes


def _render_article(outlet: dict[str, Any], article: Article, related: list[Article], base_url: str,
                    malformed: bool) -> str:
    """One article page in its outlet's own template."""
    url = base_url + article.path
    published = _stamp(article.published_at, outlet)
    updated = _stamp(article.updated_at, outlet) if article.updated_at else None
    json_ld = {
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": article.headline,
        "datePublished": published["local"], "dateModified": (updated or published)["local"],
        "author": [{"@type": "Person", "name": name} for name in article.authors],
        "publisher": {"@type": "Organization", "name": outlet["name"]},
        "mainEntityOfPage": url, "inLanguage": article.language,
    }
    seed = _hash(article.article_id, "page")
    return _ENV.get_template(outlet["template"]).render(
        outlet=outlet, article=article, url=url, home_url=f"{base_url}{outlet['prefix']}/",
        published=published, updated=updated, json_ld=json_ld, summary=_summary(article.paragraphs[0]),
        related=[{"title": r.headline, "url": base_url + r.path} for r in related], seed=seed,
        machine_date=not ("date_in_url_only" in outlet.get("quirks", []) and seed % 4 == 0),
        malformed=malformed,
    )


def _stamp(moment: datetime, outlet: dict[str, Any]) -> dict[str, str]:
    """A moment in the forms the templates and feeds print, in the outlet's local time."""
    local = moment.astimezone(ZoneInfo(outlet["timezone"]))
    return {"utc": _iso_z(moment), "local": local.isoformat(), "text": _date_text(local, outlet["date_style"]),
            "rfc822": format_datetime(local)}


def _date_text(local: datetime, style: str) -> str:
    """Human-readable date line in the outlet's house style."""
    if style == "en_us":
        hour = local.hour % 12 or 12
        return (f"{EN_MONTHS[local.month - 1]} {local.day}, {local.year} at {hour}:{local.minute:02d} "
                f"{'AM' if local.hour < 12 else 'PM'} {local.tzname()}")
    if style in ("ru", "uk"):
        months = RU_MONTHS if style == "ru" else UK_MONTHS
        return f"{local.day} {months[local.month - 1]} {local.year}, {local:%H:%M}"
    return f"{local.day} {EN_MONTHS[local.month - 1]} {local.year}, {local:%H:%M} {local.tzname()}"


def _summary(text: str, limit: int = 240) -> str:
    """A feed/teaser summary: the first paragraph, cut at a word boundary."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "\u2026"


def _article_entry(article: Article) -> _Entry:
    return _Entry(article.path, article.headline, article.published_at, article.updated_at, article.authors,
                  _summary(article.paragraphs[0]), article.topics)


def _broken_entry(outlet: dict[str, Any], case: dict[str, Any]) -> _Entry:
    return _Entry(f"{outlet['prefix']}/{case['path']}", case["headline"], _parse_time(case["published"]), None,
                  [outlet["name"]], "", [])


def _response(status: int, content_type: str, body: bytes, modified: datetime | None = None,
              headers: dict[str, str] | None = None) -> Response:
    """A response; 200s carry an ETag (and Last-Modified when dated) for conditional GETs."""
    headers = dict(headers or {})
    if status == 200:
        headers["ETag"] = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        if modified is not None:
            headers["Last-Modified"] = format_datetime(modified.astimezone(timezone.utc), usegmt=True)
    return Response(status, content_type, body, headers)


def _html(text: str, modified: datetime | None = None) -> Response:
    return _response(200, "text/html; charset=utf-8", text.encode("utf-8"), modified)


# ---------------------------------------------------------------------------------------------------
# Broken cases


def _broken_routes(outlet: dict[str, Any], case: dict[str, Any], base_url: str) -> dict[str, Response]:
    """The routes of one broken case (a redirect loop has two)."""
    path = f"{outlet['prefix']}/{case['path']}"
    kind = case["kind"]

    def notice(title: str, paragraphs: list[str]) -> str:
        return _ENV.get_template("notice.html").render(outlet=outlet, title=title, paragraphs=paragraphs,
                                                       url=base_url + path, noindex=kind == "robots_disallowed")

    if kind == "not_found":
        return {path: _response(404, "text/html; charset=utf-8",
                                notice("Page not found", ["This story is no longer available."]).encode())}
    if kind == "server_error":
        return {path: _response(500, "text/html; charset=utf-8",
                                notice("Server error", ["Something went wrong. Please try again later."]).encode())}
    if kind == "pdf":
        return {path: _response(200, "application/pdf", _pdf_bytes(case["headline"]))}
    if kind == "empty_body":
        empty = (f'<!doctype html>\n<html lang="{outlet["language"]}"><head><meta charset="utf-8"><title>'
                 f'{escape(case["headline"])}</title><link rel="canonical" href="{base_url}{path}"></head>'
                 '<body></body></html>\n')
        return {path: _html(empty)}
    if kind == "huge":
        return {path: _html(_huge_page(notice(case["headline"], ["Entries archived from the live blog."])))}
    if kind == "redirect_loop":
        target = f"{outlet['prefix']}/{case['target']}"
        return {
            path: _response(302, "text/html; charset=utf-8", b"", headers={"Location": base_url + target}),
            target: _response(302, "text/html; charset=utf-8", b"", headers={"Location": base_url + path}),
        }
    if kind == "slow":
        return {path: replace(_html(notice(case["headline"], ["Live coverage has ended."])), slow=True)}
    if kind == "robots_disallowed":
        return {path: _html(notice(case["headline"], ["Internal draft. Not for publication or citation."]))}
    raise ValueError(f"outlets.yaml: outlet {outlet['id']}: broken.kind: unknown kind {kind!r}")


def _huge_page(shell: str) -> str:
    """A page just over HUGE_PAGE_BYTES: the notice shell with thousands of archived live-blog entries."""
    entry = ('<div class="live-entry"><span class="live-entry__time">{n:05d}</span><p>Archived live update '
             'number {n}: the blog has moved, and this entry is kept only for the record.</p></div>\n')
    parts, size, n = [], len(shell), 0
    while size < HUGE_PAGE_BYTES:
        n += 1
        parts.append(entry.format(n=n))
        size += len(parts[-1])
    return shell.replace("</main>", "".join(parts) + "</main>", 1)


def _pdf_bytes(title: str) -> bytes:
    """A tiny one-page PDF: binary bytes where a crawler expects HTML."""
    text = re.sub(r"[^A-Za-z0-9 :,.-]", "", title)
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
            b"1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
            b"2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n"
            b"3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R>> endobj\n"
            b"4 0 obj <</Length " + str(len(stream)).encode() + b">> stream\n" + stream + b"\nendstream endobj\n"
            b"trailer <</Root 1 0 R>>\n%%EOF\n")


# ---------------------------------------------------------------------------------------------------
# Feeds, sitemaps, listings


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append a child element (tags may be 'prefix:name' from NS)."""
    child = ET.SubElement(parent, _qname(tag), {_qname(k): v for k, v in attrs.items()})
    child.text = text
    return child


def _qname(tag: str) -> str:
    prefix, _, local = tag.rpartition(":")
    return f"{{{NS[prefix]}}}{local}" if prefix else tag


def _xml(root: ET.Element, default_ns: str | None = None) -> bytes:
    """Serialise a document; the default namespace is a plain xmlns attribute on the root because
    ElementTree's default_namespace option rejects the unqualified attributes Atom and sitemaps use."""
    if default_ns:
        root.set("xmlns", default_ns)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _feed_response(kind: str, body: bytes, entries: list[_Entry]) -> Response:
    return _response(200, _FEED_TYPES.get(kind, "application/xml") + "; charset=utf-8", body,
                     max((e.modified for e in entries), default=None))


def _feed_link(discovery: dict[str, Any], prefix: str, base_url: str) -> dict[str, str]:
    return {"type": _FEED_TYPES[discovery["kind"]], "href": f"{base_url}{prefix}/{discovery['path']}"}


def _rss2(outlet: dict[str, Any], discovery: dict[str, Any], entries: list[_Entry], base_url: str) -> bytes:
    """RSS 2.0 with dc:creator authors; updated items also carry atom:updated."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _el(rss, "channel")
    _el(channel, "title", outlet["name"])
    _el(channel, "link", f"{base_url}{outlet['prefix']}/")
    _el(channel, "description", f"Latest news from {outlet['name']}")
    _el(channel, "language", outlet["language"])
    if entries:
        _el(channel, "lastBuildDate", _stamp(max(e.modified for e in entries), outlet)["rfc822"])
    _el(channel, "atom:link", href=f"{base_url}{outlet['prefix']}/{discovery['path']}", rel="self",
        type="application/rss+xml")
    for entry in entries:
        item = _el(channel, "item")
        _el(item, "title", entry.title)
        _el(item, "link", base_url + entry.path + discovery.get("link_suffix", ""))
        _el(item, "guid", base_url + entry.path, isPermaLink="true")
        _el(item, "description", entry.summary)
        for author in entry.authors:
            _el(item, "dc:creator", author)
        for topic in entry.topics:
            _el(item, "category", topic)
        _el(item, "pubDate", _stamp(entry.published, outlet)["rfc822"])
        if entry.updated:
            _el(item, "atom:updated", _stamp(entry.updated, outlet)["local"])
    return _xml(rss)


def _rss2_route(outlet: dict[str, Any], discovery: dict[str, Any], entries: list[_Entry],
                base_url: str) -> dict[str, Response]:
    body = _rss2(outlet, discovery, entries, base_url)
    return {f"{outlet['prefix']}/{discovery['path']}": _feed_response("rss2", body, entries)}


def _rss2_broken_route(outlet: dict[str, Any], discovery: dict[str, Any], entries: list[_Entry],
                       base_url: str) -> dict[str, Response]:
    """The outlet's RSS with a raw '&' in the second title, cut off in the middle of the third item."""
    text = _rss2(outlet, discovery, entries, base_url).decode("utf-8")
    items = [m.start() for m in re.finditer(r"<item>", text)]
    if len(items) >= 2:
        title_end = text.index("</title>", items[1])
        text = text[:title_end] + " & " + outlet["name"] + text[title_end:]
    cut = items[2] + 60 if len(items) >= 3 else len(text) // 2
    return {f"{outlet['prefix']}/{discovery['path']}": _feed_response("rss2", text[:cut].encode("utf-8"), entries)}


def _atom_route(outlet: dict[str, Any], discovery: dict[str, Any], entries: list[_Entry],
                base_url: str) -> dict[str, Response]:
    feed_url = f"{base_url}{outlet['prefix']}/{discovery['path']}"
    feed = ET.Element("feed", {"{http://www.w3.org/XML/1998/namespace}lang": outlet["language"]})
    _el(feed, "id", feed_url)
    _el(feed, "title", outlet["name"])
    _el(feed, "updated", _stamp(max((e.modified for e in entries), default=PERIOD_START), outlet)["local"])
    _el(feed, "link", href=feed_url, rel="self", type="application/atom+xml")
    _el(feed, "link", href=f"{base_url}{outlet['prefix']}/", rel="alternate", type="text/html")
    for entry in entries:
        node = _el(feed, "entry")
        _el(node, "id", base_url + entry.path)
        _el(node, "title", entry.title)
        _el(node, "link", href=base_url + entry.path, rel="alternate", type="text/html")
        _el(node, "published", _stamp(entry.published, outlet)["local"])
        _el(node, "updated", _stamp(entry.modified, outlet)["local"])
        for author in entry.authors:
            _el(_el(node, "author"), "name", author)
        _el(node, "summary", entry.summary, type="text")
        for topic in entry.topics:
            _el(node, "category", term=topic)
    return {f"{outlet['prefix']}/{discovery['path']}": _feed_response("atom", _xml(feed, NS["atom"]), entries)}


def _rdf_route(outlet: dict[str, Any], discovery: dict[str, Any], entries: list[_Entry],
               base_url: str) -> dict[str, Response]:
    """RSS 1.0: a channel with an rdf:Seq of item URLs, then the items with dc:creator and dc:date."""
    feed_url = f"{base_url}{outlet['prefix']}/{discovery['path']}"
    root = ET.Element(_qname("rdf:RDF"))
    channel = _el(root, "channel", **{"rdf:about": feed_url})
    _el(channel, "title", outlet["name"])
    _el(channel, "link", f"{base_url}{outlet['prefix']}/")
    _el(channel, "description", f"Analysis from {outlet['name']}")
    seq = _el(_el(channel, "items"), "rdf:Seq")
    for entry in entries:
        _el(seq, "rdf:li", **{"rdf:resource": base_url + entry.path})
    for entry in entries:
        item = _el(root, "item", **{"rdf:about": base_url + entry.path})
        _el(item, "title", entry.title)
        _el(item, "link", base_url + entry.path)
        _el(item, "description", entry.summary)
        for author in entry.authors:
            _el(item, "dc:creator", author)
        _el(item, "dc:date", _stamp(entry.published, outlet)["local"])
        _el(item, "dc:language", outlet["language"])
    return {f"{outlet['prefix']}/{discovery['path']}": _feed_response("rdf", _xml(root, NS["rss1"]), entries)}


def _news_sitemap_route(outlet: dict[str, Any], discovery: dict[str, Any], entries: list[_Entry],
                        base_url: str) -> dict[str, Response]:
    """A Google News sitemap listing every URL with publication name, date, title and language."""
    urlset = ET.Element("urlset")
    for entry in entries:
        url = _el(urlset, "url")
        _el(url, "loc", base_url + entry.path)
        news = _el(url, "news:news")
        publication = _el(news, "news:publication")
        _el(publication, "news:name", outlet["name"])
        _el(publication, "news:language", outlet["language"])
        _el(news, "news:publication_date", _stamp(entry.published, outlet)["local"])
        _el(news, "news:title", entry.title)
    return {f"{outlet['prefix']}/{discovery['path']}": _feed_response("sitemap", _xml(urlset, NS["sm"]), entries)}


def _sitemap_index_routes(outlet: dict[str, Any], discovery: dict[str, Any], entries: list[_Entry],
                          base_url: str) -> dict[str, Response]:
    """A sitemap index pointing at one urlset per month (by local publication month), newest first."""
    months: dict[str, list[_Entry]] = {}
    for entry in entries:
        local = entry.published.astimezone(ZoneInfo(outlet["timezone"]))
        months.setdefault(f"{local:%Y-%m}", []).append(entry)
    routes = {}
    index = ET.Element("sitemapindex")
    for month, month_entries in sorted(months.items(), reverse=True):
        path = f"{outlet['prefix']}/sitemap-{month}.xml"
        urlset = ET.Element("urlset")
        for entry in month_entries:
            url = _el(urlset, "url")
            _el(url, "loc", base_url + entry.path)
            _el(url, "lastmod", _stamp(entry.modified, outlet)["local"])
        routes[path] = _feed_response("sitemap", _xml(urlset, NS["sm"]), month_entries)
        sitemap = _el(index, "sitemap")
        _el(sitemap, "loc", base_url + path)
        _el(sitemap, "lastmod", _stamp(max(e.modified for e in month_entries), outlet)["local"])
    routes[f"{outlet['prefix']}/{discovery['path']}"] = _feed_response("sitemap", _xml(index, NS["sm"]), entries)
    return routes


def _listing_routes(outlet: dict[str, Any], discovery: dict[str, Any], entries: list[_Entry],
                    base_url: str) -> dict[str, Response]:
    """Paginated HTML listing; every page links the next one with rel="next"."""
    per_page = discovery["per_page"]
    pages = [entries[i:i + per_page] for i in range(0, len(entries), per_page)] or [[]]

    def page_path(number: int) -> str:
        tail = discovery["path"] if number == 1 else discovery["page_path"].format(n=number)
        return f"{outlet['prefix']}/{tail}"

    routes = {}
    for number, page in enumerate(pages, start=1):
        html = _ENV.get_template("listing.html").render(
            outlet=outlet, title=f"{outlet['name']}: latest" + (f" (page {number})" if number > 1 else ""),
            entries=page, base_url=base_url, url=base_url + page_path(number), feeds=[],
            prev_url=base_url + page_path(number - 1) if number > 1 else None,
            next_url=base_url + page_path(number + 1) if number < len(pages) else None)
        routes[page_path(number)] = _html(html, max((e.modified for e in page), default=None))
    return routes


_ADVERTISED = ("rss2", "atom", "rdf")  # feeds a homepage links with rel="alternate" (not the broken one)
_FEED_TYPES = {"rss2": "application/rss+xml", "atom": "application/atom+xml",
               "rdf": "application/rdf+xml", "sitemap": "application/xml"}
_DISCOVERY = {"rss2": _rss2_route, "rss2_broken": _rss2_broken_route, "atom": _atom_route, "rdf": _rdf_route,
              "news_sitemap": _news_sitemap_route, "sitemap_index": _sitemap_index_routes, "listing": _listing_routes}


def main(argv: list[str] | None = None) -> int:
    """Validate the stories and print article counts; `--write-gold` also rewrites gold/articles.jsonl."""
    parser = argparse.ArgumentParser(prog="python -m peacewatch.newsroom.site", description=main.__doc__)
    parser.add_argument("--write-gold", action="store_true", help=f"write {GOLD_PATH.relative_to(HERE)}")
    args = parser.parse_args(argv)
    articles = build_articles(2)
    for outlet, count in sorted(Counter(a.outlet for a in articles).items()):
        print(f"{outlet:20} {count}")
    print(f"{'total':20} {len(articles)}")
    if args.write_gold:
        GOLD_PATH.parent.mkdir(parents=True, exist_ok=True)
        GOLD_PATH.write_text(gold_jsonl(articles), encoding="utf-8")
        print(f"wrote {GOLD_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
