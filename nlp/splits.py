"""Deterministic train/dev/test split of the labelled passages (nlp/data/labelled/*.jsonl).

Passages are assigned by their `group` (passages cut from one story or event share a group), so related
passages never straddle two splits: sha256("peacewatch-split-v1:" + group) is mapped to 0..99 and buckets
0-59 are train, 60-79 dev, 80-99 test. The assignment depends only on the group id, so adding passages or
files never moves an existing group.

The test split is for final evaluation only: `load_split("test")` raises unless the caller passes
`for_evaluation=True` (only nlp/evaluate.py does), so training and tuning code cannot read it by mistake.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from peacewatch.nlp.codebook import Codebook, default_codebook

LABELLED_DIR = Path(__file__).with_name("data") / "labelled"
SPLITS = ("train", "dev", "test")
_SALT = "peacewatch-split-v1:"
_BOUNDS = {"train": (0, 60), "dev": (60, 80), "test": (80, 100)}


def split_of(group: str) -> str:
    """The split a group belongs to."""
    bucket = int.from_bytes(hashlib.sha256((_SALT + group).encode("utf-8")).digest()[:8], "big") % 100
    for name, (low, high) in _BOUNDS.items():
        if low <= bucket < high:
            return name
    raise AssertionError(bucket)  # pragma: no cover


def load_labelled(directory: Path = LABELLED_DIR) -> list[dict]:
    """Every labelled passage, in a stable order (file name, then line)."""
    rows: list[dict] = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
    return rows


def load_split(name: str, *, for_evaluation: bool = False, directory: Path = LABELLED_DIR) -> list[dict]:
    """The passages of one split ("train", "dev" or "test")."""
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r} (expected one of {', '.join(SPLITS)})")
    if name == "test" and not for_evaluation:
        raise PermissionError("the test split is read only by evaluation: pass for_evaluation=True from nlp/evaluate.py")
    return [row for row in load_labelled(directory) if split_of(row["group"]) == name]


LANGUAGES = ("en", "ru", "uk")
STYLES = ("wire", "quote", "analysis", "headline", "social", "explainer", "transcript")


def check_labelled(rows: list[dict], codebook: Codebook | None = None) -> list[str]:
    """Problems in labelled passages, one line each (empty when all is well): missing or unknown fields,
    ids the codebook does not have, a repeated passage id or text, one actor-position pair labelled twice."""
    codebook = codebook or default_codebook()
    problems: list[str] = []
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    for row in rows:
        where = f"passage {row.get('id', '?')}"
        missing = {"id", "group", "text", "language", "style", "claims", "topics"} - set(row)
        if missing:
            problems.append(f"{where}: missing {', '.join(sorted(missing))}")
            continue
        if row["id"] in seen_ids:
            problems.append(f"{where}: id used twice")
        if " ".join(row["text"].split()).lower() in seen_texts:
            problems.append(f"{where}: the same text as an earlier passage")
        seen_ids.add(row["id"])
        seen_texts.add(" ".join(row["text"].split()).lower())
        if row["language"] not in LANGUAGES or row["style"] not in STYLES:
            problems.append(f"{where}: language must be one of {LANGUAGES}, style one of {STYLES}")
        if not row["topics"] or set(row["topics"]) - set(codebook.topic_ids) or len(row["topics"]) > 3:
            problems.append(f"{where}: topics must be 1 to 3 of {codebook.topic_ids}")
        pairs = set()
        for claim in row["claims"]:
            if (claim.get("actor") not in codebook.actors or claim.get("position") not in codebook.positions
                    or claim.get("stance") not in codebook.stances):
                problems.append(f"{where}: claim {claim} names an unknown actor, position or stance")
            pair = (claim.get("actor"), claim.get("position"))
            if pair in pairs:
                problems.append(f"{where}: two claims for {pair}")
            pairs.add(pair)
    return problems


if __name__ == "__main__":
    import sys

    found = check_labelled(load_labelled())
    print("\n".join(found) if found else f"{len(load_labelled())} passages, no problems")
    sys.exit(1 if found else 0)
