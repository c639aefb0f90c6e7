from pathlib import Path

import pytest
import yaml

from peacewatch.config import ConfigError, config_path
from peacewatch.nlp.codebook import load_codebook

POSITIONS = {"ukraine_nato_ban", "no_foreign_troops", "recognize_annexation", "nato_rollback", "ceasefire_first",
             "istanbul_basis", "security_guarantees", "sanctions_relief", "military_aid", "ukraine_elections"}
ACTORS = {"russia", "ukraine", "united_states", "europe", "nato", "china", "other"}
TOPICS = {"ceasefire", "territory", "nato_security", "sanctions_economy", "military_aid", "humanitarian",
          "energy", "diplomacy", "battlefield"}


def test_codebook_has_the_contracted_ids():
    codebook = load_codebook()
    assert set(codebook.positions) == POSITIONS
    assert set(codebook.actors) == ACTORS
    assert set(codebook.topics) == TOPICS
    assert set(codebook.stances) == {"favor", "against", "neutral"}
    assert all(p.proposition.endswith(".") for p in codebook.positions.values())
    assert len(codebook.sha256) == 64 and codebook.version


def test_actor_aliases_cover_three_languages():
    aliases = load_codebook().actors["russia"].aliases
    assert {"Kremlin", "Moscow", "Peskov", "Кремль", "Путін"} <= set(aliases)


def test_codebook_hash_changes_with_the_file(tmp_path: Path):
    original = load_codebook()
    edited = tmp_path / "codebook.yaml"
    edited.write_text(config_path("codebook").read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert load_codebook(edited).sha256 != original.sha256


def test_invalid_codebook_names_file_and_field(tmp_path: Path):
    data = yaml.safe_load(config_path("codebook").read_text(encoding="utf-8"))
    data["stances"] = {"favor": "x", "against": "y"}
    bad = tmp_path / "codebook.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"codebook\.yaml: stances"):
        load_codebook(bad)
