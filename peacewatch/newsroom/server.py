"""Serve the demo newsroom on loopback from its prebuilt routing table.

Every answer is precomputed by `site.build_site`, so a request is a dictionary lookup: fast enough for a
crawler at well over 50 pages/s. The only request-time behaviour is the slow page's sleep and the
conditional-GET check (304 for a matching If-None-Match / If-Modified-Since).
"""

from __future__ import annotations

import ipaddress
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from peacewatch.newsroom.site import Response, build_articles, build_site, load_stories

_NOT_FOUND = Response(404, "text/html; charset=utf-8",
                      b'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Not found</title></head>'
                      b"<body><h1>Not found</h1></body></html>\n")


class NewsroomServer(ThreadingHTTPServer):
    """A threading HTTP server that answers from a routing table built for its own address."""

    daemon_threads = True
    request_queue_size = 128  # crawlers open many connections at once

    def __init__(self, address: tuple[str, int], edition: int, slow_seconds: float):
        super().__init__(address, _Handler)
        host, port = self.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self.edition = edition
        self.slow_seconds = slow_seconds
        stories = load_stories()
        self.article_count = len(build_articles(edition, stories))
        self.routes = build_site(edition, self.base_url, stories)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall for seconds; skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up mid-response are normal for a crawler test target; stay quiet about them.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def lookup(self, target: str) -> Response:
        """The response for a request target; unknown query strings (tracking params) fall back to the path."""
        response = self.routes.get(target)
        if response is None and "?" in target:
            response = self.routes.get(target.split("?", 1)[0])
        return response or _NOT_FOUND


class _Handler(BaseHTTPRequestHandler):
    server: NewsroomServer
    protocol_version = "HTTP/1.1"  # keep-alive: crawlers reuse connections
    timeout = 30  # idle keep-alive connections are dropped

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        response = self.server.lookup(self.path)
        if response.slow:
            time.sleep(self.server.slow_seconds)
        if response.status == 200 and self._not_modified(response):
            self.send_response(304)
            for name in ("ETag", "Last-Modified"):
                if name in response.headers:
                    self.send_header(name, response.headers[name])
            self.end_headers()
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)

    def _not_modified(self, response: Response) -> bool:
        """RFC 9110 precedence: If-None-Match decides when present, else If-Modified-Since."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            etag = response.headers.get("ETag")
            tags = {tag.strip() for tag in if_none_match.split(",")}
            return etag is not None and ("*" in tags or etag in tags or f"W/{etag}" in tags)
        if_modified_since = self.headers.get("If-Modified-Since")
        last_modified = response.headers.get("Last-Modified")
        if not if_modified_since or not last_modified:
            return False
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False

    def log_message(self, format: str, *args: object) -> None:
        # Quiet: the crawler records every request it makes; per-request stderr lines only add noise.
        pass


def serve(host: str = "127.0.0.1", port: int = 0, edition: int = 2, slow_seconds: float = 3.0) -> NewsroomServer:
    """A bound, not yet serving newsroom server (port 0 picks a free port; see `.base_url`)."""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the demo newsroom binds to loopback only, not {host!r}")
    return NewsroomServer((host, port), edition, slow_seconds)


def serve_forever_cli(host: str = "127.0.0.1", port: int = 8765, edition: int = 2, slow_seconds: float = 3.0) -> None:
    """`peacewatch newsroom serve`: announce the address, then serve until interrupted."""
    server = serve(host, port, edition, slow_seconds)
    print(f"newsroom serving {server.base_url} ({server.article_count} articles, edition {edition})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@contextmanager
def running_newsroom(edition: int = 2, slow_seconds: float = 3.0) -> Iterator[str]:
    """Run a newsroom on a free loopback port in a daemon thread; yields its base URL (no trailing slash)."""
    server = serve(edition=edition, slow_seconds=slow_seconds)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="newsroom", daemon=True)
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
