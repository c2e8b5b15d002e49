"""``BatchWriter``: exchanges go to the store from a daemon thread, never from the proxy's loop.

Contract:

- :meth:`BatchWriter.submit` never blocks and never raises. It appends to a bounded in-memory
  buffer and returns True, or returns False and counts the record as *dropped* when the buffer is
  full (``max_buffer`` records, or ``max_buffer_bytes`` of body text) or the writer is closing.
  With the default 100,000 slots that is 100 s of traffic at 1,000 exchanges/s (minutes at
  typical rates) during which the store may be stalled before anything is dropped; each drop
  is counted and logged (rate-limited), never silent.
- The thread writes batches of up to ``max_batch`` records, at least every ``flush_interval``
  seconds, each batch in one transaction (:meth:`Store.write_exchanges`).
- A *transient* failure (connection refused or lost, PostgreSQL restarting, SQLite busy/locked,
  disk full) keeps the batch and retries it with exponential backoff up to ``retry_max`` seconds,
  for as long as it takes; meanwhile ``submit`` keeps filling the buffer. Any other failure (the
  database rejects the data) is retried record by record, and only the records the database
  rejects on their own are given up (counted in ``failed_records``, logged).
- :meth:`BatchWriter.close` flushes everything. With a ``timeout``, records still unwritten at the
  deadline are given up and counted (``failed_records`` for the batch in flight, ``pending`` for
  the rest of the buffer).
- Crash safety: what a batch commits is durable (SQLite WAL, PostgreSQL); a ``kill -9`` loses at
  most what was still in the buffer plus the batch in flight.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

from provenance.records import ExchangeRecord
from provenance.store.engine import describe_error
from provenance.store.store import Store

BATCH = 200  # records per transaction: the live writer's and the file importers' batches

log = logging.getLogger("provenance.store")

RECORD_OVERHEAD_BYTES = 2048  # rough size of a record without its bodies
DROP_LOG_INTERVAL_S = 10.0


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of a :class:`BatchWriter`, in records unless named otherwise.

    Every submitted record ends up in exactly one of ``written``, ``dropped`` (refused by
    ``submit``), ``failed_records`` (given up after being taken from the buffer) or ``pending``
    (still buffered when ``close`` gave up). ``retries`` counts failed write attempts that were
    retried; ``failed_batches`` the batches (or single records) given up.
    """

    written: int = 0
    dropped: int = 0
    retries: int = 0
    failed_batches: int = 0
    failed_records: int = 0
    pending: int = 0

    @property
    def lost(self) -> int:
        """Records that will never reach the store."""
        return self.dropped + self.failed_records + self.pending


def is_transient(error: BaseException) -> bool:
    """True for failures that retrying the same write can cure (the database, not the data)."""
    if getattr(error, "connection_invalidated", False):
        return True
    return isinstance(
        error,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError
        | sa_exc.PendingRollbackError
        | ConnectionError
        | TimeoutError,
    )


