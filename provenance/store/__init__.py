"""The store: typed tables, migrations, database URLs, the batched writer and queries.

Public API (import from here)::

    resolve_db_url(url) -> str               # --db, else $PROVENANCE_DB, else the default file
    open_store(url, *, create=False) -> Store
    Store.write_exchanges / save_fingerprint_run / save_connections / session()
    BatchWriter(store, ...).submit(record) / flush() / close() -> WriterStats
    FingerprintRunRecord, ConnectionRecord   # what callers hand to the store

Table row classes live in :mod:`provenance.store.models`, read-side queries in
:mod:`provenance.store.queries`, migrations in :mod:`provenance.store.migrate`.
"""

from __future__ import annotations

from provenance.store.engine import mask_url, resolve_db_url
from provenance.store.records import ConnectionRecord, FingerprintRunRecord
from provenance.store.store import Store, open_store
from provenance.store.writer import BatchWriter, WriterStats

__all__ = [
    "BatchWriter",
    "ConnectionRecord",
    "FingerprintRunRecord",
    "Store",
    "WriterStats",
    "mask_url",
    "open_store",
    "resolve_db_url",
]
