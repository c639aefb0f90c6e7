"""Shared fixtures: every test runs with HOME and XDG state in a temp dir, never the user's; the ONNX
files the encoder backend builds on first use are shared by the session's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp() / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PEACEWATCH_MODEL_CACHE", str(tmp_path_factory.getbasetemp() / "models"))