class BatchWriter:
    """Write exchanges to ``store`` from a daemon thread in batches (see the module docstring).

    ``on_written(ids)`` (optional) is called from the writer thread after each committed batch,
    with the new exchange ids; an exception in it is logged and ignored.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = BATCH,
        flush_interval: float = 0.25,
        max_buffer: int = 100_000,
        max_buffer_bytes: int | None = 512 * 1024 * 1024,
        retry_initial: float = 0.05,
        retry_max: float = 5.0,
        on_written: Callable[[list[int]], None] | None = None,
    ) -> None:
        if max_batch < 1 or max_buffer < 1 or flush_interval <= 0:
            raise ValueError("max_batch and max_buffer must be >= 1, flush_interval > 0")
        self._store = store
        self._max_batch = max_batch
        self._flush_interval = flush_interval
        self._max_buffer = max_buffer
        self._max_bytes = max_buffer_bytes
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._on_written = on_written

        self._buffer: collections.deque[tuple[ExchangeRecord, int]] = collections.deque()
        self._bytes = 0
        self._lock = threading.Lock()  # buffer size/bytes and the counters below
        self._idle = threading.Condition(self._lock)  # notified when a batch is done
        self._inflight = 0
        self._flush_waiters = 0
        self._written = self._dropped = self._retries = 0
        self._failed_batches = self._failed_records = 0
        self._last_drop_log = 0.0
        self._drops_since_log = 0

        self._wake = threading.Event()
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="provenance-store-writer", daemon=True
        )
        self._thread.start()

    # ------------------------------------------------------------------------------ callers

    def submit(self, record: ExchangeRecord) -> bool:
        """Buffer ``record`` for writing; never blocks. False (and counted) when it was dropped."""
        size = (
            RECORD_OVERHEAD_BYTES + len(record.request_body or "") + len(record.response_body or "")
        )
        with self._lock:
            full = len(self._buffer) >= self._max_buffer or (
                self._max_bytes is not None and self._bytes + size > self._max_bytes
            )
            if full or self._closing.is_set():
                self._dropped += 1
                self._note_drop(closing=not full)
                return False
            self._buffer.append((record, size))
            self._bytes += size
            wake = len(self._buffer) >= self._max_batch
        if wake:
            self._wake.set()
        return True

    @property
    def buffered(self) -> int:
        """Records waiting in the buffer (not counting a batch being written)."""
        return len(self._buffer)

    @property
    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        with self._lock:
            return WriterStats(
                written=self._written,
                dropped=self._dropped,
                retries=self._retries,
                failed_batches=self._failed_batches,
                failed_records=self._failed_records,
                pending=len(self._buffer) if self._abandon.is_set() else 0,
            )

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything buffered now, without waiting for ``flush_interval``; True when the
        buffer was empty and no batch in flight before ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            self._flush_waiters += 1
            try:
                self._wake.set()
                while self._buffer or self._inflight:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._idle.wait(remaining)
                return True
            finally:
                self._flush_waiters -= 1

    def close(self, timeout: float | None = None) -> WriterStats:
        """Stop accepting records, write everything buffered, stop the thread; return the stats.

        ``timeout=None`` waits as long as the store needs (it may be down for a while). With a
        timeout, whatever is unwritten at the deadline is given up and counted.
        """
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abandon.set()
            self._thread.join(min(1.0, timeout or 1.0))
        stats = self.stats
        if stats.lost:
            log.warning(
                "store writer closed: %d written, %d lost (%d dropped, %d failed, %d pending)",
                stats.written,
                stats.lost,
                stats.dropped,
                stats.failed_records,
                stats.pending,
            )
        return stats

    # ------------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while not self._abandon.is_set():
            closing = self._closing.is_set()
            if not closing and len(self._buffer) < self._max_batch and not self._flush_waiters:
                self._wake.wait(self._flush_interval)
                self._wake.clear()
                closing = self._closing.is_set()
            with self._lock:
                count = min(self._max_batch, len(self._buffer))
                batch = [self._buffer.popleft() for _ in range(count)]
                self._bytes -= sum(size for _, size in batch)
                self._inflight = count
            if batch:
                try:
                    self._write([record for record, _ in batch], split=True)
                except Exception:  # never let the thread die: count the batch as failed
                    log.exception("store writer: unexpected error, %d exchanges lost", count)
                    with self._lock:
                        self._failed_batches += 1
                        self._failed_records += count
            with self._idle:
                self._inflight = 0
                self._idle.notify_all()
            if closing and not batch:
                return

    def _write(self, batch: Sequence[ExchangeRecord], *, split: bool) -> None:
        delay = self._retry_initial
        failures = 0
        while True:
            try:
                ids = self._store.write_exchanges(batch)
            except Exception as error:
                reason = describe_error(error)
                if not is_transient(error):
                    if split and len(batch) > 1:
                        log.warning(
                            "store rejected a batch of %d exchanges (%s): writing them one by one",
                            len(batch),
                            reason,
                        )
                        for record in batch:
                            self._write([record], split=False)
                        return
                    log.error("store rejected an exchange, it is lost: %s", reason)
                    self._give_up(len(batch))
                    return
                failures += 1
                with self._lock:
                    self._retries += 1
                if failures == 1:
                    log.warning(
                        "store write failed (%s): keeping %d exchanges and retrying; "
                        "%d more buffered",
                        reason,
                        len(batch),
                        len(self._buffer),
                    )
                else:
                    log.debug("store write retry %d failed: %s", failures, reason)
                if self._abandon.wait(delay):
                    log.error("store writer closing: giving up a batch of %d exchanges", len(batch))
                    self._give_up(len(batch))
                    return
                delay = min(delay * 2, self._retry_max)
                continue
            if failures:
                log.warning("store write succeeded after %d retries", failures)
            with self._lock:
                self._written += len(ids)
            if self._on_written is not None:
                try:
                    self._on_written(ids)
                except Exception:
                    log.exception("store writer: on_written callback failed")
            return

    def _give_up(self, count: int) -> None:
        with self._lock:
            self._failed_batches += 1
            self._failed_records += count

    def _note_drop(self, *, closing: bool) -> None:
        # called with self._lock held
        self._drops_since_log += 1
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_INTERVAL_S:
            why = "writer is closed" if closing else f"buffer full ({self._max_buffer} records)"
            log.warning(
                "store %s: dropped %d exchanges (%d in total)",
                why,
                self._drops_since_log,
                self._dropped,
            )
            self._last_drop_log = now
            self._drops_since_log = 0
