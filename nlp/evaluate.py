"""Evaluate an NLP backend on the labelled passages (dev/test split) or on the newsroom gold articles.

`evaluate(split, backend)` runs `load_analyzer(backend).analyze()` on every document and prints:

- claim-level micro and macro F1 (a claim is right only if actor, position and stance are all right;
  sets of (actor, position, stance) per passage or article; macro = mean over the ten positions);
- precision/recall/F1 per position, per actor and per stance (same strict matching within each label);
- (actor, position) pair detection F1, stance accuracy on the pairs found in both gold and prediction,
  and the stance confusion matrix on those pairs (rows gold, columns predicted);
- topic macro-F1 (mean over the codebook topics of per-topic F1 over documents);
- expected calibration error of the claim confidences (10 equal-width bins; a predicted claim is correct
  if its (actor, position, stance) is in the gold set).

`--split newsroom` scores peacewatch/newsroom/gold/articles.jsonl, an external set that nothing is
trained or tuned on. The analyzer sees "headline\\n\\nbody" (as `peacewatch classify` does); a predicted
claim whose only evidence is the headline counts as a false positive (docs/codebook.md, 6.11).

Run: `python -m peacewatch.nlp.evaluate --split dev|test|newsroom [--backend encoder|lexicon]`.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

NEWSROOM_GOLD = Path(__file__).resolve().parents[1] / "peacewatch" / "newsroom" / "gold" / "articles.jsonl"
STANCES = ("favor", "against", "neutral")
EVAL_SPLITS = ("dev", "test", "newsroom")

Triple = tuple[str, str, str]


@dataclass
class Document:
    """One scored unit: gold claims and topics, and what the backend predicted."""

    id: str
    gold: set[Triple]
    gold_topics: set[str]
    pred: list[tuple[Triple, float]] = field(default_factory=list)  # (claim, confidence), one per pair
    pred_topics: set[str] = field(default_factory=set)
    headline_only: set[Triple] = field(default_factory=set)  # predicted claims resting on the headline
    language: str = ""


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn


# -- metrics (pure functions on Documents, tested on hand-made predictions) ---------------------------------
def _predicted_set(doc: Document) -> set[Triple]:
    return {claim for claim, _conf in doc.pred}


def _correct(doc: Document, claim: Triple) -> bool:
    return claim in doc.gold and claim not in doc.headline_only


def claim_prf(docs: Iterable[Document], key=None, value=None) -> PRF:
    """Strict claim matching, optionally restricted to claims whose field `key` (0 actor, 1 position, 2 stance) == value."""
    out = PRF()
    for doc in docs:
        gold = {c for c in doc.gold if key is None or c[key] == value}
        pred = {c for c in _predicted_set(doc) if key is None or c[key] == value}
        tp = {c for c in pred if _correct(doc, c)}
        out.tp += len(tp)
        out.fp += len(pred - tp)
        out.fn += len(gold - tp)
    return out


def pair_prf(docs: Iterable[Document]) -> PRF:
    """(actor, position) detection, ignoring the stance."""
    out = PRF()
    for doc in docs:
        gold = {c[:2] for c in doc.gold}
        pred = {c[:2] for c in _predicted_set(doc) if c not in doc.headline_only}
        out.tp += len(gold & pred)
        out.fp += len(pred - gold)
        out.fn += len(gold - pred)
    return out


def stance_confusion(docs: Iterable[Document]) -> dict[str, Counter]:
    """Gold stance -> Counter of predicted stances, over (actor, position) pairs found in gold and prediction."""
    matrix = {s: Counter() for s in STANCES}
    for doc in docs:
        gold = {c[:2]: c[2] for c in doc.gold}
        for claim in _predicted_set(doc):
            if claim[:2] in gold and claim not in doc.headline_only:
                matrix[gold[claim[:2]]][claim[2]] += 1
    return matrix


def stance_accuracy(docs: Iterable[Document]) -> tuple[float, int]:
    matrix = stance_confusion(docs)
    total = sum(sum(row.values()) for row in matrix.values())
    right = sum(matrix[s][s] for s in STANCES)
    return (right / total if total else 0.0), total


def topic_f1(docs: Sequence[Document], topics: Sequence[str]) -> dict[str, PRF]:
    out = {t: PRF() for t in topics}
    for doc in docs:
        for t in topics:
            g, p = t in doc.gold_topics, t in doc.pred_topics
            out[t].tp += g and p
            out[t].fp += p and not g
            out[t].fn += g and not p
    return out


def expected_calibration_error(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    """ECE over (confidence, correct) pairs with equal-width bins; bin i holds i/bins < conf <= (i+1)/bins (0 in the first)."""
    if not pairs:
        return 0.0
    grouped: dict[int, list[tuple[float, bool]]] = {}
    for conf, ok in pairs:
        index = min(bins - 1, max(0, math.ceil(round(conf * bins, 9)) - 1))
        grouped.setdefault(index, []).append((conf, ok))
    ece = 0.0
    for members in grouped.values():
        mean_conf = sum(c for c, _ in members) / len(members)
        accuracy = sum(1 for _, ok in members if ok) / len(members)
        ece += len(members) / len(pairs) * abs(accuracy - mean_conf)
    return ece


def calibration_pairs(docs: Iterable[Document]) -> list[tuple[float, bool]]:
    return [(conf, _correct(doc, claim)) for doc in docs for claim, conf in doc.pred]


@dataclass
class Report:
    split: str
    backend: str
    model_version: str
    documents: int
    seconds: float
    claim: PRF
    claim_macro_f1: float
    pair: PRF
    stance_accuracy: float
    stance_pairs: int
    confusion: dict[str, Counter]
    per_position: dict[str, PRF]
    per_actor: dict[str, PRF]
    per_stance: dict[str, PRF]
    per_language: dict[str, PRF]
    topics: dict[str, PRF]
    topic_macro_f1: float
    ece: float

    def summary(self) -> dict[str, float]:
        return {
            "claim_micro_f1": round(self.claim.f1, 4),
            "claim_precision": round(self.claim.precision, 4),
            "claim_recall": round(self.claim.recall, 4),
            "claim_macro_f1": round(self.claim_macro_f1, 4),
            "pair_f1": round(self.pair.f1, 4),
            "stance_accuracy": round(self.stance_accuracy, 4),
            "topic_macro_f1": round(self.topic_macro_f1, 4),
            "ece": round(self.ece, 4),
        }

    def format(self) -> str:
        def table(title: str, rows: dict[str, PRF]) -> list[str]:
            lines = [f"{title:<22} {'P':>6} {'R':>6} {'F1':>6} {'n':>5}"]
            lines += [f"  {name:<20} {m.precision:6.3f} {m.recall:6.3f} {m.f1:6.3f} {m.support:5d}" for name, m in rows.items()]
            return lines

        c = self.claim
        lines = [
            f"backend={self.backend} ({self.model_version}) split={self.split} documents={self.documents} "
            f"({self.documents / self.seconds:.1f} docs/s)" if self.seconds else f"backend={self.backend} split={self.split}",
            f"claim micro  P={c.precision:.3f} R={c.recall:.3f} F1={c.f1:.3f} (tp={c.tp} fp={c.fp} fn={c.fn})",
            f"claim macro-F1 (over positions) = {self.claim_macro_f1:.3f}",
            f"pair (actor, position) F1 = {self.pair.f1:.3f}  P={self.pair.precision:.3f} R={self.pair.recall:.3f}",
            f"stance accuracy on found pairs = {self.stance_accuracy:.3f} (n={self.stance_pairs})",
            "stance confusion (rows gold, columns predicted):",
            "  " + " " * 9 + "".join(f"{s:>9}" for s in STANCES),
        ]
        lines += ["  " + f"{g:<9}" + "".join(f"{self.confusion[g][p]:>9d}" for p in STANCES) for g in STANCES]
        lines += table("per position", self.per_position)
        lines += table("per actor", self.per_actor)
        lines += table("per stance", self.per_stance)
        lines += table("per language", self.per_language)
        lines += table("topics", self.topics)
        lines += [f"topic macro-F1 = {self.topic_macro_f1:.3f}", f"ECE (10 bins) = {self.ece:.3f}"]
        return "\n".join(lines)


def score(docs: Sequence[Document], codebook, split: str = "", backend: str = "", model_version: str = "", seconds: float = 0.0) -> Report:
    per_position = {p: claim_prf(docs, 1, p) for p in codebook.position_ids}
    topics = topic_f1(docs, codebook.topic_ids)
    accuracy, n_pairs = stance_accuracy(docs)
    return Report(
        split=split,
        backend=backend,
        model_version=model_version,
        documents=len(docs),
        seconds=seconds,
        claim=claim_prf(docs),
        claim_macro_f1=sum(m.f1 for m in per_position.values()) / len(per_position),
        pair=pair_prf(docs),
        stance_accuracy=accuracy,
        stance_pairs=n_pairs,
        confusion=stance_confusion(docs),
        per_position=per_position,
        per_actor={a: claim_prf(docs, 0, a) for a in codebook.actor_ids},
        per_stance={s: claim_prf(docs, 2, s) for s in STANCES},
        per_language={lang: claim_prf([d for d in docs if d.language == lang])
                      for lang in sorted({d.language for d in docs})},
        topics=topics,
        topic_macro_f1=sum(m.f1 for m in topics.values()) / len(topics),
        ece=expected_calibration_error(calibration_pairs(docs)),
    )


# -- data -----------------------------------------------------------------------------------------------------
def load_documents(split: str) -> list[tuple[str, str, set[Triple], set[str], str | None, str]]:
    """(id, text, gold claims, gold topics, headline or None, language) for a split."""
    if split == "newsroom":
        out = []
        for line in NEWSROOM_GOLD.read_text(encoding="utf-8").splitlines():
            if line.strip():
                a = json.loads(line)
                gold = {(c["actor"], c["position"], c["stance"]) for c in a["claims"]}
                text = f"{a['headline']}\n\n{a['body']}" if a.get("headline") else a["body"]
                out.append((a["article_id"], text, gold, set(a["topics"]), a.get("headline"), a.get("language", "en")))
        return out
    from peacewatch.nlp.splits import load_split

    return [
        (r["id"], r["text"], {(c["actor"], c["position"], c["stance"]) for c in r["claims"]}, set(r["topics"]), None,
         r["language"])
        for r in load_split(split, for_evaluation=True)
    ]


def run_backend(analyzer, documents) -> tuple[list[Document], float]:
    docs = []
    started = time.perf_counter()
    for doc_id, text, gold, gold_topics, headline, language in documents:
        topics, claims = analyzer.analyze(text)
        doc = Document(doc_id, gold, gold_topics, pred_topics=set(topics), language=language)
        for claim in claims:
            triple = (claim.actor, claim.position, claim.stance)
            doc.pred.append((triple, float(claim.confidence)))
            if headline and " ".join(claim.evidence.split()) == " ".join(headline.split()):
                doc.headline_only.add(triple)
        docs.append(doc)
    return docs, time.perf_counter() - started


def evaluate(split: str = "dev", backend: str | None = None, analyzer=None, echo: bool = True) -> Report:
    """Score a backend on `split` ("dev", "test" or "newsroom"), print the report and return it."""
    if split not in EVAL_SPLITS:
        raise ValueError(f"unknown split {split!r} (expected one of {', '.join(EVAL_SPLITS)})")
    if analyzer is None:
        from peacewatch.nlp.analyze import load_analyzer

        analyzer = load_analyzer(backend)
    docs, seconds = run_backend(analyzer, load_documents(split))
    report = score(docs, analyzer.codebook, split, analyzer.model_id, analyzer.model_version, seconds)
    if echo:
        print(report.format(), flush=True)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m peacewatch.nlp.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=EVAL_SPLITS, default="dev")
    parser.add_argument("--backend", default=None,
                        help="lexicon, encoder, or encoder:torch|onnx|onnx-int8[+nogate] (default: nlp.backend in config)")
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    args = parser.parse_args(argv)
    report = evaluate(args.split, args.backend)
    if args.json:
        print(json.dumps({"split": args.split, "backend": report.backend, **report.summary()}))


if __name__ == "__main__":
    main()
