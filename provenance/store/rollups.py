"""Daily rollups: the aggregates every read path needs, kept up to date on write.

Reading verdicts, the models table or the dashboard's landing page straight from ``exchanges``
costs a scan of every exchange and observation (seconds at a million rows). Instead each
``write_exchanges`` transaction also upserts two small tables, one row per day and key:

- ``traffic_days`` (product, provider, day): exchanges, first and last seen;
- ``model_days`` (product, provider, model id, kind, day): distinct exchanges carrying the id,
  how many of them carried it in the response (``served``), the sources it was seen in (a
  bitmask over :data:`SOURCE_BITS`), first and last seen.

Both are derived data: :func:`rebuild` recomputes them from ``exchanges``/``observations`` for
all days or a range (used by the migration that introduced them, by ``prune`` and by bulk loads
that bypass ``write_exchanges``). Product and provider ids are 0 for "none" so that the keys can
be primary keys on both engines (NULLs never conflict).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from provenance.records import ExchangeRecord, Source
from provenance.store.models import ExchangeRow, ModelDayRow, ObservationRow, TrafficDayRow

# Bit of each observation source in ``model_days.sources``. Append only: never reorder.
SOURCE_BITS: dict[str, int] = {
    str(source): 1 << i
    for i, source in enumerate(
        (
            Source.REQUEST_FIELD,
            Source.RESPONSE_FIELD,
            Source.URL_PATH,
            Source.URL_QUERY,
            Source.HEADER,
            Source.PROTOBUF_FIELD,
            Source.SSE_FRAME,
            Source.STREAM_FRAME,
            Source.WEBSOCKET_MESSAGE,
        )
    )
}


def sources_of(mask: int) -> list[str]:
    """The sorted source names in a bitmask."""
    return sorted(name for name, bit in SOURCE_BITS.items() if mask & bit)


def day_of(value: datetime) -> str:
    """The UTC day of a time, as ``YYYY-MM-DD`` (a naive time is taken as UTC)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%d")


