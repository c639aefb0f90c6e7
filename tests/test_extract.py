"""Article extraction on small hand-written pages, URL canonicalisation, and accuracy on the newsroom gold."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timezone

import pytest

from peacewatch.crawlers.extract import clean_title, decode_html, extract_article, parse_datetime
from peacewatch.crawlers.sources import Selectors
from peacewatch.crawlers.urls import canonicalize_url

URL = "https://news.example.org/world/2025/03/11/talks-in-jeddah?utm_source=rss&utm_medium=feed"
PARAGRAPHS = [
    "Ukraine said on Tuesday it was ready to accept a United States proposal for an immediate 30-day "
    "ceasefire, after more than eight hours of talks between the two delegations in the Saudi port city.",
    "Washington agreed in return to lift its pause on intelligence sharing and security assistance, "
    "according to a joint statement released after the meeting ended late in the evening.",
    "The proposal now goes to Moscow, where officials said they would study the text carefully before "
    "giving any answer, and cautioned against expecting a quick reply from the Kremlin.",
]


def page(head: str = "", article_head: str = "", paragraphs: list[str] = PARAGRAPHS, lang: str = "en",
         charset: str = "utf-8", tail: str = "") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="{charset}">{head}</head>
<body>
<header><nav><a href="/">Home</a> <a href="/world/">World</a> <a href="/business/">Business</a></nav></header>
<main><article>{article_head}
<div class="story-body">{body}</div>{tail}
</article></main>
<footer><p>Copyright 2025 Example Media Group. All rights reserved.</p></footer>
</body></html>"""


def jsonld(**fields) -> str:
    return f'<script type="application/ld+json">{json.dumps({"@context": "https://schema.org", **fields})}</script>'


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# --- dates -------------------------------------------------------------------------------------------


def test_jsonld_date_wins_over_og_and_time_and_is_normalised_to_utc():
    html = page(
        head=jsonld(**{"@type": "NewsArticle", "headline": "Talks", "datePublished": "2025-03-11T23:30:00+03:00",
                       "dateModified": "2025-03-12T08:00:00+03:00"})
        + '<meta property="article:published_time" content="2025-03-10T10:00:00Z">',
        article_head='<time datetime="2025-03-09T09:00:00Z">9 March</time>',
    )
    extracted = extract_article(html.encode(), URL)
    assert extracted.published_at == utc(2025, 3, 11, 20, 30)
    assert extracted.updated_at == utc(2025, 3, 12, 5, 0)
    assert extracted.published_at.tzinfo == timezone.utc


def test_og_published_time_then_time_element():
    og = page(head='<meta property="article:published_time" content="2025-03-11T18:05:00-04:00">',
              article_head='<time datetime="2025-03-01T00:00:00Z">1 March</time>')
    assert extract_article(og.encode(), URL).published_at == utc(2025, 3, 11, 22, 5)
    only_time = page(article_head='<p class="meta">Filed <time datetime="2025-03-11T14:00:00+01:00">'
                                  "11 March, 14:00 CET</time></p>")
    assert extract_article(only_time.encode(), URL).published_at == utc(2025, 3, 11, 13, 0)


def test_modified_time_is_not_taken_for_published_and_equal_modified_is_no_update():
    html = page(article_head='<time class="updated" datetime="2025-04-01T10:00:00Z">1 Apr</time>'
                             '<time class="published" datetime="2025-03-30T10:00:00Z">30 Mar</time>',
                head=jsonld(**{"@type": "NewsArticle", "dateModified": "2025-03-30T10:00:00Z"}))
    extracted = extract_article(html.encode(), "https://example.org/a")
    assert extracted.published_at == utc(2025, 3, 30, 10)
    assert extracted.updated_at is None  # dateModified == published: not an update


