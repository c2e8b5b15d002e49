"""The store: open a database, write exchanges, fingerprint runs and connections.

``open_store`` is the one way in. Writes are plain Core bulk inserts in one transaction each;
providers and products are get-or-created through a small in-memory cache, so a steady stream of
exchanges costs two multi-row INSERTs per batch and no lookups.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from provenance.errors import StoreError
from provenance.records import ExchangeRecord
from provenance.store import migrate, rollups
from provenance.store.engine import is_sqlite, make_engine, mask_url, resolve_db_url
from provenance.store.models import (
    ConnectionRow,
    ExchangeRow,
    FingerprintRunRow,
    ObservationRow,
    ProductRow,
    ProviderRow,
)
from provenance.store.records import FINGERPRINT_KINDS, ConnectionRecord, FingerprintRunRecord


def open_store(
    url: str | None = None, *, create: bool = False, busy_timeout_ms: int | None = None
) -> Store:
    """Open the store at ``url`` (resolved by :func:`resolve_db_url`), ready to use.

    ``create=True``: a missing SQLite file is created 0600, and an empty database (SQLite or
    PostgreSQL) is migrated to the current schema. An existing database is never migrated here:
    one at an older revision raises :class:`SchemaOutdatedError` ("run `provenance db upgrade`").
    Anything else that prevents use (bad URL, unwritable path, unreachable server, a database
    without tables and ``create=False``) raises :class:`StoreError`, one line, no password.
    """
    resolved = resolve_db_url(url)
    engine = make_engine(resolved, create=create, busy_timeout_ms=busy_timeout_ms)
    try:
        with engine.connect() as connection:
            state = migrate.schema_state(connection)
        if state.current is None and not state.has_tables and create:
            migrate.upgrade(engine, resolved)
        else:
            migrate.check_schema(state, resolved)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, resolved)


class Store:
    """An open database. ``url`` is the masked URL (safe to print); ``engine`` the SQLAlchemy one.

    Thread-safe: the writer thread and other threads may call the write methods concurrently.
    """

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = mask_url(url)
        self._sqlite = is_sqlite(url)
        # Writers on SQLite take the write lock when they begin (see engine._on_begin).
        self._write_engine = engine.execution_options(sqlite_immediate=True)
        self._ids: dict[tuple[str, str], int] = {}  # ("provider"|"product", name) -> id
        self._ids_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release all connections."""
        self.engine.dispose()

    def session(self) -> Session:
        """A new ORM session (use as a context manager: ``with store.session() as s: ...``)."""
        return Session(self.engine)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_engine.begin() as connection:
            yield connection

    # ---------------------------------------------------------------------------------- writes

    def write_exchanges(self, records: Sequence[ExchangeRecord]) -> list[int]:
        """Insert ``records`` and their observations in one transaction; return their ids in order.

        All or nothing: on any error nothing is written and the error propagates (SQLAlchemy's;
        the batch writer decides whether to retry).
        """
        if not records:
            return []
        try:
            return self._write_exchanges(records, returning=False)
        except _NotConsecutive:
            return self._write_exchanges(records, returning=True)

    def _write_exchanges(self, records: Sequence[ExchangeRecord], *, returning: bool) -> list[int]:
        with self._write() as connection:
            providers, new_providers = self._ids_for(
                connection, "provider", (r.provider for r in records)
            )
            products, new_products = self._ids_for(
                connection, "product", (r.product for r in records)
            )
            rows = [_exchange_row(r, providers, products) for r in records]
            ids = self._insert_exchanges(connection, rows, returning=returning)
            observations = [
                {
                    "exchange_id": exchange_id,
                    "model_id": o.model_id,
                    "source": str(o.source),
                    "location": o.location,
                    "role": o.role,
                    "kind": o.kind,
                }
                for exchange_id, record in zip(ids, records, strict=True)
                for o in record.observations
            ]
            if observations:
                connection.execute(insert(ObservationRow), observations)
            traffic, models = rollups.batch_rows(records, products, providers)
            rollups.upsert(connection, traffic, models)
        self._remember("provider", new_providers)
        self._remember("product", new_products)
        return ids

    def save_fingerprint_run(self, run: FingerprintRunRecord) -> int:
        """Insert one fingerprint run; return its id."""
        if run.kind not in FINGERPRINT_KINDS:
            raise StoreError(
                f"unknown fingerprint run kind {run.kind!r}: expected one of "
                + ", ".join(FINGERPRINT_KINDS)
            )
        values = {
            "kind": run.kind,
            "started_at": run.started_at,
            "target": run.target,
            "model": run.model,
            "product": run.product,
            "verdict": run.verdict,
            "family": run.family,
            "method": run.method,
            "requests": run.requests,
            "result": run.result,
        }
        with self._write() as connection:
            stmt = insert(FingerprintRunRow).returning(FingerprintRunRow.id)
            return int(connection.execute(stmt, values).scalar_one())

    def save_connections(self, conns: Iterable[ConnectionRecord]) -> None:
        """Merge connections into ``connections`` by (sni, ja4, client, dst_ip, dst_port).

        A match adds ``count``, widens first/last seen and fills columns that were NULL; no match
        inserts a row. One transaction. (Two processes merging the same new key at the same
        moment may each insert a row; queries group by the key anyway.)
        """
        merged: dict[tuple[Any, ...], ConnectionRecord] = {}
        for conn in conns:
            key = (conn.sni, conn.ja4, conn.client, conn.dst_ip, conn.dst_port)
            seen = merged.get(key)
            merged[key] = conn if seen is None else _merge_connection(seen, conn)
        if not merged:
            return
        table = ConnectionRow.__table__
        with self._write() as connection:
            for (sni, ja4, client, dst_ip, dst_port), conn in merged.items():
                match = select(table).where(
                    table.c.sni.is_not_distinct_from(sni),
                    table.c.ja4.is_not_distinct_from(ja4),
                    table.c.client.is_not_distinct_from(client),
                    table.c.dst_ip.is_not_distinct_from(dst_ip),
                    table.c.dst_port.is_not_distinct_from(dst_port),
                )
                existing = connection.execute(match.limit(1)).mappings().first()
                values = _connection_values(conn)
                if existing is None:
                    connection.execute(insert(ConnectionRow), values)
                    continue
                changes: dict[str, Any] = {
                    "count": existing["count"] + conn.count,
                    "first_seen": min(existing["first_seen"], values["first_seen"]),
                    "last_seen": max(existing["last_seen"], values["last_seen"]),
                }
                for name, value in values.items():
                    if name not in changes and existing[name] is None and value is not None:
                        changes[name] = value
                connection.execute(
                    update(ConnectionRow).where(table.c.id == existing["id"]).values(changes)
                )

    # --------------------------------------------------------------------------------- helpers

    def _insert_exchanges(
        self, connection: Connection, rows: list[dict[str, Any]], *, returning: bool = False
    ) -> list[int]:
        if self._sqlite:
            return _insert_sqlite(connection, rows, returning=returning)
        # PostgreSQL: take the ids from the sequence first, then one pipelined executemany of a
        # short statement (psycopg caches its conversion); a multi-row VALUES ... RETURNING of
        # 200 x 40 parameters costs more to build than to run.
        ids = sorted(connection.execute(_NEXT_EXCHANGE_IDS, {"n": len(rows)}).scalars().all())
        for row, id_ in zip(rows, ids, strict=True):
            row["id"] = id_
        connection.execute(insert(ExchangeRow), rows)
        return ids

    def _ids_for(
        self, connection: Connection, kind: str, names: Iterable[str | None]
    ) -> tuple[dict[str, int], dict[str, int]]:
        """(all ids, newly created ids) of the named providers/products, creating missing ones
        inside ``connection``'s transaction. Call :meth:`_remember` with the new ones only after
        that transaction commits (a rollback would leave dangling ids in the cache)."""
        wanted = {n for n in names if n}
        with self._ids_lock:
            found = {n: self._ids[(kind, n)] for n in wanted if (kind, n) in self._ids}
        missing = sorted(wanted - found.keys())
        if not missing:
            return found, {}
        model, column = (
            (ProviderRow, ProviderRow.slug) if kind == "provider" else (ProductRow, ProductRow.name)
        )
        dialect_insert = sqlite_insert if self._sqlite else pg_insert
        connection.execute(
            dialect_insert(model).on_conflict_do_nothing(), [{column.key: n} for n in missing]
        )
        fresh = {
            str(name): int(id_)
            for name, id_ in connection.execute(
                select(column, model.id).where(column.in_(missing))
            ).all()
        }
        found.update(fresh)
        return found, fresh

    def _remember(self, kind: str, fresh: dict[str, int]) -> None:
        if fresh:
            with self._ids_lock:
                self._ids.update({(kind, n): i for n, i in fresh.items()})


