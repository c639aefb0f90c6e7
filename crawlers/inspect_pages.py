"""Run the crawler's article extraction on saved pages or single URLs, outside a crawl.

`extract_inputs` answers "what would the crawler make of this page?": it applies exactly the extraction
the spider applies (`extract_article`, with the source's CSS selectors when a source is named) to local
files (`.html` or gzipped `.html.gz`) and to http(s) URLs fetched once with the project's User-Agent.
"""

from __future__ import annotations

import gzip
import socket
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from w3lib.encoding import http_content_type_encoding

from peacewatch.config import ConfigError, settings
from peacewatch.crawlers.extract import extract_article
from peacewatch.crawlers.sources import Selectors, load_sources

_GZIP_MAGIC = b"\x1f\x8b"
_DEFAULT_MAX_BYTES = 5_000_000


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _selectors_for(source_id: str | None, sources_path: Path | None) -> Selectors | None:
    """The CSS selectors of `source_id` in the sources file (None without a source or selectors)."""
    if source_id is None:
        return None
    sources = {source.id: source for source in load_sources(sources_path)}
    if source_id not in sources:
        raise ConfigError(f"unknown source id {source_id!r}; known: {', '.join(sources) or '(none)'}")
    return sources[source_id].selectors


def _crawler_settings() -> dict[str, Any]:
    crawler = settings().get("crawler") or {}
    if not crawler.get("user_agent"):
        raise ConfigError("config/peacewatch.yaml: crawler.user_agent is not set")
    return crawler


def _read_file(path: Path) -> bytes:
    """The bytes of a saved page, gunzipped when the file is gzip (by content, whatever its name)."""
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    return data


def _decode_content(data: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(data)
    if encoding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
    return data


def _fetch(url: str, user_agent: str, timeout: float, max_bytes: int) -> tuple[bytes, str, str | None]:
    """One GET (redirects followed by urllib): body, final URL, charset of the Content-Type header."""
    request = urllib.request.Request(url, headers={
        "User-Agent": user_agent,
        "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
        "Accept-Encoding": "gzip, deflate",
    })
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise ValueError(f"page larger than {max_bytes} bytes (crawler.max_body_bytes)")
        body = _decode_content(body, response.headers.get("Content-Encoding", ""))
        content_type = response.headers.get("Content-Type", "")
        final_url = response.geturl()
    mime = content_type.split(";")[0].strip().lower()
    if mime and not ("html" in mime or mime.startswith("text/")):
        raise ValueError(f"not an HTML page (Content-Type {mime})")
    return body, final_url, http_content_type_encoding(content_type)


def _fetch_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}".strip()
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return f"timed out after {timeout:g} s"
        return f"cannot fetch: {reason}"
    return f"cannot fetch: {type(exc).__name__}: {exc}"


def _file_error(exc: BaseException, path: Path) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {path}"
    if isinstance(exc, IsADirectoryError):
        return f"is a directory, not a page: {path}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {path}"
    if isinstance(exc, (gzip.BadGzipFile, EOFError, zlib.error)):
        return f"corrupt gzip file: {path} ({exc})"
    return f"cannot read {path}: {type(exc).__name__}: {exc}"


def _record(input_: str, html: bytes, page_url: str, charset: str | None,
            selectors: Selectors | None) -> dict[str, Any]:
    extracted = extract_article(html, page_url, headers_charset=charset, selectors=selectors)
    return {
        "input": input_,
        "title": extracted.title,
        "authors": list(extracted.authors),
        "published_at": _iso_utc(extracted.published_at),
        "language": extracted.language,
        "canonical_url": extracted.canonical_url,
        "body": extracted.body,
    }


def extract_inputs(
    inputs: list[str],
    source_id: str | None = None,
    url: str | None = None,
    sources_path: Path | None = None,
    timeout: float = 20.0,
) -> Iterator[dict]:
    """Extract each input (a local .html/.html.gz path or an http(s) URL) as the crawler would.

    Yields one dict per input, in order: input, title, authors, published_at (ISO 8601 UTC or None),
    language, canonical_url, body. A file's page URL is `url` when given, else its file:// URL; a
    fetched page's is the URL after redirects. `source_id` applies that source's CSS selectors from
    the sources file (`sources_path`, default the configured one). An input that cannot be read,
    fetched or extracted yields {"input": ..., "error": "<one line>"} and the next input goes on.

    Raises ConfigError (before any input is processed) for an unknown `source_id` or a bad sources file.
    """
    selectors = _selectors_for(source_id, sources_path)
    crawler = _crawler_settings()
    user_agent = str(crawler["user_agent"])
    max_bytes = int(crawler.get("max_body_bytes") or _DEFAULT_MAX_BYTES)
    return _extract_all(list(inputs), selectors, url, user_agent, timeout, max_bytes)


def _extract_one(input_: str, selectors: Selectors | None, url: str | None, user_agent: str,
                 timeout: float, max_bytes: int) -> dict[str, Any]:
    if input_.lower().startswith(("http://", "https://")):
        try:
            html, page_url, charset = _fetch(input_, user_agent, timeout, max_bytes)
        except Exception as exc:  # noqa: BLE001 - any fetch failure becomes this input's error
            return {"input": input_, "error": _one_line(_fetch_error(exc, timeout))}
    else:
        path = Path(input_).expanduser()
        try:
            html = _read_file(path)
            page_url, charset = url or path.resolve().as_uri(), None
        except Exception as exc:  # noqa: BLE001 - any read failure becomes this input's error
            return {"input": input_, "error": _one_line(_file_error(exc, path))}
    try:
        return _record(input_, html, page_url, charset, selectors)
    except Exception as exc:  # noqa: BLE001 - one page the extractor chokes on must not stop the others
        return {"input": input_, "error": _one_line(f"extraction failed: {type(exc).__name__}: {exc}")}


def _extract_all(inputs: list[str], selectors: Selectors | None, url: str | None, user_agent: str,
                 timeout: float, max_bytes: int) -> Iterator[dict]:
    for input_ in inputs:
        yield _extract_one(input_, selectors, url, user_agent, timeout, max_bytes)
