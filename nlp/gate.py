"""The sentence gate of the `encoder` backend: which candidate sentences go through the encoder.

The encoder's forward pass is most of the cost of an article, and most sentences that name an actor
carry no claim. The gate is a logistic regression on what is cheap to compute for a sentence: its hashed
bag of words and word pairs, and the lexicon's per-position cues. It is trained in `peacewatch nlp train`
on the train split's candidate sentences (does the sentence carry a gold claim?), and its threshold is
the highest one whose dev claim micro-F1 stays within a set tolerance of the ungated F1
(docs/benchmarks.md). Candidates of sentences scored below it are dropped before encoding.
"""

from __future__ import annotations

import numpy as np

from peacewatch.nlp.features import BOW_DIM, Featurizer, TextUnits, bow_terms, bow_vector


def gate_features(featurizer: Featurizer, sentences: list[str]) -> np.ndarray:
    """(sentences, features): hashed bag of words and pairs, then the lexicon's per-position cues."""
    if not sentences:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.concatenate([bow_vector(s), featurizer.sentence_lexicon(s)]) for s in sentences])


class SentenceGate:
    """P(sentence carries a claim) = sigmoid(features @ weights + bias); kept when >= threshold."""

    def __init__(self, weights: np.ndarray, bias: float, threshold: float):
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = float(bias)
        self.threshold = float(threshold)

    def scores(self, featurizer: Featurizer, sentences: list[str]) -> np.ndarray:
        """P(claim) per sentence; the same as `gate_features(...) @ weights`, with the bag of words kept sparse."""
        z = np.full(len(sentences), self.bias, dtype=np.float32)
        for k, sentence in enumerate(sentences):
            indices, values = bow_terms(sentence)
            z[k] += values @ self.weights[indices] + featurizer.sentence_lexicon(sentence) @ self.weights[BOW_DIM:]
        return 1.0 / (1.0 + np.exp(-z))

    def apply(self, featurizer: Featurizer, units: TextUnits) -> None:
        """Drop the candidates of the sentences the gate scores below its threshold."""
        candidate_sentences = sorted({c.sentence for c in units.candidates})
        scores = self.scores(featurizer, [units.sentences[i] for i in candidate_sentences])
        keep = {i for i, p in zip(candidate_sentences, scores) if p >= self.threshold}
        units.candidates = [c for c in units.candidates if c.sentence in keep]


def fit_gate(features, labels: np.ndarray, c: float = 4.0) -> tuple[np.ndarray, float]:
    """Weights and bias of the gate's logistic regression (L2 with inverse strength `c`; `features` dense or
    sparse)."""
    from sklearn.linear_model import LogisticRegression

    if len(set(labels.tolist())) < 2:
        return np.zeros(features.shape[1], dtype=np.float32), 10.0  # nothing to learn: keep everything
    model = LogisticRegression(C=c, max_iter=3000).fit(features, labels)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])
