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
  deadline are given up: with a :class:`~provenance.store.journal.Journal` they go there
  (``journaled``; the next capture imports them), else, or when the journal cannot be written
  either, they are lost and counted (``failed_records`` for the batch in flight, ``pending`` for
  the rest of the buffer). The same holds for a full buffer (``submit`` journals instead of
  dropping) and for records the database rejects for their data.
- ``on_written(ids)`` runs after every commit, so a caller always knows what the database holds,
  even if this writer never gets to report at the end.
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
from pathlib import Path

from sqlalchemy import exc as sa_exc

from provenance.records import ExchangeRecord
from provenance.store.engine import describe_error
from provenance.store.journal import Journal
from provenance.store.store import Store

BATCH = 200  # records per transaction: the live writer's and the file importers' batches

log = logging.getLogger("provenance.store")

RECORD_OVERHEAD_BYTES = 2048  # rough size of a record without its bodies
DROP_LOG_INTERVAL_S = 10.0
SHUTDOWN_RETRY_S = 5.0  # at close, how long a store that is already failing gets to recover


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of a :class:`BatchWriter`, in records unless named otherwise.

    Every submitted record ends up in exactly one of ``written``, ``journaled`` (kept in the
    unstored journal for the next start), ``dropped`` (refused by ``submit``), ``failed_records``
    (given up after being taken from the buffer) or ``pending`` (still buffered when ``close``
    gave up). ``retries`` counts failed write attempts that were retried; ``failed_batches`` the
    batches (or single records) given up.
    """

    written: int = 0
    dropped: int = 0
    retries: int = 0
    failed_batches: int = 0
    failed_records: int = 0
    pending: int = 0
    journaled: int = 0

    @property
    def lost(self) -> int:
        """Records that will never reach the store (neither written nor journaled)."""
        return self.dropped + self.failed_records + self.pending


# SQLSTATE classes of a failure of the database, not of the data: connection (08), invalid
# transaction state such as a read-only transaction (25), rollback (40), insufficient resources
# such as a full disk (53), operator intervention such as a shutdown (57), system errors (58).
_TRANSIENT_SQLSTATE = ("08", "25", "40", "53", "57", "58")


def is_transient(error: BaseException) -> bool:
    """True for failures that retrying the same write can cure (the database, not the data):
    a lost or refused connection, a locked or busy SQLite file, a full disk, a read-only file
    or server. Integrity and data errors are not."""
    if getattr(error, "connection_invalidated", False):
        return True
    if isinstance(error, sa_exc.IntegrityError | sa_exc.DataError):
        return False
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in _TRANSIENT_SQLSTATE:
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
    with the new exchange ids; an exception in it is logged and ignored. ``journal``
    (optional): where records go that cannot be stored (see the module docstring).
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
        journal: Journal | None = None,
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
        self._journal = journal

        self._buffer: collections.deque[tuple[ExchangeRecord, int]] = collections.deque()
        self._bytes = 0
        self._lock = threading.Lock()  # buffer size/bytes and the counters below
        self._idle = threading.Condition(self._lock)  # notified when a batch is done
        self._inflight = 0
        self._flush_waiters = 0
        self._written = self._dropped = self._retries = 0
        self._failed_batches = self._failed_records = 0
        self._journaled = 0
        self._batch: list[ExchangeRecord] = []  # the batch being written, for close() to save
        self._closed_stats: WriterStats | None = None
        self._batch_taken = False
        self._failing_since: float | None = None  # when the store's current failure began
        self._pending = 0  # records still buffered at close that could not be journaled
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
            if (
                full
                and not self._closing.is_set()
                and self._journal is not None
                and self._journal.append([record], sync=False)
            ):
                self._journaled += 1
                self._note_drop(closing=False, journaled=True)
                return True
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
    def journal_paths(self) -> list[Path]:
        """The unstored journal's files this writer wrote (empty without a journal)."""
        return list(self._journal.paths) if self._journal is not None else []

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
                pending=self._pending,
                journaled=self._journaled,
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
        timeout, whatever is unwritten at the deadline is given up (journaled, else counted);
        when the store is already failing, it gets :data:`SHUTDOWN_RETRY_S` more at most, so a
        shutdown on a full disk does not wait out the whole timeout.
        """
        if self._closed_stats is not None:
            return self._closed_stats
        self._closing.set()
        self._wake.set()
        self._wait_thread(timeout)
        if self._thread.is_alive():
            self._abandon.set()
            self._thread.join(min(1.0, timeout or 1.0))
        with self._lock:
            left = [record for record, _ in self._buffer]
            if self._thread.is_alive() and self._batch:
                # stuck inside a write: its batch may never commit (if it does after all, the
                # journal's import skips it as already stored)
                left = self._batch + left
                self._batch_taken = True
            self._buffer.clear()
            self._bytes = 0
        if left:
            self._save(left, lost_as="pending")
        if self._journal is not None:
            self._journal.close()
        stats = self.stats
        self._closed_stats = stats
        if stats.journaled:
            log.warning(
                "store writer closed: %d exchanges could not be stored and are kept in %s "
                "(the next capture on this store imports them)",
                stats.journaled,
                ", ".join(str(p) for p in self._journal.paths) if self._journal else "",
            )
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

    def _wait_thread(self, timeout: float | None) -> None:
        if timeout is None:
            self._thread.join()
            return
        start = time.monotonic()
        deadline = start + timeout
        while self._thread.is_alive():
            now = time.monotonic()
            failing = self._failing_since
            if now >= deadline or (
                failing is not None and now - max(failing, start) >= SHUTDOWN_RETRY_S
            ):
                return
            self._thread.join(min(0.1, deadline - now))

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
                self._batch = [record for record, _ in batch]
            if batch:
                try:
                    self._write([record for record, _ in batch], split=True)
                except Exception:  # never let the thread die: save the batch elsewhere
                    log.exception("store writer: unexpected error writing %d exchanges", count)
                    self._give_up([record for record, _ in batch])
            with self._idle:
                self._inflight = 0
                self._batch = []
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
                    log.error("store rejected an exchange: %s", reason)
                    self._give_up(batch)
                    return
                failures += 1
                with self._lock:
                    self._retries += 1
                    if self._failing_since is None:
                        self._failing_since = time.monotonic()
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
                    self._give_up(batch)
                    return
                delay = min(delay * 2, self._retry_max)
                continue
            if failures:
                log.warning("store write succeeded after %d retries", failures)
            with self._lock:
                self._written += len(ids)
                self._failing_since = None
            if self._on_written is not None:
                try:
                    self._on_written(ids)
                except Exception:
                    log.exception("store writer: on_written callback failed")
            return

    def _give_up(self, batch: Sequence[ExchangeRecord]) -> None:
        """``batch`` will not be written by this thread: journal it, else count it lost."""
        with self._lock:
            if self._batch_taken:  # close() already saved (and counted) the batch in flight
                return
            self._failed_batches += 1
        self._save(batch, lost_as="failed")

    def _save(self, records: Sequence[ExchangeRecord], *, lost_as: str) -> None:
        """Journal ``records`` (``journaled``), else count them lost (``failed_records`` or
        ``pending``, as ``lost_as`` says)."""
        kept = self._journal is not None and self._journal.append(records)
        with self._lock:
            if kept:
                self._journaled += len(records)
            elif lost_as == "pending":
                self._pending += len(records)
            else:
                self._failed_records += len(records)

    def _note_drop(self, *, closing: bool, journaled: bool = False) -> None:
        # called with self._lock held
        self._drops_since_log += 1
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_INTERVAL_S:
            why = "writer is closed" if closing else f"buffer full ({self._max_buffer} records)"
            if journaled:
                why += ", journaled instead"
            log.warning(
                "store %s: dropped %d exchanges (%d in total)",
                why,
                self._drops_since_log,
                self._dropped,
            )
            self._last_drop_log = now
            self._drops_since_log = 0
