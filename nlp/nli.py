"""The `nli` backend: zero-shot stance and topics with a natural-language-inference (NLI) model.

Any sequence-classification model trained on NLI (MNLI, XNLI, ANLI, ...) whose `config.id2label` names an
"entailment" class can be used, e.g. MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli or a multilingual model for
Russian and Ukrainian text. It is loaded with `local_files_only=True` from a folder or the Hugging Face cache:
nothing is ever downloaded.

How a text is read:

1. Sentences (nlp/text.py). A sentence is a candidate if it names an actor; the actor whose stance it
   reports is chosen by the lexicon backend's holder attribution (nlp/lexicon.py).
2. Positions: a cheap relevance prefilter (the codebook's keywords and the lexicon's `relevant` patterns)
   keeps the NLI model off sentences that cannot be about a position.
3. Stance: for each (sentence, actor, position) three hypotheses are built from the codebook, "<Actor>
   supports the proposition: <proposition>", "... opposes ..." and "... takes no side on ...". The
   entailment probability of each (softmax over all classes) is read at the index that `config.id2label`
   names "entailment". The most entailed hypothesis wins if it clears its threshold and beats the
   runner-up by a margin; otherwise the sentence takes no stance.
4. Claims: one per (actor, position) per text: the stance with the largest summed entailment
   probability, its best sentence as evidence, and its best entailment probability (scaled by the share
   of the votes it got) as confidence.
5. Topics: multi-label zero-shot, "This text is about <topic description>." over chunks of the text that
   fit the model; a topic is kept if entailment beats contradiction with at least the topic threshold
   in some chunk.

Settings (config/peacewatch.yaml, section `nlp`):

    backend: nli
    nli_model: MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli   # a folder (relative to config/) or a cached id
    nli_batch_size: 16
    nli_max_length: 256                # tokens per (premise, hypothesis) pair; the premise is truncated
    nli_thresholds: {stance: 0.5, neutral: 0.6, margin: 0.1, topic: 0.6}
    nli_prefilter: true                # false: ask the model about every position (slow, more recall)
    nli_topic_max_chunks: 8            # topics are read from at most this many chunks of a text
    nli_device: cpu
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from peacewatch.config import ConfigError, config_dir, settings
from peacewatch.contracts import Claim
from peacewatch.nlp.codebook import Codebook
from peacewatch.nlp.lexicon import LexiconAnalyzer
from peacewatch.nlp.text import split_sentences

STANCE_TEMPLATES = {
    "favor": "{actor} supports the proposition: {proposition}",
    "against": "{actor} opposes the proposition: {proposition}",
    "neutral": "{actor} takes no side on the proposition: {proposition}",
}
TOPIC_TEMPLATE = "This text is about {description}."

# Normalised id2label names -> the role they play. Anything else in id2label is ignored.
_LABEL_ROLES = {
    "entailment": "entailment",
    "entail": "entailment",
    "contradiction": "contradiction",
    "contradict": "contradiction",
    "not_entailment": "contradiction",
    "neutral": "neutral",
}
# Keys of the model config that change with where or how it was saved, not with what it computes.
_VOLATILE_CONFIG_KEYS = {"transformers_version"}


class NLIModelError(ConfigError):
    """The configured model cannot be loaded or is not an NLI model."""


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds, all probabilities in [0, 1]."""

    stance: float = 0.5  # least entailment probability of a "supports"/"opposes" hypothesis
    neutral: float = 0.6  # least entailment probability of a "takes no side" hypothesis
    margin: float = 0.1  # the winning hypothesis must beat the runner-up by this much
    topic: float = 0.6  # least entailment (vs contradiction) probability of "This text is about ..."

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"nlp.nli_thresholds.{item.name}: must be a number between 0 and 1, got {value!r}")


@dataclass(frozen=True)
class Candidate:
    """A sentence that may show `actor`'s stance on `position`."""

    sentence: str
    actor: str
    position: str
    subject: str  # how the actor is named in the hypotheses


@dataclass(frozen=True)
class SentenceStance:
    actor: str
    position: str
    stance: str
    probability: float
    sentence: str


