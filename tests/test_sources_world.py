"""config/sources.world.yaml: real outlets, valid in the schema the crawler loads, with real discovery."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from peacewatch.config import PROJECT_ROOT
from peacewatch.crawlers.sources import load_sources

WORLD = PROJECT_ROOT / "config" / "sources.world.yaml"
EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
FUNDUS_CSV = EVAL / "sitemaps" / "fundus_publisher_sources.csv"
EUROPE = {"GB", "DE", "FR", "PL", "BE", "IT", "ES", "NL", "AT", "CH", "SE", "CZ", "LT", "LV", "EE", "FI"}


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


@pytest.fixture(scope="module")
def sources():
    return load_sources(WORLD)


@pytest.fixture(scope="module")
def raw_entries() -> list[dict]:
    return yaml.safe_load(WORLD.read_text(encoding="utf-8"))["sources"]


def test_world_file_validates_with_many_enabled_sources(sources):
    enabled = [s for s in sources if s.enabled]
    assert len(enabled) >= 30, f"only {len(enabled)} enabled sources"


def test_ids_are_unique(raw_entries, sources):
    counts = Counter(entry["id"] for entry in raw_entries)
    assert not [i for i, n in counts.items() if n > 1]
    assert len({s.id for s in sources}) == len(raw_entries)


def test_countries_cover_the_parties_and_beyond(sources):
    countries = {s.country for s in sources}
    assert {"RU", "UA", "US"} <= countries
    assert len(countries & EUROPE) >= 2, countries
    assert len(countries) >= 5, countries
    per_country = Counter(s.country for s in sources)
    assert per_country["RU"] >= 4 and per_country["UA"] >= 4 and per_country["US"] >= 4, per_country


def test_every_source_has_a_feed_or_sitemap(sources):
    missing = [s.id for s in sources if not (s.discovery.feeds or s.discovery.sitemaps)]
    assert not missing, f"sources without a feed or sitemap: {missing}"


def test_every_entry_states_schedule_budget_and_enabled(raw_entries):
    """Each outlet carries its own schedule, page budget and `enabled: true` (no hidden defaults)."""
    for entry in raw_entries:
        assert entry.get("enabled") is True, entry["id"]
        assert isinstance(entry.get("max_pages"), int) and entry["max_pages"] > 0, entry["id"]
        assert isinstance(entry.get("schedule"), str), entry["id"]


def test_no_placeholders_or_local_addresses(sources):
    text = WORLD.read_text(encoding="utf-8")
    assert "${" not in text
    for placeholder in ("example.com", "example.org", "localhost", "127.0.0.1", "TODO", "XXX", "changeme"):
        assert placeholder not in text, placeholder
    for source in sources:
        for url in [source.homepage, *source.discovery.feeds, *source.discovery.sitemaps]:
            host = urlsplit(url).hostname or ""
            assert "." in host and not host.replace(".", "").isdigit(), (source.id, url)


def test_header_says_it_needs_internet_and_terms():
    lines = WORLD.read_text(encoding="utf-8").splitlines()
    header = "\n".join(line for line in lines if line.startswith("#"))
    assert "internet" in header.lower()
    assert "terms" in header.lower()


def test_discovery_urls_belong_to_the_outlet(sources):
    """Feeds and sitemaps are the outlet's own (same site or one of its feed hosts), not aggregators."""
    aggregators = ("news.google.com", "feedburner.com", "rsshub", "allorigins", "feedly.com")
    for source in sources:
        for url in [*source.discovery.feeds, *source.discovery.sitemaps]:
            assert not any(a in url for a in aggregators), (source.id, url)


def test_outlets_listed_by_fundus_use_its_urls(sources):
    """Where the Fundus publisher table lists an outlet's site, at least one of its URLs is used."""
    if not FUNDUS_CSV.is_file():
        pytest.skip(f"real-world evaluation data not found at {EVAL} (shared/eval beside the repo)")
    with FUNDUS_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_host: dict[str, set[str]] = {}
    for row in rows:
        by_host.setdefault(_host(row["domain"]), set()).add(row["url"])
    checked = 0
    for source in sources:
        listed = by_host.get(_host(source.homepage))
        if not listed:
            continue
        checked += 1
        used = set(source.discovery.feeds) | set(source.discovery.sitemaps)
        assert used & listed, f"{source.id}: none of {sorted(used)} is among the fundus URLs {sorted(listed)}"
    assert checked >= 10, f"only {checked} outlets matched the fundus table"
