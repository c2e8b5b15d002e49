"""Security sweep: the secret corpus through a real proxy, then every way data leaves the store.

The whole corpus (``tests/secrets_corpus.py``) is planted in request headers, the URL query, the
JSON body (echoed back in the response), an SSE stream, and protobuf messages in Connect frames
(``tests.e2e.test_capture_cli_e2e.send_planted_traffic``), through ``provenance capture``. Then no
secret may appear in: the SQLite file and its WAL/SHM, the proxy's output, ``provenance export``
(jsonl, har), ``provenance report`` (md, json, csv, html), ``provenance exchanges`` (list and
show of every exchange) and every dashboard page rendered by AppTest (including each exchange on
the Traffic page). Files the tools create are 0600; the servers bind loopback by default and
refuse other addresses without ``--allow-remote``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from provenance.cli.main import build_parser, main
from provenance.standins.processes import ProxyProcess
from provenance.standins.provider import StandInProvider
from tests.e2e.test_capture_cli_e2e import db_bytes, send_planted_traffic
from tests.secrets_corpus import SECRETS, assert_no_secrets

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "dashboards" / "pages"


def no_secrets(where: str, blob: bytes | str) -> None:
    try:
        assert_no_secrets(blob)
    except AssertionError as exc:
        raise AssertionError(f"{where}: {exc}") from None


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def captured(
    tmp_path_factory: pytest.TempPathFactory, confdir: Path
) -> Iterator[tuple[str, Path, Path, ProxyProcess]]:
    """One capture of the planted traffic: (db URL, db path, PROVENANCE_HOME, stopped proxy)."""
    from provenance.standins.processes import quiet_capture as provenance_capture

    work = tmp_path_factory.mktemp("sweep")
    db, home = work / "sweep.sqlite", work / "home"
    url = f"sqlite:///{db}"
    proxy = provenance_capture(url, confdir, home)
    try:
        proxy.wait_listening()
        with StandInProvider() as upstream:
            sent = send_planted_traffic(proxy, upstream, confdir)
    finally:
        code = proxy.stop(signal.SIGTERM)
    assert code == 0, proxy.output[-2000:]
    assert f"provenance: {sent} exchange(s) stored" in proxy.output
    yield url, db, home, proxy


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_store_file_and_proxy_output_hold_no_secret(
    captured: tuple[str, Path, Path, ProxyProcess],
) -> None:
    _, db, home, proxy = captured
    no_secrets("database file, WAL and SHM", db_bytes(db))
    no_secrets("proxy output", proxy.output)
    assert mode_of(db) == 0o600
    key = home / "redaction.key"
    assert key.exists() and mode_of(key) == 0o600


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_export_holds_no_secret_and_is_private(
    captured: tuple[str, Path, Path, ProxyProcess],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    url = captured[0]
    out = tmp_path / f"export.{fmt}"
    code, printed = cli(capsys, "export", "--db", url, "--format", fmt, "--out", str(out))
    assert code == 0, printed
    assert mode_of(out) == 0o600
    data = out.read_bytes()
    assert len(data) > 1000  # not vacuous: the exchanges are in there
    no_secrets(f"export --format {fmt}", data)
    no_secrets(f"export --format {fmt} (terminal)", printed)
    code, stdout = cli(capsys, "export", "--db", url, "--format", fmt)
    assert code == 0
    no_secrets(f"export --format {fmt} to stdout", stdout)


@pytest.mark.parametrize("fmt", ["md", "json", "csv", "html"])
def test_report_holds_no_secret_and_is_private(
    captured: tuple[str, Path, Path, ProxyProcess],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    url = captured[0]
    out = tmp_path / f"report.{fmt}"
    code, printed = cli(capsys, "report", "--db", url, "--format", fmt, "--out", str(out))
    assert code == 0, printed
    assert mode_of(out) == 0o600
    no_secrets(f"report --format {fmt}", out.read_bytes())
    no_secrets(f"report --format {fmt} (terminal)", printed)


def test_exchange_listing_and_every_exchange_view_hold_no_secret(
    captured: tuple[str, Path, Path, ProxyProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    url = captured[0]
    code, listing = cli(capsys, "exchanges", "list", "--db", url, "--json", "--limit", "1000")
    assert code == 0, listing
    no_secrets("exchanges list", listing)
    ids = [row["id"] for row in json.loads(listing)["exchanges"]]
    assert len(ids) >= 3
    for exchange_id in ids:
        for extra in ([], ["--json"]):
            code, shown = cli(capsys, "exchanges", "show", str(exchange_id), "--db", url, *extra)
            assert code == 0, shown
            no_secrets(f"exchanges show {exchange_id} {' '.join(extra)}", shown)


def page_text(at: AppTest) -> str:
    """Everything a page shows as text: markdown, tables, JSON, metrics, labels, options."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "code", "latex"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for kind in ("info", "warning", "error", "success", "exception"):
        parts += [str(getattr(e, "value", "")) for e in getattr(at, kind)]
    parts += [str(e.value) for e in at.json]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [e.label for e in at.expander]
    parts += [str(e.options) for e in at.selectbox]
    parts += [e.value.to_csv() for e in at.dataframe]
    parts += [e.value.to_csv() for e in at.table]
    return "\n".join(parts)


