"""The extraction evaluation (crawlers/evaluate.py): its metric on hand-made cases, and its scoring of the
newsroom gold. The full evaluation on real pages is `python -m peacewatch.crawlers.evaluate`, not a test."""

from __future__ import annotations

import pytest

from peacewatch.crawlers import evaluate
from peacewatch.crawlers.evaluate import benchmark_scores, page_tp_fp_fn, shingle_counts, split_of


def approx(value: float) -> pytest.approx:
    return pytest.approx(value, abs=1e-9)


def test_shingles_are_four_word_tokens_with_multiplicity():
    assert shingle_counts("Київ, 2025: talks resume!") == {("Київ", "2025", "talks", "resume"): 1}
    assert shingle_counts("a b c d a b c d") == {
        ("a", "b", "c", "d"): 2, ("b", "c", "d", "a"): 1, ("c", "d", "a", "b"): 1, ("d", "a", "b", "c"): 1}
    assert shingle_counts("too short") == {("too", "short"): 1}      # fewer tokens than a shingle: one
    assert shingle_counts(" ... ") == {}


def test_page_counts_are_multiset_overlaps_normalised_to_one():
    assert page_tp_fp_fn("a b c d e", "a b c d e") == (approx(1), approx(0), approx(0))
    # abcd shared; bcde only true; bcdx only predicted
    assert page_tp_fp_fn("a b c d e", "a b c d x") == (approx(1 / 3), approx(1 / 3), approx(1 / 3))
    # the true text has abcd twice, the prediction once: one TP, four FN (bcda, cdab, dabc, abcd)
    assert page_tp_fp_fn("a b c d a b c d", "a b c d") == (approx(0.2), approx(0), approx(0.8))
    assert page_tp_fp_fn("Peace talks resume today", "peace talks resume today") == (0, approx(0.5), approx(0.5))
    assert page_tp_fp_fn("", "") == (0, 0, 0)


def test_scores_average_precision_and_recall_over_pages_then_take_f1():
    pages = [
        page_tp_fp_fn("a b c d a b c d", "a b c d"),   # precision 1, recall 0.2
        page_tp_fp_fn("a b c d e", "a b c d x"),       # precision 0.5, recall 0.5
        page_tp_fp_fn("a b c d e f", ""),              # nothing predicted: recall 0, no precision
        page_tp_fp_fn("", ""),                         # nothing either side: in neither average
    ]
    scores = benchmark_scores(pages)
    assert scores["precision"] == approx((1 + 0.5) / 2)
    assert scores["recall"] == approx((0.2 + 0.5 + 0) / 3)
    p, r = 0.75, 0.7 / 3
    assert scores["f1"] == approx(2 * p * r / (p + r))              # of the averages, not an average of F1s
    assert benchmark_scores([page_tp_fp_fn("x y z w", "x y z w")])["f1"] == approx(1)


def test_split_is_a_fixed_half_by_id():
    ids = [f"page-{n}" for n in range(400)]
    tune = [i for i in ids if split_of(i) == "tune"]
    assert [split_of(i) for i in ids] == [split_of(i) for i in ids]
    assert 150 < len(tune) < 250


def test_newsroom_gold_scoring():
    pytest.importorskip("peacewatch.newsroom.site")
    scores = evaluate.score_newsroom()
    print(f"\nnewsroom gold: {scores}")
    assert scores["pages"] == 267
    assert scores["body_token_f1"] >= 0.95 and scores["title_exact"] >= 0.98 and scores["published_day"] >= 0.98


def test_real_pages_are_scored_when_the_eval_data_is_there():
    folder = evaluate.default_eval_dir() / "extraction" / "aeb-dev"
    if not (folder / "ground_truth.jsonl").is_file():
        pytest.skip(f"evaluation data not found at {folder} (it lives beside the repository in shared/eval)")
    pages = evaluate.load_aeb(folder)[:4]
    result = evaluate.score_bodies(pages, evaluate.peacewatch_body, "peacewatch")
    assert result.scores["all"]["pages"] == 4 and result.scores["all"]["f1"] > 0.5
