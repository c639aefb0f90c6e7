"""The crawl sources of `config/sources.yaml`: validated models, defaults merged into every entry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from croniter import croniter
from cssselect import GenericTranslator, SelectorError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from peacewatch.config import ConfigError, config_path, load_yaml

_ID = r"^[a-z0-9][a-z0-9_]*$"


def _http_url(value: str) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listing(_Model):
    """A paginated listing page whose article links match `link_pattern` (a regex)."""

    url: str
    link_pattern: str
    max_pages: int = Field(default=10, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("link_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        return value


class Discovery(_Model):
    """Where a source's article URLs come from."""

    feeds: list[str] = []
    sitemaps: list[str] = []
    listings: list[Listing] = []

    @field_validator("feeds", "sitemaps")
    @classmethod
    def _urls(cls, values: list[str]) -> list[str]:
        return [_http_url(v) for v in values]

    @model_validator(mode="after")
    def _not_empty(self) -> Discovery:
        if not (self.feeds or self.sitemaps or self.listings):
            raise ValueError("needs at least one of feeds, sitemaps, listings")
        return self


class Selectors(_Model):
    """Per-source CSS selectors that override generic extraction."""

    title: str | None = None
    body: str | None = None
    date: str | None = None
    author: str | None = None

    @field_validator("title", "body", "date", "author")
    @classmethod
    def _css(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                GenericTranslator().css_to_xpath(value)
            except SelectorError as exc:
                raise ValueError(f"invalid CSS selector {value!r}: {exc}") from exc
        return value


class Source(_Model):
    """One outlet to crawl."""

    id: str = Field(pattern=_ID, max_length=64)
    name: str = Field(min_length=1)
    homepage: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    language: str = Field(pattern=r"^[a-z]{2,3}$")
    discovery: Discovery
    schedule: str
    max_pages: int = Field(ge=1, le=100_000)
    enabled: bool = True
    selectors: Selectors | None = None

    @field_validator("homepage")
    @classmethod
    def _homepage(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"invalid cron expression {value!r}")
        return value


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(entry)"


def load_sources(path: Path | None = None) -> list[Source]:
    """Read and validate the sources file (default: `sources` in peacewatch.yaml).

    Raises ConfigError naming the file, the entry (index and id) and the field at fault.
    """
    path = Path(path) if path is not None else config_path("sources")
    document = load_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'sources' list")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: 'defaults' must be a mapping")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["sources"]):
        entry_id = entry.get("id") if isinstance(entry, dict) else None
        where = f"{path}: sources[{index}] (id={entry_id!r})"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: entry must be a mapping")
        try:
            source = Source.model_validate({**defaults, **entry})
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ConfigError(f"{where}: field '{_field(error['loc'])}': {error['msg']}") from exc
        if source.id in seen:
            raise ConfigError(f"{where}: field 'id': duplicate source id")
        seen.add(source.id)
        sources.append(source)
    return sources


def select_sources(sources: list[Source], ids: list[str] | None = None) -> list[Source]:
    """The enabled sources, or exactly the named ones (enabled or not); unknown ids are an error."""
    if not ids:
        return [s for s in sources if s.enabled]
    known = {s.id: s for s in sources}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ConfigError(f"unknown source id(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[i] for i in dict.fromkeys(ids)]
