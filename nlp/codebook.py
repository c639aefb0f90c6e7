"""The codebook: positions, actors, stances and topics, loaded from config/codebook.yaml and validated."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator

from peacewatch.config import ConfigError, config_path, file_sha256, load_yaml

REQUIRED_STANCES = {"favor", "against", "neutral"}


class Position(BaseModel):
    proposition: str
    description: str
    keywords: list[str] = []


class Actor(BaseModel):
    name: str
    aliases: list[str]

    @field_validator("aliases")
    @classmethod
    def _unique(cls, aliases: list[str]) -> list[str]:
        return list(dict.fromkeys(a.strip() for a in aliases if a.strip()))


class CodebookFile(BaseModel):
    version: str
    stances: dict[str, str]
    positions: dict[str, Position]
    actors: dict[str, Actor]
    topics: dict[str, str]

    @field_validator("stances")
    @classmethod
    def _stances(cls, stances: dict[str, str]) -> dict[str, str]:
        if set(stances) != REQUIRED_STANCES:
            raise ValueError(f"stances must be exactly {sorted(REQUIRED_STANCES)}")
        return stances


@dataclass(frozen=True)
class Codebook:
    """A validated codebook plus the hash that is stored with every classification."""

    version: str
    sha256: str
    stances: dict[str, str]
    positions: dict[str, Position]
    actors: dict[str, Actor]
    topics: dict[str, str]

    @property
    def actor_ids(self) -> list[str]:
        return list(self.actors)

    @property
    def position_ids(self) -> list[str]:
        return list(self.positions)

    @property
    def topic_ids(self) -> list[str]:
        return list(self.topics)


def load_codebook(path: Path | None = None) -> Codebook:
    """Read and validate a codebook file; errors name the file and the field."""
    path = Path(path or config_path("codebook"))
    try:
        parsed = CodebookFile.model_validate(load_yaml(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path}: {field}: {first['msg']}") from exc
    return Codebook(
        version=parsed.version,
        sha256=file_sha256(path),
        stances=parsed.stances,
        positions=parsed.positions,
        actors=parsed.actors,
        topics=parsed.topics,
    )


@lru_cache(maxsize=4)
def default_codebook() -> Codebook:
    return load_codebook()
