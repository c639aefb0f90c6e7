"""Language detection and sentence splitting for English, Russian and Ukrainian news text."""

from __future__ import annotations

import re
from functools import lru_cache

# Abbreviations that end with a period but do not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "sen", "rep", "gov", "st", "jr", "sr", "vs",
    "u.s", "u.n", "u.k", "e.u", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "etc", "approx", "г", "гг", "т.е", "т.д", "им", "ул", "см",
}
_BOUNDARY = re.compile(r"""(?<=[.!?…])["'»”’)\]]*\s+(?=["'«“‘(\[]?[A-ZА-ЯЁІЇЄҐ0-9])""")
_PARAGRAPHS = re.compile(r"\n\s*\n")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; paragraph breaks always end a sentence."""
    sentences: list[str] = []
    for paragraph in _PARAGRAPHS.split(text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            candidate = paragraph[start:match.start()].strip()
            last_word = candidate.rsplit(" ", 1)[-1].rstrip(".").lower()
            if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-zа-я]", last_word):
                continue
            sentences.append(candidate)
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language (offline model), or None for text too short to tell."""
    sample = " ".join(text.split())[:2000]
    if len(sample) < 20:
        return None
    language, _probability = _identifier().classify(sample)
    return language
