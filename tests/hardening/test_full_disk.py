"""Nothing acknowledged is lost when the store cannot write: real ``provenance capture``
processes against a real full filesystem (a small tmpfs, mounted as root) and a real
PostgreSQL switched to read-only — at start, while running and at shutdown.

The promise checked every time: the summary's ``stored`` is what the database holds;
``stored + dropped`` is every exchange; every dropped exchange is in the unstored journal
(``journaled``), so nothing is lost; the exit code is non-zero whenever the database does not
hold everything; and the next capture on the store imports the journal and says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from provenance.standins import loadgen
from provenance.standins.processes import ProxyProcess, Upstream, run_cli
from tests.conftest import PostgresServer, service_missing
from tests.hardening.conftest import count, stored_tags
from tests.store.test_journal import fill, read_only

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Start = Callable[..., ProxyProcess]
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "realworld"


class Disk:
    """A tmpfs of ``size`` mounted at ``path``; :meth:`resize` changes its size in place."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mount(self, size: str) -> None:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "provenance-test", str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            service_missing(f"cannot mount a tmpfs: {done.stderr.strip()}")

    def resize(self, size: str) -> None:
        subprocess.run(
            ["mount", "-o", f"remount,size={size}", str(self.path)], check=True, timeout=30
        )


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    if os.geteuid() != 0:
        service_missing("a full filesystem needs root to mount a small tmpfs")
    path = tmp_path / "disk"
    path.mkdir()
    disk = Disk(path)
    disk.mount("600k")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def summary(proxy: ProxyProcess) -> dict[str, Any]:
    """The ``provenance.capture/1`` document a ``--json`` capture printed last."""
    lines = proxy.output.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    doc = json.loads("\n".join(lines[start:]))
    assert doc["schema"] == "provenance.capture/1"
    return doc


def journal_files(home: Path, disk: Disk | None = None) -> list[Path]:
    found = list((home / "unstored").glob("*.jsonl")) if (home / "unstored").is_dir() else []
    if disk is not None:
        found += list(disk.path.glob("*.unstored-*.jsonl"))
    return found


def load(proxy: ProxyProcess, upstream: Upstream, total: int, tag_start: int = 0) -> list[int]:
    result = loadgen.run(
        loadgen.via_proxy(proxy.port or 0, upstream.port),
        concurrency=4,
        total=total,
        tagged=True,
        tag_start=tag_start,
        timeout=30,
    )
    assert result.errors == 0 and result.mismatches == 0  # the traffic itself is untouched
    assert result.completed == total
    return sorted(result.tags)


def assert_nothing_lost(
    doc: dict[str, Any], url: str, acknowledged: int, *, before: int = 0
) -> None:
    """The summary tells the truth about the database (which held ``before`` rows at the
    start), and the journal holds the rest."""
    assert doc["exchanges"] == acknowledged
    assert doc["stored"] == doc["written"] == count(url) - before
    assert doc["stored"] + doc["dropped"] == acknowledged
    assert doc["journaled"] == doc["dropped"] and doc["write_failures"] == 0


@pytest.mark.parametrize("where", ["extraction process", "in the proxy"])
def test_a_full_disk_at_shutdown_journals_the_rest_and_the_next_start_imports_it(
    disk: Disk, upstream: Upstream, start_capture: Start, tmp_path: Path, where: str
) -> None:
    url = f"sqlite:///{disk.path}/full.sqlite"
    extra = ["--json"] + (["--extract-in-proxy"] if where == "in the proxy" else [])
    proxy = start_capture(url, *extra)
    sent = load(proxy, upstream, 400)
    code = proxy.stop(signal.SIGTERM)
    doc = summary(proxy)
    assert code == 1, proxy.output[-3000:]  # the database does not hold everything
    assert_nothing_lost(doc, url, 400)
    assert doc["dropped"] > 0  # the disk really was full
    home = tmp_path / "home"
    files = journal_files(home, disk)
    assert files and {str(p) for p in files} == set(doc["journal"])
    for path in files:
        assert (path.stat().st_mode & 0o777) == 0o600
        assert "sk-bench-" not in path.read_text()  # the journal holds redacted records only

    disk.resize("32m")  # space freed: the next capture imports the journal
    again = start_capture(url, "--json")
    assert again.stop(signal.SIGTERM) == 0, again.output[-3000:]
    assert f"{doc['dropped']} exchange(s) recovered into the store" in again.output
    assert stored_tags(url) == sent  # every exchange once: none lost, none twice
    assert journal_files(home, disk) == []


