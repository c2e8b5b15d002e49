"""Fixtures shared by every test.

- ``provenance_home`` (autouse): ``PROVENANCE_HOME`` points at a fresh temp dir and
  ``PROVENANCE_DB`` is unset, so no test touches the user's data directory or database.
- ``sqlite_url``: a SQLAlchemy URL of a (not yet existing) SQLite file in the test's temp dir.
- ``postgres_server`` (session): a real PostgreSQL server started by this fixture in a temp dir
  (``initdb`` + ``pg_ctl``, as the ``postgres`` user when we run as root), stopped at the end.
- ``postgres_url``: an empty database of the test's own on that server (a fresh schema in a
  shared database, selected by the URL; ``postgres_server.create_database()`` for a real one).
- ``store_url``: parametrised over ``sqlite`` and ``postgres`` (the latter marked ``postgres``),
  so a test taking it runs against both engines.

A missing service skips with the reason, or fails when ``PROVENANCE_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from provenance.standins import postgres as _postgres
from provenance.standins.postgres import PostgresServer, ServiceMissing, stop_postgres_server

__all__ = ["PostgresServer", "start_postgres_server", "stop_postgres_server"]

REQUIRE_SERVICES_ENV = "PROVENANCE_REQUIRE_SERVICES"


def service_missing(reason: str) -> None:
    """Skip the test because a service is missing, or fail it when services are required (CI)."""
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def provenance_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("provenance-home")
    monkeypatch.setenv("PROVENANCE_HOME", str(home))
    monkeypatch.delenv("PROVENANCE_DB", raising=False)
    return home


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file in the test's temp dir (the file does not exist yet)."""
    return f"sqlite:///{tmp_path / 'provenance-test.sqlite'}"


# --------------------------------------------------------------------------- PostgreSQL


def start_postgres_server() -> PostgresServer:
    """A throw-away cluster (:mod:`provenance.standins.postgres`), or skip/fail with the reason
    (see ``service_missing``) when it cannot run here."""
    try:
        return _postgres.start_postgres_server()
    except ServiceMissing as exc:
        service_missing(str(exc))
        raise


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (do not stop it: use your own for faults)."""
    server = start_postgres_server()
    yield server
    stop_postgres_server(server)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """An empty database of the test's own on the session's PostgreSQL server (a fresh schema,
    selected through the URL: see ``PostgresServer.create_schema``)."""
    return postgres_server.create_schema()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """An empty database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))