def run_page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=120)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.mark.slow
def test_dashboard_pages_show_no_secret(
    captured: tuple[str, Path, Path, ProxyProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVENANCE_DB", captured[0])
    for name in sorted(p.name for p in PAGES.glob("*.py")):
        at = run_page(name)
        no_secrets(f"dashboard page {name}", page_text(at))
    at = run_page("4_Traffic.py")
    options = at.selectbox[-1].options
    assert len(options) >= 3
    for option in options:
        at.selectbox[-1].select(option).run()
        assert not at.exception
        text = page_text(at)
        assert any(kind in text for kind in ("[REDACTED:", "redacted"))  # not vacuous
        no_secrets(f"dashboard Traffic page, exchange {option}", text)


# ------------------------------------------------------------------ listen addresses


@pytest.mark.parametrize(
    ("argv", "dest"),
    [
        (["capture"], "listen_host"),
        (["dashboard"], "host"),
        (["serve-reference", "some-model-dir"], "host"),
    ],
)
def test_servers_default_to_loopback(argv: list[str], dest: str) -> None:
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == "127.0.0.1"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["capture", "--listen-host", "0.0.0.0", "--listen-port", "0"], "--allow-remote"),
        (["dashboard", "--host", "0.0.0.0"], "--allow-remote"),
        (["dashboard", "--host", "192.0.2.7"], "--allow-remote"),
        (["serve-reference", "no-such-model", "--host", "0.0.0.0"], "--allow-remote"),
        (["serve-reference", "no-such-model", "--host", "::"], "--allow-remote"),
    ],
)
def test_non_loopback_needs_allow_remote(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "x.sqlite"
    if argv[0] != "serve-reference":
        argv = [*argv, "--db", f"sqlite:///{db}"]
    code, printed = cli(capsys, *argv)
    assert code == 2
    assert fragment in printed and printed.startswith("error: ")
    assert not db.exists()  # refused before anything was opened


def _listening_on(port: int) -> list[str]:
    """Local addresses (hex, from /proc/net/tcp*) of sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # TCP_LISTEN
                found.append(addr)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_dashboard_process_listens_on_loopback_only(
    captured: tuple[str, Path, Path, ProxyProcess],
) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "provenance.cli.main", "dashboard", "--db", captured[0],
         "--port", str(port)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"},
    )  # fmt: skip
    try:
        wait: Callable[[], list[str]] = lambda: _listening_on(port)  # noqa: E731
        deadline = time.monotonic() + 120
        while not wait() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        addrs = wait()
        assert addrs, "the dashboard did not start listening"
        assert set(addrs) <= {"0100007F", "00000000000000000000000001000000"}, addrs
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_corpus_is_not_empty() -> None:
    """Guard against a vacuous sweep: the corpus has samples of many kinds."""
    assert len(SECRETS) >= 20
