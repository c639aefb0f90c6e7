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

from peacewatch.nlp.features import BOW_DIM, Featurizer, TextUnits, bow_terms


def gate_features(featurizer: Featurizer, sentences: list[str]):
    """Sparse (sentences, BOW_DIM + lexicon cues) matrix: hashed bag of words and pairs (`bow_vector`), then
    the lexicon's per-position cues. The same rows serve training and inference."""
    from scipy import sparse

    columns, values, indptr = [], [], [0]
    for sentence in sentences:
        indices, weights = bow_terms(sentence)
        cues = featurizer.sentence_lexicon(sentence)
        nonzero = np.flatnonzero(cues)
        order = np.argsort(indices)
        columns += [indices[order], BOW_DIM + nonzero]
        values += [weights[order], cues[nonzero]]
        indptr.append(indptr[-1] + len(indices) + len(nonzero))
    width = BOW_DIM + len(featurizer.sentence_lexicon(""))
    if not sentences:
        return sparse.csr_matrix((0, width), dtype=np.float32)
    return sparse.csr_matrix((np.concatenate(values).astype(np.float32), np.concatenate(columns), np.asarray(indptr)),
                             shape=(len(sentences), width))


class SentenceGate:
    """P(sentence carries a claim) = sigmoid(features @ weights + bias); kept when >= threshold."""

    def __init__(self, weights: np.ndarray, bias: float, threshold: float):
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = float(bias)
        self.threshold = float(threshold)

    def scores(self, featurizer: Featurizer, sentences: list[str]) -> np.ndarray:
        """P(claim) per sentence."""
        z = gate_features(featurizer, sentences) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float32)))

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
