"""Real faults: PostgreSQL restarted under load, and the writing process killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from provenance.store import BatchWriter, open_store
from provenance.store.engine import sqlite_path
from provenance.store.models import ExchangeRow, ObservationRow
from tests.conftest import PostgresServer, start_postgres_server, stop_postgres_server
from tests.store.factories import make_record
from tests.store.test_writer import GUARD_S, stored_seqs, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of our own: these tests stop and restart it."""
    server = start_postgres_server()
    yield server
    stop_postgres_server(server)


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_restart_under_load_loses_nothing(own_postgres: PostgresServer) -> None:
    url = own_postgres.create_database("restart")
    with open_store(url, create=True) as store:
        writer = BatchWriter(store, max_batch=50, flush_interval=0.02, retry_max=0.2)
        for i in range(300):
            assert writer.submit(make_record(i))
        assert writer.flush(timeout=GUARD_S)
        assert writer.stats.written == 300

        own_postgres.stop("fast")  # the server goes away; connections in the pool die
        try:
            for i in range(300, 900):
                assert writer.submit(make_record(i))  # the proxy keeps serving: buffered
            wait_for(lambda: writer.stats.retries >= 3, "retries while PostgreSQL is down")
            assert writer.stats.written == 300
        finally:
            own_postgres.start()
        for i in range(900, 1000):
            assert writer.submit(make_record(i))
        stats = writer.close()
        assert stats.retries >= 3
        assert (stats.written, stats.lost, stats.failed_batches) == (1000, 0, 0)
        assert stored_seqs(store) == list(range(1000))


CHILD = textwrap.dedent(
    """
    import sys
    from provenance.store import BatchWriter, open_store
    from tests.store.factories import make_record

    store = open_store(sys.argv[1], create=True)

    def committed(ids):
        print("committed", ids[0], ids[-1], len(ids), flush=True)

    writer = BatchWriter(store, max_batch=50, flush_interval=0.005, on_written=committed)
    i = 0
    while True:
        if writer.buffered < 500:  # keep the writer busy, do not fill memory
            writer.submit(make_record(i))
            i += 1
    """
)


@pytest.mark.slow
def test_kill_9_while_writing_keeps_every_committed_batch(sqlite_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sqlite_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    batches: list[tuple[int, int, int]] = []
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + GUARD_S
        while len(batches) < 40:
            line = child.stdout.readline()
            if not line:
                raise AssertionError(f"child ended early: {child.stderr.read()}")  # type: ignore[union-attr]
            if line.startswith("committed"):
                first, last, count = (int(x) for x in line.split()[1:])
                batches.append((first, last, count))
            assert time.monotonic() < deadline, "child wrote too little"
        os.kill(child.pid, signal.SIGKILL)  # in the middle of writing more batches
        child.wait(timeout=30)
        rest, _ = child.communicate(timeout=30)
        batches += [tuple(int(x) for x in ln.split()[1:]) for ln in rest.splitlines()]  # type: ignore[misc]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    path = sqlite_path(sqlite_url)
    assert path is not None
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    raw.close()

    with open_store(sqlite_url) as store, store.session() as s:  # opens clean
        ids = set(s.scalars(select(ExchangeRow.id)))
        observations = s.scalar(select(func.count()).select_from(ObservationRow))
    reported = {i for first, last, _ in batches for i in range(first, last + 1)}
    assert all(last - first + 1 == count for first, last, count in batches)
    assert reported <= ids  # every batch reported committed before the kill is there
    # at most one batch committed but not yet reported when the process died
    assert len(ids - reported) <= 50
    assert observations == len(ids)  # batches are atomic: no exchange without its observation
    assert ids == set(range(1, len(ids) + 1))  # no hole: nothing partial was kept
