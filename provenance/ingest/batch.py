"""Synchronous batched writes for sources read from files (imports, pcaps).

Live capture writes through :class:`~provenance.store.BatchWriter` (a thread, so the proxy
never waits); both flush every :data:`BATCH` records, one transaction per batch. A file that
fails half-way keeps every batch written before the fault: callers :meth:`RecordBatcher.flush`
in a ``finally``.
"""

from __future__ import annotations

from typing import Any

from provenance.records import ExchangeRecord
from provenance.store.writer import BATCH


class RecordBatcher:
    """Collects records and writes them ``size`` at a time; keeps the stored ids in order."""

    def __init__(self, store: Any, *, size: int = BATCH) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.store = store
        self.size = size
        self.ids: list[int] = []
        self.stored = 0
        self._batch: list[ExchangeRecord] = []

    def add(self, record: ExchangeRecord) -> None:
        self._batch.append(record)
        if len(self._batch) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Write what is collected (one transaction); ``StoreError`` propagates."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        ids = self.store.write_exchanges(batch)
        if ids is not None:
            self.ids.extend(ids)
            self.stored += len(ids)
        else:
            self.stored += len(batch)