def test_human_date_line_then_url_then_hint():
    line = page(article_head='<span class="news-date">25 February 2025, 01:51 MSK</span>')
    in_moscow = extract_article(line.encode(), "https://example.org/2025/02/25/story/")
    assert in_moscow.published_at == utc(2025, 2, 24, 22, 51)  # the local date in the URL is a day later
    bare = page()
    hint = {"published_at": "Tue, 11 Mar 2025 20:40:00 +0200"}
    hinted = extract_article(bare.encode(), "https://example.org/story", hints=hint)
    assert hinted.published_at == utc(2025, 3, 11, 18, 40)
    from_url = extract_article(bare.encode(), "https://example.org/2025/03/11/story/")
    assert from_url.published_at == utc(2025, 3, 11)


def test_parse_datetime_forms():
    assert parse_datetime("2025-03-11T20:40:00Z") == utc(2025, 3, 11, 20, 40)
    assert parse_datetime("2025-03-11 20:40:00") == utc(2025, 3, 11, 20, 40)  # naive: UTC
    assert parse_datetime("Tue, 11 Mar 2025 22:40:00 +0200") == utc(2025, 3, 11, 20, 40)
    assert parse_datetime("2025-03-11") == utc(2025, 3, 11)
    assert parse_datetime("not a date") is None and parse_datetime("") is None


# --- titles, authors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ukraine accepts truce plan | The Daily Example", "Ukraine accepts truce plan"),
        ("The Daily Example - Ukraine accepts truce plan", "Ukraine accepts truce plan"),
        ("Ukraine accepts truce plan :: The Daily Example", "Ukraine accepts truce plan"),
        ("Kyiv - Moscow talks stall - The Daily Example", "Kyiv - Moscow talks stall"),
        ("Putin: no truce without conditions", "Putin: no truce without conditions"),
        ("Trump-Putin call ends – no ceasefire", "Trump-Putin call ends – no ceasefire"),
    ],
)
def test_title_suffix_stripping(raw, expected):
    assert clean_title(raw, ["The Daily Example"]) == expected


def test_title_sources_in_order():
    og = page(head='<meta property="og:title" content="OG headline | Example"><title>Title tag | Example</title>',
              article_head="<h1>H1 headline</h1>")
    assert extract_article(og.encode(), URL).title == "OG headline"
    ld = page(head=jsonld(**{"@type": "NewsArticle", "headline": "JSON-LD headline"}) + "<title>T | Ex</title>")
    assert extract_article(ld.encode(), URL).title == "JSON-LD headline"
    h1 = page(head="<title>H1 headline | Example News</title>", article_head="<h1>H1 headline</h1>")
    assert extract_article(h1.encode(), URL).title == "H1 headline"
    bare = page(head="<title>Only the title tag — Example News</title>",
                article_head="")
    assert extract_article(bare.encode(), URL).title == "Only the title tag — Example News"
    hint = extract_article(page().encode(), URL, hints={"title": "From the feed"})
    assert hint.title == "From the feed"


def test_authors_from_jsonld_meta_and_byline():
    ld = page(head=jsonld(**{"@type": "NewsArticle", "author": [{"@type": "Person", "name": "Marta Hollis"},
                                                                  {"@type": "Person", "name": "Jonas Weber"}]}))
    assert extract_article(ld.encode(), URL).authors == ["Marta Hollis", "Jonas Weber"]
    meta = page(head='<meta name="author" content="Lena Varga">')
    assert extract_article(meta.encode(), URL).authors == ["Lena Varga"]
    byline = page(article_head='<p class="byline">By Daniel Ashby and Rasa Ozola</p>')
    extracted = extract_article(byline.encode(), URL)
    assert extracted.authors == ["Daniel Ashby", "Rasa Ozola"]
    assert "Daniel Ashby" not in extracted.body
    ru = page(article_head='<div class="avtor">Автор: <span>Ирина Соколова</span></div>', lang="ru")
    assert extract_article(ru.encode(), URL).authors == ["Ирина Соколова"]
    line = page(article_head='<p class="author-line">Ilze Kalnina, Tomas Berzins &mdash; 4 March 2025, 09:38 CET</p>')
    assert extract_article(line.encode(), URL).authors == ["Ilze Kalnina", "Tomas Berzins"]