def label_indices(id2label: Mapping[Any, str] | None, model_name: str = "model") -> dict[str, int]:
    """Map "entailment" (required), "contradiction" and "neutral" to logit indices, in any case and order."""
    roles: dict[str, int] = {}
    for index, label in sorted((id2label or {}).items(), key=lambda item: int(item[0])):
        role = _LABEL_ROLES.get(re.sub(r"[\s-]+", "_", str(label).strip().lower()))
        if role is None:
            continue
        if role in roles:
            raise NLIModelError(
                f"NLI model {model_name!r}: config.id2label {dict(id2label)} names {role!r} twice"
            )
        roles[role] = int(index)
    if "entailment" not in roles:
        raise NLIModelError(
            f"NLI model {model_name!r}: config.id2label {dict(id2label or {})} has no 'entailment' label; "
            "the nli backend needs a model trained for natural-language inference whose labels name "
            "entailment / neutral / contradiction (any case, any order)"
        )
    return roles


class NLIAnalyzer:
    """Zero-shot (actor, position, stance) claims and topics with an NLI cross-encoder."""

    model_id = "nli"

    def __init__(
        self,
        codebook: Codebook,
        model: str | Path,
        *,
        batch_size: int = 16,
        max_length: int = 256,
        thresholds: Thresholds | None = None,
        prefilter: bool = True,
        topic_max_chunks: int = 8,
        device: str = "cpu",
        lexicon: LexiconAnalyzer | None = None,
        mention_actors: Collection[str] = ("other",),
    ):
        if batch_size < 1 or max_length < 16 or topic_max_chunks < 1:
            raise ValueError("batch_size and topic_max_chunks must be >= 1 and max_length >= 16")
        self.codebook = codebook
        self.batch_size = batch_size
        self.thresholds = thresholds or Thresholds()
        self.prefilter = prefilter
        self.topic_max_chunks = topic_max_chunks
        # Actors whose codebook name is a catch-all ("Other"): hypotheses name them as the text does.
        self.mention_actors = frozenset(mention_actors)
        self.lexicon = lexicon or _lexicon_for(codebook)
        self.keywords = {pid: _keyword_pattern(position.keywords) for pid, position in codebook.positions.items()}

        source = str(model)
        self.model_name = Path(source).name if Path(source).exists() else source
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                source, local_files_only=True, dtype=torch.float32
            )
        except (OSError, ValueError) as exc:
            reason = " ".join(str(exc).split())[:300]
            raise NLIModelError(
                f"NLI model {source!r}: cannot load it from a local folder or the Hugging Face cache "
                f"(local_files_only, nothing is downloaded): {reason}"
            ) from exc
        self.labels = label_indices(self.model.config.id2label, self.model_name)
        if self.tokenizer.pad_token is None:
            if self.tokenizer.eos_token is None:
                raise NLIModelError(
                    f"NLI model {self.model_name!r}: its tokenizer has no padding token, so it cannot batch"
                )
            self.tokenizer.pad_token = self.tokenizer.eos_token
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        if self.model.config.num_labels != len(self.model.config.id2label):
            raise NLIModelError(
                f"NLI model {self.model_name!r}: num_labels {self.model.config.num_labels} does not match "
                f"config.id2label {self.model.config.id2label}"
            )
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        self.max_length = min(max_length, self.tokenizer.model_max_length)
        self.model_version = f"{self.model_name}-{self._fingerprint()[:12]}"
        self._topic_hypothesis_tokens = max(
            (len(ids) for ids in self.tokenizer([self.topic_hypothesis(t) for t in codebook.topics],
                                                add_special_tokens=False)["input_ids"]),
            default=0,
        )

    # -- identity -------------------------------------------------------------------------------------
    def _fingerprint(self) -> str:
        """Hash of the model config and of every setting that changes the output (not the batch size)."""
        config = {
            key: value
            for key, value in self.model.config.to_dict().items()
            if not key.startswith("_") and key not in _VOLATILE_CONFIG_KEYS
        }
        backend = {
            "templates": STANCE_TEMPLATES,
            "topic_template": TOPIC_TEMPLATE,
            "thresholds": asdict(self.thresholds),
            "max_length": self.max_length,
            "prefilter": self.prefilter,
            "topic_max_chunks": self.topic_max_chunks,
            "mention_actors": sorted(self.mention_actors),
            "lexicon": self.lexicon.model_version,
        }
        blob = json.dumps({"model": config, "backend": backend}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    # -- hypotheses -----------------------------------------------------------------------------------
    def hypotheses(self, subject: str, position_id: str) -> dict[str, str]:
        """The favor / against / neutral hypotheses about one actor and one position."""
        proposition = self.codebook.positions[position_id].proposition.strip()
        return {stance: template.format(actor=subject, proposition=proposition)
                for stance, template in STANCE_TEMPLATES.items()}

    def topic_hypothesis(self, topic_id: str) -> str:
        description = self.codebook.topics[topic_id].strip().rstrip(".")
        if len(description) > 1 and description[1].islower():
            description = description[0].lower() + description[1:]
        return TOPIC_TEMPLATE.format(description=description)

    def _subject(self, sentence: str, actor: str) -> str:
        if actor in self.mention_actors:
            mentions = [m.group(0) for m in self.lexicon.actors[actor].finditer(sentence)]
            if mentions:
                return re.sub(r"['’]s$", "", max(mentions, key=len))
        return self.codebook.actors[actor].name

    # -- candidates -----------------------------------------------------------------------------------
    def relevant(self, sentence: str, position_id: str) -> bool:
        """The cheap prefilter: a codebook keyword or the lexicon's relevance pattern matches."""
        keywords = self.keywords[position_id]
        return bool(
            (keywords is not None and keywords.search(sentence))
            or self.lexicon.positions[position_id]["relevant"].search(sentence)
        )

    def candidates(self, sentences: Sequence[str]) -> list[Candidate]:
        found = []
        for sentence in dict.fromkeys(sentences):
            actor = self.lexicon.holder(sentence)
            if actor is None:
                continue
            subject = self._subject(sentence, actor)
            for position_id in self.codebook.positions:
                if not self.prefilter or self.relevant(sentence, position_id):
                    found.append(Candidate(sentence, actor, position_id, subject))
        return found

    # -- inference ------------------------------------------------------------------------------------
    def _encode(self, premises: list[str], hypotheses: list[str]) -> dict[str, torch.Tensor]:
        options = dict(padding=True, max_length=self.max_length, return_tensors="pt")
        try:
            # Cut the premise, never the hypothesis ...
            return self.tokenizer(premises, hypotheses, truncation="only_first", **options)
        except Exception:  # noqa: BLE001 - tokenizers raises a bare Exception when the hypothesis alone is too long
            # ... unless the hypothesis alone does not fit.
            return self.tokenizer(premises, hypotheses, truncation="longest_first", **options)

    def logits(self, pairs: Sequence[tuple[str, str]]) -> torch.Tensor:
        """Logits (n, num_labels) for (premise, hypothesis) pairs, in batches of pairs of similar length."""
        unique = list(dict.fromkeys(pairs))
        result = torch.empty((len(unique), self.model.config.num_labels), dtype=torch.float32)
        order = sorted(range(len(unique)), key=lambda i: (len(unique[i][0]) + len(unique[i][1]), i))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                encoded = self._encode([unique[i][0] for i in batch], [unique[i][1] for i in batch])
                output = self.model(**{key: value.to(self.device) for key, value in encoded.items()})
                result[batch] = output.logits.float().cpu()
        position = {pair: i for i, pair in enumerate(unique)}
        return result[[position[pair] for pair in pairs]] if pairs else result

    def entailment(self, logits: torch.Tensor) -> torch.Tensor:
        """P(entailment) over all classes: "neutral" (the text does not say) counts against a stance."""
        return logits.softmax(dim=-1)[:, self.labels["entailment"]]

    def entailment_vs_contradiction(self, logits: torch.Tensor) -> torch.Tensor:
        """P(entailment) against contradiction only (neutral ignored), the usual multi-label zero-shot score."""
        if "contradiction" not in self.labels:
            return self.entailment(logits)
        pair = logits[:, [self.labels["contradiction"], self.labels["entailment"]]]
        return pair.softmax(dim=-1)[:, 1]

    # -- stance ---------------------------------------------------------------------------------------
    def decide(self, probabilities: Mapping[str, float]) -> tuple[str, float] | None:
        """favor / against / neutral with its entailment probability, or None when no hypothesis is clear."""
        ranked = sorted(probabilities.items(), key=lambda item: -item[1])
        (stance, best), runner_up = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0.0)
        needed = self.thresholds.neutral if stance == "neutral" else self.thresholds.stance
        if best < needed or best - runner_up < self.thresholds.margin:
            return None
        return stance, best

    def sentence_stances(self, candidates: Sequence[Candidate], logits: torch.Tensor) -> list[SentenceStance]:
        probabilities = self.entailment(logits).tolist() if len(candidates) else []
        found = []
        stances = list(STANCE_TEMPLATES)
        for number, candidate in enumerate(candidates):
            scores = dict(zip(stances, probabilities[number * len(stances):(number + 1) * len(stances)]))
            decided = self.decide(scores)
            if decided:
                stance, probability = decided
                found.append(
                    SentenceStance(candidate.actor, candidate.position, stance, probability, candidate.sentence)
                )
        return found

    @staticmethod
    def aggregate(found: Sequence[SentenceStance]) -> list[Claim]:
        """One claim per (actor, position): the stance with most entailment mass and its best sentence."""
        by_pair: dict[tuple[str, str], list[SentenceStance]] = defaultdict(list)
        for item in found:
            by_pair[(item.actor, item.position)].append(item)
        claims = []
        for (actor, position), items in by_pair.items():
            votes: dict[str, float] = defaultdict(float)
            for item in items:
                votes[item.stance] += item.probability
            stance = max(votes, key=lambda s: (votes[s], max(i.probability for i in items if i.stance == s)))
            best = max((i for i in items if i.stance == stance), key=lambda i: i.probability)
            agreement = votes[stance] / sum(votes.values())
            confidence = min(1.0, max(0.0, round(best.probability * agreement, 3)))
            claims.append(
                Claim(actor=actor, position=position, stance=stance, confidence=confidence, evidence=best.sentence)
            )
        claims.sort(key=lambda c: (-c.confidence, c.actor, c.position))
        return claims

    # -- topics ---------------------------------------------------------------------------------------
    def chunks(self, sentences: Sequence[str]) -> list[str]:
        """Consecutive sentences packed into premises that fit the model next to a topic hypothesis."""
        if not sentences:
            return []
        budget = max(8, self.max_length - self._topic_hypothesis_tokens - 4)
        lengths = [len(ids) for ids in self.tokenizer(list(sentences), add_special_tokens=False)["input_ids"]]
        chunks: list[str] = []
        current: list[str] = []
        used = 0
        for sentence, length in zip(sentences, lengths):
            if current and used + length > budget:
                chunks.append(" ".join(current))
                current, used = [], 0
                if len(chunks) == self.topic_max_chunks:
                    return chunks
            current.append(sentence)
            used += length
        chunks.append(" ".join(current))
        return chunks[: self.topic_max_chunks]

    def topic_pairs(self, chunks: Sequence[str]) -> list[tuple[str, str]]:
        return [(chunk, self.topic_hypothesis(topic)) for chunk in chunks for topic in self.codebook.topics]

    def topics_from(self, chunks: Sequence[str], logits: torch.Tensor) -> list[str]:
        if not chunks:
            return []
        scores = self.entailment_vs_contradiction(logits).reshape(len(chunks), len(self.codebook.topics))
        best = scores.max(dim=0).values.tolist()
        return [topic for topic, score in zip(self.codebook.topics, best) if score >= self.thresholds.topic]

    # -- texts ----------------------------------------------------------------------------------------
    def stance_pairs(self, candidates: Sequence[Candidate]) -> list[tuple[str, str]]:
        return [
            (candidate.sentence, hypothesis)
            for candidate in candidates
            for hypothesis in self.hypotheses(candidate.subject, candidate.position).values()
        ]

    def analyze(self, text: str) -> tuple[list[str], list[Claim]]:
        """Topics and article-level claims of one text."""
        sentences = split_sentences(text)
        candidates = self.candidates(sentences)
        chunks = self.chunks(sentences)
        stance_pairs = self.stance_pairs(candidates)
        # One pass over all pairs, so that batches are full and sorted by length.
        logits = self.logits(stance_pairs + self.topic_pairs(chunks))
        stance_logits, topic_logits = logits[: len(stance_pairs)], logits[len(stance_pairs):]
        claims = self.aggregate(self.sentence_stances(candidates, stance_logits))
        return self.topics_from(chunks, topic_logits), claims


