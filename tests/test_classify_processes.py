"""`classify` analyzes articles in worker processes (nlp.processes): the same results, in the same order, as
one process; the setting is read from config and checked."""

import pytest

from peacewatch.bench.nlp import newsroom_articles
from peacewatch.config import ConfigError, settings
from peacewatch.nlp.analyze import load_analyzer
from peacewatch.nlp.classify import MIN_ARTICLES_PER_PROCESS, analyze_texts, configured_processes

BACKEND = "encoder:onnx-int8"


def test_worker_processes_give_the_results_of_one_process_in_order(monkeypatch):
    monkeypatch.setenv("PEACEWATCH_NLP_THREADS", "1")  # the workers' thread count: identical arithmetic
    texts = newsroom_articles()[:2 * MIN_ARTICLES_PER_PROCESS + 5]
    analyzer = load_analyzer(BACKEND)
    inline = list(analyze_texts(texts, analyzer, processes=1))
    pooled = list(analyze_texts(texts, analyzer, processes=2, backend=BACKEND))
    assert len(pooled) == len(texts)
    assert pooled == inline
    assert sum(len(claims) for _topics, claims in pooled) > len(texts) // 2, "the articles do carry claims"


def test_few_articles_stay_in_this_process():
    class Recorder:
        seen: list[str] = []

        def analyze(self, text):
            self.seen.append(text)
            return [], []

    texts = ["a", "b", "c"]
    assert list(analyze_texts(texts, Recorder(), processes=2)) == [([], [])] * 3
    assert Recorder.seen == texts


@pytest.mark.parametrize(("value", "expected"), [("auto", None), ("3", 3), ("1", 1), ("0", ConfigError), ("many", ConfigError)])
def test_processes_setting(value, expected, monkeypatch):
    monkeypatch.setenv("PEACEWATCH_NLP_PROCESSES", value)
    settings.cache_clear()
    try:
        if expected is ConfigError:
            with pytest.raises(ConfigError, match="nlp.processes"):
                configured_processes()
        else:
            import os

            assert configured_processes() == (expected or os.cpu_count())
    finally:
        settings.cache_clear()
