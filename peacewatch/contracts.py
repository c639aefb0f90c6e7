"""Data contracts shared by the crawler, the loader, the classifier and `peacewatch analyze`.

Each contract is a pydantic model: producers build it (so a bad record fails where it is made) and
consumers validate it (so a bad record is quarantined with the reason, never loaded). The contracts are
described for users in docs/architecture.md; change both together.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ITEM_SCHEMA_VERSION = 1


def content_hash(text: str) -> str:
    """sha256 of whitespace-normalised body text: equal for byte-identical copies of an article."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _require_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone")
    return value.astimezone(timezone.utc)


class CrawledItem(BaseModel):
    """One fetched and extracted article: a line of a landing file."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = ITEM_SCHEMA_VERSION
    url: str = Field(min_length=8)
    canonical_url: str = Field(min_length=8)
    source_id: str = Field(min_length=1)
    title: str
    authors: list[str] = []
    published_at: datetime | None
    updated_at: datetime | None = None
    language: str | None
    body: str
    raw_html_path: str = Field(description="path of the gzipped raw HTML, relative to the data dir")
    fetched_at: datetime
    http_status: int
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    _utc = field_validator("published_at", "updated_at", "fetched_at")(_require_utc)

    @field_validator("url", "canonical_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value


class LandingFile(BaseModel):
    """A complete data file of a crawl run, as listed in the run's manifest."""

    name: str
    sha256: str
    rows: int


class SourceStats(BaseModel):
    """Per-source health of one crawl run (the warehouse's crawl_runs rows)."""

    source_id: str
    requests: int = 0
    responses_by_status: dict[str, int] = {}
    items: int = 0
    drops_by_reason: dict[str, int] = {}
    # Incremental crawling, not failures: discovery documents that answered 304 to a conditional GET, and
    # article URLs an earlier run fetched that no discovery date says changed since.
    not_modified: int = 0
    already_seen: int = 0
    # Signs of a changed layout, by kind: "selector_miss" (the source's CSS selectors matched nothing on a
    # page), "no_body" (an HTML page gave no text). Such pages may still land through generic extraction.
    extraction_failed: dict[str, int] = {}
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RunManifest(BaseModel):
    """Written last, atomically, in a run folder: the loader only reads runs that have one."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    files: list[LandingFile]
    sources: list[SourceStats]


Stance = Literal["favor", "against", "neutral"]


class Claim(BaseModel):
    """An actor's stance on a codebook position, with the sentence that shows it."""

    actor: str
    position: str
    stance: Stance
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: str


class AnalyzeRequest(BaseModel):
    """A line read by `peacewatch analyze`."""

    id: str | int
    text: str


class AnalyzeResult(BaseModel):
    """A line written by `peacewatch analyze`: the stable interface for evaluating the models."""

    id: str | int
    topics: list[str]
    claims: list[Claim]
