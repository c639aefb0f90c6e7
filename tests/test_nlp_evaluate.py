"""The evaluation metrics on hand-made predictions (exact values), and the group split."""

from collections import Counter

import pytest

from peacewatch.nlp.codebook import load_codebook
from peacewatch.nlp.evaluate import (
    Document,
    claim_prf,
    expected_calibration_error,
    calibration_pairs,
    pair_prf,
    score,
    stance_accuracy,
    stance_confusion,
    topic_f1,
)
from peacewatch.nlp.splits import SPLITS, check_labelled, load_labelled, load_split, split_of


def _docs():
    # doc 1: gold 3 claims; predicted: one right, one with the wrong stance, one spurious
    d1 = Document(
        "d1",
        gold={("russia", "ceasefire_first", "against"), ("ukraine", "ceasefire_first", "favor"),
              ("europe", "sanctions_relief", "against")},
        gold_topics={"ceasefire", "diplomacy"},
        pred=[(("russia", "ceasefire_first", "against"), 0.9),
              (("ukraine", "ceasefire_first", "neutral"), 0.6),
              (("china", "military_aid", "favor"), 0.3)],
        pred_topics={"ceasefire"},
        language="en",
    )
    # doc 2: gold 1 claim, predicted right; plus a headline-only claim that counts as a false positive
    d2 = Document(
        "d2",
        gold={("united_states", "military_aid", "against"), ("nato", "ukraine_nato_ban", "against")},
        gold_topics={"military_aid"},
        pred=[(("united_states", "military_aid", "against"), 0.8),
              (("nato", "ukraine_nato_ban", "against"), 0.7)],
        pred_topics={"military_aid", "diplomacy"},
        headline_only={("nato", "ukraine_nato_ban", "against")},
        language="ru",
    )
    return [d1, d2]


def test_claim_micro_f1_is_strict_on_actor_position_and_stance():
    m = claim_prf(_docs())
    # tp: russia/ceasefire, us/military_aid; fp: ukraine neutral, china, nato (headline only); fn: ukraine favor, europe, nato
    assert (m.tp, m.fp, m.fn) == (2, 3, 3)
    assert m.precision == pytest.approx(2 / 5)
    assert m.recall == pytest.approx(2 / 5)
    assert m.f1 == pytest.approx(0.4)
    per_position = claim_prf(_docs(), 1, "ceasefire_first")
    assert (per_position.tp, per_position.fp, per_position.fn) == (1, 1, 1)
    per_actor = claim_prf(_docs(), 0, "china")
    assert (per_actor.tp, per_actor.fp, per_actor.fn, per_actor.f1) == (0, 1, 0, 0.0)


def test_pairs_and_stance_accuracy_on_found_pairs():
    pairs = pair_prf(_docs())
    assert (pairs.tp, pairs.fp, pairs.fn) == (3, 1, 2)
    accuracy, n = stance_accuracy(_docs())
    assert (accuracy, n) == (pytest.approx(2 / 3), 3)
    matrix = stance_confusion(_docs())
    assert matrix["favor"] == Counter({"neutral": 1})
    assert matrix["against"] == Counter({"against": 2})
    assert sum(matrix["neutral"].values()) == 0


def test_expected_calibration_error_by_hand():
    # bins (0.8,0.9]: conf 0.9 right, 0.85 wrong -> |0.5-0.875| * 2/4; (0.2,0.3]: 0.3 wrong, 0.25 right -> |0.5-0.275| * 2/4
    pairs = [(0.9, True), (0.85, False), (0.3, False), (0.25, True)]
    assert expected_calibration_error(pairs) == pytest.approx(0.5 * 0.375 + 0.5 * 0.225)
    assert expected_calibration_error([(1.0, True), (0.0, False)]) == pytest.approx(0.0)
    assert expected_calibration_error([(0.7, True)] * 7 + [(0.7, False)] * 3) == pytest.approx(0.0)
    assert expected_calibration_error([]) == 0.0
    got = calibration_pairs(_docs())
    assert got == [(0.9, True), (0.6, False), (0.3, False), (0.8, True), (0.7, False)]


def test_topic_macro_f1_and_the_report():
    codebook = load_codebook()
    topics = topic_f1(_docs(), codebook.topic_ids)
    assert topics["ceasefire"].f1 == 1.0
    assert topics["diplomacy"].f1 == 0.0  # one fn, one fp
    assert topics["military_aid"].f1 == 1.0
    report = score(_docs(), codebook, "hand", "test")
    # 3 of the 9 topics have support; the other six score 0 F1 (no tp)
    assert report.topic_macro_f1 == pytest.approx(2 / 9)
    assert report.claim.f1 == pytest.approx(0.4)
    # per language: d1 (en) 1 of 3 right with 2 false positives; d2 (ru) 1 of 2 right, 1 false positive
    assert (report.per_language["en"].tp, report.per_language["en"].fp, report.per_language["en"].fn) == (1, 2, 2)
    assert (report.per_language["ru"].tp, report.per_language["ru"].fp, report.per_language["ru"].fn) == (1, 1, 1)
    text = report.format()
    assert "claim micro" in text and "stance confusion" in text and "ECE" in text and "per language" in text


def test_split_is_by_group_deterministic_and_guards_the_test_split():
    rows = load_labelled()
    groups = {name: {r["group"] for r in load_split(name, for_evaluation=True)} for name in SPLITS}
    assert not groups["train"] & groups["dev"]
    assert not groups["train"] & groups["test"]
    assert not groups["dev"] & groups["test"]
    assert sum(len(load_split(name, for_evaluation=True)) for name in SPLITS) == len(rows)
    sizes = {name: len(load_split(name, for_evaluation=True)) / len(rows) for name in SPLITS}
    assert 0.5 < sizes["train"] < 0.7 and 0.15 < sizes["dev"] < 0.25 and 0.15 < sizes["test"] < 0.25
    assert split_of("mix-g001") == split_of("mix-g001")
    assert [r["id"] for r in load_split("dev")] == [r["id"] for r in load_split("dev")]
    with pytest.raises(PermissionError):
        load_split("test")
    with pytest.raises(ValueError):
        load_split("validation")


def test_labelled_passages_follow_the_codebook():
    rows = load_labelled()
    assert check_labelled(rows) == []
    bad = [dict(rows[0], claims=[{"actor": "kremlin", "position": "ceasefire_first", "stance": "favor"}]),
           dict(rows[1], id=rows[2]["id"], topics=[]),
           {"id": "x", "text": "no group"}]
    problems = check_labelled(bad + rows[2:3])
    assert any("unknown actor" in p for p in problems)
    assert any("id used twice" in p for p in problems) and any("topics must be" in p for p in problems)
    assert any(p.startswith("passage x: missing") and "group" in p for p in problems)