def _lexicon_for(codebook: Codebook) -> LexiconAnalyzer:
    try:
        return LexiconAnalyzer(codebook)
    except KeyError as exc:
        raise ConfigError(
            f"nlp/lexicon.yaml: no rules for {exc.args[0]!r}; the nli backend uses the lexicon's actor "
            "aliases, holder attribution and relevance patterns, so every codebook position and topic needs an entry"
        ) from exc


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    words = [k.strip() for k in keywords if k.strip()]
    if not words:
        return None
    alternatives = "|".join(re.escape(k) for k in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE | re.UNICODE)


# -- configuration --------------------------------------------------------------------------------------
_SETTINGS = {
    "nli_model", "nli_batch_size", "nli_max_length", "nli_thresholds", "nli_prefilter",
    "nli_topic_max_chunks", "nli_device",
}


def _positive_int(nlp: Mapping[str, Any], key: str, default: int) -> int:
    value = nlp.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"nlp.{key}: must be a positive integer, got {value!r}")
    return value


def resolve_model_path(value: str) -> str:
    """A folder (absolute, ~, or relative to the config dir) if it exists, else a model id for the HF cache."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    in_config = config_dir() / path
    return str(in_config) if in_config.exists() else value


def load_nli_analyzer(codebook: Codebook, nlp_settings: Mapping[str, Any] | None = None) -> NLIAnalyzer:
    """The nli backend as configured in the `nlp` section of config/peacewatch.yaml (or `nlp_settings`)."""
    nlp = settings().get("nlp", {}) if nlp_settings is None else nlp_settings
    unknown = sorted(key for key in nlp if key.startswith("nli_") and key not in _SETTINGS)
    if unknown:
        raise ConfigError(f"nlp.{unknown[0]}: unknown setting (known: {', '.join(sorted(_SETTINGS))})")
    model = nlp.get("nli_model")
    if not model or not isinstance(model, (str, Path)):
        raise ConfigError(
            "nlp.nli_model: required for nlp.backend nli: a model folder or a model id in the Hugging Face cache "
            "(e.g. MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli); nothing is downloaded"
        )
    raw_thresholds = nlp.get("nli_thresholds") or {}
    if not isinstance(raw_thresholds, Mapping):
        raise ConfigError(
            "nlp.nli_thresholds: must be a mapping, e.g. {stance: 0.5, neutral: 0.6, margin: 0.1, topic: 0.6}"
        )
    known = {item.name for item in fields(Thresholds)}
    bad = sorted(set(raw_thresholds) - known)
    if bad:
        raise ConfigError(f"nlp.nli_thresholds.{bad[0]}: unknown threshold (known: {', '.join(sorted(known))})")
    prefilter = nlp.get("nli_prefilter", True)
    if not isinstance(prefilter, bool):
        raise ConfigError(f"nlp.nli_prefilter: must be true or false, got {prefilter!r}")
    max_length = _positive_int(nlp, "nli_max_length", 256)
    if max_length < 16:
        raise ConfigError(f"nlp.nli_max_length: must be at least 16, got {max_length}")
    return NLIAnalyzer(
        codebook,
        resolve_model_path(str(model)),
        batch_size=_positive_int(nlp, "nli_batch_size", 16),
        max_length=max_length,
        thresholds=Thresholds(**raw_thresholds),
        prefilter=prefilter,
        topic_max_chunks=_positive_int(nlp, "nli_topic_max_chunks", 8),
        device=str(nlp.get("nli_device", "cpu")),
    )
