"""Candidate generation and features for the `encoder` backend.

A text is split into sentences (nlp/text.py). In each sentence, actor mentions are found with the
codebook aliases plus the extra names and inflected Russian/Ukrainian stems listed in docs/codebook.md
(section 4: people and institutions who speak for an actor but are not aliases in codebook 1.0.0). A
*candidate* is a (sentence, actor) pair: every actor mentioned in the sentence, plus the holder of the
previous sentence when this one continues its reported speech ("..., he said", "The minister added").

Each candidate gets one feature vector:

- the sentence embedding (mean of the encoder's token states), the mean of the token states of the
  actor's mentions, and the mean of the token states in a window around them (actor-specific pooling,
  so two actors in one sentence get different vectors);
- the cosine of the sentence with each position's proposition and keywords;
- holder cues (the lexicon's speech-verb holder, mention order, object-like prepositions, carried);
- the lexicon backend's per-position relevance and stance cues (nlp/lexicon.py, imported, not copied).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from peacewatch.nlp.codebook import Codebook
from peacewatch.nlp.gloss import gloss_text
from peacewatch.nlp.lexicon import LexiconAnalyzer, _alias_pattern
from peacewatch.nlp.text import split_sentences

# People and bodies named in docs/codebook.md section 4 (including 4.9, "known gaps") that speak for an
# actor, and inflected Russian/Ukrainian forms. Matched like the codebook aliases (whole words).
EXTRA_ALIASES: dict[str, list[str]] = {
    "russia": ["Grushko", "Ryabkov", "Galuzin", "Darchiev", "Shoigu", "Nebenzia", "the Russian side",
               "Russian officials", "Russian negotiators", "Russia's", "Russians", "State Duma", "Duma", "Volodin",
               "Kelin", "Federation Council"],
    "ukraine": ["Zelenskiy", "Stefanchuk", "Kuleba", "Zaluzhnyi", "Verkhovna Rada", "Bankova", "Ukrainians",
                "the Ukrainian side", "Yermak's", "Budanov", "Office of the President"],
    "united_states": ["America", "Americans", "Kushner", "Driscoll", "Ratcliffe", "Blinken", "Sullivan",
                      "Biden", "the administration", "the American side", "Treasury", "Congress", "Senate", "Leavitt",
                      "Tammy Bruce", "Bruce", "Whitaker"],
    "europe": ["Antonio Costa", "Costa", "Charles Michel", "Borrell", "Healey", "John Healey", "Lammy",
               "Foreign Office", "Stubb", "Frederiksen", "Nauseda", "Barrot", "Wadephul", "Pistorius",
               "Sikorski", "Europeans", "Netherlands", "Dutch", "Denmark", "Danish", "Sweden", "Swedish",
               "Finland", "Finnish", "Norway", "Norwegian", "Estonia", "Estonian", "Latvia", "Latvian",
               "Lithuania", "Lithuanian", "Spain", "Spanish", "Belgium", "Belgian", "Czech", "Romania",
               "Romanian", "Slovakia", "Fico", "Portugal", "Greece", "Ireland", "Baltic states", "Nordic",
               "E3", "Weimar Triangle", "Bundestag", "European Council", "European Parliament", "Brits", "Italian",
               "Tajani", "Yvette Cooper", "Blanar", "Sanchez", "Sánchez", "De Wever", "Gahr Store", "Støre",
               "Kristersson", "Schoof", "Slovak"],
    "nato": ["Stoltenberg", "SACEUR", "NATO-Ukraine Council", "North Atlantic Council"],
    "china": ["Mao Ning", "Guo Jiakun", "Li Hui", "Fu Cong", "the Chinese side"],
    "other": ["Hungary", "Hungarian", "Budapest", "Szijjarto", "IAEA", "Grossi", "Pope Francis", "Pope",
              "Holy See", "Zuppi", "UAE", "Emirates", "Amorim", "South Africa", "Belarus", "Lukashenko",
              "Serbia", "Vucic", "Moldova", "Canada", "Canadian", "Japan", "Japanese", "Australia", "OSCE",
              "ICRC", "African Union", "General Assembly", "UN Security Council", "Saudi", "Qatari", "Indian",
              "Brazilian", "Modi", "New Delhi", "Carney", "Albanese", "Takaichi", "Cassis", "Parolin",
              "Leo XIV", "Tokayev", "Kazakhstan"],
}
# Cyrillic stems: inflected forms (Путина, Кремле, Києва, Зеленського ...) that whole-word aliases miss.
CYRILLIC_STEMS: dict[str, list[str]] = {
    "russia": ["Росси", "Росі", "Москв", "Кремл", "Путин", "Путін", "Лавров", "Песков", "Пєсков", "Захаров",
               "Ушаков", "Мединск", "Мединськ", "Дмитриев", "Дмитрієв", "Медведев", "Медведєв", "Небенз",
               "Грушк", "Рябков", "российск", "російськ", "Шойгу", "Госдум", "Держдум",
               "Володин", "Володін", "Келин", "Келін"],
    "ukraine": ["Украин", "Україн", "Киев", "Київ", "Києв", "Зеленск", "Зеленськ", "Ермак", "Єрмак", "Сибиг",
                "Сибіг", "Умеров", "Умєров", "Шмыгал", "Шмигал", "Свириденко", "Стефанчук", "украинск",
                "українськ", "Киевск", "Буданов", "Офис президент", "Офіс президент", "Верховна Рад",
                "Верховної Рад", "Верховну Рад", "Верховная Рад", "Верховной Рад", "Верховную Рад"],
    "united_states": ["США", "Вашингтон", "Белый дом", "Белого дом", "Білий дім", "Білого дом", "Трамп",
                      "Рубио", "Рубіо", "Уиткофф", "Віткофф", "Вэнс", "Венс", "Келлог", "американск",
                      "американськ", "Соединенн", "Соединённ", "Сполучен", "Хегсет", "Бессент", "Белом дом",
                      "Білому дом", "Пентагон", "Госдеп", "Держдеп", "Ливитт", "Лівітт", "Уитакер", "Вітакер", "Брюс"],
    "europe": ["Евросоюз", "Євросоюз", "Брюссел", "Европ", "Європ", "Еврокомисс", "Єврокоміс", "Макрон",
               "Стармер", "Мерц", "Лондон", "Париж", "Берлин", "Берлін", "Франци", "Франці", "Германи",
               "Німеччин", "Британи", "Британі", "Польш", "Польщ", "Варшав", "Туск", "Каллас", "Шольц",
               "фон дер Ляйен", "фон дер Ляєн", "европейск", "європейськ", "Великобритан", "британск", "британськ",
               "Норвег", "Нидерланд", "Нідерланд", "Литв", "Латви", "Латві", "Эстони", "Естоні", "Финлянди",
               "Фінлянді", "Швеци", "Швеці", "Дания", "Дании", "Данию", "Данія", "Данії", "Данію", "Словаки",
               "Словаччин", "Бельги", "Бельгі", "Румыни", "Румуні", "Испани", "Іспані", "Итали", "Італі",
               "Мелони", "Мелоні", "Стубб", "Санчес", "Фицо", "Фіцо", "коалиция желающих", "коалиции желающих",
               "коалицию желающих", "коаліція охочих", "коаліції охочих", "коаліцію охочих"],
    "nato": ["НАТО", "Альянс", "Рютте", "Столтенберг", "Североатлантическ", "Північноатлантичн"],
    "china": ["Китай", "Китая", "Китаю", "Пекин", "Пекін", "Си Цзиньпин", "Сі Цзіньпін", "китайск", "китайськ",
              "КНР", "Мао Нин", "Фу Цун", "Го Цзякун", "Лин Цзянь", "Лінь Цзянь", "Ли Хуэй", "Лі Хуей"],
    "other": ["Угорщин", "Венгри", "Орбан", "Туреччин", "Турци", "Эрдоган", "Ердоган", "ООН", "Гутерри",
              "Ватикан", "Индии", "Індії", "Бразили", "Бразилі", "Венгерск", "угорськ", "Канад", "Карни", "Карні",
              "Япони", "Японі", "Австрали", "Австралі", "Албаниз", "Албаніз", "Швейцари", "Швейцарі", "Кассис",
              "Катар", "Казахстан", "Токаев", "Токаєв", "Лукашенк", "Анкар", "Фидан", "Фідан", "Святой Престол",
              "Святого Престол", "Святий Престол", "Паролин", "Паролін", "Нью-Дели", "Нью-Делі",
              "Саудовск", "Саудівськ", "Эмират", "Емірат", "Гросси", "Гроссі", "ОБСЕ", "ОБСЄ", "МАГАТЭ", "МАГАТЕ", "ОАЭ",
              "ОАЕ", "Моди", "Моді", "Лула"],
}
_EXACT_CYRILLIC = {"ЕС", "ЄС", "ООН", "США", "НАТО", "КНР", "ОБСЕ", "ОБСЄ", "МАГАТЭ", "МАГАТЕ", "ОАЭ", "ОАЕ",
                   "Моди", "Моді", "Брюс", "Лула"}

PRONOUN = re.compile(
    r"^(?:[\"“«']?\s*)(?:he|she|they|it|the (?:minister|spokes\w+|president|chancellor|prime minister|"
    r"secretary|envoy|kremlin aide|aide|official|ministry|statement|document|memorandum|plan|draft|leader|"
    r"delegation|negotiator|adviser|ambassador)|он|она|они|він|вона|вони)\b",
    re.IGNORECASE,
)
SPEECH_TAIL = re.compile(r"[,\"”»]\s*(?:he|she|they|он|она|він|вона)\s+(?:said|says|added|told|wrote|stressed|"
                         r"insisted|warned|argued|declared|заявил\w*|сказал\w*|добавил\w*|заявив|заявила|додав|додала)",
                         re.IGNORECASE)
OBJECT_BEFORE = re.compile(r"(?:\b(?:in|to|on|from|with|against|of|for|by|at|into|join|joining|towards|toward|"
                           r"about|pressure on|в|на|с|из|для|до|з|від|к|у)\s+(?:the\s+)?)$", re.IGNORECASE)

EMBED_DIM = 384
WINDOW = 5  # tokens each side of a mention for the window pooling


@dataclass
class Candidate:
    sentence: int
    actor: str
    carried: bool
    spans: list[tuple[int, int]]  # character spans of the mentions (or of the pronoun when carried)


BOW_DIM = 1 << 14
LEXICON_CACHE = 4096  # sentences whose lexicon cues are remembered (a few articles' worth)
_WORD_RE = re.compile(r"\w+")


def bow_terms(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero entries of `bow_vector(text)`: bucket indices and their values."""
    glossed = gloss_text(text)
    counts: Counter[int] = Counter()
    for version in (text, glossed) if glossed else (text,):
        words = _WORD_RE.findall(version.lower())
        counts.update(zlib.crc32(token.encode("utf-8")) % BOW_DIM
                      for token in words + [a + " " + b for a, b in zip(words, words[1:])])
    indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    values = np.log1p(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    return indices, values / max(1e-9, float(np.linalg.norm(values)))


def bow_vector(text: str) -> np.ndarray:
    """Hashed bag of lower-cased words and word pairs (crc32 buckets, log counts, L2-normalised). Russian
    and Ukrainian text adds the words of its English gloss, so what the gate and the topic head learn from
    English passages also applies to them."""
    indices, values = bow_terms(text)
    vector = np.zeros(BOW_DIM, dtype=np.float32)
    vector[indices] = values
    return vector


@dataclass
class TextUnits:
    """A text cut into sentences, with the headline (if any) kept apart from the claim sentences."""

    sentences: list[str]
    claim_sentences: list[int]  # indices of sentences that can carry evidence (not the headline)
    paragraph_of: list[int]
    candidates: list[Candidate] = field(default_factory=list)
    mentions: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)  # per claim sentence


