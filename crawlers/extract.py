"""Article extraction from raw HTML: text, title, authors, dates, language and canonical URL.

`extract_article` is a pure function of the page bytes and what the crawler knows about the page (HTTP
charset, per-source CSS selectors, feed/sitemap hints); it never touches the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import py3langid
import trafilatura
from charset_normalizer import from_bytes
from parsel import Selector
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

from peacewatch.crawlers.urls import canonicalize_url

if TYPE_CHECKING:
    from peacewatch.crawlers.sources import Selectors

# Shortest body (after extraction) that py3langid is trusted on; below it <html lang> decides.
MIN_LANGID_CHARS = 40
# Language detection reads at most this much of the body: on fundus-dev and the newsroom gold, 300, 600,
# 2000 characters and whole bodies gave the same answers, at a third of the cost for 600 vs 2000.
LANGID_SAMPLE_CHARS = 600
# A paragraph this long found anywhere in the main container's text counts as inside it (trim_to_container);
# chosen on the "tune" half of aeb-dev with the newsroom gold kept exact (40 beat 100 and whole-<p> only).
INSIDE_MATCH_CHARS = 40
ARTICLE_TYPES = {
    "newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "backgroundnewsarticle", "reviewnewsarticle", "blogposting", "report", "liveblogposting",
}
# Full-width "：" and "｜" are how Japanese and Chinese sites append their name.
TITLE_SEPARATORS = (" | ", " – ", " — ", " - ", " · ", " :: ", " // ", "｜", "：")
_MULTIBYTE_CODECS = ("utf", "gb", "big5", "shift_jis", "euc", "iso2022", "cp932", "cp949", "cp950", "hz")
_URL_DATE = re.compile(r"/(20\d{2}|19\d{2})[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?:/|[-_]|$)")
_BYLINE_PREFIX = re.compile(r"^\s*(by|from|author|authors|von|par|автор|авторы|автори|від)\s*[:\-–]?\s+", re.I)
_AUTHOR_SPLIT = re.compile(
    r"\s*(?:,|;|&|\b(?:and|und|et|y|e|og|och|ve|и|і|та)\b)\s*", re.I)
# Not a byline: an e-mail address or handle, a URL, a URL slug ("sophie-foster"). An outlet's own name or
# domain stays: it is how many sites sign desk copy (and how the fundus ground truth records it).
_NOT_A_NAME = re.compile(r"@|://|^[a-z]+(?:-[a-z]+)+$")
# Desk initials after a name: "Elena Oberholzer (obe)".
_INITIALS_SUFFIX = re.compile(r"\s*\([a-z]{1,5}\)$")
_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "og:published_time", "datepublished",
    "date", "dc.date", "dc.date.issued", "dc.date.created", "dcterms.issued", "dcterms.created",
    "dcterms.date", "pubdate", "publishdate", "publish-date", "publish_date", "published_time",
    "sailthru.date", "parsely-pub-date", "citation_publication_date", "article.published",
)
_UPDATED_META = (
    "article:modified_time", "og:article:modified_time", "og:updated_time", "datemodified",
    "dcterms.modified", "dc.date.modified", "last-modified", "lastmod", "article.updated",
)
_AUTHOR_META = ("author", "article:author", "og:article:author", "parsely-author", "sailthru.author",
                "dc.creator", "dcterms.creator", "byl")
_BYLINE_CSS = (
    "[itemprop=author] [itemprop=name]", "[itemprop=author]", "[rel=author]", ".byline .author",
    ".byline__name", ".byline", ".author-name", ".author-line", ".article-author", ".author",
)
# A byline line: "By X", "Author: X", "Автор: X" in a short element of the page.
_BYLINE_TEXT = re.compile(r"^\s*(by|author|authors|автор|автори|авторы)\b\s*:?\s+\S", re.I)


@dataclass(frozen=True)
class Extracted:
    """What extraction recovers from one article page."""

    title: str
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    updated_at: datetime | None = None
    language: str | None = None
    canonical_url: str = ""
    body: str = ""
    # Fields whose per-source CSS selector matched nothing on the page (a sign the layout changed);
    # generic extraction filled them in.
    missed_selectors: tuple[str, ...] = ()


# --- decoding ----------------------------------------------------------------------------------------


def _codec(label: str | None) -> str | None:
    return resolve_encoding(label) if label else None


def _is_multibyte(codec: str) -> bool:
    return codec.replace("-", "").replace("_", "").startswith(_MULTIBYTE_CODECS)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _utf8_with_non_ascii(data: bytes) -> str | None:
    """The UTF-8 text of `data` if it is valid UTF-8 and not plain ASCII (a strong signal of UTF-8)."""
    if data.isascii():
        return None
    return _strict(data, "utf-8")


def decode_html(html: bytes, headers_charset: str | None = None) -> str:
    """Decode a page: BOM, then the HTTP charset unless its decoding is implausible, then <meta charset>,
    then detection.

    A single-byte HTTP charset (e.g. iso-8859-1) on a body that is valid UTF-8 with non-ASCII bytes is
    implausible: such bytes almost never form valid UTF-8 by accident, so the page is UTF-8 (mislabelled).
    """
    bom_codec, bom = read_bom(html)
    if bom_codec:
        return html[len(bom):].decode(bom_codec, errors="replace")
    header = _codec(headers_charset)
    declared = _codec(html_body_declared_encoding(html))
    utf8_text = _utf8_with_non_ascii(html)
    for codec in dict.fromkeys(c for c in (header, declared) if c):
        if utf8_text is not None and not _is_multibyte(codec):
            return utf8_text
        text = _strict(html, codec)
        if text is not None:
            return text
    if utf8_text is not None or html.isascii():
        return html.decode("utf-8")
    best = from_bytes(html).best()
    if best is not None:
        return str(best)
    return html.decode(header or declared or "cp1252", errors="replace")


# --- small helpers -----------------------------------------------------------------------------------


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _text(node: Selector) -> str:
    return _clean(" ".join(node.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall()))


def _get(obj: Any, key: str) -> Any:
    return getattr(obj, key, None) if not isinstance(obj, Mapping) else obj.get(key)


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 / RFC 822 / plain dates to an aware UTC datetime; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = _clean(str(value))
        parsed = None
        try:
            iso = text.replace(" ", "T", 1) if re.match(r"^\d{4}-\d\d-\d\d \d", text) else text
            parsed = datetime.fromisoformat(iso)
        except ValueError:
            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                try:
                    from dateutil import parser as dateutil_parser

                    parsed = dateutil_parser.parse(text)
                except (ValueError, OverflowError, TypeError):
                    return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    parsed = parsed.astimezone(timezone.utc)
    if not 1990 <= parsed.year <= 2100:
        return None
    return parsed


# --- JSON-LD -------------------------------------------------------------------------------------------


def _walk_jsonld(node: Any) -> Iterator[dict]:
    if isinstance(node, list):
        for child in node:
            yield from _walk_jsonld(child)
    elif isinstance(node, dict):
        yield node
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if isinstance(node.get(key), (list, dict)):
                yield from _walk_jsonld(node[key])


def _types(node: dict) -> set[str]:
    kind = node.get("@type", [])
    return {str(k).lower() for k in (kind if isinstance(kind, list) else [kind])}


def jsonld_article(page: Selector) -> dict:
    """The first JSON-LD object of an article type on the page (or {})."""
    fallback: dict = {}
    for script in page.css('script[type="application/ld+json"]::text').getall():
        try:
            data = json.loads(script, strict=False)
        except ValueError:
            continue
        for node in _walk_jsonld(data):
            if _types(node) & ARTICLE_TYPES:
                return node
            if not fallback and "headline" in node:
                fallback = node
    return fallback


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, str) and value.strip():
        return [value]
    return []


# --- fields --------------------------------------------------------------------------------------------


def _meta(page: Selector, names: tuple[str, ...]) -> list[str]:
    """Contents of <meta name|property|itemprop=...> for `names`, in the order of `names`."""
    found: dict[str, list[str]] = {}
    for node in page.xpath("//meta[@content]"):
        key = (node.attrib.get("property") or node.attrib.get("name") or node.attrib.get("itemprop") or "")
        found.setdefault(key.strip().lower(), []).append(node.attrib["content"])
    return [value for name in names for value in found.get(name, [])]


def _site_names(page: Selector, ld: dict, url: str) -> list[str]:
    names = _meta(page, ("og:site_name", "application-name", "twitter:site"))
    names += _names(ld.get("publisher"))
    host = urlsplit(url).hostname or ""
    names.append(host.removeprefix("www."))
    return [_clean(n).lstrip("@") for n in names if _clean(n)]


def clean_title(title: str, site_names: list[str] = (), reference: str | None = None) -> str:
    """Strip outlet suffixes/prefixes (" | Outlet", "Outlet - ") from a title.

    `reference` (the page's <h1>) wins when the title is the reference plus a separator and more.
    Segments naming the site are dropped at either end; of " | " segments the longest is kept. Dashes
    and colons inside a headline survive unless the segment they set off names the site.
    """
    title = _clean(title)
    if reference:
        reference = _clean(reference)
        for sep in TITLE_SEPARATORS:
            if title.startswith(reference + sep) or title.endswith(sep + reference):
                return reference
    lowered = {n.lower() for n in site_names}
    for sep in TITLE_SEPARATORS:
        parts = title.split(sep)
        while len(parts) > 1 and parts[-1].strip().lower() in lowered:
            parts.pop()
        while len(parts) > 1 and parts[0].strip().lower() in lowered:
            parts.pop(0)
        if sep == " | " and len(parts) > 1:
            parts = [max(parts, key=len)]
        title = sep.join(parts).strip()
    return title


def _title(page: Selector, ld: dict, url: str, css: str | None, hints: Mapping) -> str:
    h1 = next((t for t in (_text(n) for n in page.css("h1")) if t), None)
    candidates = []
    if css:
        candidates += [_text(n) for n in page.css(css)[:1]]
    candidates += _meta(page, ("og:title", "twitter:title"))
    candidates += [ld["headline"]] if isinstance(ld.get("headline"), str) else []
    candidates += [h1 or "", page.css("title::text").get() or "", _get(hints, "title") or ""]
    sites = _site_names(page, ld, url)
    for candidate in candidates:
        if _clean(candidate):
            return clean_title(candidate, sites, h1)
    return ""


def _split_authors(text: str) -> list[str]:
    """Names in a byline: "By A and B", "A, B — 4 March 2025" (the part after a dash is not names)."""
    text = _BYLINE_PREFIX.sub("", _clean(text))
    text = re.split(r"\s+[—–|]\s+|\s+-\s+", text)[0]
    parts = (_INITIALS_SUFFIX.sub("", part).strip(" .") for part in _AUTHOR_SPLIT.split(text))
    return [part for part in parts if part]


def _plausible_name(name: str) -> bool:
    """A byline name, not a date, a handle, an address or a slug."""
    return (1 < len(name) <= 80 and len(name.split()) <= 6 and not _NOT_A_NAME.search(name)
            and not any(ch.isdigit() for ch in name))


def _byline_lines(page: Selector) -> list[str]:
    """Short elements whose text reads as a byline ("By ...", "Author: ...", "Автор: ...")."""
    lines = []
    for node in page.xpath("//body//*[self::p or self::div or self::span][not(ancestor::a)]"):
        text = _text(node)
        if len(text) <= 120 and _BYLINE_TEXT.match(text):
            lines.append(text)
    return lines


def _author_sources(page: Selector, ld: dict, css: str | None, hints: Mapping) -> Iterator[list[str]]:
    """Candidate bylines, best source first; lazy, since scanning every element for a byline line is the
    costliest and most pages are settled by JSON-LD or <meta name=author>."""
    if css:
        yield [_text(n) for n in page.css(css)]
    yield _names(ld.get("author"))
    yield _meta(page, _AUTHOR_META)
    for selector in _BYLINE_CSS:
        yield [_text(n) for n in page.css(selector)]
    yield _byline_lines(page)
    yield list(_get(hints, "authors") or [])


def _authors(page: Selector, ld: dict, css: str | None, hints: Mapping) -> list[str]:
    for raw in _author_sources(page, ld, css, hints):
        names = [n for text in raw for n in _split_authors(text) if _plausible_name(n)]
        if names:
            return list(dict.fromkeys(names))
    return []


def _time_elements(page: Selector, kind: str) -> list[str]:
    """<time datetime> values: first those marked as published (or modified), then any in the article."""
    marked = "modif" if kind == "updated" else "publish"
    values = [
        node.attrib["datetime"]
        for node in page.xpath("//time[@datetime]")
        if marked in " ".join(node.attrib.get(a, "") for a in ("itemprop", "class", "id")).lower()
        or (kind == "published" and "pubdate" in node.attrib)
    ]
    if kind == "published":
        for scope in ("//article//time[@datetime]", "//main//time[@datetime]", "//time[@datetime]"):
            values += [
                node.attrib["datetime"]
                for node in page.xpath(scope)
                if not re.search(r"modif|updat", " ".join(node.attrib.values()).lower())
            ]
    return values


def _url_date(url: str) -> datetime | None:
    match = _URL_DATE.search(urlsplit(url).path)
    if not match:
        return None
    try:
        return datetime(*(int(g) for g in match.groups()), tzinfo=timezone.utc)
    except ValueError:
        return None


def _first_date(values: list[Any]) -> datetime | None:
    for value in values:
        if (parsed := parse_datetime(value)) is not None:
            return parsed
    return None


def _date_lines(page: Selector) -> list[str]:
    """Short human-readable date lines ("25 February 2025, 01:51 MSK") of elements named like dates."""
    lines = []
    for node in page.xpath("//body//*[contains(@class, 'date') or contains(@class, 'time')"
                           " or contains(@class, 'dateline') or contains(@id, 'date')][not(self::time)]"):
        marker = f"{node.attrib.get('class', '')} {node.attrib.get('id', '')}".lower()
        text = _text(node)
        if re.search(r"modif|updat|today", marker) or not 6 <= len(text) <= 80:
            continue
        if re.search(r"\b(19|20)\d{2}\b", text) and re.search(r"\d{1,2}[:.]\d{2}", text):
            lines.append(text)
    return lines


def _parse_date_line(text: str, language: str | None) -> datetime | None:
    """A human-readable date with a time (and maybe a zone abbreviation) to UTC, via dateparser."""
    try:
        import dateparser
    except ImportError:  # optional: htmldate's dependency, absent in minimal installs
        return None
    languages = list(dict.fromkeys([language, "en"])) if language else None
    try:
        parsed = dateparser.parse(text, languages=languages, settings={
            "RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "TO_TIMEZONE": "UTC",
            "PREFER_DATES_FROM": "past",
        })
    except Exception:  # dateparser raises assorted errors on odd input; a miss is not an error here
        return None
    return parse_datetime(parsed)


def _first(values: Iterator[datetime | None]) -> datetime | None:
    return next((v for v in values if v is not None), None)


def _htmldate(html: str, url: str) -> datetime | None:
    try:
        from htmldate import find_date

        found = find_date(html, url=url, original_date=True, extensive_search=False,
                          outputformat="%Y-%m-%dT%H:%M:%S")
    except Exception:  # htmldate is a heuristic fallback; its failures must not fail extraction
        return None
    return parse_datetime(found)


def _dates(page: Selector, ld: dict, html: str, url: str, css: str | None, hints: Mapping
           ) -> tuple[datetime | None, datetime | None]:
    selected = []
    if css:
        for node in page.css(css)[:1]:
            selected += [node.attrib.get("datetime"), node.attrib.get("content"), _text(node)]
    published = (
        _first_date(selected)
        or _first_date([ld.get("datePublished"), ld.get("dateCreated")])
        or _first_date(_meta(page, _PUBLISHED_META))
        or _first_date(_time_elements(page, "published"))
        or parse_datetime(_get(hints, "published_at"))
        or _first(_parse_date_line(line, _declared_language(page)) for line in _date_lines(page))
        or _url_date(url)
        or _htmldate(html, url)
    )
    updated = (
        _first_date([ld.get("dateModified")])
        or _first_date(_meta(page, _UPDATED_META))
        or _first_date(_time_elements(page, "updated"))
        or parse_datetime(_get(hints, "updated_at"))
    )
    if updated is not None and published is not None and updated <= published:
        updated = None  # dateModified is often just datePublished repeated: not an update
    return published, updated


def _canonical(page: Selector, url: str) -> str:
    candidates = page.xpath(
        "//link[contains(concat(' ', normalize-space(translate(@rel, 'CANONICAL', 'canonical')), ' '),"
        " ' canonical ')]/@href"
    ).getall()
    candidates += _meta(page, ("og:url",))
    for candidate in candidates + [url]:
        absolute = urljoin(url, candidate.strip())
        if absolute.startswith(("http://", "https://")):
            return canonicalize_url(absolute)
    return canonicalize_url(url)


def _selected_body(page: Selector, css: str) -> str:
    paragraphs = []
    for node in page.css(css):
        blocks = node.xpath(".//p | .//li | .//h2 | .//h3 | .//blockquote[not(.//p)]")
        paragraphs += [_text(b) for b in blocks] if blocks else [_text(node)]
    return "\n\n".join(p for p in paragraphs if p)


def _trafilatura_body(html: str, url: str, favor_precision: bool) -> str:
    text = trafilatura.extract(
        html, url=url, favor_precision=favor_precision, favor_recall=not favor_precision,
        include_comments=False, include_tables=False, include_links=False, include_images=False,
        include_formatting=False, deduplicate=False, with_metadata=False, output_format="txt",
    )
    return "\n\n".join(line.strip() for line in (text or "").splitlines() if line.strip())


def _key(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


@dataclass(frozen=True)
class Container:
    """The page element holding the most paragraph text in direct <p> children: the article's own block."""

    paragraphs: list[str]   # its direct <p> texts
    text_key: str           # _key of all the text under it, nested blocks included


def main_container(page: Selector) -> Container | None:
    best, best_length = None, 0
    for container in page.xpath("//body//*[p]"):
        length = sum(len(t) for t in (_text(p) for p in container.xpath("./p")))
        if length > best_length:
            best, best_length = container, length
    if best is None:
        return None
    return Container([t for t in (_text(p) for p in best.xpath("./p")) if t], _key(_text(best)))


def main_container_paragraphs(page: Selector) -> list[str]:
    """The <p> texts of the element holding the most paragraph text in direct <p> children."""
    container = main_container(page)
    return container.paragraphs if container else []


def trim_to_container(paragraphs: list[str], container: list[str] | Container, min_share: float = 0.6) -> list[str]:
    """Drop the leading and trailing paragraphs that lie outside the main text container (kickers,
    date lines, credits, "comments are closed", citation boxes), when that container holds most of the text.

    A paragraph is inside when it equals one of the container's own <p>, or, if it is at least a sentence
    long (INSIDE_MATCH_CHARS), when it occurs anywhere in the container's text: articles nest paragraphs in
    inner blocks around embeds and ads (a one-word kicker would match some word of the story, hence the
    length). Paragraphs between the first and the last inside one are kept, so text the extractor found
    outside the container in the middle of the article survives.
    """
    if not isinstance(container, Container):
        container = Container(list(container), "")
    keys = {_key(t) for t in container.paragraphs}
    inside = [
        i for i, p in enumerate(paragraphs)
        if _key(p) in keys or (len(p) >= INSIDE_MATCH_CHARS and _key(p) and _key(p) in container.text_key)
    ]
    total = sum(len(p) for p in paragraphs)
    if not inside or sum(len(paragraphs[i]) for i in inside) < min_share * total:
        return paragraphs
    return paragraphs[inside[0]: inside[-1] + 1]


def _body(html: str, page: Selector, url: str, css: str | None, min_chars: int) -> str:
    if css:
        selected = _selected_body(page, css)
        if selected:
            return selected
    body = _trafilatura_body(html, url, favor_precision=True)
    if len(body) < min_chars:
        recall = _trafilatura_body(html, url, favor_precision=False)
        body = recall if len(recall) > len(body) else body
    container = main_container(page) if body else None
    paragraphs = trim_to_container(body.split("\n\n"), container) if container else body.split("\n\n")
    return "\n\n".join(paragraphs)


def _strip_heading(body: str, title: str, authors: list[str]) -> str:
    """Drop a leading headline or byline paragraph that the text extractor kept."""
    paragraphs = body.split("\n\n")
    while paragraphs:
        first = paragraphs[0]
        if title and _clean(first) == _clean(title):
            paragraphs.pop(0)
        elif authors and len(first) < 120 and any(a in first for a in authors) and _BYLINE_PREFIX.match(first):
            paragraphs.pop(0)
        else:
            break
    return "\n\n".join(paragraphs)


def _declared_language(page: Selector, ld: dict | None = None) -> str | None:
    """The page's own language claim: <html lang>, JSON-LD inLanguage, og:locale, content-language."""
    claims = [page.xpath("/html/@lang").get(), (ld or {}).get("inLanguage"),
              *_meta(page, ("og:locale", "content-language", "dc.language"))]
    for declared in claims:
        if isinstance(declared, str) and re.match(r"^[a-zA-Z]{2,3}\b", declared.strip()):
            return re.split(r"[-_]", declared.strip())[0].lower()
    return None


def _language(body: str, page: Selector, ld: dict) -> str | None:
    if len(body) >= MIN_LANGID_CHARS:
        # py3langid's cost grows with the text; a few paragraphs decide as well as the whole article.
        code, _ = py3langid.classify(body[:LANGID_SAMPLE_CHARS])
        return code
    return _declared_language(page, ld)


def warm_up() -> None:
    """Load what extraction loads lazily (the language model: about a second), so a crawler pays for it
    at start-up rather than on its first page."""
    py3langid.classify("warm up the language model")


def extract_article(
    html: bytes,
    url: str,
    headers_charset: str | None = None,
    selectors: Selectors | Mapping[str, str | None] | None = None,
    hints: Mapping[str, Any] | None = None,
    min_body_chars: int = 300,
) -> Extracted:
    """Extract an article from raw page bytes.

    `selectors` (a `sources.Selectors` or a mapping with title/body/date/author CSS) override the
    generic rules; `hints` (title, published_at, updated_at, authors from a feed or sitemap) fill gaps.
    A body shorter than `min_body_chars` after the precise pass gets a second, recall-oriented pass.
    """
    hints = hints or {}
    text = decode_html(html, headers_charset)
    page = Selector(text=text, type="html")
    ld = jsonld_article(page)
    css = {key: _get(selectors, key) for key in ("title", "body", "date", "author")} if selectors else {}
    title = _title(page, ld, url, css.get("title"), hints)
    authors = _authors(page, ld, css.get("author"), hints)
    published, updated = _dates(page, ld, text, url, css.get("date"), hints)
    body = _strip_heading(_body(text, page, url, css.get("body"), min_body_chars), title, authors)
    missed = tuple(key for key, selector in css.items() if selector and not page.css(selector))
    return Extracted(
        title=title,
        authors=authors,
        published_at=published,
        updated_at=updated,
        language=_language(body, page, ld),
        canonical_url=_canonical(page, url),
        body=body,
        missed_selectors=missed,
    )
