"""config/sources.yaml: validation, defaults, and error messages that point at the bad field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from peacewatch.config import ConfigError, PROJECT_ROOT
from peacewatch.crawlers.sources import load_sources, select_sources

DEMO = PROJECT_ROOT / "config" / "sources.yaml"


def write(tmp_path: Path, sources: list[dict], defaults: dict | None = None) -> Path:
    path = tmp_path / "sources.yaml"
    document = {"defaults": defaults or {"schedule": "0 * * * *", "max_pages": 50, "enabled": True},
                "sources": sources}
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def entry(**overrides) -> dict:
    base = {
        "id": "good_outlet", "name": "Good Outlet", "homepage": "https://example.org/", "country": "GB",
        "language": "en", "discovery": {"feeds": ["https://example.org/rss.xml"]},
    }
    return {**base, **overrides}


def test_demo_sources_load_with_defaults_merged(monkeypatch):
    monkeypatch.setenv("PEACEWATCH_NEWSROOM_URL", "http://127.0.0.1:9999")
    sources = load_sources(DEMO)
    by_id = {s.id: s for s in sources}
    assert len(sources) == 10 and len(by_id) == 10
    assert by_id["baltic_wire"].schedule == "*/30 * * * *"          # entry overrides the default
    assert by_id["dnipro_ledger"].schedule == "0 */2 * * *"         # default merged in
    assert all(s.max_pages == 500 and s.enabled for s in sources)
    assert by_id["kyiv_khvylia"].discovery.feeds == ["http://127.0.0.1:9999/kyiv-khvylia/feed.atom"]
    listing = by_id["eastern_courier"].discovery.listings[0]
    assert listing.max_pages == 40 and listing.link_pattern.startswith("/eastern-courier/")
    assert by_id["moskva_vestnik"].name == "Московский вестник"


def test_default_path_comes_from_peacewatch_yaml():
    assert [s.id for s in load_sources()] == [s.id for s in load_sources(DEMO)]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"schedule": "every hour"}, "schedule"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"homepage": "example.org"}, "homepage"),
        ({"country": "gbr"}, "country"),
        ({"max_pages": 0}, "max_pages"),
        ({"discovery": {}}, "discovery"),
        ({"discovery": {"feeds": ["ftp://example.org/feed"]}}, "discovery.feeds"),
        ({"discovery": {"listings": [{"url": "https://example.org/news/", "link_pattern": "(unclosed"}]}},
         "discovery.listings.0.link_pattern"),
        ({"selectors": {"body": "div[[broken"}}, "selectors.body"),
        ({"sitemap": "https://example.org/sitemap.xml"}, "sitemap"),   # typo: unknown field
    ],
)
def test_bad_entry_names_file_entry_and_field(tmp_path, bad, field):
    path = write(tmp_path, [entry(id="first_ok"), entry(id="broken_one", **bad)])
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    message = str(info.value)
    assert str(path) in message
    assert "sources[1]" in message and "'broken_one'" in message
    assert f"'{field}'" in message


def test_missing_required_field_and_duplicate_id(tmp_path):
    missing = entry()
    del missing["name"]
    with pytest.raises(ConfigError, match=r"sources\[0\].*'name'"):
        load_sources(write(tmp_path, [missing]))
    with pytest.raises(ConfigError, match=r"sources\[1\].*duplicate"):
        load_sources(write(tmp_path, [entry(), entry()]))


def test_missing_file_and_bad_shape(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_sources(tmp_path / "nope.yaml")
    path = tmp_path / "sources.yaml"
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'sources' list"):
        load_sources(path)


def test_selectors_and_selection(tmp_path):
    path = write(tmp_path, [
        entry(id="a", selectors={"body": "div.story p", "title": "h1.headline"}),
        entry(id="b", enabled=False),
    ])
    sources = load_sources(path)
    assert sources[0].selectors.body == "div.story p" and sources[0].selectors.date is None
    assert [s.id for s in select_sources(sources)] == ["a"]              # disabled left out
    assert [s.id for s in select_sources(sources, ["b"])] == ["b"]       # unless named
    with pytest.raises(ConfigError, match="unknown source id"):
        select_sources(sources, ["zzz"])
