"""The `lexicon` backend: alias lexicon for actors, cue patterns (nlp/lexicon.yaml) for positions and stance.

It needs no model, runs at thousands of sentences per second, and is the baseline every trained backend
is measured against.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from peacewatch.contracts import Claim
from peacewatch.nlp.codebook import Codebook
from peacewatch.nlp.text import split_sentences

LEXICON_PATH = Path(__file__).with_name("lexicon.yaml")
_FLAGS = re.IGNORECASE | re.UNICODE


@dataclass(frozen=True)
class SentenceClaim:
    actor: str
    position: str
    stance: str
    confidence: float
    sentence: str


def _alias_pattern(aliases: list[str]) -> re.Pattern[str]:
    """One regex per actor. Short or all-caps aliases (US, UK, EU, Xi) must match case exactly."""
    exact = [a for a in aliases if len(a) <= 3 or a.isupper()]
    loose = [a for a in aliases if a not in exact]
    parts = []
    if loose:
        parts.append("(?i:" + "|".join(re.escape(a) for a in sorted(loose, key=len, reverse=True)) + ")")
    if exact:
        parts.append("|".join(re.escape(a) for a in sorted(exact, key=len, reverse=True)))
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?:'s|’s)?(?!\w)")


class LexiconAnalyzer:
    """Finds (actor, position, stance) claims sentence by sentence and aggregates them per text."""

    model_id = "lexicon"

    def __init__(self, codebook: Codebook, lexicon_path: Path = LEXICON_PATH):
        rules = yaml.safe_load(lexicon_path.read_text(encoding="utf-8"))
        self.codebook = codebook
        self.model_version = f"lexicon-{rules['version']}"
        self.actors = {aid: _alias_pattern(actor.aliases) for aid, actor in codebook.actors.items()}
        self.speech = re.compile(rules["speech"], _FLAGS)
        self.negation = re.compile(rules["negation"], _FLAGS)
        self.generic = {s: re.compile(rules[s], _FLAGS) for s in ("favor", "against", "neutral")}
        self.positions = {
            pid: {key: re.compile(pattern, _FLAGS) for key, pattern in rules["positions"][pid].items()}
            for pid in codebook.positions
        }
        self.topics = {tid: re.compile(rules["topics"][tid], _FLAGS) for tid in codebook.topics}

    # -- actors -------------------------------------------------------------------------------------
    def holder(self, sentence: str) -> str | None:
        """The actor whose stance the sentence reports: the one next to a speech verb, else the first named."""
        mentions = sorted(
            (match.start(), match.end(), actor)
            for actor, pattern in self.actors.items()
            for match in pattern.finditer(sentence)
        )
        if not mentions:
            return None
        for verb in self.speech.finditer(sentence):
            before = [m for m in mentions if 0 <= verb.start() - m[1] <= 40]
            after = [m for m in mentions if 0 <= m[0] - verb.end() <= 25]
            if before:
                return before[-1][2]
            if after:
                return after[0][2]
        return mentions[0][2]

    # -- stance ---------------------------------------------------------------------------------------
    def _negated(self, sentence: str, position: int) -> bool:
        window = sentence[max(0, position - 30):position]
        return bool(self.negation.search(window))

    def stance(self, sentence: str, position_id: str) -> tuple[str, float] | None:
        """Stance of the sentence towards one position, with a rough confidence, or None if it takes none."""
        rules = self.positions[position_id]
        favor_matches = list(rules["favor"].finditer(sentence))
        flipped = sum(1 for m in favor_matches if self._negated(sentence, m.start()))
        favor = len(favor_matches) - flipped
        against = len(rules["against"].findall(sentence)) + flipped
        if favor != against:
            stance = "favor" if favor > against else "against"
            return stance, min(0.9, 0.6 + 0.1 * abs(favor - against))
        generic_favor = [m for m in self.generic["favor"].finditer(sentence)]
        flipped = sum(1 for m in generic_favor if self._negated(sentence, m.start()))
        favor = len(generic_favor) - flipped
        against = len(self.generic["against"].findall(sentence)) + flipped
        if favor != against:
            return ("favor" if favor > against else "against"), 0.5
        if self.generic["neutral"].search(sentence):
            return "neutral", 0.5
        return None

    def sentence_claims(self, sentence: str) -> list[SentenceClaim]:
        relevant = [pid for pid, rules in self.positions.items() if rules["relevant"].search(sentence)]
        if not relevant:
            return []
        actor = self.holder(sentence)
        if actor is None:
            return []
        claims = []
        for position_id in relevant:
            found = self.stance(sentence, position_id)
            if found:
                claims.append(SentenceClaim(actor, position_id, found[0], found[1], sentence))
        return claims

    # -- texts ----------------------------------------------------------------------------------------
    def topics_of(self, text: str) -> list[str]:
        hits = {tid: len(pattern.findall(text)) for tid, pattern in self.topics.items()}
        return [tid for tid, count in hits.items() if count >= 2]

    def analyze(self, text: str) -> tuple[list[str], list[Claim]]:
        """Topics and article-level claims: per (actor, position) the majority stance and its best sentence."""
        by_pair: dict[tuple[str, str], list[SentenceClaim]] = defaultdict(list)
        for sentence in split_sentences(text):
            for claim in self.sentence_claims(sentence):
                by_pair[(claim.actor, claim.position)].append(claim)
        claims = []
        for (actor, position), found in by_pair.items():
            votes = Counter()
            for claim in found:
                votes[claim.stance] += claim.confidence
            stance, weight = votes.most_common(1)[0]
            agreement = weight / sum(votes.values())
            best = max((c for c in found if c.stance == stance), key=lambda c: c.confidence)
            claims.append(
                Claim(
                    actor=actor,
                    position=position,
                    stance=stance,
                    confidence=round(best.confidence * agreement, 3),
                    evidence=best.sentence,
                )
            )
        claims.sort(key=lambda c: (-c.confidence, c.actor, c.position))
        return self.topics_of(text), claims