# --- body --------------------------------------------------------------------------------------------


def test_body_is_the_paragraphs_without_headline_kicker_or_credits():
    html = page(
        article_head='<p class="kicker">DIPLOMACY</p><h1>Ukraine accepts truce plan</h1>'
                     '<p class="meta">11 March 2025, 20:40</p>',
        tail="<p class='credit'>(Reporting by Marta Hollis; editing by the desk)</p>"
             "<p>Comments are closed for this story.</p>",
    )
    extracted = extract_article(html.encode(), URL)
    assert extracted.body == "\n\n".join(PARAGRAPHS)
    assert extracted.title == "Ukraine accepts truce plan"


def test_selector_override_for_body_title_date_and_author():
    html = f"""<html><head><title>Wrong | Site</title></head><body>
    <div class="hdl">Selected headline</div><span class="when">2025-05-16T12:00:00+03:00</span>
    <span class="who">Peter Okafor</span>
    <div class="teaser"><p>Teaser text that is not part of the story body at all, but long enough to be
    confusing for a generic extractor that looks for the biggest block of text on the page.</p></div>
    <div class="real">{''.join(f'<p>{p}</p>' for p in PARAGRAPHS[:2])}</div></body></html>"""
    selectors = Selectors(title=".hdl", body="div.real", date=".when", author=".who")
    extracted = extract_article(html.encode(), URL, selectors=selectors)
    assert extracted.title == "Selected headline"
    assert extracted.body == "\n\n".join(PARAGRAPHS[:2])
    assert extracted.published_at == utc(2025, 5, 16, 9)
    assert extracted.authors == ["Peter Okafor"]
    as_mapping = extract_article(html.encode(), URL, selectors={"body": "div.teaser"})
    assert as_mapping.body.startswith("Teaser text")


# --- decoding, language ------------------------------------------------------------------------------

UKRAINIAN = [
    "Переговори у Джидді тривали понад вісім годин, і українська делегація погодилася на пропозицію "
    "Сполучених Штатів щодо тридцятиденного припинення вогню.",
    "Вашингтон натомість пообіцяв відновити обмін розвідданими та постачання допомоги, йдеться у спільній "
    "заяві, оприлюдненій після завершення зустрічі пізно ввечері.",
    "Тепер пропозиція має надійти до Москви, де посадовці заявили, що уважно вивчать текст, перш ніж дати "
    "будь-яку відповідь.",
]


def test_wrong_http_charset_is_overridden_by_plausible_meta_charset():
    html = page(paragraphs=UKRAINIAN, lang="uk").encode("utf-8")
    extracted = extract_article(html, URL, headers_charset="iso-8859-1")
    assert extracted.body == "\n\n".join(UKRAINIAN)
    assert extracted.language == "uk"
    assert "Ð" not in extracted.body


def test_correct_single_byte_charsets_are_respected():
    cyrillic = page(paragraphs=UKRAINIAN, lang="uk", charset="windows-1251").encode("cp1251")
    assert decode_html(cyrillic, "windows-1251") == cyrillic.decode("cp1251")
    assert decode_html(cyrillic, None) == cyrillic.decode("cp1251")  # from <meta charset>
    latin = page(paragraphs=["Café déjà vu à Genève, où les négociateurs se sont réunis."], charset="iso-8859-1")
    assert "Genève" in decode_html(latin.encode("latin-1"), "iso-8859-1")
    bom = b"\xef\xbb\xbf" + "<p>Київ</p>".encode()
    assert decode_html(bom, "iso-8859-1") == "<p>Київ</p>"