def looks_like_headline(paragraph: str, rest: list[str]) -> bool:
    """A first paragraph that is one short line without final punctuation, followed by a body."""
    line = " ".join(paragraph.split())
    return bool(rest) and "\n" not in paragraph.strip() and len(line.split()) <= 25 and not re.search(r"[.!?…:]$|[.!?…][\"”»’']$", line)


class MentionFinder:
    def __init__(self, codebook: Codebook):
        self.patterns: dict[str, re.Pattern[str]] = {}
        self.anchors: dict[str, tuple[str, ...]] = {}
        for actor_id, actor in codebook.actors.items():
            latin = list(dict.fromkeys(actor.aliases + EXTRA_ALIASES.get(actor_id, [])))
            stems = CYRILLIC_STEMS.get(actor_id, [])
            exact = [s for s in stems if s in _EXACT_CYRILLIC]
            loose = [s for s in stems if s not in _EXACT_CYRILLIC]
            parts = [_alias_pattern(latin).pattern]
            if loose:
                parts.append(r"(?<!\w)(?i:" + "|".join(re.escape(s) for s in sorted(loose, key=len, reverse=True)) + r")\w*")
            if exact:
                parts.append(r"(?<!\w)(?:" + "|".join(re.escape(s) for s in exact) + r")(?!\w)")
            self.patterns[actor_id] = re.compile("|".join(f"(?:{p})" for p in parts))
            # every match starts with one of these (lower-cased): a sentence with none of them is not scanned
            # by the actor's regex, which was the slowest part of cutting candidates
            self.anchors[actor_id] = tuple(dict.fromkeys(a.lower() for a in latin + stems))

    def find(self, sentence: str) -> list[tuple[int, int, str]]:
        """Non-overlapping mentions (start, end, actor), longest first where two overlap."""
        lowered = sentence.lower()
        found = sorted(
            ((m.start(), m.end(), actor) for actor, pattern in self.patterns.items()
             if any(anchor in lowered for anchor in self.anchors[actor]) for m in pattern.finditer(sentence)
             if m.end() > m.start()),
            key=lambda x: (-(x[1] - x[0]), x[0]),
        )
        taken: list[tuple[int, int, str]] = []
        for start, end, actor in found:
            if all(end <= s or start >= e for s, e, _ in taken):
                taken.append((start, end, actor))
        return sorted(taken)


