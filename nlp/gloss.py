"""Word-by-word English glosses of Russian and Ukrainian sentences, for the English encoder.

all-MiniLM-L6-v2 learned English: it reads a Cyrillic sentence letter by letter and finds little meaning in it
(claim F1 on Russian and Ukrainian passages was 0.2 below English). The encoder backend therefore reads such a
sentence through a glossary: each word is lemmatised (pymorphy3, with its Russian and Ukrainian dictionaries)
and replaced by the English gloss of its lemma (`nlp/data/gloss/{ru,uk}.tsv`: every word of the training and
dev passages, then some 1,900 lemmas per language of general war and diplomacy news); a word without a gloss
is transliterated, which keeps names readable.

Only the encoder sees the gloss. Mentions, lexicon cues and evidence quotes use the original sentence, and
`Glossed.original_span` maps a character span of the gloss back to the original words, so token offsets
stay in the original sentence's coordinates.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

GLOSS_DIR = Path(__file__).resolve().parent / "data" / "gloss"
LANGUAGES = ("ru", "uk")
CYRILLIC_WORD = re.compile(r"[А-Яа-яЁёЇїІіЄєҐґ]+(?:[-'’ʼ][А-Яа-яЁёЇїІіЄєҐґ]+)*")
_UKRAINIAN_LETTERS = re.compile(r"[ЇїІіЄєҐґ]")
_TRANSLIT = dict(zip(
    "абвгґдеєёжзиіїйклмнопрстуфхцчшщъыьэюя'’ʼ",
    ["a", "b", "v", "g", "g", "d", "e", "ye", "yo", "zh", "z", "i", "i", "yi", "y", "k", "l", "m", "n", "o", "p",
     "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya", "", "", ""],
))


@dataclass(frozen=True)
class Glossed:
    """A sentence's gloss, with the original character span behind each character of the gloss."""

    text: str
    starts: tuple[int, ...]  # per character of `text`: start of the original word (or character) it renders
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span behind the gloss's characters [start, end); (0, 0) stays (0, 0) (special tokens)."""
        if end <= start:
            return start, end
        return self.starts[start], self.ends[end - 1]


def transliterate(word: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in word.lower())


@lru_cache(maxsize=1)
def glossaries() -> dict[str, dict[str, str]]:
    """lemma -> gloss, per language."""
    out: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        table: dict[str, str] = {}
        for line in (GLOSS_DIR / f"{language}.tsv").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                lemma, gloss = line.split("\t")
                table[lemma] = gloss
        out[language] = table
    return out


def glossary_sha256() -> str:
    """Hash of the glossary files: a model trained on one glossary reads text through that one only."""
    digest = hashlib.sha256()
    for language in LANGUAGES:
        digest.update((GLOSS_DIR / f"{language}.tsv").read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=2)
def _morph(language: str):
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang=language)


@lru_cache(maxsize=65536)
def gloss_word(word: str, language: str) -> str:
    """The English gloss of one Cyrillic word (lemma in `language`'s glossary, then the other's), else its
    transliteration; a hyphenated word without a gloss is glossed part by part."""
    table = glossaries()
    lower = word.lower()
    for lang in (language, *(other for other in LANGUAGES if other != language)):
        lemma = _morph(lang).parse(lower)[0].normal_form
        for key in (lemma, lower):
            if key in table[lang]:
                return table[lang][key]
    if "-" in word:
        return " ".join(gloss_word(part, language) for part in word.split("-") if part)
    return transliterate(word)


def sentence_language(sentence: str) -> str:
    """ru or uk, from the letters only one of the two alphabets has (Russian when neither shows)."""
    if _UKRAINIAN_LETTERS.search(sentence):
        return "uk"
    return "ru"


def gloss(sentence: str) -> Glossed | None:
    """The sentence with each Cyrillic word replaced by its English gloss, or None if it has no Cyrillic word."""
    words = list(CYRILLIC_WORD.finditer(sentence))
    if not words:
        return None
    language = sentence_language(sentence)
    text: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    def render(piece: str, start: int, end: int) -> None:
        text.append(piece)
        starts.extend([start] * len(piece))
        ends.extend([end] * len(piece))

    cursor = 0
    for match in [*words, None]:
        stop = match.start() if match else len(sentence)
        for k in range(cursor, stop):  # everything between two Cyrillic words is kept as it is
            render(sentence[k], k, k + 1)
        if match:
            render(gloss_word(match.group(), language), match.start(), match.end())
            cursor = match.end()
    return Glossed("".join(text), tuple(starts), tuple(ends))


def gloss_text(text: str) -> str | None:
    """`gloss(text).text` without the character spans (cheap enough for whole paragraphs), or None."""
    if not CYRILLIC_WORD.search(text):
        return None
    language = sentence_language(text)
    return CYRILLIC_WORD.sub(lambda match: gloss_word(match.group(), language), text)
