"""The one funnel every source's exchanges go through on their way to the store.

Live capture (in the proxy's event loop or in the extraction process), HAR and mitmproxy flow
imports and decrypted pcaps all hand a :class:`Job` to :meth:`Recorder.record`, which returns
the redacted :class:`~provenance.records.ExchangeRecord` and never raises (an extraction that
fails keeps a bare row with the reason as a parse error, counted in
:attr:`RecorderStats.failures`). Writing is :class:`RecordBatcher` (files: synchronous batches)
or :class:`~provenance.store.BatchWriter` (live: a writer thread), both flushing every
:data:`BATCH` records. :func:`extract_options` is the only place extraction options are built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provenance.ingest.job import Job, Message
from provenance.ingest.recorder import Recorder, RecorderStats, bare_record, extract_options

if TYPE_CHECKING:
    from provenance.ingest.batch import BATCH, RecordBatcher


def __getattr__(name: str) -> Any:
    # The writing side loads the store (SQLAlchemy, alembic: 0.7 s); an import pool's
    # recording processes never write, so they do not pay for it.
    if name in ("BATCH", "RecordBatcher"):
        from provenance.ingest import batch

        return getattr(batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BATCH",
    "Job",
    "Message",
    "RecordBatcher",
    "Recorder",
    "RecorderStats",
    "bare_record",
    "extract_options",
]
