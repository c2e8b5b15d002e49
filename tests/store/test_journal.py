"""The unstored journal: what the store could not take is kept on disk and imported once.

Real stores and real failures: a SQLite write lock held by another connection (the writer's
lock timeout), a SQLite file made read-only, a full filesystem (a small tmpfs, as root), and a
PostgreSQL database switched to read-only.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text

from provenance.store import BatchWriter, Store, open_store
from provenance.store.journal import (
    Journal,
    decode_record,
    encode_record,
    iter_records,
    pending_files,
    recover,
)
from provenance.store.models import ExchangeRow
from provenance.store.writer import is_transient
from tests.conftest import PostgresServer, service_missing
from tests.store.factories import make_record, seq_of
from tests.store.test_writer import sqlite_write_lock, stored_seqs


def rows(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(ExchangeRow)) or 0)


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    with open_store(sqlite_url, create=True) as store:
        yield store


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted for the test (needs root: CI runs as root)."""
    if os.geteuid() != 0:
        service_missing("a full filesystem needs root to mount a small tmpfs")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "provenance-test", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        service_missing(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path, leave: int = 0) -> None:
    """Write ``path`` until its filesystem has ``leave`` bytes free (or none at all)."""
    info = os.statvfs(path.parent)
    room = max(0, info.f_bavail * info.f_frsize - leave) if leave else None
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        while room is None or room > 0:
            chunk = 512 if room is None else min(512, room)
            os.write(fd, b"\0" * chunk)
            if room is not None:
                room -= chunk
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------- codec


def test_a_record_survives_the_journal_encoding_field_for_field() -> None:
    record = make_record(7, answered="gpt-4o-2024-08-06")
    record.stream_deltas = {"content": [3, 1, 4]}
    record.error = "client disconnected"
    assert decode_record(encode_record(record)) == record
    naive = replace(record, started_at=record.started_at.replace(tzinfo=None))
    assert decode_record(encode_record(naive)).started_at == record.started_at  # taken as UTC


@pytest.mark.parametrize("line", ["", "[]", "{}", '{"started_at": 5}', "not json"])
def test_a_line_that_is_not_a_record_is_refused(line: str) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        decode_record(line)


# --------------------------------------------------------------------------------- writing


