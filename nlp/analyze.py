"""One entry point for every backend: `load_analyzer()` and `analyze_lines()` (the JSON-lines contract)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Protocol

from pydantic import ValidationError

from peacewatch.config import ConfigError, settings
from peacewatch.contracts import AnalyzeRequest, AnalyzeResult, Claim
from peacewatch.nlp.codebook import Codebook, default_codebook


class Analyzer(Protocol):
    model_id: str
    model_version: str
    codebook: Codebook

    def analyze(self, text: str) -> tuple[list[str], list[Claim]]: ...


def load_analyzer(backend: str | None = None, codebook: Codebook | None = None) -> Analyzer:
    """The backend named in config (nlp.backend) or by the caller."""
    backend = backend or settings()["nlp"]["backend"]
    codebook = codebook or default_codebook()
    if backend == "lexicon":
        from peacewatch.nlp.lexicon import LexiconAnalyzer

        return LexiconAnalyzer(codebook)
    if backend == "nli":
        from peacewatch.nlp.nli import load_nli_analyzer

        return load_nli_analyzer(codebook)
    if backend == "encoder" or backend.startswith("encoder:"):
        from peacewatch.nlp.encoder import load_encoder_analyzer

        # encoder[:torch|onnx|onnx-int8][+nogate]
        runtime, _, option = backend.partition(":")[2].partition("+")
        if option not in ("", "nogate"):
            raise ConfigError(f"nlp.backend: unknown encoder option +{option} in {backend!r} (available: +nogate)")
        return load_encoder_analyzer(codebook, runtime=runtime or None, gate=False if option == "nogate" else None)
    raise ConfigError(f"nlp.backend: unknown backend {backend!r} (available: lexicon, encoder, nli)")


def analyze_lines(lines: Iterable[str], analyzer: Analyzer) -> Iterator[str]:
    """Map `{"id","text"}` JSON lines to `{"id","topics","claims"}` lines, one output per input line.

    A line that is not a valid request raises ValueError naming its line number: the contract is strict
    so that evaluation never silently scores fewer documents than it was given.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            request = AnalyzeRequest.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ValueError(f"line {number}: expected a JSON object with \"id\" and \"text\" ({exc.__class__.__name__})") from exc
        topics, claims = analyzer.analyze(request.text)
        yield AnalyzeResult(id=request.id, topics=topics, claims=claims).model_dump_json()
