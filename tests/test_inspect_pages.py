"""crawlers/inspect_pages.py: the crawler's extraction on saved pages and single URLs; real feeds as the spider
parses them."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from peacewatch.config import ConfigError, settings
from peacewatch.crawlers.inspect_pages import extract_inputs

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
FEEDS = EVAL / "feeds"
RECORD_KEYS = {"input", "title", "authors", "published_at", "language", "canonical_url", "body"}

PARAGRAPHS = [
    "Negotiators from both delegations met in Istanbul on Monday for a second round of direct talks, "
    "the first such meeting in more than three years, with a prisoner exchange at the top of the agenda.",
    "Officials said the sides agreed to swap one thousand prisoners each, while a ceasefire along the "
    "front line remained the main point of disagreement between the two delegations.",
    "Mediators described the atmosphere as businesslike and said another meeting could follow within "
    "weeks if the exchange goes ahead as planned and both capitals approve the draft memoranda.",
]


def article_html(title: str = "Delegations agree on prisoner swap", canonical: str | None =
                 "https://news.example.net/2025/05/16/prisoner-swap", charset: str = "utf-8",
                 paragraphs: list[str] = PARAGRAPHS, lang: str = "en") -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="{charset}">
<title>{title} | Example News</title>
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2025-05-16T14:30:00+03:00">
{link}
</head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<article><h1>{title}</h1><div class="story">{body}</div></article>
<footer><p>Copyright Example News. All rights reserved.</p></footer>
</body></html>"""


def only(records: Iterator[dict]) -> dict:
    records = list(records)
    assert len(records) == 1, records
    return records[0]


# --- local files -------------------------------------------------------------------------------------


def test_plain_and_gzipped_files_give_the_same_article(tmp_path):
    html = article_html().encode("utf-8")
    plain = tmp_path / "article.html"
    plain.write_bytes(html)
    gzipped = tmp_path / "article.html.gz"
    gzipped.write_bytes(gzip.compress(html))

    records = list(extract_inputs([str(plain), str(gzipped)]))

    assert [r["input"] for r in records] == [str(plain), str(gzipped)]
    for record in records:
        assert set(record) == RECORD_KEYS, record
        assert record["title"] == "Delegations agree on prisoner swap"
        assert record["authors"] == ["Jane Doe"]
        assert record["published_at"] == "2025-05-16T11:30:00Z"
        assert record["language"] == "en"
        assert record["canonical_url"] == "https://news.example.net/2025/05/16/prisoner-swap"
        assert "prisoner exchange" in record["body"] and "Copyright" not in record["body"]
        json.dumps(record)  # plain JSON types only
    assert records[0] == {**records[1], "input": str(plain)}


def test_file_page_url_is_the_given_url_else_a_file_url(tmp_path):
    page = tmp_path / "no-canonical.html"
    page.write_text(article_html(canonical=None), encoding="utf-8")

    as_file = only(extract_inputs([str(page)]))
    as_url = only(extract_inputs([str(page)], url="https://news.example.net/2025/05/16/swap"))

    assert as_file["canonical_url"].startswith("file://")
    assert as_file["canonical_url"].endswith("no-canonical.html")
    assert as_url["canonical_url"] == "https://news.example.net/2025/05/16/swap"


def test_declared_legacy_charset_is_decoded(tmp_path):
    russian = ["Делегации России и Украины провели в Стамбуле второй раунд прямых переговоров и договорились "
               "об обмене пленными, но вопрос о прекращении огня остался нерешённым.",
               "Посредники назвали атмосферу деловой и сообщили, что следующая встреча может состояться "
               "в ближайшие недели, если обмен пройдёт по плану."]
    page = tmp_path / "ru.html"
    page.write_bytes(article_html(title="Стороны договорились об обмене пленными", charset="windows-1251",
                                  paragraphs=russian, lang="ru").encode("cp1251"))

    record = only(extract_inputs([str(page)]))

    assert record["title"] == "Стороны договорились об обмене пленными"
    assert "обмене пленными" in record["body"] and "\ufffd" not in record["body"]
    assert record["language"] == "ru"


def test_missing_file_gives_an_error_record_and_the_next_input_still_works(tmp_path):
    good = tmp_path / "good.html"
    good.write_text(article_html(), encoding="utf-8")
    missing = tmp_path / "missing.html"

    records = list(extract_inputs([str(missing), str(good)]))

    assert records[0] == {"input": str(missing), "error": f"file not found: {missing}"}
    assert records[1]["title"] == "Delegations agree on prisoner swap"


