"""BatchWriter: nothing lost, never blocking, retrying through a stalled store."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from provenance.store import BatchWriter, Store, open_store
from provenance.store.engine import sqlite_path
from provenance.store.models import ExchangeRow, ObservationRow
from tests.store.factories import make_record, seq_of

GUARD_S = 120.0  # only a guard against hanging forever; never an assertion on speed


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GUARD_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def stored_seqs(store: Store) -> list[int]:
    with store.session() as s:
        return sorted(seq_of(p) for p in s.scalars(select(ExchangeRow.path)))


@contextmanager
def sqlite_write_lock(url: str) -> Iterator[None]:
    """Another connection holding SQLite's write lock (a real stall, as a long import causes)."""
    path = sqlite_path(url)
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("COMMIT")
        other.close()


def test_ten_thousand_records_from_one_thread_are_all_stored(store_url: str) -> None:
    committed: list[int] = []
    with open_store(store_url, create=True) as store:
        writer = BatchWriter(store, on_written=committed.extend)
        accepted = [writer.submit(make_record(i)) for i in range(10_000)]
        stats = writer.close()
        assert all(accepted)
        assert (stats.written, stats.dropped, stats.failed_records, stats.pending) == (
            10_000,
            0,
            0,
            0,
        )
        assert stats.lost == 0
        assert stored_seqs(store) == list(range(10_000))
        assert len(set(committed)) == 10_000
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(ObservationRow)) == 10_000


def test_flush_writes_everything_submitted_so_far(sqlite_url: str) -> None:
    with open_store(sqlite_url, create=True) as store:
        writer = BatchWriter(store, flush_interval=30.0)  # only flush() can write these now
        for i in range(5):
            writer.submit(make_record(i))
        assert writer.flush(timeout=GUARD_S)
        assert stored_seqs(store) == [0, 1, 2, 3, 4]
        assert writer.close().written == 5


def test_full_buffer_drops_and_counts_without_blocking(sqlite_url: str) -> None:
    with open_store(sqlite_url, create=True, busy_timeout_ms=20) as store:
        writer = BatchWriter(
            store, max_batch=10, flush_interval=0.01, max_buffer=100, retry_max=0.05
        )
        with sqlite_write_lock(sqlite_url):
            results = [writer.submit(make_record(i)) for i in range(300)]
            wait_for(lambda: writer.stats.retries >= 1, "a failed write")
            assert writer.stats.written == 0
        accepted = [i for i, ok in enumerate(results) if ok]
        dropped = results.count(False)
        assert 100 <= len(accepted) <= 110  # the buffer plus at most the batch in flight
        assert dropped == 300 - len(accepted)
        stats = writer.close()
        assert (stats.written, stats.dropped, stats.lost) == (len(accepted), dropped, dropped)
        assert stored_seqs(store) == accepted


def test_buffer_is_also_bounded_in_bytes(sqlite_url: str) -> None:
    big = "x" * 100_000
    with open_store(sqlite_url, create=True) as store:
        writer = BatchWriter(store, max_buffer_bytes=1_000_000, flush_interval=30.0)
        results = [writer.submit(make_record(i, response_body=big)) for i in range(20)]
        assert results.count(True) == 9  # 9 x ~102 kB fit in 1 MB, the 10th does not
        stats = writer.close()
        assert (stats.written, stats.dropped) == (9, 11)


def test_locked_sqlite_stalls_then_recovers_without_loss(sqlite_url: str) -> None:
    with open_store(sqlite_url, create=True, busy_timeout_ms=20) as store:
        writer = BatchWriter(store, max_batch=50, flush_interval=0.01, retry_max=0.05)
        for i in range(100):
            writer.submit(make_record(i))
        assert writer.flush(timeout=GUARD_S)
        with sqlite_write_lock(sqlite_url):
            for i in range(100, 400):
                assert writer.submit(make_record(i))  # the caller is never held up
            wait_for(lambda: writer.stats.retries >= 3, "retries while the store is locked")
            for i in range(400, 500):
                assert writer.submit(make_record(i))
        stats = writer.close()
        assert stats.retries >= 3
        assert (stats.written, stats.lost, stats.failed_batches) == (500, 0, 0)
        assert stored_seqs(store) == list(range(500))


def test_records_the_database_rejects_do_not_block_the_rest(store_url: str) -> None:
    records = [make_record(i) for i in range(20)]
    records[7].started_at = None  # type: ignore[assignment]  # violates NOT NULL
    with open_store(store_url, create=True) as store:
        writer = BatchWriter(store, flush_interval=30.0)
        for record in records:
            writer.submit(record)
        stats = writer.close()
        assert (stats.written, stats.failed_records, stats.failed_batches) == (19, 1, 1)
        assert stored_seqs(store) == [i for i in range(20) if i != 7]


def test_close_with_timeout_gives_up_and_accounts_for_everything(sqlite_url: str) -> None:
    with open_store(sqlite_url, create=True, busy_timeout_ms=20) as store:
        writer = BatchWriter(store, max_batch=10, flush_interval=0.01, retry_max=0.05)
        with sqlite_write_lock(sqlite_url):
            for i in range(50):
                writer.submit(make_record(i))
            wait_for(lambda: writer.stats.retries >= 1, "a failed write")
            stats = writer.close(timeout=0.2)
        assert stats.written == 0
        assert stats.failed_records + stats.pending == 50 and stats.lost == 50
        assert not writer.submit(make_record(99))  # closed: refused and counted
        assert writer.stats.dropped == 1


def test_submit_from_many_threads(sqlite_url: str) -> None:
    with open_store(sqlite_url, create=True) as store:
        writer = BatchWriter(store)

        def produce(start: int) -> None:
            for i in range(start, start + 500):
                assert writer.submit(make_record(i))

        threads = [threading.Thread(target=produce, args=(k * 500,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert writer.close().written == 2000
        assert stored_seqs(store) == list(range(2000))


def test_invalid_settings_are_refused(sqlite_url: str) -> None:
    with open_store(sqlite_url, create=True) as store, pytest.raises(ValueError):
        BatchWriter(store, max_batch=0)
