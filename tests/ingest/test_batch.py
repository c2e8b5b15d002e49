"""RecordBatcher: one record the store refuses is skipped and counted, its batch is kept."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import create_engine, text

from provenance.errors import StoreError
from provenance.ingest import RecordBatcher
from provenance.records import Usage
from provenance.store import open_store
from tests.store.factories import make_record


def test_a_record_the_store_refuses_is_rejected_alone(sqlite_url: str) -> None:
    good = [make_record(i, model=f"gpt-4o-{i}") for i in range(5)]
    # a count no BIGINT column holds: the database refuses the row, not the batch
    bad = dataclasses.replace(good[2], usage=Usage(input_tokens=2**70))
    with open_store(sqlite_url, create=True) as store:
        batcher = RecordBatcher(store, size=10)
        for record in [*good[:2], bad, *good[3:]]:
            batcher.add(record)
        batcher.flush()
    assert (batcher.stored, batcher.rejected, len(batcher.ids)) == (4, 1, 4)
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        ids = conn.execute(text("select model_id from observations order by id")).scalars().all()
    engine.dispose()
    assert ids == ["gpt-4o-0", "gpt-4o-1", "gpt-4o-3", "gpt-4o-4"]


def test_a_store_error_still_propagates() -> None:
    class Broken:
        def write_exchanges(self, records: object) -> list[int]:
            raise StoreError("the database is read-only")

    batcher = RecordBatcher(Broken(), size=10)
    batcher.add(make_record(0))
    with pytest.raises(StoreError):
        batcher.flush()
    assert batcher.rejected == 0
