"""Downloader middlewares: per-source request accounting, redirect-loop detection, conditional GETs of
discovery documents, and retries that back off.

Per-source figures live in Scrapy's stats collector under `peacewatch/<source_id>/...` keys (see
`source_stat`); the spider counts skips there, LandingPipeline turns them into the run's SourceStats.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.asyncio import sleep
from scrapy.utils.response import response_status_message
from w3lib.url import canonicalize_url, safe_url_string

logger = logging.getLogger(__name__)

STATS_PREFIX = "peacewatch"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def source_stat(source_id: str, *parts: str) -> str:
    """The stats-collector key of a per-source figure, e.g. `peacewatch/<id>/drops/timeout`."""
    return "/".join((STATS_PREFIX, source_id, *parts))


class RedirectLoop(IgnoreRequest):
    """A redirect leads back to a URL already visited in the same redirect chain."""


class SourceStatsMiddleware:
    """Count requests actually sent and responses by status, per source (request.meta['source_id'])."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourceStatsMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        source_id = request.meta.get("source_id")
        if source_id:
            self.stats.inc_value(source_stat(source_id, "requests"))
            self.stats.min_value(source_stat(source_id, "started_at"), datetime.now(timezone.utc))

    def process_response(self, request: Request, response: Response) -> Response:
        source_id = request.meta.get("source_id")
        if source_id:
            self.stats.inc_value(source_stat(source_id, "responses", str(response.status)))
            self.stats.max_value(source_stat(source_id, "finished_at"), datetime.now(timezone.utc))
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        source_id = request.meta.get("source_id")
        if source_id:
            self.stats.max_value(source_stat(source_id, "finished_at"), datetime.now(timezone.utc))


class RedirectLoopMiddleware:
    """Fail a request whose redirect target was already visited in its chain (A -> B -> A).

    Without this, the duplicate filter silently drops the looping request and the errback never hears
    of it. Must sit between RedirectMiddleware (600) and the downloader so it sees the 3xx first.
    """

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get(b"Location")
        if response.status not in REDIRECT_STATUSES or not location:
            return response
        target = urljoin(request.url, safe_url_string(location.decode("latin-1")))
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if canonicalize_url(target) in {canonicalize_url(url) for url in chain}:
            raise RedirectLoop(f"redirect loop: {' -> '.join([*chain, target])}")
        return response


class NotModified(IgnoreRequest):
    """A discovery document answered 304 to a conditional GET: nothing new there since the last run."""


class ConditionalGetMiddleware:
    """Send the validators a source's state remembers for feeds, sitemaps and listing pages
    (request.meta['conditional']), remember the new ones, and turn a 304 into NotModified.

    The state is the spider's `crawl_state` (source_id -> crawlers.state.SourceState); with the spider's
    `full_crawl` set, no validators are sent (everything is fetched) but new ones are still remembered.
    Sits before RedirectMiddleware's response side (600), so each redirect hop has its own validators.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        return cls(crawler)

    def _state(self, request: Request):  # -> SourceState | None (no import: one job per file)
        if not request.meta.get("conditional"):
            return None
        states = getattr(self.crawler.spider, "crawl_state", None) or {}
        return states.get(request.meta.get("source_id"))

    def process_request(self, request: Request) -> None:
        if not request.meta.get("conditional"):
            return None
        # Redirect hops inherit the first URL's headers; each URL may only carry its own validators.
        for name in (b"If-None-Match", b"If-Modified-Since"):
            request.headers.pop(name, None)
        state = self._state(request)
        if state is None or getattr(self.crawler.spider, "full_crawl", False):
            return None
        for name, value in state.conditional_headers(canonicalize_url(request.url)).items():
            request.headers[name] = value
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        state = self._state(request)
        if state is None:
            return response
        if response.status == 304:
            raise NotModified(f"not modified: {request.url}")
        if response.status == 200:
            etag = response.headers.get(b"ETag")
            last_modified = response.headers.get(b"Last-Modified")
            state.remember_validators(canonicalize_url(request.url), etag and etag.decode("latin-1"),
                                      last_modified and last_modified.decode("latin-1"))
        return response


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP date) in seconds from now; None when absent or bad."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())


def backoff_delay(retry_times: int, base: float, cap: float, retry_after: float | None = None,
                  retry_after_cap: float | None = None, jitter: float = 0.2) -> float:
    """Seconds to wait before retry number `retry_times` (1, 2, ...): base * 2**(n-1), +-jitter, at most
    `cap`; a server's Retry-After wins when longer, but never beyond `retry_after_cap`."""
    delay = min(cap, base * 2 ** max(0, retry_times - 1))
    delay *= 1 + random.uniform(-jitter, jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, retry_after_cap if retry_after_cap is not None else cap))
    return max(0.0, delay)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware (same codes, exceptions and RETRY_TIMES) whose retries wait first.

    Scrapy reschedules a retry at once, which hammers a server that just said 429 or 503. Here each retry
    carries a delay (exponential in its number, jittered, capped by RETRY_BACKOFF_MAX; a Retry-After is
    honoured up to RETRY_AFTER_MAX) that process_request sleeps without blocking the reactor. Retries are
    bounded by RETRY_TIMES, so a crawl's extra wait is bounded too.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)
        self.retry_after_cap = settings.getfloat("RETRY_AFTER_MAX", 120.0)

    async def process_request(self, request: Request) -> None:
        delay = request.meta.pop("retry_delay", 0)
        if delay > 0:
            await sleep(delay)
        return None

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        retry.meta["retry_delay"] = backoff_delay(
            retry.meta["retry_times"], self.base, self.cap,
            retry_after_seconds(response.headers.get(b"Retry-After")), self.retry_after_cap)
        return retry

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        retry = super().process_exception(request, exception)
        if isinstance(retry, Request):
            retry.meta["retry_delay"] = backoff_delay(retry.meta["retry_times"], self.base, self.cap)
        return retry
