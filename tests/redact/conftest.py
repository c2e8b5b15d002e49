"""Fixtures for the redaction tests: a redactor with a fixed key, and a private data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.redact import Redactor

KEY = bytes(range(32))


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(KEY)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PROVENANCE_HOME pointed at a fresh temp dir."""
    monkeypatch.setenv("PROVENANCE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
