"""Fixtures for the redaction tests: a redactor with a fixed key, and a private data directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # `pytest` (not `python -m pytest`) does not put the checkout on the path
    sys.path.insert(0, _ROOT)

from provenance.redact import Redactor  # noqa: E402

KEY = bytes(range(32))


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(KEY)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PROVENANCE_HOME pointed at a fresh temp dir."""
    monkeypatch.setenv("PROVENANCE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
