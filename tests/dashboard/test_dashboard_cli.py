"""``provenance dashboard``'s checks before it becomes the Streamlit server (issue 25, item 3).

The command ends in ``os.execve``; here that call is replaced by one that records what the
server would have been started with, so the tests see the exact environment and command line:

* the password named by ``--password-env`` (whatever its name) reaches the server only as a
  hash handed over through a pipe, and the user's variable is not passed on;
* blank and trivially weak passwords, names the dashboard keeps for itself, and malformed
  listen addresses end in one ``error:`` line and exit 2 before anything starts;
* Streamlit is told to show no exception details in the page.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from provenance.cli.main import main
from provenance.passwords import AUTH_FD_ENV, password_matches, take_handed_secret
from provenance.store import open_store

PASSWORD = "correct horse battery staple"


class Execed(Exception):
    """Raised by the fake ``execve``: the command got as far as starting the server."""


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    started: list[dict[str, Any]] = []

    def fake_execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        started.append({"path": path, "argv": list(argv), "env": dict(env)})
        raise Execed

    monkeypatch.setattr(os, "execve", fake_execve)
    return started


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = tmp_path / "store.sqlite"
    open_store(f"sqlite:///{path}", create=True).close()
    return str(path)


def _dashboard(store: str, *args: str) -> list[str]:
    return ["dashboard", "--db", store, "--port", "0", *args]


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``; it must exit 2 with one ``error:`` line (returned) and start nothing."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _start(argv: list[str], execs: list[dict[str, Any]]) -> dict[str, Any]:
    with pytest.raises(Execed):
        main(argv)
    assert len(execs) == 1
    return execs[0]


@pytest.mark.parametrize(
    "name", ["PROVENANCE_DASHBOARD_PASSWORD_HASH", "MY_DASHBOARD_PASSWORD", "PROVENANCE_PW"]
)
def test_whatever_the_variable_is_called_the_server_gets_the_hash_and_not_the_password(
    name: str, store: str, execs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, PASSWORD)
    started = _start(_dashboard(store, "--password-env", name), execs)
    env = started["env"]
    assert name not in env  # the user's variable is not passed on, under any name
    assert all(PASSWORD not in value for value in env.values())
    handed = take_handed_secret(env)
    assert handed is not None and password_matches(handed, PASSWORD)
    assert os.environ[name] == PASSWORD  # ours is left as it was


def test_no_proxy_is_trusted_to_name_the_client(
    store: str, execs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The throttle counts per peer address: the server must not take ``X-Forwarded-For``
    from a loopback client (uvicorn's default), or one client could claim endless addresses."""
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    env = _start(_dashboard(store), execs)["env"]
    assert env["FORWARDED_ALLOW_IPS"] == ""


def test_without_a_password_no_stale_hand_over_reaches_the_server(
    store: str, execs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AUTH_FD_ENV, "0")
    monkeypatch.setenv("PROVENANCE_DASHBOARD_PASSWORD_HASH", "scrypt$00$00")
    env = _start(_dashboard(store), execs)["env"]
    assert AUTH_FD_ENV not in env
    assert take_handed_secret(env) is None


@pytest.mark.parametrize("name", ["PROVENANCE_DB", "PROVENANCE_ALLOW_HOSTS", AUTH_FD_ENV])
def test_names_the_dashboard_uses_itself_are_refused(
    name: str,
    store: str,
    execs: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, PASSWORD)
    line = _refused(_dashboard(store, "--password-env", name), capsys)
    assert name in line and PASSWORD not in line
    assert not execs


@pytest.mark.parametrize(
    "password",
    ["", " " * 12, "            \t", "eleven char", "x" * 16, "123456789012", "password2026!"],
)
def test_blank_short_and_trivial_passwords_are_refused(
    password: str,
    store: str,
    execs: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PROVENANCE_TEST_PW", password)
    line = _refused(_dashboard(store, "--password-env", "PROVENANCE_TEST_PW"), capsys)
    assert "PROVENANCE_TEST_PW" in line
    if password.strip():
        assert password not in line
    assert not execs


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1 ", " 127.0.0.1", "127.0.0.1\n", "127.0.0.1:8501", "[::1]", "http://127.0.0.1",
     "local host", "-h", "no-such-host.invalid", "a" * 300],
)  # fmt: skip
def test_a_malformed_listen_address_is_one_line_naming_it(
    host: str, store: str, execs: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused(_dashboard(store, f"--host={host}"), capsys)
    assert repr(host[:40])[:-1] in line  # the value, as typed (quoted, escapes shown)
    assert not execs


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_addresses_still_start(host: str, store: str, execs: list[dict]) -> None:
    argv = _start(_dashboard(store, "--host", host), execs)["argv"]
    assert argv[argv.index("--server.address") + 1] == host


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::"])
def test_every_interface_still_starts_with_allow_remote_and_a_password(
    host: str, store: str, execs: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVENANCE_TEST_PW", PASSWORD)
    argv = _start(
        _dashboard(
            store, f"--host={host}", "--allow-remote", "--password-env", "PROVENANCE_TEST_PW"
        ),
        execs,
    )["argv"]
    assert argv[argv.index("--server.address") + 1] == host


def test_streamlit_is_told_to_show_no_exception_details(store: str, execs: list[dict]) -> None:
    argv = _start(_dashboard(store), execs)["argv"]
    assert argv[argv.index("--client.showErrorDetails") + 1] == "none"