class _NotConsecutive(Exception):
    """The plain executemany's rows did not get consecutive ids (rolled back, retried)."""


def _insert_sqlite(
    connection: Connection, rows: list[dict[str, Any]], *, returning: bool
) -> list[int]:
    """Insert ``rows`` and return their ids, in order.

    SQLAlchemy's ordered ``RETURNING`` runs one statement per row on SQLite; one plain
    executemany is several times cheaper. Its ids are consecutive: the transaction holds
    SQLite's write lock from the first row to the commit, and each new rowid is the largest
    plus one. That is checked (the id range must hold exactly as many rows); where it does not
    hold (SQLite picks rowids at random once the largest is 2**63-1), :class:`_NotConsecutive`
    rolls the transaction back and the caller writes it again with ``returning``.
    """
    if returning:
        stmt = insert(ExchangeRow).returning(ExchangeRow.id, sort_by_parameter_order=True)
        return [row[0] for row in connection.execute(stmt, rows)]
    connection.execute(insert(ExchangeRow), rows)
    last = int(connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
    first = last - len(rows) + 1
    count = connection.execute(_COUNT_RANGE, {"lo": first, "hi": last}).scalar_one()
    if count != len(rows):
        raise _NotConsecutive
    return list(range(first, last + 1))


_COUNT_RANGE = text("SELECT count(*) FROM exchanges WHERE id BETWEEN :lo AND :hi")
_NEXT_EXCHANGE_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('exchanges', 'id')) FROM generate_series(1, :n)"
)