class Featurizer:
    """Turns a text into candidates and (with the encoder's token states) into feature vectors."""

    def __init__(self, codebook: Codebook):
        self.codebook = codebook
        self.lexicon = LexiconAnalyzer(codebook)
        self.mentions = MentionFinder(codebook)
        self.actor_ids = codebook.actor_ids
        self.position_ids = codebook.position_ids
        self.keywords = {
            pid: re.compile(r"(?<!\w)(?:" + "|".join(re.escape(k) for k in pos.keywords) + r")", re.IGNORECASE)
            for pid, pos in codebook.positions.items()
        }
        self.proposition_vectors: np.ndarray | None = None  # (positions, 2, dim), set by the analyzer
        self._lexicon_cache: dict[str, np.ndarray] = {}

    # -- text -> sentences and candidates -------------------------------------------------------------
    def units(self, text: str) -> TextUnits:
        paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        sentences: list[str] = []
        paragraph_of: list[int] = []
        claim_sentences: list[int] = []
        for index, paragraph in enumerate(paragraphs):
            headline = index == 0 and looks_like_headline(paragraph, paragraphs[1:])
            for sentence in split_sentences(paragraph):
                if not headline:
                    claim_sentences.append(len(sentences))
                sentences.append(sentence)
                paragraph_of.append(index)
        units = TextUnits(sentences, claim_sentences, paragraph_of)
        previous_holder: str | None = None
        previous_paragraph = -1
        claimable = set(claim_sentences)
        for i, sentence in enumerate(sentences):
            if i not in claimable:
                continue
            if paragraph_of[i] != previous_paragraph:
                previous_holder = None if paragraph_of[i] - previous_paragraph > 1 else previous_holder
            previous_paragraph = paragraph_of[i]
            mentions = units.mentions[i] = self.mentions.find(sentence)
            by_actor: dict[str, list[tuple[int, int]]] = {}
            for start, end, actor in mentions:
                by_actor.setdefault(actor, []).append((start, end))
            for actor, spans in by_actor.items():
                units.candidates.append(Candidate(i, actor, False, spans))
            pronoun = PRONOUN.search(sentence) or SPEECH_TAIL.search(sentence)
            holder = self.holder(sentence, mentions)
            if previous_holder and previous_holder not in by_actor and pronoun and (holder is None or not self._speaker_named(sentence, mentions)):
                units.candidates.append(Candidate(i, previous_holder, True, [pronoun.span()]))
                holder = holder or previous_holder
            if holder is not None:
                previous_holder = holder
        return units

    def _speaker_named(self, sentence: str, mentions) -> bool:
        for verb in self.lexicon.speech.finditer(sentence):
            if any(0 <= verb.start() - m[1] <= 40 or 0 <= m[0] - verb.end() <= 25 for m in mentions):
                return True
        return False

    def holder(self, sentence: str, mentions) -> str | None:
        """The lexicon's rule: the actor next to a speech verb, else the first actor named."""
        if not mentions:
            return None
        for verb in self.lexicon.speech.finditer(sentence):
            before = [m for m in mentions if 0 <= verb.start() - m[1] <= 40]
            after = [m for m in mentions if 0 <= m[0] - verb.end() <= 25]
            if before:
                return before[-1][2]
            if after:
                return after[0][2]
        return mentions[0][2]

    # -- features -----------------------------------------------------------------------------------------
    def sentence_lexicon(self, sentence: str) -> np.ndarray:
        """Per position: relevant, keyword, lexicon favor/against/neutral (5 x positions). Remembered for the
        last sentences seen: the gate and the features both ask for them."""
        cached = self._lexicon_cache.get(sentence)
        if cached is None:
            if len(self._lexicon_cache) >= LEXICON_CACHE:
                self._lexicon_cache.clear()
            cached = self._lexicon_cache[sentence] = self._sentence_lexicon(sentence)
        return cached

    def _sentence_lexicon(self, sentence: str) -> np.ndarray:
        out = np.zeros((len(self.position_ids), 5), dtype=np.float32)
        for j, pid in enumerate(self.position_ids):
            if self.lexicon.positions[pid]["relevant"].search(sentence):
                out[j, 0] = 1.0
                found = self.lexicon.stance(sentence, pid)
                if found:
                    out[j, 2 + ("favor", "against", "neutral").index(found[0])] = found[1]
            out[j, 1] = min(2, len(self.keywords[pid].findall(sentence))) / 2
        return out.reshape(-1)

    @property
    def dim(self) -> int:
        n_pos, n_act = len(self.position_ids), len(self.actor_ids)
        return 3 * EMBED_DIM + 2 * n_pos + 5 * n_pos + n_act + 8

    @staticmethod
    def candidate_masks(cand: Candidate, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token masks of the actor's mentions and of a window of WINDOW tokens around them."""
        n = len(off)
        inside = np.zeros(n, dtype=bool)
        for start, end in cand.spans:
            inside |= (off[:, 0] < end) & (off[:, 1] > start) & (off[:, 1] > off[:, 0])
        if not inside.any():
            inside[min(1, n - 1)] = True
        window = np.zeros(n, dtype=bool)
        for k in np.flatnonzero(inside):
            window[max(1, k - WINDOW):k + WINDOW + 1] = True
        window[0] = False
        if n > 1:
            window[-1] = False
        if not window.any():
            window = inside.copy()
        return inside, window

    def static_features(self, units: TextUnits, sentence_vectors: np.ndarray) -> np.ndarray:
        """The non-pooled part of each candidate's row: proposition similarities, lexicon cues, actor, holder cues."""
        assert self.proposition_vectors is not None
        sims = np.einsum("sd,pkd->spk", sentence_vectors, self.proposition_vectors).reshape(len(units.sentences), -1)
        lexical: dict[int, np.ndarray] = {}
        rows = []
        for cand in units.candidates:
            i = cand.sentence
            sentence = units.sentences[i]
            if i not in lexical:
                lexical[i] = self.sentence_lexicon(sentence)
            mentions = units.mentions[i]
            first = mentions[0][2] == cand.actor if mentions else False
            holder = self.holder(sentence, mentions) == cand.actor if mentions else cand.carried
            start = min(s for s, _ in cand.spans)
            objectish = bool(OBJECT_BEFORE.search(sentence[:start]))
            speech_near = any(
                0 <= v.start() - e <= 40 or 0 <= s - v.end() <= 25
                for v in self.lexicon.speech.finditer(sentence) for s, e in cand.spans
            )
            n_actors = len({m[2] for m in mentions})
            onehot = np.zeros(len(self.actor_ids), dtype=np.float32)
            onehot[self.actor_ids.index(cand.actor)] = 1.0
            cues = np.array([
                float(holder), float(first), float(objectish), float(speech_near), float(cand.carried),
                start / max(1, len(sentence)), min(4, n_actors) / 4, min(4, len(cand.spans)) / 4,
            ], dtype=np.float32)
            rows.append(np.concatenate([sims[i], lexical[i], onehot, cues]))
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.dim - 3 * EMBED_DIM)

    def features(self, units: TextUnits, states: list[np.ndarray], offsets: list[np.ndarray],
                 sentence_vectors: np.ndarray) -> np.ndarray:
        """One row per candidate: [sentence vector, actor mention mean, window mean, static features].
        `states[i]` are sentence i's token states (tokens, dim) without padding, `offsets[i]` their
        character spans, `sentence_vectors` the normalised mean-pooled sentence vectors."""
        if not units.candidates:
            return np.zeros((0, self.dim), dtype=np.float32)
        pooled = []
        for cand in units.candidates:
            tok = states[cand.sentence]
            inside, window = self.candidate_masks(cand, offsets[cand.sentence])
            pooled.append(np.concatenate([sentence_vectors[cand.sentence], tok[inside].mean(0), tok[window].mean(0)]))
        return np.concatenate([np.asarray(pooled, dtype=np.float32), self.static_features(units, sentence_vectors)], axis=1)
