"""NLP benchmark: articles/s of the `encoder` backend on ~600-word articles, PyTorch vs ONNX fp32 vs ONNX
int8 in the same run, with the time split by stage, the lexicon backend as the baseline, and the claim
micro-F1 of each runtime on the dev split (so the fastest runtime that holds quality can be shipped:
int8 only if its F1 is within one point of PyTorch's).

Articles are made from the newsroom gold bodies (text only, no labels), each distinct paragraph used
once (so the encoder's cache of recent sentences gets no free hits), concatenated paragraph by paragraph
and cut at the first paragraph end past 600 words. A second figure is the rate over the newsroom's own
articles in publication order, as `classify` meets them: syndicated copies share most sentences with
the original. Everything runs on at most 2 threads: one process with two encoder threads, and last the
fastest runtime as `classify` runs it by default, in two worker processes of one thread each.
Environment: PEACEWATCH_BENCH_NLP_ARTICLES (default 40), PEACEWATCH_BENCH_NLP_RUNTIMES
(default "torch+nogate,onnx+nogate,onnx-int8+nogate,onnx-int8"; "+nogate" encodes every candidate
sentence, without it the trained sentence gate skips the unlikely ones), PEACEWATCH_BENCH_NLP_F1=0 to skip
the dev F1.
"""

from __future__ import annotations

import json
import os
import time

ARTICLE_WORDS = 600
WARM_UP = ("Kremlin spokesman Dmitry Peskov said Moscow would not accept a truce before a settlement.\n\n"
           "Zelensky told reporters Kyiv still wanted Western security guarantees and more air defence.")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported (see nlp/encoder.py)
THREADS = 2


def bench_articles(count: int, words: int = ARTICLE_WORDS) -> list[str]:
    """`count` texts of about `words` words, from the newsroom gold bodies, cycling if needed."""
    from peacewatch.nlp.evaluate import NEWSROOM_GOLD

    paragraphs = []
    for line in NEWSROOM_GOLD.read_text(encoding="utf-8").splitlines():
        if line.strip():
            paragraphs += [p.strip() for p in json.loads(line)["body"].split("\n\n") if p.strip()]
    paragraphs = list(dict.fromkeys(paragraphs))
    articles, current, n, i = [], [], 0, 0
    while len(articles) < count:
        paragraph = paragraphs[i % len(paragraphs)]
        i += 1
        current.append(paragraph)
        n += len(paragraph.split())
        if n >= words:
            text = "\n\n".join(current)
            articles.append(" ".join(text.split(" ")[:words + 40]) if n > words + 40 else text)
            current, n = [], 0
    return articles