def test_language_detected_from_body_else_html_lang():
    assert extract_article(page(lang="en").encode(), URL).language == "en"
    russian = ["Переговоры в Стамбуле продолжались около двух часов, сообщили источники в делегации, "
               "и стороны договорились об обмене пленными в формате тысяча на тысячу."]
    assert extract_article(page(paragraphs=russian, lang="en").encode(), URL).language == "ru"
    short = page(paragraphs=["Коротко."], lang="uk-UA")
    assert extract_article(short.encode(), URL, min_body_chars=0).language == "uk"


# --- canonical URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://News.Example.ORG:80/a/b?utm_source=x&b=2&a=1#top", "http://news.example.org/a/b?a=1&b=2"),
        ("https://example.org:443?fbclid=abc&gclid=def", "https://example.org/"),
        ("https://example.org:8443/x?ref=tw&page=2&utm_campaign=y", "https://example.org:8443/x?page=2"),
        ("https://example.org/a//b/?mc_cid=1&id=7&ID=8", "https://example.org/a/b/?ID=8&id=7"),
        ("https://example.org/новини/", "https://example.org/%D0%BD%D0%BE%D0%B2%D0%B8%D0%BD%D0%B8/"),
    ],
)
def test_canonicalize_url(url, expected):
    assert canonicalize_url(url) == expected
    assert canonicalize_url(expected) == expected  # idempotent


def test_canonical_from_link_then_og_url_then_url():
    link = page(head='<link rel="canonical" href="/world/talks-in-jeddah?utm_medium=social#x">'
                     '<meta property="og:url" content="https://other.example.org/og">')
    assert extract_article(link.encode(), URL).canonical_url == "https://news.example.org/world/talks-in-jeddah"
    og = page(head='<meta property="og:url" content="HTTPS://News.Example.org/og-url?fbclid=1">')
    assert extract_article(og.encode(), URL).canonical_url == "https://news.example.org/og-url"
    assert extract_article(page().encode(), URL).canonical_url == (
        "https://news.example.org/world/2025/03/11/talks-in-jeddah")


# --- accuracy on the demo newsroom's gold -------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def token_f1(predicted: str, gold: str) -> float:
    """Bag-of-words F1 between two texts (1.0 for identical token multisets)."""
    p, g = Counter(_tokens(predicted)), Counter(_tokens(gold))
    common = sum((p & g).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def test_accuracy_on_newsroom_gold():
    """Extraction alone (no feed hints) on every gold article page of the newsroom, offline."""
    site = pytest.importorskip("peacewatch.newsroom.site")
    if not site.GOLD_PATH.is_file():
        pytest.skip("newsroom gold not built")
    from w3lib.encoding import http_content_type_encoding

    base = "http://127.0.0.1:8765"
    routes = site.build_site(2, base)
    gold = [json.loads(line) for line in site.GOLD_PATH.read_text(encoding="utf-8").splitlines() if line]
    f1s, days, titles, exact_times, authors, languages = [], [], [], [], [], []
    for record in gold:
        response = routes[record["url_path"]]
        extracted = extract_article(response.body, base + record["url_path"],
                                    headers_charset=http_content_type_encoding(response.content_type))
        published = datetime.fromisoformat(record["published_at"].replace("Z", "+00:00"))
        f1s.append(token_f1(extracted.body, record["body"]))
        days.append(extracted.published_at is not None and extracted.published_at.date() == published.date())
        exact_times.append(extracted.published_at == published)
        titles.append(extracted.title == record["headline"])
        authors.append(extracted.authors == record["authors"])
        languages.append(extracted.language == record["language"])
    n = len(gold)
    print(f"\nnewsroom gold, {n} articles: body token-F1 mean {sum(f1s) / n:.4f} (min {min(f1s):.3f}); "
          f"published day {sum(days) / n:.4f}, exact {sum(exact_times) / n:.4f}; title exact {sum(titles) / n:.4f}; "
          f"authors {sum(authors) / n:.4f}; language {sum(languages) / n:.4f}")
    assert sum(f1s) / n >= 0.95
    assert sum(days) / n >= 0.98
    assert sum(titles) / n >= 0.98