def batch_rows(
    records: Sequence[ExchangeRecord],
    products: dict[str, int],
    providers: dict[str, int],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rollup increments of one batch: (traffic_days rows, model_days rows)."""
    traffic: dict[tuple[int, int, str], dict[str, Any]] = {}
    models: dict[tuple[int, int, str, str, str], dict[str, Any]] = {}
    for record in records:
        prod = products.get(record.product or "", 0) if record.product else 0
        prov = providers.get(record.provider or "", 0) if record.provider else 0
        at = record.started_at
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        day = day_of(at)
        _bump(traffic, (prod, prov, day), at, product_id=prod, provider_id=prov, day=day)
        seen: dict[tuple[str, str], tuple[bool, int]] = {}
        for obs in record.observations:
            served, mask = seen.get((obs.model_id, obs.kind), (False, 0))
            seen[(obs.model_id, obs.kind)] = (
                served or obs.role == "response",
                mask | SOURCE_BITS.get(str(obs.source), 0),
            )
        for (model_id, kind), (served, mask) in seen.items():
            row = _bump(
                models,
                (prod, prov, model_id, kind, day),
                at,
                product_id=prod,
                provider_id=prov,
                model_id=model_id,
                kind=kind,
                day=day,
                served=0,
                sources=0,
            )
            row["served"] += int(served)
            row["sources"] |= mask
    return list(traffic.values()), list(models.values())


def _bump(acc: dict, key: tuple, at: datetime, **fields: Any) -> dict[str, Any]:
    row = acc.get(key)
    if row is None:
        row = acc[key] = {**fields, "exchanges": 0, "first_seen": at, "last_seen": at}
    row["exchanges"] += 1
    row["first_seen"] = min(row["first_seen"], at)
    row["last_seen"] = max(row["last_seen"], at)
    return row


def upsert(connection: Connection, traffic: list[dict], models: list[dict]) -> None:
    """Add a batch's increments to the rollups (inside the batch's transaction)."""
    sqlite = connection.dialect.name == "sqlite"
    dialect_insert = sqlite_insert if sqlite else pg_insert
    least = func.min if sqlite else func.least
    greatest = func.max if sqlite else func.greatest
    for table, rows, keys, extra in (
        (TrafficDayRow.__table__, traffic, ("product_id", "provider_id", "day"), ()),
        (
            ModelDayRow.__table__,
            models,
            ("product_id", "provider_id", "model_id", "kind", "day"),
            ("served", "sources"),
        ),
    ):
        if not rows:
            continue
        stmt = dialect_insert(table)
        updates = {
            "exchanges": table.c.exchanges + stmt.excluded.exchanges,
            "first_seen": least(table.c.first_seen, stmt.excluded.first_seen),
            "last_seen": greatest(table.c.last_seen, stmt.excluded.last_seen),
        }
        if "served" in extra:
            updates["served"] = table.c.served + stmt.excluded.served
            updates["sources"] = table.c.sources.op("|")(stmt.excluded.sources)
        connection.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def _day_sql(connection: Connection) -> Any:
    if connection.dialect.name == "sqlite":
        return func.substr(ExchangeRow.started_at, 1, 10)
    return func.to_char(func.timezone("UTC", ExchangeRow.started_at), "YYYY-MM-DD")


def rebuild(connection: Connection, first_day: str | None = None, last_day: str | None = None):
    """Recompute both rollups from the raw tables for days in [first_day, last_day] (all if None).

    Rows of those days are deleted first; one GROUP BY per table refills them.
    """
    day = _day_sql(connection)
    in_range = []
    if first_day is not None:
        in_range.append(day >= first_day)
    if last_day is not None:
        in_range.append(day <= last_day)
    for table in (TrafficDayRow.__table__, ModelDayRow.__table__):
        cond = []
        if first_day is not None:
            cond.append(table.c.day >= first_day)
        if last_day is not None:
            cond.append(table.c.day <= last_day)
        connection.execute(delete(table).where(and_(True, *cond)))

    prod = func.coalesce(ExchangeRow.product_id, 0)
    prov = func.coalesce(ExchangeRow.provider_id, 0)
    traffic = (
        select(
            prod,
            prov,
            day,
            func.count(ExchangeRow.id),
            func.min(ExchangeRow.started_at),
            func.max(ExchangeRow.started_at),
        )
        .where(and_(True, *in_range))
        .group_by(prod, prov, day)
    )
    t = TrafficDayRow.__table__
    connection.execute(
        t.insert().from_select(
            ["product_id", "provider_id", "day", "exchanges", "first_seen", "last_seen"], traffic
        )
    )
    bit = case(
        *((ObservationRow.source == name, literal(b)) for name, b in SOURCE_BITS.items()),
        else_=literal(0),
    )
    served = case((ObservationRow.role == "response", ExchangeRow.id), else_=None)
    models = (
        select(
            prod,
            prov,
            ObservationRow.model_id,
            ObservationRow.kind,
            day,
            func.count(func.distinct(ExchangeRow.id)),
            func.count(func.distinct(served)),
            func.sum(func.distinct(bit)),
            func.min(ExchangeRow.started_at),
            func.max(ExchangeRow.started_at),
        )
        .select_from(ObservationRow)
        .join(ExchangeRow, ExchangeRow.id == ObservationRow.exchange_id)
        .where(and_(True, *in_range))
        .group_by(prod, prov, ObservationRow.model_id, ObservationRow.kind, day)
    )
    m = ModelDayRow.__table__
    connection.execute(
        m.insert().from_select(
            [
                "product_id",
                "provider_id",
                "model_id",
                "kind",
                "day",
                "exchanges",
                "served",
                "sources",
                "first_seen",
                "last_seen",
            ],
            models,
        )
    )


def sources_any(column: Any) -> list[Any]:
    """One ``MAX(column & bit)`` per source: summed, they are the OR of ``column`` over a group
    (SQLite has no aggregate bitwise OR)."""
    return [func.max(column.op("&")(b)) for b in SOURCE_BITS.values()]


def analyze(connection: Connection) -> None:
    """Refresh the planner's statistics after a bulk change."""
    connection.execute(text("ANALYZE"))