def test_the_journal_sits_beside_a_sqlite_file_private(sqlite_store: Store, sqlite_url: str):
    journal = Journal(sqlite_url)
    assert journal.append([make_record(i) for i in range(3)])
    journal.close()
    (path,) = journal.paths
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    assert path.parent == db.parent and path.name.startswith(db.name + ".unstored-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pending_files(sqlite_url) == [path]
    assert [seq_of(r.path) for r in iter_records([path])] == [0, 1, 2]


def test_a_server_store_journals_in_the_data_directory(provenance_home: Path) -> None:
    url = "postgresql+psycopg://bob:hunter2@db.invalid:5432/prov"
    journal = Journal(url)
    assert journal.append([make_record(1)])
    journal.close()
    (path,) = journal.paths
    assert path.parent == provenance_home / "unstored"
    assert "hunter2" not in path.read_text()  # the header names the store, masked
    assert pending_files(url) == [path]


def test_an_unwritable_place_falls_back_to_the_data_directory(
    tmp_path: Path, provenance_home: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the database's folder should be")
    url = f"sqlite:///{blocker}/db.sqlite"
    journal = Journal(url)
    assert journal.append([make_record(1), make_record(2)])
    journal.close()
    (path,) = journal.paths
    assert path.parent == provenance_home / "unstored"
    assert len(list(iter_records(pending_files(url)))) == 2


def test_a_full_disk_leaves_no_half_record_and_the_batch_goes_to_the_next_place(
    small_disk: Path, provenance_home: Path
) -> None:
    url = f"sqlite:///{small_disk}/db.sqlite"
    journal = Journal(url)
    assert journal.append([make_record(0)])  # room for the header and one record
    fill(small_disk / "filler")
    big = [make_record(i, response_body="x" * 20_000) for i in range(1, 40)]
    assert journal.append(big)  # did not fit beside the database: the data directory took it
    journal.close()
    beside = [p for p in journal.paths if p.parent == small_disk]
    assert beside and all(p.read_text().endswith("\n") for p in beside)
    assert sorted(seq_of(r.path) for r in iter_records(journal.paths)) == list(range(40))


def test_when_no_place_can_be_written_append_says_so(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PROVENANCE_HOME", str(tmp_path))
    journal = Journal(f"sqlite:///{blocker}/db.sqlite")
    (tmp_path / "unstored").write_text("a file where the journal folder should be")
    assert not journal.append([make_record(1)])
    assert journal.journaled == 0 and journal.paths == []


# -------------------------------------------------------------------------------- recovery


def test_recovery_imports_every_record_once_and_removes_the_file(
    sqlite_store: Store, sqlite_url: str
) -> None:
    journal = Journal(sqlite_url)
    journal.append([make_record(i) for i in range(250)])
    journal.close()
    result = recover(sqlite_store)
    assert (result.files, result.stored, result.duplicates, result.remaining) == (1, 250, 0, 0)
    assert "250 exchange(s) recovered" in (result.line() or "")
    assert stored_seqs(sqlite_store) == list(range(250))
    assert pending_files(sqlite_url) == []
    again = recover(sqlite_store)
    assert again.files == 0 and again.line() is None and rows(sqlite_store) == 250


def test_records_already_stored_are_skipped(sqlite_store: Store, sqlite_url: str) -> None:
    """A crash between a commit and the journal file's removal duplicates nothing."""
    records = [make_record(i) for i in range(10)]
    sqlite_store.write_exchanges(records[:6])
    journal = Journal(sqlite_url)
    journal.append(records)
    journal.close()
    result = recover(sqlite_store)
    assert (result.stored, result.duplicates) == (4, 6)
    assert stored_seqs(sqlite_store) == list(range(10))


def test_unreadable_lines_are_kept_aside_and_the_rest_imported(
    sqlite_store: Store, sqlite_url: str
) -> None:
    journal = Journal(sqlite_url)
    journal.append([make_record(1), make_record(2)])
    journal.close()
    (path,) = journal.paths
    with path.open("a") as handle:
        handle.write('{"half a record": \n')
    result = recover(sqlite_store)
    assert (result.stored, result.unreadable) == (2, 1)
    (bad,) = path.parent.glob("*.bad")
    assert "half a record" in bad.read_text()
    assert recover(sqlite_store).files == 0  # the .bad file is never imported


def test_a_file_claimed_by_a_live_process_is_left_alone(
    sqlite_store: Store, sqlite_url: str
) -> None:
    journal = Journal(sqlite_url)
    journal.append([make_record(1)])
    journal.close()
    (path,) = journal.paths
    parent = os.getppid()  # alive for the whole test
    path.rename(path.with_name(f"{path.name}.recovering-{parent}"))
    assert recover(sqlite_store).files == 0
    dead = path.with_name(f"{path.name}.recovering-{2**22 + 12345}")  # above pid_max: none
    path.with_name(f"{path.name}.recovering-{parent}").rename(dead)
    assert recover(sqlite_store).stored == 1


def test_a_store_that_still_refuses_keeps_the_records_for_next_time(
    sqlite_store: Store, sqlite_url: str
) -> None:
    journal = Journal(sqlite_url)
    journal.append([make_record(i) for i in range(5)])
    journal.close()
    with sqlite_write_lock(sqlite_url):
        locked = open_store(sqlite_url, busy_timeout_ms=50)
        try:
            result = recover(locked)
        finally:
            locked.close()
    assert (result.stored, result.remaining) == (0, 5) and result.error
    assert "still waiting" in (result.line() or "")
    assert recover(sqlite_store).stored == 5
    assert stored_seqs(sqlite_store) == list(range(5))


# ----------------------------------------------------------------- the writer and a journal


def test_a_lock_held_through_close_journals_everything(sqlite_url: str) -> None:
    """SQLite's lock timeout: the writer retries, then the shutdown puts the records in the
    journal, and the next start imports them."""
    open_store(sqlite_url, create=True).close()
    with sqlite_write_lock(sqlite_url):
        store = open_store(sqlite_url, busy_timeout_ms=50)
        writer = BatchWriter(
            store, max_batch=20, flush_interval=0.02, retry_max=0.2, journal=Journal(store.url)
        )
        for i in range(100):
            assert writer.submit(make_record(i))
        stats = writer.close(timeout=2.0)
        store.close()
    assert (stats.written, stats.journaled, stats.lost) == (0, 100, 0)
    assert writer.journal_paths and all(p.exists() for p in writer.journal_paths)
    with open_store(sqlite_url) as store:
        assert recover(store).stored == 100
        assert stored_seqs(store) == list(range(100))


def test_a_read_only_sqlite_file_journals_at_close(sqlite_url: str, tmp_path: Path) -> None:
    open_store(sqlite_url, create=True).close()
    path = sqlite_url.removeprefix("sqlite:///")
    store = open_store(f"sqlite:///file:{path}?mode=ro&uri=true")
    writer = BatchWriter(store, flush_interval=0.02, retry_max=0.2, journal=Journal(sqlite_url))
    for i in range(30):
        writer.submit(make_record(i))
    stats = writer.close(timeout=1.5)
    store.close()
    assert (stats.written, stats.journaled, stats.lost) == (0, 30, 0)


def test_a_full_buffer_journals_instead_of_dropping(sqlite_url: str) -> None:
    open_store(sqlite_url, create=True).close()
    with sqlite_write_lock(sqlite_url):
        store = open_store(sqlite_url, busy_timeout_ms=50)
        writer = BatchWriter(
            store, max_buffer=10, flush_interval=0.02, retry_max=0.2, journal=Journal(store.url)
        )
        for i in range(60):
            assert writer.submit(make_record(i))  # never refused: the journal takes the excess
    stats = writer.close(timeout=10.0)
    store.close()
    assert stats.dropped == 0 and stats.lost == 0
    assert stats.written + stats.journaled == 60 and stats.journaled >= 40
    with open_store(sqlite_url) as store:
        recover(store)
        assert stored_seqs(store) == list(range(60))


def test_without_a_journal_a_refusing_store_is_counted_lost(sqlite_url: str) -> None:
    open_store(sqlite_url, create=True).close()
    with sqlite_write_lock(sqlite_url):
        store = open_store(sqlite_url, busy_timeout_ms=50)
        writer = BatchWriter(store, max_batch=10, flush_interval=0.02, retry_max=0.2)
        for i in range(25):
            writer.submit(make_record(i))
        stats = writer.close(timeout=1.0)
        store.close()
    assert stats.written == 0 and stats.lost == 25


# ------------------------------------------------------------------------------ PostgreSQL


def read_only(server: PostgresServer, url: str, on: bool) -> None:
    """Switch a database to read-only for new sessions and end its current ones."""
    name = url.rsplit("/", 1)[1].split("?")[0]
    with server._admin() as conn:
        conn.execute(
            f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}'
        )
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


@pytest.mark.postgres
def test_a_read_only_postgres_is_a_failure_to_retry_not_bad_data(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("ro")
    with open_store(url, create=True) as store:
        read_only(postgres_server, url, True)
        try:
            with pytest.raises(sa_exc.DBAPIError) as caught:
                store.write_exchanges([make_record(1)])
            assert is_transient(caught.value)  # SQLSTATE 25006: retried, never "rejected"
            writer = BatchWriter(
                store, flush_interval=0.02, retry_max=0.2, journal=Journal(store.url)
            )
            for i in range(40):
                writer.submit(make_record(i))
            stats = writer.close(timeout=1.5)
            assert (stats.written, stats.journaled, stats.lost) == (0, 40, 0)
        finally:
            read_only(postgres_server, url, False)
        assert recover(store).stored == 40
        assert stored_seqs(store) == list(range(40))


def test_integrity_errors_are_not_transient(sqlite_url: str) -> None:
    with open_store(sqlite_url, create=True) as store, store.engine.begin() as conn:
        conn.execute(text("INSERT INTO providers (id, slug) VALUES (1, 'a')"))
        with pytest.raises(sa_exc.IntegrityError) as caught:
            conn.execute(text("INSERT INTO providers (id, slug) VALUES (2, 'a')"))
    assert not is_transient(caught.value)