def _exchange_row(
    r: ExchangeRecord, providers: dict[str, int], products: dict[str, int]
) -> dict[str, Any]:
    usage = r.usage
    deployment = next((o.model_id for o in r.observations if o.kind == "deployment"), None)
    return {
        "started_at": r.started_at,
        "product_id": products.get(r.product) if r.product else None,
        "provider_id": providers.get(r.provider) if r.provider else None,
        "method": r.method,
        "scheme": r.scheme,
        "host": r.host,
        "port": r.port,
        "path": r.path,
        "status": r.status,
        "api": r.api,
        "content_type": r.content_type,
        "latency_ms": r.latency_ms,
        "ttfb_ms": r.ttfb_ms,
        "streamed": bool(r.streamed),
        "request_size": r.request_size,
        "response_size": r.response_size,
        "request_headers": [list(h) for h in r.request_headers],
        "response_headers": [list(h) for h in r.response_headers],
        "request_body": r.request_body,
        "response_body": r.response_body,
        "request_digest": r.request_digest,
        "response_digest": r.response_digest,
        "bodies_truncated": bool(r.bodies_truncated),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "total_tokens": usage.total_tokens,
        "cost": usage.cost,
        "usage_raw": usage.raw or None,
        "parse_errors": list(r.parse_errors),
        "origin": str(r.origin),
        "http_version": r.http_version,
        "client_ja4": r.client_ja4,
        "error": r.error,
        "secret_hashes": list(r.secret_hashes),
        "deployment": deployment,
        "stream_deltas": r.stream_deltas,
    }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _connection_values(conn: ConnectionRecord) -> dict[str, Any]:
    return {
        "first_seen": _utc(conn.first_seen),
        "last_seen": _utc(conn.last_seen),
        "src_ip": conn.src_ip,
        "src_port": conn.src_port,
        "dst_ip": conn.dst_ip,
        "dst_port": conn.dst_port,
        "sni": conn.sni,
        "alpn": conn.alpn,
        "tls_version": conn.tls_version,
        "ja4": conn.ja4,
        "ja3": conn.ja3,
        "client": conn.client,
        "provider": conn.provider,
        "count": conn.count,
        "origin": conn.origin,
    }


def _merge_connection(a: ConnectionRecord, b: ConnectionRecord) -> ConnectionRecord:
    values = _connection_values(a)
    for name, value in _connection_values(b).items():
        if values[name] is None:
            values[name] = value
    values["count"] = a.count + b.count
    values["first_seen"] = min(_utc(a.first_seen), _utc(b.first_seen))
    values["last_seen"] = max(_utc(a.last_seen), _utc(b.last_seen))
    return ConnectionRecord(**values)
