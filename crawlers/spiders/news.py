"""The one generic news spider: discovers articles from each source's feeds, sitemaps and listings (as
configured in sources.yaml), fetches them and yields one item per extracted article."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import feedparser
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import HtmlResponse, Response, TextResponse, XmlResponse
from scrapy.selector import Selector
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectError, DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure
from w3lib.encoding import http_content_type_encoding

from peacewatch.contracts import content_hash
from peacewatch.crawlers.extract import extract_article
from peacewatch.crawlers.middlewares import RedirectLoop, source_stat
from peacewatch.crawlers.sources import Source, load_sources, select_sources
from peacewatch.crawlers.urls import canonicalize_url
from peacewatch.landing import store_raw_html

MAX_SITEMAP_DEPTH = 3
PAGE_LINK = re.compile(r"([?&](page|p|pg)=\d+|/page/\d+/?$|/page-\d+/?$)", re.I)
# feedparser "bozo" conditions that are not damage: a charset or content-type label it overrode.
BENIGN_FEED_ERRORS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


class _FlatSitemap(Sitemap):
    """A Sitemap whose entries also carry nested extension fields (news:publication_date, news:title).

    Scrapy's Sitemap reads only direct children of <url>; Google News sitemaps nest their fields in
    <news:news>. Direct children win over nested fields of the same name (e.g. image:loc).
    """

    __slots__ = ()

    def _process_sitemap_element(self, elem: Any) -> dict[str, Any] | None:
        entry: dict[str, Any] = {}
        alternate: list[str] = []
        for child in elem:
            name = self._get_tag_name(child)
            if name == "link":
                if href := child.get("href"):
                    alternate.append(href)
            elif name and len(child) == 0:
                entry[name] = (child.text or "").strip()
        for node in elem.iterdescendants():
            name = self._get_tag_name(node)
            if name and len(node) == 0 and node.getparent() is not elem:
                entry.setdefault(name, (node.text or "").strip())
        elem.clear()
        parent = elem.getparent()
        if parent is not None:
            while elem.getprevious() is not None:
                del parent[0]
        if not entry.get("loc"):
            return None
        if alternate:
            entry["alternate"] = alternate
        return entry


def classify_failure(failure: Failure) -> str:
    """A short, stable reason for a failed request (the key of drops_by_reason)."""
    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    if failure.check(RedirectLoop):
        return "redirect_loop"
    if failure.check(DownloadTimeoutError, TwistedTimeoutError, TCPTimedOutError):
        return "timeout"
    if failure.check(DownloadCancelledError, CancelledError):
        return "too_large"
    if failure.check(CannotResolveHostError, DNSLookupError, DownloadConnectionRefusedError, ConnectError):
        return "connection_error"
    if failure.check(IgnoreRequest):
        message = str(failure.value).lower()
        if "robots.txt" in message:
            return "robots_disallowed"
        if "redirect" in message:
            return "redirect_loop"
        if "max size" in message or "download_maxsize" in message:  # HttpCompressionMiddleware's wording
            return "too_large"
        return "ignored"
    return "download_error"


def _struct_to_datetime(value: Any) -> datetime | None:
    """feedparser's UTC struct_time to an aware datetime."""
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def listing_hints(link: Selector) -> dict[str, Any]:
    """Title and date a listing shows next to an article link (the teaser's <time datetime>)."""
    teaser = link.xpath("ancestor::*[self::li or self::article or contains(@class, 'teaser')][1]")
    dates = teaser.xpath(".//time/@datetime").getall() if teaser else []
    title = " ".join(" ".join(link.xpath(".//text()").getall()).split())
    return {"title": title or None, "published_at": dates[0] if len(dates) == 1 else None}


def is_html(response: Response) -> bool:
    """True for HTML pages; binary bodies (PDF, images) and XML documents are not articles."""
    if isinstance(response, HtmlResponse):
        return True
    if isinstance(response, TextResponse) and not isinstance(response, XmlResponse):
        head = response.body[:2048].lstrip().lower()
        return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head
    return False


