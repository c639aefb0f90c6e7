"""`peacewatch analyze`: the JSON-lines contract, run as a user runs it."""

import json
import subprocess
import sys

import pytest

from peacewatch.nlp.analyze import load_analyzer
from peacewatch.nlp.codebook import load_codebook

CLI = [sys.executable, "-m", "peacewatch.cli"]


def run_cli(args, stdin=""):
    return subprocess.run(CLI + args, input=stdin, capture_output=True, text=True, timeout=120)


def test_analyze_answers_the_contract():
    lines = [
        {"id": "a", "text": "Kremlin spokesman Dmitry Peskov said a truce would only let Kyiv regroup and rearm."},
        {"id": 7, "text": "Zelensky said Ukraine will never recognise Crimea as Russian territory."},
        {"id": "empty", "text": "The weather in Geneva was mild on Tuesday."},
    ]
    result = run_cli(["analyze"], "\n".join(json.dumps(x) for x in lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 7, "empty"]
    codebook = load_codebook()
    for record in out:
        assert set(record) == {"id", "topics", "claims"}
        assert set(record["topics"]) <= set(codebook.topics)
        for claim in record["claims"]:
            assert set(claim) == {"actor", "position", "stance", "confidence", "evidence"}
            assert claim["actor"] in codebook.actors and claim["position"] in codebook.positions
            assert claim["stance"] in codebook.stances and 0 <= claim["confidence"] <= 1
    assert {(c["actor"], c["position"], c["stance"]) for c in out[0]["claims"]} == {("russia", "ceasefire_first", "against")}
    assert ("ukraine", "recognize_annexation", "against") in {(c["actor"], c["position"], c["stance"]) for c in out[1]["claims"]}
    assert out[2]["claims"] == []


def test_analyze_rejects_a_bad_line_with_one_clear_error():
    result = run_cli(["analyze"], '{"id": 1, "text": "fine"}\nnot json\n')
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["error: line 2: expected a JSON object with \"id\" and \"text\" (JSONDecodeError)"]


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("Russian Foreign Minister Sergei Lavrov said Moscow would not accept troops from NATO countries in Ukraine under any flag.",
         ("russia", "no_foreign_troops", "favor")),
        ("Ukraine accepted the US proposal for an immediate 30-day ceasefire, Zelensky said on Tuesday.",
         ("ukraine", "ceasefire_first", "favor")),
        ("Trump said Crimea will stay with Russia.", ("united_states", "recognize_annexation", "favor")),
        ("Песков заявил, что Россия настаивает на нейтральном статусе Украины и отказе от вступления в НАТО.",
         ("russia", "ukraine_nato_ban", "favor")),
    ],
)
def test_lexicon_backend_reads_reported_speech(sentence, expected):
    _topics, claims = load_analyzer("lexicon").analyze(sentence)
    assert expected in {(c.actor, c.position, c.stance) for c in claims}
