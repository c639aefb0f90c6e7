"""Downloader middlewares: per-source request accounting and redirect-loop detection.

Per-source figures live in Scrapy's stats collector under `peacewatch/<source_id>/...` keys (see
`source_stat`); the spider counts skips there, LandingPipeline turns them into the run's SourceStats.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urljoin

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from w3lib.url import canonicalize_url, safe_url_string

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
