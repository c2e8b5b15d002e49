"""Database URL resolution and every way a user can get it wrong: one line, exit 2."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from provenance.errors import StoreError
from provenance.store import mask_url, open_store, resolve_db_url


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provenance_home: Path):
    assert resolve_db_url(None) == f"sqlite:///{provenance_home / 'provenance.sqlite'}"
    monkeypatch.setenv("PROVENANCE_DB", "postgresql://audit@db.internal/prov")
    assert resolve_db_url(None) == "postgresql+psycopg://audit@db.internal/prov"
    assert resolve_db_url("") == "postgresql+psycopg://audit@db.internal/prov"
    assert resolve_db_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:pw@h:5433/d", "postgresql+psycopg://u:pw@h:5433/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:////abs/file.sqlite", "sqlite:////abs/file.sqlite"),
        ("sqlite+pysqlite:////abs/file.sqlite", "sqlite:////abs/file.sqlite"),
    ],
)
def test_urls_are_normalised(given: str, expected: str) -> None:
    assert resolve_db_url(given) == expected


def test_relative_and_home_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_db_url("rel.sqlite") == f"sqlite:///{tmp_path / 'rel.sqlite'}"
    assert resolve_db_url("~/cap.sqlite") == f"sqlite:///{tmp_path / 'home' / 'cap.sqlite'}"


def test_passwords_are_masked() -> None:
    url = "postgresql+psycopg://auditor:s3cr3t-pw@db.example:5432/prov"
    assert mask_url(url) == "postgresql+psycopg://auditor:***@db.example:5432/prov"
    assert "s3cr3t" not in mask_url("postgresql://auditor:s3cr3t@[bad")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bad_urls(tmp_path: Path) -> list[tuple[str, str]]:
    readonly_dir = tmp_path / "ro"
    readonly_dir.mkdir()
    readonly_dir.chmod(0o500)
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("")
    cases = [
        ("mysql://u:hunter2pw@h/d", "unsupported database URL scheme 'mysql'"),
        ("postgresql+asyncpg://u:hunter2pw@h/d", "unsupported database URL scheme"),
        ("postgresql://u:hunter2pw@h:notaport/d", "cannot parse database URL"),
        (
            f"postgresql://u:hunter2pw@127.0.0.1:{_closed_port()}/d",
            "cannot open database postgresql\\+psycopg://u:\\*\\*\\*@127.0.0.1",
        ),
        (str(tmp_path), "is a directory, not a database file"),
        (str(not_a_dir / "x.sqlite"), "cannot create database file .*choose a writable path"),
    ]
    if os.geteuid() != 0:  # root writes anywhere
        cases.append((str(readonly_dir / "x.sqlite"), "cannot create database file"))
    return cases


def test_bad_urls_raise_one_line_store_errors(tmp_path: Path) -> None:
    for url, message in _bad_urls(tmp_path):
        with pytest.raises(StoreError, match=message) as info:
            open_store(url, create=True)
        assert "\n" not in str(info.value)
        assert "hunter2pw" not in str(info.value)


def test_bad_urls_exit_2_through_the_cli(tmp_path: Path, cli) -> None:
    for url, _message in _bad_urls(tmp_path):
        for argv in (("models", "--db", url), ("db", "upgrade", "--db", url)):
            result = cli(*argv)
            assert result.code == 2, (argv, result.err)
            assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
            assert "Traceback" not in result.err and "hunter2pw" not in result.err


def test_missing_default_database_tells_what_to_do(cli) -> None:
    result = cli("models")
    assert result.code == 2
    assert "no database at" in result.err and "provenance db upgrade" in result.err


@pytest.mark.postgres
def test_store_url_masks_the_password(postgres_url: str) -> None:
    # the test server trusts local connections, so any password is accepted (and ignored)
    with_password = postgres_url.replace("postgres@", "postgres:pa55-w0rd@")
    with open_store(with_password, create=True) as store:
        assert "pa55-w0rd" not in store.url and "pa55-w0rd" not in repr(store)
        assert store.url.startswith("postgresql+psycopg://postgres:***@127.0.0.1:")


@pytest.mark.parametrize(
    "given",
    ["postgresql://u:p%40ss%2Fw0rd@h:5433/d?sslmode=require", "rel/x.sqlite", "sqlite:////a/b.db"],
)
def test_resolving_twice_changes_nothing(given: str) -> None:
    once = resolve_db_url(given)
    assert resolve_db_url(once) == once
