"""What one crawl run leaves for the next, per source, so the next run asks only for what is new:

    <data_dir>/state/<source_id>.json

- `validators`: the ETag / Last-Modified of each feed, sitemap and listing page, sent back as
  If-None-Match / If-Modified-Since (an unchanged document then costs a 304 and no parsing);
- `articles`: each article URL fetched (by canonical URL), with the discovery date (feed updated/published,
  sitemap lastmod, listing <time>) known when it was fetched: a later discovery with a newer date means
  the article changed and is fetched again; anything else is `already_seen`;
- `pending`: URLs found but not fetched (over the budget, or a failure that may pass: 5xx, timeout), queued
  again at the start of the next run, since an unchanged feed (304) would never list them again.

The file is written atomically at spider close, only after the run's landing was published, so a crashed
run leaves the previous state and the next run merely fetches more than it needs to. Wall-clock fetch
times are not compared with discovery dates: publishers' clocks and backdated items make that unreliable.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from peacewatch.landing import write_atomic

logger = logging.getLogger(__name__)

STATE_VERSION = 1
STATE_DIR = "state"
# Skip reasons that will not change on a second try of the same page: the page is recorded as seen and is
# fetched again only when a discovery date says it changed. Anything else (5xx, 429, timeouts, connection
# errors) is retried in the next runs, up to `max_attempts`.
PERMANENT_REASONS = frozenset({
    "not_html", "empty_body", "invalid_item", "robots_disallowed", "redirect_loop", "too_large", "ignored",
})
TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})

Verdict = Literal["new", "changed", "retry", "already_seen"]


def is_permanent(reason: str) -> bool:
    """True for a skip reason that a later run would meet again (4xx but 408/425/429 included)."""
    if reason in PERMANENT_REASONS:
        return True
    if reason.startswith("http_") and reason[5:].isdigit():
        return int(reason[5:]) not in TRANSIENT_HTTP
    return False


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat() if moment is not None else None


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def state_path(data_dir: Path, source_id: str) -> Path:
    return Path(data_dir) / STATE_DIR / f"{source_id}.json"


def jsonable_hints(hints: dict[str, Any]) -> dict[str, Any]:
    """Discovery hints as JSON (datetimes as ISO strings; extraction parses either form)."""
    return {key: _iso(value) if isinstance(value, datetime) else value
            for key, value in hints.items() if value not in (None, "", [])}


@dataclass
class SourceState:
    """The state of one source (see the module docstring); plain JSON-able dicts inside."""

    source_id: str
    validators: dict[str, dict[str, str]] = field(default_factory=dict)
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)

    # --- HTTP validators ---------------------------------------------------------------------------

    def conditional_headers(self, url: str) -> dict[str, str]:
        """If-None-Match / If-Modified-Since for a discovery document fetched before."""
        known = self.validators.get(url, {})
        headers = {}
        if known.get("etag"):
            headers["If-None-Match"] = known["etag"]
        if known.get("last_modified"):
            headers["If-Modified-Since"] = known["last_modified"]
        return headers

    def remember_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        if etag or last_modified:
            self.validators[url] = {k: v for k, v in (("etag", etag), ("last_modified", last_modified)) if v}
        else:
            self.validators.pop(url, None)

    # --- articles ----------------------------------------------------------------------------------

    def verdict(self, key: str, discovered: datetime | None, now: datetime) -> Verdict:
        """Whether to fetch an article discovered now (key: its canonical URL) and why.

        Changed means a discovery date strictly newer than the one known at the last fetch; a record
        without a date takes the first one seen later without counting that as a change.
        """
        if key in self.pending:
            return "retry"
        record = self.articles.get(key)
        if record is None:
            return "new"
        record["last_seen"] = _iso(now)
        known = _parse(record.get("modified"))
        if discovered is not None and known is not None and discovered > known:
            return "changed"
        if known is None and discovered is not None:
            record["modified"] = _iso(discovered)
        return "already_seen"

    def fetched(self, key: str, discovered: datetime | None, outcome: str, now: datetime) -> None:
        """An article was fetched and landed (outcome "landed") or skipped for a permanent reason."""
        self.pending.pop(key, None)
        previous = _parse((self.articles.get(key) or {}).get("modified"))
        modified = max((d for d in (discovered, previous) if d is not None), default=None)
        self.articles[key] = {"modified": _iso(modified), "fetched_at": _iso(now), "last_seen": _iso(now),
                              "outcome": outcome}

    def postpone(self, key: str, url: str, hints: dict[str, Any], discovered: datetime | None, reason: str,
                 now: datetime, max_attempts: int, attempted: bool = True) -> bool:
        """Queue an article for the next run; False when it has used up its attempts (then it is recorded
        as fetched with the failure as outcome, and retried only if its discovery date changes)."""
        entry = self.pending.get(key) or {"url": url, "hints": jsonable_hints(hints), "attempts": 0,
                                          "first_seen": _iso(now)}
        entry["attempts"] += 1 if attempted else 0
        entry["reason"] = reason
        if entry["attempts"] >= max_attempts:
            self.fetched(key, discovered, f"gave_up:{reason}", now)
            return False
        self.pending[key] = entry
        return True

    def prune(self, now: datetime, ttl: timedelta) -> int:
        """Forget articles not discovered for `ttl` and pending URLs older than that; returns how many."""
        cutoff = now - ttl
        stale = [k for k, r in self.articles.items() if (_parse(r.get("last_seen")) or now) < cutoff]
        stale_pending = [k for k, r in self.pending.items() if (_parse(r.get("first_seen")) or now) < cutoff]
        for key in stale:
            del self.articles[key]
        for key in stale_pending:
            del self.pending[key]
        return len(stale) + len(stale_pending)

    # --- file ----------------------------------------------------------------------------------------

    def to_json(self) -> bytes:
        document = {"version": STATE_VERSION, "source_id": self.source_id, "validators": self.validators,
                    "articles": self.articles, "pending": self.pending}
        return json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, source_id: str, data: bytes) -> SourceState:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {document.get('version')!r}")
        return cls(source_id, dict(document.get("validators") or {}), dict(document.get("articles") or {}),
                   dict(document.get("pending") or {}))


def load_state(data_dir: Path, source_id: str) -> SourceState:
    """The saved state of a source; a missing or unreadable file starts afresh (a full crawl, not a failure)."""
    path = state_path(data_dir, source_id)
    try:
        return SourceState.from_json(source_id, path.read_bytes())
    except FileNotFoundError:
        return SourceState(source_id)
    except (ValueError, TypeError, KeyError) as exc:
        logger.warning("ignoring unreadable crawl state %s (%s); this run fetches everything", path, exc)
        return SourceState(source_id)


def save_state(data_dir: Path, state: SourceState) -> Path:
    path = state_path(data_dir, state.source_id)
    write_atomic(path, state.to_json())
    return path
