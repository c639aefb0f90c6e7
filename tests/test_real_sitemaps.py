"""Real sitemaps from ../shared/eval/sitemaps parsed exactly as the spider parses them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from scrapy.http import XmlResponse

SITEMAPS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "sitemaps"
pytestmark = pytest.mark.skipif(not SITEMAPS.is_dir(), reason=f"real-world sitemaps not found at {SITEMAPS}")


@pytest.fixture
def spider(tmp_path):
    from scrapy.utils.test import get_crawler

    from peacewatch.crawlers.spiders.news import NewsSpider

    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{
        "id": "eval_sitemap", "name": "Evaluation sitemap", "homepage": "https://www.example.org/",
        "country": "US", "language": "en", "discovery": {"sitemaps": ["https://www.example.org/sitemap.xml"]},
        "schedule": "0 * * * *", "max_pages": 100000,
    }]}), encoding="utf-8")
    crawler = get_crawler(NewsSpider, {"PEACEWATCH_DATA_DIR": str(tmp_path / "data")})
    return NewsSpider.from_crawler(crawler, sources=str(sources))


def parse(spider, name: str):
    body = (SITEMAPS / name).read_bytes()
    response = XmlResponse(f"https://www.example.org/{name}", body=body)
    return list(spider.parse_sitemap(response, source_id="eval_sitemap", depth=0))


def test_google_news_sitemap_with_odd_prefix_and_whitespace(spider):
    requests = parse(spider, "washingtonpost_news_sitemap_2017-11-23.xml")
    assert len(requests) == 4
    first = requests[0]
    assert first.url.startswith("https://www.washingtonpost.com/politics/the-latest-roy-moore-thanks-trump")
    hints = first.cb_kwargs["hints"]
    assert hints["title"] == "The Latest: Roy Moore thanks Trump in new fundraising appeal"
    assert str(hints["published_at"]).startswith("2017-11-23")
    assert all(r.url == r.url.strip() and " " not in r.url for r in requests)


def test_urlset_yields_every_url(spider):
    requests = parse(spider, "sitemaps_org_urlset.xml")
    assert len(requests) == 84
    assert all(r.url.startswith("https://www.sitemaps.org/") or r.url.startswith("http://www.sitemaps.org/") for r in requests)


def test_sitemap_index_follows_its_child_sitemaps(spider):
    requests = parse(spider, "sitemapindex_protocol_example.xml")
    assert len(requests) == 2
    assert all(r.url.endswith(".xml.gz") and r.callback == spider.parse_sitemap for r in requests)
