"""Extraction quality on real publisher pages and on the demo newsroom's gold (an evaluation, not a test).

    python -m peacewatch.crawlers.evaluate [--aeb PATH] [--fundus PATH] [--no-newsroom]

- aeb-dev (article-extraction-benchmark, 91 pages): body text scored with that benchmark's own metric
  (`shingle_counts`, `benchmark_scores`), for peacewatch's extractor and plain `trafilatura.extract` in the
  same run, on the whole set and on its two halves (`split_of`: "tune" is the half any tuning of the
  extractor looked at, "test" the half it did not);
- fundus-dev (129 pages, ~27 languages): title, published day, authors and language accuracy;
- the newsroom gold (267 articles): body token F1, title exact, published-day accuracy.

Data sits beside the repository at ../shared/eval (`default_eval_dir`); a missing dataset is reported and
skipped. Nothing here touches the network.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import trafilatura

from peacewatch.crawlers.extract import extract_article, parse_datetime

SHINGLE_SIZE = 4
_WORD = re.compile(r"\w+")

BodyExtractor = Callable[[bytes, str], str]


def default_eval_dir() -> Path:
    """../shared/eval relative to the repository root."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "eval"


# --- the article-extraction-benchmark metric -------------------------------------------------------------


def shingle_counts(text: str, size: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    """Multiset of `size`-token shingles of `\\w+` tokens; a text shorter than `size` tokens is one shingle
    of all its tokens, an empty text has none."""
    tokens = _WORD.findall(text or "")
    if len(tokens) <= size:
        return Counter([tuple(tokens)] if tokens else [])
    return Counter(tuple(tokens[i:i + size]) for i in range(len(tokens) - size + 1))


def page_tp_fp_fn(truth: str, predicted: str, size: int = SHINGLE_SIZE) -> tuple[float, float, float]:
    """Per-page true positives, false positives and false negatives of the shingle multisets, normalised
    to sum 1 so that long pages weigh no more than short ones."""
    true, pred = shingle_counts(truth, size), shingle_counts(predicted, size)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == 0 and fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == 0 and fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn else 0.0


def benchmark_scores(pages: Iterable[tuple[float, float, float]]) -> dict[str, float]:
    """Precision averaged over pages that predicted something, recall over pages whose truth has text,
    F1 the harmonic mean of the two averages (not the average of per-page F1)."""
    pages = list(pages)
    precisions = [_precision(*page) for page in pages if page[0] + page[1] > 0]
    recalls = [_recall(*page) for page in pages if page[0] + page[2] > 0]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pages": len(pages)}


def split_of(page_id: str) -> str:
    """A fixed half of a dataset by id hash: "tune" (looked at while tuning the extractor) or "test"."""
    return "tune" if hashlib.sha256(page_id.encode("utf-8")).digest()[0] % 2 == 0 else "test"


# --- extractors compared ------------------------------------------------------------------------------


def peacewatch_body(html: bytes, url: str) -> str:
    """peacewatch's extractor as the crawler runs it (no selectors, no feed hints)."""
    return extract_article(html, url, min_body_chars=300).body


def trafilatura_body(html: bytes, url: str) -> str:
    """Plain trafilatura.extract with default settings, on the page decoded as UTF-8 (as the benchmark does)."""
    return trafilatura.extract(html.decode("utf-8", errors="replace")) or ""


EXTRACTORS: dict[str, BodyExtractor] = {"peacewatch": peacewatch_body, "trafilatura": trafilatura_body}


# --- datasets -----------------------------------------------------------------------------------------


@dataclass
class Page:
    id: str
    url: str
    html: bytes
    truth: dict


def load_pages(folder: Path, html_path: Callable[[dict], str]) -> list[Page]:
    """The pages of a ground_truth.jsonl with gzipped HTML beside it."""
    pages = []
    for line in (folder / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            pages.append(Page(record["id"], record.get("url") or "", gzip.decompress(
                (folder / html_path(record)).read_bytes()), record))
    return pages


def load_aeb(folder: Path) -> list[Page]:
    return load_pages(folder, lambda record: f"html/{record['id']}.html.gz")


def load_fundus(folder: Path) -> list[Page]:
    return load_pages(folder, lambda record: record["html_path"])


@dataclass
class BodyResult:
    """Benchmark scores of one extractor on one dataset, by split."""

    extractor: str
    scores: dict[str, dict[str, float]]  # "all" / "tune" / "test" -> precision, recall, f1, pages
    seconds: float
    per_page: dict[str, tuple[float, float, float]] = field(default_factory=dict)


def score_bodies(pages: list[Page], extractor: BodyExtractor, name: str) -> BodyResult:
    per_page = {}
    started = time.perf_counter()
    predictions = {page.id: extractor(page.html, page.url) for page in pages}
    seconds = time.perf_counter() - started
    for page in pages:
        per_page[page.id] = page_tp_fp_fn(page.truth["body"], predictions[page.id])
    scores = {"all": benchmark_scores(per_page.values())}
    for split in ("tune", "test"):
        scores[split] = benchmark_scores(v for k, v in per_page.items() if split_of(k) == split)
    return BodyResult(name, scores, seconds, per_page)


# --- metadata: fundus-dev -------------------------------------------------------------------------------


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def _norm(text: str | None) -> str:
    """Whitespace collapsed, case folded, invisible characters (zero-width space, soft hyphen) dropped."""
    return " ".join((text or "").translate(_INVISIBLE).split()).casefold()


def same_day(predicted: datetime | None, truth: str | None) -> bool:
    """The publication day matches, read in the ground truth's own UTC offset (UTC when it has none)."""
    expected = parse_datetime(truth) if truth else None
    if predicted is None or expected is None:
        return False
    raw = datetime.fromisoformat(truth.replace(" ", "T", 1)) if re.match(r"^\d{4}-\d\d-\d\d", truth) else None
    zone = raw.tzinfo if raw is not None and raw.tzinfo is not None else timezone.utc
    return predicted.astimezone(zone).date() == expected.astimezone(zone).date()


def score_metadata(pages: list[Page]) -> dict[str, float]:
    """Share of pages with the title exact (whitespace and case folded), the published day right, the
    author set exact, and the detected language among the page's languages."""
    hits: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    started = time.perf_counter()
    for page in pages:
        truth = page.truth
        extracted = extract_article(page.html, page.url)
        counted["title"] += 1
        hits["title"] += _norm(extracted.title) == _norm(truth.get("title"))
        if truth.get("date"):
            counted["published_day"] += 1
            hits["published_day"] += same_day(extracted.published_at, truth["date"])
        if truth.get("authors"):
            counted["authors"] += 1
            hits["authors"] += {_norm(a) for a in extracted.authors} == {_norm(a) for a in truth["authors"]}
        if truth.get("languages"):
            counted["language"] += 1
            hits["language"] += extracted.language in truth["languages"]
    result = {key: hits[key] / counted[key] for key in counted}
    result["pages"] = len(pages)
    result["pages_per_second"] = len(pages) / (time.perf_counter() - started)
    return result


# --- the newsroom gold -----------------------------------------------------------------------------------


def token_f1(predicted: str, gold: str) -> float:
    """Bag-of-words F1 of lowercased `\\w+` tokens (1.0 for identical multisets)."""
    p, g = Counter(_WORD.findall(predicted.lower())), Counter(_WORD.findall(gold.lower()))
    common = sum((p & g).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def score_newsroom(edition: int = 2) -> dict[str, float]:
    """Extraction alone (no feed hints) on every gold article page of the newsroom, served from its
    routing table without a server."""
    from w3lib.encoding import http_content_type_encoding

    from peacewatch.newsroom import site

    base = "http://127.0.0.1:8765"
    routes = site.build_site(edition, base)
    gold = [json.loads(line) for line in site.GOLD_PATH.read_text(encoding="utf-8").splitlines() if line]
    f1s, titles, days = [], [], []
    started = time.perf_counter()
    for record in gold:
        response = routes[record["url_path"]]
        extracted = extract_article(response.body, base + record["url_path"],
                                    headers_charset=http_content_type_encoding(response.content_type))
        published = datetime.fromisoformat(record["published_at"].replace("Z", "+00:00"))
        f1s.append(token_f1(extracted.body, record["body"]))
        titles.append(extracted.title == record["headline"])
        days.append(extracted.published_at is not None and extracted.published_at.date() == published.date())
    n = len(gold)
    return {"body_token_f1": sum(f1s) / n, "body_f1_min": min(f1s), "title_exact": sum(titles) / n,
            "published_day": sum(days) / n, "pages": n, "pages_per_second": n / (time.perf_counter() - started)}


# --- report --------------------------------------------------------------------------------------------


def body_table(results: list[BodyResult]) -> list[str]:
    lines = [f"{'extractor':<14} {'split':<5} {'pages':>5} {'precision':>9} {'recall':>7} {'F1':>7} {'pages/s':>8}"]
    for result in results:
        for split in ("all", "tune", "test"):
            s = result.scores[split]
            speed = f"{s['pages'] and result.scores['all']['pages'] / result.seconds:8.1f}" if split == "all" else ""
            lines.append(f"{result.extractor:<14} {split:<5} {s['pages']:>5} {s['precision']:>9.4f} "
                         f"{s['recall']:>7.4f} {s['f1']:>7.4f} {speed:>8}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peacewatch.crawlers.evaluate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--aeb", type=Path, help="aeb-dev folder (default: ../shared/eval/extraction/aeb-dev)")
    parser.add_argument("--fundus", type=Path, help="fundus-dev folder (default: ../shared/eval/extraction/fundus-dev)")
    parser.add_argument("--no-newsroom", action="store_true", help="skip the newsroom gold")
    args = parser.parse_args(argv)
    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # it warns about every page without text
    logging.getLogger("htmldate").setLevel(logging.ERROR)
    extraction = default_eval_dir() / "extraction"
    aeb = args.aeb or extraction / "aeb-dev"
    fundus = args.fundus or extraction / "fundus-dev"

    if (aeb / "ground_truth.jsonl").is_file():
        pages = load_aeb(aeb)
        print(f"== body: {aeb} ({len(pages)} pages; article-extraction-benchmark shingle metric)")
        for line in body_table([score_bodies(pages, fn, name) for name, fn in EXTRACTORS.items()]):
            print(line)
    else:
        print(f"== body: skipped, no {aeb}/ground_truth.jsonl")

    if (fundus / "ground_truth.jsonl").is_file():
        pages = load_fundus(fundus)
        scores = score_metadata(pages)
        print(f"\n== metadata: {fundus} ({len(pages)} pages)")
        print("   " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if k not in ("pages", "pages_per_second"))
              + f"  ({scores['pages_per_second']:.1f} pages/s)")
    else:
        print(f"\n== metadata: skipped, no {fundus}/ground_truth.jsonl")

    if not args.no_newsroom:
        scores = score_newsroom()
        print(f"\n== newsroom gold ({scores['pages']} articles, extraction alone)")
        print(f"   body token F1 {scores['body_token_f1']:.4f} (min {scores['body_f1_min']:.3f}), "
              f"title exact {scores['title_exact']:.4f}, published day {scores['published_day']:.4f}  "
              f"({scores['pages_per_second']:.1f} pages/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
