"""The one generic news spider: discovers articles from each source's feeds, sitemaps and listings (as
configured in sources.yaml), fetches them and yields one item per extracted article."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import feedparser
from scrapy import Request, Spider, signals
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
from peacewatch.crawlers.extract import parse_datetime
from peacewatch.crawlers.middlewares import NotModified, RedirectLoop, source_stat
from peacewatch.crawlers.sources import Source, load_sources, select_sources
from peacewatch.crawlers.state import SourceState, is_permanent, load_state, save_state
from peacewatch.crawlers.urls import canonicalize_url
from peacewatch.crawlers.workers import Extractor, default_processes

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


def discovery_date(hints: dict[str, Any]) -> datetime | None:
    """The newest date a feed, sitemap or listing gives for an article (updated, else published)."""
    dates = [parse_datetime(hints.get(key)) for key in ("updated_at", "published_at")]
    return max((d for d in dates if d is not None), default=None)


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
    crawl_state: dict[str, SourceState]  # source_id -> what earlier runs fetched (crawlers/state.py)
    full_crawl: bool

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
        settings = crawler.settings
        data_dir = settings.get("PEACEWATCH_DATA_DIR")
        if not data_dir:
            raise ValueError("the PEACEWATCH_DATA_DIR setting is required (where raw pages are kept)")
        spider.data_dir = Path(data_dir)
        spider.min_body_chars = settings.getint("PEACEWATCH_MIN_BODY_CHARS", 300)
        # Incremental state (crawlers/state.py); ConditionalGetMiddleware reads crawl_state and full_crawl.
        spider.full_crawl = settings.getbool("PEACEWATCH_FULL_CRAWL", False)
        spider.retry_runs = max(1, settings.getint("PEACEWATCH_RETRY_RUNS", 3))
        spider.state_ttl = timedelta(days=settings.getfloat("PEACEWATCH_STATE_TTL_DAYS", 180))
        spider.crawl_state = {source_id: load_state(spider.data_dir, source_id) for source_id in spider.sources}
        processes = settings.get("PEACEWATCH_EXTRACT_PROCESSES")
        spider.extractor = Extractor(default_processes() if processes in (None, "", "auto") else int(processes))
        crawler.signals.connect(spider.on_item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(spider.on_item_dropped, signal=signals.item_dropped)
        return spider

    # --- requests ----------------------------------------------------------------------------------

    def _request(self, source_id: str, url: str, callback: Callable, kind: str, meta: dict[str, Any] | None = None,
                 **cb_kwargs: Any) -> Request:
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            cb_kwargs={"source_id": source_id, **cb_kwargs},
            # discovery documents are fetched conditionally (ConditionalGetMiddleware)
            meta={"source_id": source_id, "kind": kind, "conditional": kind != "article", **(meta or {})},
            priority=0 if kind == "article" else 10,
        )

    def _article(self, source_id: str, url: str, hints: dict[str, Any]) -> Request | None:
        """An article request, unless the URL was already queued for the source, an earlier run fetched it
        and no discovery date says it changed since (already_seen), or the budget is spent."""
        key = canonicalize_url(url)
        if (source_id, key) in self._seen:
            return None
        self._seen.add((source_id, key))
        state = self.crawl_state[source_id]
        discovered = discovery_date(hints)
        now = datetime.now(timezone.utc)
        verdict = state.verdict(key, discovered, now)
        if verdict == "already_seen" and not self.full_crawl:
            self.crawler.stats.inc_value(source_stat(source_id, "already_seen"))
            return None
        if self._budget[source_id] <= 0:
            self._skip(source_id, "over_budget", url, "article")
            state.postpone(key, url, hints, discovered, "over_budget", now, self.retry_runs, attempted=False)
            return None
        self._budget[source_id] -= 1
        meta = {"state_key": key, "article_url": url, "discovered": discovered, "hints": hints}
        return self._request(source_id, url, self.parse_article, "article", meta=meta, hints=hints)

    def _settle(self, meta: dict[str, Any], outcome: str) -> None:
        """Record in the source's state what became of an article request ("landed" or a skip reason)."""
        state = self.crawl_state.get(meta.get("source_id", ""))
        key = meta.get("state_key")
        if state is None or key is None:
            return
        now = datetime.now(timezone.utc)
        if outcome == "landed" or is_permanent(outcome):
            state.fetched(key, meta.get("discovered"), outcome, now)
        else:  # may pass next time: keep it queued, up to PEACEWATCH_RETRY_RUNS runs
            state.postpone(key, meta.get("article_url") or key, meta.get("hints") or {}, meta.get("discovered"),
                           outcome, now, self.retry_runs)

    def on_item_scraped(self, item: Any, response: Response) -> None:
        """Signal handler: an item passed every pipeline (it is in the landing run)."""
        self._settle(response.meta, "landed")

    def on_item_dropped(self, item: Any, response: Response, exception: Exception) -> None:
        self._settle(response.meta, "invalid_item")

    def closed(self, reason: str) -> None:
        """Save the crawl state, but only once the landing run is published: the state must never claim
        an article whose item did not land."""
        self.extractor.close()
        if not self.crawler.stats.get_value("peacewatch_run/manifest"):
            self.logger.warning("landing run not published (%s): crawl state left as it was", reason)
            return
        now = datetime.now(timezone.utc)
        for state in self.crawl_state.values():
            state.prune(now, self.state_ttl)
            save_state(self.data_dir, state)

    def _skip(self, source_id: str, reason: str, url: str, kind: str, detail: str = "") -> None:
        """Count a skipped page under its reason and log one line about it."""
        self.crawler.stats.inc_value(source_stat(source_id, "drops", reason))
        self.logger.warning("skip [%s] %s %s: %s%s", source_id, kind, url, reason, f" ({detail})" if detail else "")

    async def start(self) -> AsyncIterator[Request]:
        for source in self.sources.values():
            self.crawler.stats.inc_value(source_stat(source.id, "requests"), 0)
            # Found earlier but not fetched (budget, a 5xx): an unchanged feed would not list them again.
            for entry in list(self.crawl_state[source.id].pending.values()):
                if request := self._article(source.id, entry["url"], dict(entry.get("hints") or {})):
                    yield request
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
        # Only links, titles, dates and authors are read: skip feedparser's HTML sanitising of every summary.
        feed = feedparser.parse(response.body, response_headers={"content-type": content_type},
                                sanitize_html=False, resolve_relative_uris=False)
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

    async def parse_article(self, response: Response, source_id: str, hints: dict[str, Any]) -> AsyncIterator[dict]:
        """Extract one article (in the extraction workers); skip binary and near-empty pages with a counted
        reason."""
        if not is_html(response):
            content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
            self._skip(source_id, "not_html", response.url, "article", content_type or "no content type")
            self._settle(response.meta, "not_html")
            return
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        selectors = self.sources[source_id].selectors
        extracted = await self.extractor.extract(
            response.body,
            response.url,
            headers_charset=http_content_type_encoding(content_type),
            selectors=selectors,
            hints=hints,
            min_body_chars=self.min_body_chars,
        )
        self._check_layout(source_id, response.url, extracted.missed_selectors, selectors, extracted.body)
        if len(extracted.body) < self.min_body_chars:
            self._skip(source_id, "empty_body", response.url, "article", f"{len(extracted.body)} chars")
            self._settle(response.meta, "empty_body")
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
            "raw_html_path": await self.extractor.store_raw(self.data_dir, source_id, response.url, response.body),
            "fetched_at": datetime.now(timezone.utc),
            "http_status": response.status,
            "content_hash": content_hash(extracted.body),
        }

    def _check_layout(self, source_id: str, url: str, missed: tuple[str, ...], selectors: Any, body: str) -> None:
        """Count extraction_failed when a page shows signs of a changed layout: the source's body selector
        (or every one of its selectors) matched nothing (selector_miss), or an HTML page gave no text
        at all (no_body). The item may still land through generic extraction; crawl health shows the rate."""
        configured = [k for k in ("title", "body", "date", "author") if selectors and getattr(selectors, k, None)]
        if missed and ("body" in missed or len(missed) == len(configured)):
            self.crawler.stats.inc_value(source_stat(source_id, "extraction_failed", "selector_miss"))
            self.logger.warning("layout [%s] %s: selectors %s matched nothing", source_id, url, ", ".join(missed))
        if not body.strip():
            self.crawler.stats.inc_value(source_stat(source_id, "extraction_failed", "no_body"))

    def on_error(self, failure: Failure) -> None:
        """Errback of every request: count the failure under its reason, one log line; a 304 to a
        conditional GET is no failure (counted as not_modified)."""
        request = failure.request
        source_id = request.meta.get("source_id", "unknown")
        original_url = (request.meta.get("redirect_urls") or [request.url])[0]
        if failure.check(NotModified):
            self.crawler.stats.inc_value(source_stat(source_id, "not_modified"))
            self.logger.debug("not modified [%s] %s %s", source_id, request.meta.get("kind"), original_url)
            return
        reason = classify_failure(failure)
        self._skip(source_id, reason, original_url, request.meta.get("kind", "page"),
                   str(failure.value)[:300] if not failure.check(HttpError) else "")
        if request.meta.get("kind") == "article":
            self._settle(request.meta, reason)
