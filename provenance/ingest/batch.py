"""Synchronous batched writes for sources read from files (imports, pcaps).

Live capture writes through :class:`~provenance.store.BatchWriter` (a thread, so the proxy
never waits); both flush every :data:`BATCH` records, one transaction per batch. A file that
fails half-way keeps every batch written before the fault: callers :meth:`RecordBatcher.flush`
in a ``finally``. A batch the store rejects for its *data* (not the database: see
:func:`~provenance.store.writer.is_transient`) is written again one record at a time, so one bad
record is rejected and counted (:attr:`RecordBatcher.rejected`) instead of losing its batch.
"""

from __future__ import annotations

import logging
from typing import Any

from provenance.errors import StoreError
from provenance.records import ExchangeRecord
from provenance.store.engine import describe_error
from provenance.store.writer import BATCH, is_transient

log = logging.getLogger(__name__)


class RecordBatcher:
    """Collects records and writes them ``size`` at a time; keeps the stored ids in order."""

    def __init__(self, store: Any, *, size: int = BATCH) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.store = store
        self.size = size
        self.ids: list[int] = []
        self.stored = 0
        self.rejected = 0  # records the store refused for their data (logged, not stored)
        self._batch: list[ExchangeRecord] = []

    def add(self, record: ExchangeRecord) -> None:
        self._batch.append(record)
        if len(self._batch) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Write what is collected (one transaction). Errors of the database (``StoreError``,
        connection loss) propagate; a record whose data the store refuses is rejected."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        self._write(batch, split=True)

    def _write(self, batch: list[ExchangeRecord], *, split: bool) -> None:
        try:
            ids = self.store.write_exchanges(batch)
        except Exception as error:
            if is_transient(error) or isinstance(error, StoreError):
                raise
            if split and len(batch) > 1:
                for record in batch:
                    self._write([record], split=False)
                return
            self.rejected += len(batch)
            log.warning("store rejected an exchange, skipped: %s", describe_error(error))
            return
        if ids is not None:
            self.ids.extend(ids)
            self.stored += len(ids)
        else:
            self.stored += len(batch)