def test_a_disk_full_while_running_then_freed_loses_nothing(
    disk: Disk, upstream: Upstream, start_capture: Start, tmp_path: Path
) -> None:
    url = f"sqlite:///{disk.path}/full.sqlite"
    proxy = start_capture(url, "--json")
    sent = load(proxy, upstream, 400)
    disk.resize("32m")
    sent += load(proxy, upstream, 200, tag_start=400)
    code = proxy.stop(signal.SIGTERM)
    doc = summary(proxy)
    assert code == 0, proxy.output[-3000:]
    assert (doc["stored"], doc["dropped"], doc["journaled"]) == (600, 0, 0)
    assert stored_tags(url) == sorted(sent)
    assert journal_files(tmp_path / "home", disk) == []


def test_a_disk_already_full_at_start_is_one_clear_line_before_anything_listens(
    disk: Disk, start_capture: Start
) -> None:
    """Nothing is acknowledged, so nothing can be lost: the capture refuses to start."""
    url = f"sqlite:///{disk.path}/full.sqlite"
    start_capture(url, "--json").stop(signal.SIGTERM)  # an existing database
    fill(disk.path / "filler")
    for db in (f"sqlite:///{disk.path}/new.sqlite", url):
        done = run_cli("capture", "--db", db, "--listen-port", "0")
        assert done.returncode == 2
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("error: ") and "Traceback" not in done.stderr
        assert "full" in line, line


@pytest.fixture
def pg_database(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database("ro")
    yield url
    read_only(postgres_server, url, False)


@pytest.mark.postgres
def test_a_read_only_postgres_at_start_while_running_and_at_shutdown(
    postgres_server: PostgresServer, pg_database: str, upstream: Upstream, start_capture: Start
) -> None:
    url = pg_database
    read_only(postgres_server, url, True)  # at start, on an empty database: one line, exit 2
    done = run_cli("capture", "--db", url, "--listen-port", "0")
    assert done.returncode == 2 and done.stderr.startswith("error: ")
    assert len(done.stderr.strip().splitlines()) == 1
    read_only(postgres_server, url, False)
    start_capture(url, "--json").stop(signal.SIGTERM)  # the schema is made

    # While running: refused for a while, then writable again: everything is stored.
    proxy = start_capture(url, "--json")
    read_only(postgres_server, url, True)
    sent = load(proxy, upstream, 150)
    read_only(postgres_server, url, False)
    code = proxy.stop(signal.SIGTERM)
    assert code == 0, proxy.output[-3000:]
    assert summary(proxy)["stored"] == 150 and stored_tags(url) == sent

    # At shutdown (and from the start of this run): journaled, then imported by the next start.
    read_only(postgres_server, url, True)
    proxy = start_capture(url, "--json")
    more = load(proxy, upstream, 120, tag_start=1000)
    assert proxy.stop(signal.SIGTERM) == 1
    doc = summary(proxy)
    assert_nothing_lost(doc, url, 120, before=150)
    assert doc["journaled"] == 120
    read_only(postgres_server, url, False)
    again = start_capture(url)
    assert again.stop(signal.SIGTERM) == 0
    assert "120 exchange(s) recovered into the store" in again.output
    assert stored_tags(url) == sorted(sent + more)


def test_an_import_into_a_full_disk_says_how_many_were_stored(
    disk: Disk, start_capture: Start
) -> None:
    """``provenance import`` on a disk that fills up: one error line, exit 2, no traceback,
    and the count it gives is what the database holds."""
    har = CORPUS / "realworld.har"
    if not har.is_file():
        service_missing(f"the recorded corpus is missing: {har}")
    url = f"sqlite:///{disk.path}/import.sqlite"
    start_capture(url).stop(signal.SIGTERM)  # an existing, empty store
    fill(disk.path / "filler", leave=96 * 1024)  # room to open it, not for the whole file
    done = run_cli("import", str(har), "--db", url)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("error: ")]
    assert "the store refused the write" in line and "full" in line
    stored = int(line.split("; the ")[1].split()[0])
    assert stored == count(url)