def test_unreadable_inputs_each_give_one_line_errors(tmp_path):
    corrupt = tmp_path / "corrupt.html.gz"
    corrupt.write_bytes(gzip.compress(article_html().encode())[:40])
    folder = tmp_path / "folder"
    folder.mkdir()
    good = tmp_path / "good.html"
    good.write_text(article_html(), encoding="utf-8")

    records = list(extract_inputs([str(corrupt), str(folder), str(good)]))

    assert [set(r) for r in records[:2]] == [{"input", "error"}] * 2
    assert "gzip" in records[0]["error"]
    assert str(folder) in records[1]["error"]
    assert all("\n" not in r["error"] and r["error"] for r in records[:2])
    assert records[2]["title"] == "Delegations agree on prisoner swap"


# --- source selectors ---------------------------------------------------------------------------------


SELECTOR_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Front page | Odd Layout Daily</title></head><body>
<h1>Odd Layout Daily</h1>
<div class="promo"><p>Subscribe now to read every story from our newsroom, with newsletters, podcasts and
a daily crossword delivered to your inbox each and every morning of the week, weekends included.</p></div>
<div class="hed">Talks resume in Istanbul</div>
<span class="writer">Olena Petrenko</span>
<span class="stamp" data-x="1">2025-05-16 09:00</span>
<div class="copy"><p>The delegations met again on Friday to discuss a ceasefire.</p>
<p>Both sides said the exchange of prisoners would go ahead next week.</p></div>
</body></html>"""


def write_sources(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [{
        "id": "odd_layout", "name": "Odd Layout Daily", "homepage": "https://odd.example.net/",
        "country": "GB", "language": "en", "discovery": {"feeds": ["https://odd.example.net/rss"]},
        "schedule": "0 * * * *", "max_pages": 10,
        "selectors": {"title": "div.hed", "body": "div.copy", "author": "span.writer", "date": "span.stamp"},
    }]}), encoding="utf-8")
    return path


def test_source_selectors_override_generic_extraction(tmp_path):
    page = tmp_path / "odd.html"
    page.write_text(SELECTOR_PAGE, encoding="utf-8")
    sources = write_sources(tmp_path)

    generic = only(extract_inputs([str(page)], sources_path=sources))
    selected = only(extract_inputs([str(page)], source_id="odd_layout", sources_path=sources))

    assert generic["title"] != "Talks resume in Istanbul"
    assert selected["title"] == "Talks resume in Istanbul"
    assert selected["authors"] == ["Olena Petrenko"]
    assert selected["published_at"] == "2025-05-16T09:00:00Z"
    assert selected["body"] == ("The delegations met again on Friday to discuss a ceasefire.\n\n"
                                "Both sides said the exchange of prisoners would go ahead next week.")


def test_unknown_source_id_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown source id 'nope'"):
        extract_inputs(["whatever.html"], source_id="nope", sources_path=write_sources(tmp_path))


# --- http(s) -----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    user_agents: list[str] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/html", headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        type(self).user_agents.append(self.headers.get("User-Agent", ""))
        if self.path == "/2025/05/16/swap":
            self._send(200, article_html(canonical=None).encode("utf-8"), "text/html; charset=utf-8")
        elif self.path == "/cp1251":
            russian = article_html(title="Переговоры в Стамбуле", canonical=None, lang="ru", paragraphs=[
                "Делегации провели второй раунд прямых переговоров и договорились об обмене пленными."])
            # no <meta charset> that could be trusted: the HTTP header must decide
            self._send(200, russian.replace('<meta charset="utf-8">', "").encode("cp1251"),
                       "text/html; charset=windows-1251")
        elif self.path == "/gzip":
            self._send(200, gzip.compress(article_html().encode("utf-8")), "text/html; charset=utf-8",
                       {"Content-Encoding": "gzip"})
        elif self.path == "/old":
            self._send(301, b"", headers={"Location": "/2025/05/16/swap"})
        elif self.path == "/report.pdf":
            self._send(200, b"%PDF-1.4 not a page", "application/pdf")
        elif self.path == "/slow":
            time.sleep(1.5)
            self._send(200, article_html().encode("utf-8"))
        else:
            self._send(404, b"not found", "text/plain")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_url_is_fetched_once_with_the_project_user_agent(server):
    _Handler.user_agents.clear()
    record = only(extract_inputs([f"{server}/2025/05/16/swap"]))

    assert record["title"] == "Delegations agree on prisoner swap"
    assert record["canonical_url"] == f"{server}/2025/05/16/swap"
    assert record["published_at"] == "2025-05-16T11:30:00Z"
    assert "prisoner exchange" in record["body"]
    assert _Handler.user_agents == [settings()["crawler"]["user_agent"]]


def test_http_charset_redirects_and_content_encoding(server):
    cp1251, redirected, gzipped = extract_inputs([f"{server}/cp1251", f"{server}/old", f"{server}/gzip"])

    assert cp1251["title"] == "Переговоры в Стамбуле"
    assert redirected["canonical_url"] == f"{server}/2025/05/16/swap"   # the page URL after redirects
    assert gzipped["title"] == "Delegations agree on prisoner swap"


def test_http_failures_are_error_records_and_do_not_stop_the_others(server, tmp_path):
    good = tmp_path / "good.html"
    good.write_text(article_html(), encoding="utf-8")
    inputs = [f"{server}/missing", f"{server}/report.pdf", f"{server}/slow", "http://127.0.0.1:9/closed",
              str(good)]

    started = time.monotonic()
    records = list(extract_inputs(inputs, timeout=0.5))

    assert time.monotonic() - started < 5
    errors = [r.get("error", "") for r in records[:4]]
    assert errors[0] == "HTTP 404 Not Found"
    assert "not an HTML page" in errors[1] and "application/pdf" in errors[1]
    assert "timed out" in errors[2]
    assert errors[3].startswith("cannot fetch")
    assert all(set(r) == {"input", "error"} and "\n" not in r["error"] for r in records[:4])
    assert records[4]["title"] == "Delegations agree on prisoner swap"


# --- real feeds, parsed as the spider parses them ------------------------------------------------------


def _feed_files() -> list[Path]:
    if not FEEDS.is_dir():
        return []
    return sorted(p for p in FEEDS.iterdir() if p.suffix in (".rss", ".atom", ".rdf", ".xml"))


_CONTENT_TYPES = {".atom": "application/atom+xml", ".rdf": "application/rdf+xml"}
# Titles that must come out right: declared ISO-8859-1, Latin-1 with no declaration, GB2312.
_EXPECTED_TITLES = {
    "jn_pt_2018_iso8859-1.rss": "Mãe de utente é a nova presidente da Raríssimas",
    "uol_noticias_2018_latin1_nodecl.rss":
        "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno",
    "qq_news_gb2312.xml": "习近平为何如此强调崇尚英雄？",
}


@pytest.fixture(scope="module")
def feed_spider(tmp_path_factory):
    """A NewsSpider built as a crawl builds it (no crawl is started): parse_feed is called directly."""
    from scrapy.utils.test import get_crawler

    from peacewatch.crawlers.spiders.news import NewsSpider

    folder = tmp_path_factory.mktemp("feeds")
    sources = folder / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{
        "id": "eval_feed", "name": "Evaluation feed", "homepage": "https://feeds.example.net/",
        "country": "GB", "language": "en", "discovery": {"feeds": ["https://feeds.example.net/feed"]},
        "schedule": "0 * * * *", "max_pages": 100000,
    }]}), encoding="utf-8")
    crawler = get_crawler(NewsSpider, {"PEACEWATCH_DATA_DIR": str(folder / "data")})
    return NewsSpider.from_crawler(crawler, sources=str(sources))


@pytest.mark.parametrize("with_content_type", [True, False], ids=["typed", "untyped"])
@pytest.mark.parametrize("feed", _feed_files() or [None], ids=lambda p: p.name if p else "no-feeds")
def test_real_feeds_parse_as_the_spider_parses_them(feed, with_content_type, feed_spider):
    if feed is None:
        pytest.skip(f"real-world evaluation feeds not found at {FEEDS} (shared/eval beside the repo)")
    from scrapy.http import XmlResponse

    content_type = _CONTENT_TYPES.get(feed.suffix, "application/rss+xml")
    headers = {"Content-Type": content_type} if with_content_type else {}
    feed_spider._seen.clear()  # each feed (and header variant) is discovered afresh
    response = XmlResponse(f"https://feeds.example.net/{feed.name}", body=feed.read_bytes(), headers=headers)

    requests = list(feed_spider.parse_feed(response, source_id="eval_feed"))

    assert requests, f"{feed.name}: no entry with a link"
    assert all(r.url.startswith(("http://", "https://")) for r in requests)
    titles = [r.cb_kwargs["hints"]["title"] or "" for r in requests]
    for title in titles:
        assert "\ufffd" not in title, f"{feed.name}: undecodable bytes in {title!r}"
        assert "Ã" not in title and "Â" not in title, f"{feed.name}: mojibake in {title!r}"
    if feed.name in _EXPECTED_TITLES:
        assert _EXPECTED_TITLES[feed.name] in titles, titles[:5]
    if feed.name == "qq_news_gb2312.xml":
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles if t), titles[:5]