class NewsSpider(Spider):
    """Crawl the enabled sources of a sources file (or the named ones: `source_ids="a,b"`)."""

    name = "news"

    def __init__(self, sources: str | None = None, source_ids: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        # trafilatura warns about every page it finds no text in; the spider logs those skips itself.
        logging.getLogger("trafilatura").setLevel(logging.ERROR)
        ids = [i.strip() for i in (source_ids or "").split(",") if i.strip()]
        selected = select_sources(load_sources(Path(sources) if sources else None), ids)
        self.sources: dict[str, Source] = {source.id: source for source in selected}
        self._budget: Counter[str] = Counter({source.id: source.max_pages for source in selected})
        self._seen: set[tuple[str, str]] = set()
        self._listing_pages: Counter[tuple[str, int]] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        data_dir = crawler.settings.get("PEACEWATCH_DATA_DIR")
        if not data_dir:
            raise ValueError("the PEACEWATCH_DATA_DIR setting is required (where raw pages are kept)")
        spider.data_dir = Path(data_dir)
        spider.min_body_chars = crawler.settings.getint("PEACEWATCH_MIN_BODY_CHARS", 300)
        return spider

    # --- requests ----------------------------------------------------------------------------------

    def _request(self, source_id: str, url: str, callback: Callable, kind: str, **cb_kwargs: Any) -> Request:
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            cb_kwargs={"source_id": source_id, **cb_kwargs},
            meta={"source_id": source_id, "kind": kind},
            priority=0 if kind == "article" else 10,
        )

    def _article(self, source_id: str, url: str, hints: dict[str, Any]) -> Request | None:
        """An article request, unless the URL was already queued for the source or the budget is spent."""
        key = (source_id, canonicalize_url(url))
        if key in self._seen:
            return None
        self._seen.add(key)
        if self._budget[source_id] <= 0:
            self._skip(source_id, "over_budget", url, "article")
            return None
        self._budget[source_id] -= 1
        return self._request(source_id, url, self.parse_article, "article", hints=hints)

    def _skip(self, source_id: str, reason: str, url: str, kind: str, detail: str = "") -> None:
        """Count a skipped page under its reason and log one line about it."""
        self.crawler.stats.inc_value(source_stat(source_id, "drops", reason))
        self.logger.warning("skip [%s] %s %s: %s%s", source_id, kind, url, reason, f" ({detail})" if detail else "")

    async def start(self) -> AsyncIterator[Request]:
        for source in self.sources.values():
            self.crawler.stats.inc_value(source_stat(source.id, "requests"), 0)
            for url in source.discovery.feeds:
                yield self._request(source.id, url, self.parse_feed, "feed")
            for url in source.discovery.sitemaps:
                yield self._request(source.id, url, self.parse_sitemap, "sitemap", depth=0)
            for index, listing in enumerate(source.discovery.listings):
                self._listing_pages[(source.id, index)] += 1
                self._seen.add((source.id, canonicalize_url(listing.url)))
                yield self._request(source.id, listing.url, self.parse_listing, "listing", listing=index)

    # --- discovery ---------------------------------------------------------------------------------

    def parse_feed(self, response: Response, source_id: str) -> Iterator[Request]:
        """RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom; a damaged feed yields what feedparser recovers."""
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        feed = feedparser.parse(response.body, response_headers={"content-type": content_type})
        if feed.bozo and not isinstance(feed.bozo_exception, BENIGN_FEED_ERRORS):
            self._skip(source_id, "malformed_feed", response.url, "feed",
                       f"{type(feed.bozo_exception).__name__}: {feed.bozo_exception}; "
                       f"{len(feed.entries)} entries recovered")
        for entry in feed.entries:
            link = entry.get("link") or next(
                (link.get("href") for link in entry.get("links", []) if link.get("href")), None
            )
            if not link:
                continue
            hints = {
                "title": entry.get("title"),
                "published_at": _struct_to_datetime(entry.get("published_parsed") or entry.get("created_parsed")),
                "updated_at": _struct_to_datetime(entry.get("updated_parsed")),
                "authors": [a["name"] for a in entry.get("authors", []) if a.get("name")],
            }
            if request := self._article(source_id, response.urljoin(link.strip()), hints):
                yield request

    def parse_sitemap(self, response: Response, source_id: str, depth: int) -> Iterator[Request]:
        """Sitemap indexes (followed up to MAX_SITEMAP_DEPTH), urlsets and Google News sitemaps."""
        body = response.body
        if gzip_magic_number(response):
            try:
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except Exception as exc:  # corrupt or oversized archive: skip the sitemap, keep crawling
                self._skip(source_id, "malformed_sitemap", response.url, "sitemap", repr(exc))
                return
        try:
            sitemap = _FlatSitemap(body)
        except Exception as exc:  # lxml could not even find a root element
            self._skip(source_id, "malformed_sitemap", response.url, "sitemap", repr(exc))
            return
        if sitemap.type == "sitemapindex":
            if depth >= MAX_SITEMAP_DEPTH:
                self._skip(source_id, "sitemap_too_deep", response.url, "sitemap")
                return
            for entry in sitemap:
                key = (source_id, canonicalize_url(response.urljoin(entry["loc"])))
                if key not in self._seen:
                    self._seen.add(key)
                    yield self._request(source_id, response.urljoin(entry["loc"]), self.parse_sitemap,
                                        "sitemap", depth=depth + 1)
        elif sitemap.type == "urlset":
            for entry in sitemap:
                hints = {
                    "title": entry.get("title"),
                    "published_at": entry.get("publication_date"),
                    "updated_at": entry.get("lastmod"),
                }
                if request := self._article(source_id, response.urljoin(entry["loc"]), hints):
                    yield request
        else:
            self._skip(source_id, "malformed_sitemap", response.url, "sitemap", f"root <{sitemap.type}>")

    def _next_pages(self, response: Response) -> list[str]:
        """Pagination links of a listing page: rel=next first, then page-number links."""
        links = response.css('link[rel~="next"]::attr(href), a[rel~="next"]::attr(href)').getall()
        links += [href for href in response.css("a::attr(href)").getall() if PAGE_LINK.search(href)]
        return list(dict.fromkeys(response.urljoin(href.strip()) for href in links))

    def parse_listing(self, response: Response, source_id: str, listing: int) -> Iterator[Request]:
        """Article links matching the listing's link_pattern; pagination up to its max_pages."""
        spec = self.sources[source_id].discovery.listings[listing]
        pattern = re.compile(spec.link_pattern)
        pages = self._next_pages(response)
        for link in response.css("a[href]"):
            url = response.urljoin(link.attrib["href"].strip())
            if url not in pages and pattern.search(url):
                if request := self._article(source_id, url, listing_hints(link)):
                    yield request
        for url in pages:
            key = (source_id, canonicalize_url(url))
            if key in self._seen:
                continue
            if self._listing_pages[(source_id, listing)] >= spec.max_pages:
                break
            self._seen.add(key)
            self._listing_pages[(source_id, listing)] += 1
            yield self._request(source_id, url, self.parse_listing, "listing", listing=listing)

    # --- articles ----------------------------------------------------------------------------------

    def parse_article(self, response: Response, source_id: str, hints: dict[str, Any]) -> Iterator[dict]:
        """Extract one article; skip binary and near-empty pages with a counted reason."""
        if not is_html(response):
            content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
            self._skip(source_id, "not_html", response.url, "article", content_type or "no content type")
            return
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        extracted = extract_article(
            response.body,
            response.url,
            headers_charset=http_content_type_encoding(content_type),
            selectors=self.sources[source_id].selectors,
            hints=hints,
            min_body_chars=self.min_body_chars,
        )
        if len(extracted.body) < self.min_body_chars:
            self._skip(source_id, "empty_body", response.url, "article", f"{len(extracted.body)} chars")
            return
        yield {
            "url": response.url,
            "canonical_url": extracted.canonical_url,
            "source_id": source_id,
            "title": extracted.title,
            "authors": extracted.authors,
            "published_at": extracted.published_at,
            "updated_at": extracted.updated_at,
            "language": extracted.language,
            "body": extracted.body,
            "raw_html_path": store_raw_html(self.data_dir, source_id, response.url, response.body),
            "fetched_at": datetime.now(timezone.utc),
            "http_status": response.status,
            "content_hash": content_hash(extracted.body),
        }

    def on_error(self, failure: Failure) -> None:
        """Errback of every request: count the failure under its reason, one log line."""
        request = failure.request
        source_id = request.meta.get("source_id", "unknown")
        original_url = (request.meta.get("redirect_urls") or [request.url])[0]
        self._skip(source_id, classify_failure(failure), original_url, request.meta.get("kind", "page"),
                   str(failure.value)[:300] if not failure.check(HttpError) else "")
