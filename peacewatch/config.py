"""Project configuration: YAML files in `config/`, with `${VAR:-default}` expanded from the environment."""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_ENV_PATTERN = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A configuration file is missing or invalid; the message names the file and the field."""


def config_dir() -> Path:
    return Path(os.environ.get("PEACEWATCH_CONFIG_DIR", PROJECT_ROOT / "config"))


def expand_env(value: Any) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string of a parsed YAML document."""
    if isinstance(value, str):
        return _ENV_PATTERN.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


def load_yaml(path: Path) -> Any:
    try:
        return expand_env(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@lru_cache(maxsize=None)
def settings() -> dict[str, Any]:
    """The parsed `config/peacewatch.yaml`."""
    return load_yaml(config_dir() / "peacewatch.yaml")


def config_path(key: str) -> Path:
    """Resolve a file named in peacewatch.yaml (e.g. `sources`, `codebook`) against the config dir."""
    path = Path(settings()[key])
    return path if path.is_absolute() else config_dir() / path