def newsroom_articles() -> list[str]:
    """The newsroom's articles ("headline, blank line, body") in publication order."""
    from peacewatch.nlp.evaluate import NEWSROOM_GOLD

    rows = [json.loads(line) for line in NEWSROOM_GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows.sort(key=lambda a: (a["published_at"], a["article_id"]))
    return [f"{a['headline']}\n\n{a['body']}" for a in rows]


def _time(analyzer, articles: list[str]) -> float:
    """Seconds to analyze every article once."""
    started = time.perf_counter()
    for text in articles:
        analyzer.analyze(text)
    return time.perf_counter() - started


def measure(runtime: str, count: int, with_f1: bool, corpus: str = "bench") -> dict:
    """One runtime in this process: load time, articles/s, ms/article by stage, and the dev figures.
    `corpus` "newsroom": the newsroom's articles in publication order instead of the 600-word ones."""
    import torch

    from peacewatch.nlp.codebook import default_codebook
    from peacewatch.nlp.encoder import EncoderAnalyzer
    from peacewatch.nlp.evaluate import evaluate

    torch.set_num_threads(THREADS)
    articles = bench_articles(count) if corpus == "bench" else newsroom_articles()
    count = len(articles)
    name, _, option = runtime.partition("+")
    started = time.perf_counter()
    analyzer = EncoderAnalyzer(default_codebook(), runtime=name, gate=option != "nogate")
    load = time.perf_counter() - started
    _time(analyzer, [WARM_UP])  # a text of neither corpus, so the timed articles find nothing cached
    for timings in (analyzer.timings, analyzer.encoder.timings):
        for key in timings:
            timings[key] = 0.0
    seconds = _time(analyzer, articles)
    stages = {**analyzer.timings, **analyzer.encoder.timings}
    out = {"runtime": runtime, "count": count, "rate": count / seconds, "load": load,
           "stages": {k: 1000 * v / count for k, v in stages.items()}}
    if with_f1:
        report = evaluate("dev", analyzer=analyzer, echo=False)
        out.update(f1=report.claim.f1, topic_f1=report.topic_macro_f1, stance=report.stance_accuracy)
    return out


def measure_processes(runtime: str, count: int) -> dict:
    """`classify`'s worker processes (nlp/classify.py), THREADS of them with one thread each: articles/s once started."""
    from peacewatch.nlp.classify import AnalyzerPool

    articles = bench_articles(count)
    started = time.perf_counter()
    with AnalyzerPool(THREADS, backend=f"encoder:{runtime}") as pool:
        load = time.perf_counter() - started
        started = time.perf_counter()
        results = list(pool.map(articles))
        seconds = time.perf_counter() - started
    return {"runtime": runtime, "count": len(results), "rate": len(results) / seconds, "load": load}


def _in_subprocess(call: str) -> dict:
    """The result of `call` (an expression over this module's measure functions) run in a fresh process."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "import json, sys; from peacewatch.bench.nlp import measure, measure_processes; "
         f"print('RESULT', json.dumps({call}))"],
        capture_output=True, text=True, timeout=3600,
    )
    found = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not found:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(found[0][len("RESULT "):])


def run() -> list[str]:
    """Each runtime in its own process (one after the other), so no runtime's threads slow another."""
    from peacewatch.nlp.lexicon import LexiconAnalyzer
    from peacewatch.nlp.codebook import default_codebook

    count = int(os.environ.get("PEACEWATCH_BENCH_NLP_ARTICLES", "40"))
    runtimes = os.environ.get("PEACEWATCH_BENCH_NLP_RUNTIMES", "torch+nogate,onnx+nogate,onnx-int8+nogate,onnx-int8").split(",")
    with_f1 = os.environ.get("PEACEWATCH_BENCH_NLP_F1", "1") != "0"
    articles = bench_articles(count)
    words = sum(len(a.split()) for a in articles) / len(articles)
    lines = [f"{count} articles of {words:.0f} words on average, {THREADS} threads, load average {os.getloadavg()[0]:.1f} "
             "(the machine is shared: compare rates measured in the same run)"]
    seconds = _time(LexiconAnalyzer(default_codebook()), articles)
    lines.append(f"lexicon (baseline): {count / seconds:.1f} articles/s")
    results = {}
    for runtime in runtimes:
        # the first use of an ONNX runtime exports the model (cached): do it before timing
        if runtime.startswith("onnx"):
            from peacewatch.nlp.encoder import EncoderAnalyzer

            EncoderAnalyzer(default_codebook(), runtime=runtime.partition("+")[0])
        r = _in_subprocess(f"measure({runtime!r}, {count}, {with_f1})")
        if "error" in r:
            lines.append(f"encoder/{runtime}: failed ({r['error']})")
            continue
        results[runtime] = r
        split = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
        line = f"encoder/{runtime}: {r['rate']:.1f} articles/s (load {r['load']:.1f}s); ms/article by stage: {split}"
        if with_f1:
            line += f"; dev claim micro-F1 {r['f1']:.3f}, stance acc. {r['stance']:.3f}, topic macro-F1 {r['topic_f1']:.3f}"
        lines.append(line)
    baseline = runtimes[0]  # PyTorch without the gate: the reference every faster path is held to
    if with_f1 and baseline in results:
        base = results[baseline]
        for runtime, r in results.items():
            if runtime != baseline:
                lines.append(f"{runtime} vs {baseline}: x{r['rate'] / base['rate']:.2f} speed, "
                             f"{100 * (r['f1'] - base['f1']):+.1f} F1 points")
        eligible = [k for k, r in results.items() if r["f1"] >= base["f1"] - 0.01]
        best = max(eligible, key=lambda k: results[k]["rate"])
        lines.append(f"fastest runtime within one F1 point of {baseline}: {best}")
        r = _in_subprocess(f"measure({best!r}, {count}, False, 'newsroom')")
        what = f"encoder/{best} on the newsroom's articles in publication order (syndicated copies share sentences, as in `classify`)"
        lines.append(f"{what}: failed ({r['error']})" if "error" in r else f"{what}: {r['rate']:.1f} articles/s ({r['count']} articles)")
        r = _in_subprocess(f"measure_processes({best!r}, {count})")
        what = f"encoder/{best} in {THREADS} worker processes of one thread each (`classify`'s default, nlp.processes)"
        lines.append(f"{what}: failed ({r['error']})" if "error" in r else
                     f"{what}: {r['rate']:.1f} articles/s once started (start-up {r['load']:.1f}s), "
                     f"x{r['rate'] / results[best]['rate']:.2f} the one-process rate, x{r['rate'] / base['rate']:.2f} {baseline}")
    lines.append(f"load average at the end {os.getloadavg()[0]:.1f}")
    return lines
