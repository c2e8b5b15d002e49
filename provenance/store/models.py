"""The store's tables as SQLAlchemy 2 typed models, portable between SQLite and PostgreSQL.

Row classes end in ``Row`` so they never clash with the records of :mod:`provenance.records`.
Times are stored as UTC (``timestamptz`` on PostgreSQL, UTC text on SQLite) and always come back
timezone-aware. Text that comes from traffic goes through :class:`CleanText`, which makes any
Python string storable on both engines (PostgreSQL rejects NUL characters; no driver encodes lone
surrogates), so one odd body can never block a batch.

Changing a table means a new Alembic revision under ``migrations/versions`` (a test compares the
migrated schema with these models).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Integer on SQLite so that the id is the rowid (autoincrement); 64-bit on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both engines (a naive value is taken as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":  # stored as text without an offset: keep it UTC and naive
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` made storable anywhere: NUL → U+FFFD, lone surrogates → U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _SURROGATE.sub("\ufffd", value)
    return value


class CleanText(TypeDecorator[str]):
    """Text that may come from traffic (see :func:`clean_text`)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else clean_text(value)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention (stable constraint names in migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012
        datetime: UTCDateTime(),
        str: CleanText(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class ProviderRow(Base):
    """An API provider, by slug from the host catalog (``openai``, ``fireworks``, ...)."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(unique=True)


class ProductRow(Base):
    """A product whose traffic was captured (``cursor``, ``claude-code``, or a --product name)."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)


class ExchangeRow(Base):
    """One HTTP request/response pair, already redacted (see ``records.ExchangeRecord``)."""

    __tablename__ = "exchanges"
    __table_args__ = (
        Index("ix_exchanges_started_at", "started_at"),
        Index("ix_exchanges_product_id", "product_id"),
        Index("ix_exchanges_provider_id", "provider_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    started_at: Mapped[datetime]
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    method: Mapped[str]
    scheme: Mapped[str]
    host: Mapped[str]
    port: Mapped[int | None]
    path: Mapped[str]
    status: Mapped[int | None]
    api: Mapped[str | None]
    content_type: Mapped[str | None]
    latency_ms: Mapped[float | None] = mapped_column(Float)
    ttfb_ms: Mapped[float | None] = mapped_column(Float)
    streamed: Mapped[bool] = mapped_column(Boolean, default=False)
    request_size: Mapped[int | None] = mapped_column(BigInteger)
    response_size: Mapped[int | None] = mapped_column(BigInteger)
    request_headers: Mapped[list[Any]]
    response_headers: Mapped[list[Any]]
    request_body: Mapped[str | None]
    response_body: Mapped[str | None]
    request_digest: Mapped[str | None]
    response_digest: Mapped[str | None]
    bodies_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cached_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int | None] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int | None] = mapped_column(BigInteger)
    total_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cost: Mapped[float | None] = mapped_column(Float)
    usage_raw: Mapped[dict[str, Any] | None]
    parse_errors: Mapped[list[Any]]
    origin: Mapped[str]
    http_version: Mapped[str | None]
    client_ja4: Mapped[str | None]
    error: Mapped[str | None]
    secret_hashes: Mapped[list[Any]]
    deployment: Mapped[str | None]  # a customer-chosen deployment alias (Azure), if observed
    # streamed text piece lengths per channel ({"content": [3, 1, 4, …]}), see extract.deltas
    stream_deltas: Mapped[dict[str, Any] | None]


class ObservationRow(Base):
    """One sighting of a model id in an exchange (see ``records.Observation``)."""

    __tablename__ = "observations"
    __table_args__ = (
        Index("ix_observations_model_id", "model_id", "exchange_id"),
        Index("ix_observations_exchange_id", "exchange_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    model_id: Mapped[str]
    source: Mapped[str]
    location: Mapped[str]
    role: Mapped[str]
    kind: Mapped[str]


class FingerprintRunRow(Base):
    """One fingerprint run (see ``store.records.FingerprintRunRecord``)."""

    __tablename__ = "fingerprint_runs"
    __table_args__ = (Index("ix_fingerprint_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str]
    started_at: Mapped[datetime]
    target: Mapped[str]
    model: Mapped[str | None]
    product: Mapped[str | None]
    verdict: Mapped[str | None]
    family: Mapped[str | None]
    method: Mapped[str]
    requests: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]]


class ConnectionRow(Base):
    """A TLS client connection, merged by (sni, ja4, client, dst) (see ``ConnectionRecord``)."""

    __tablename__ = "connections"
    __table_args__ = (
        Index("ix_connections_sni_ja4", "sni", "ja4"),
        Index("ix_connections_last_seen", "last_seen"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    src_ip: Mapped[str | None]
    src_port: Mapped[int | None]
    dst_ip: Mapped[str | None]
    dst_port: Mapped[int | None]
    sni: Mapped[str | None]
    alpn: Mapped[str | None]
    tls_version: Mapped[str | None]
    ja4: Mapped[str | None]
    ja3: Mapped[str | None]
    client: Mapped[str | None]
    provider: Mapped[str | None]
    count: Mapped[int] = mapped_column(BigInteger, default=1)
    origin: Mapped[str]


class TrafficDayRow(Base):
    """Rollup: exchanges per (product, provider, UTC day); ids are 0 for "none".

    Derived data, maintained by ``write_exchanges`` and rebuilt by ``rollups.rebuild``.
    """

    __tablename__ = "traffic_days"

    product_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[str] = mapped_column(Text, primary_key=True)  # YYYY-MM-DD (UTC)
    exchanges: Mapped[int] = mapped_column(BigInteger)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class ModelDayRow(Base):
    """Rollup: distinct exchanges per (product, provider, model id, kind, UTC day).

    ``served`` counts those whose response carried the id; ``sources`` is a bitmask over
    ``rollups.SOURCE_BITS``. Derived data (see :class:`TrafficDayRow`).
    """

    __tablename__ = "model_days"
    __table_args__ = (Index("ix_model_days_model_id", "model_id"),)

    product_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model_id: Mapped[str] = mapped_column(CleanText(), primary_key=True)
    kind: Mapped[str] = mapped_column(CleanText(), primary_key=True)
    day: Mapped[str] = mapped_column(Text, primary_key=True)
    exchanges: Mapped[int] = mapped_column(BigInteger)
    served: Mapped[int] = mapped_column(BigInteger)
    sources: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
