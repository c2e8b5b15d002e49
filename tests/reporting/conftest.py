"""A seeded SQLite store shared by the reporting tests (see ``seed.py``)."""

from __future__ import annotations

import pytest

from tests.reporting.seed import seed


@pytest.fixture
def seeded_url(sqlite_url: str) -> str:
    seed(sqlite_url)
    return sqlite_url
