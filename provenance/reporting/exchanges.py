"""Exchange listings and single-exchange views for ``provenance exchanges`` and the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, select

from provenance.errors import UsageError
from provenance.store.models import ExchangeRow, ObservationRow, ProductRow, ProviderRow


@dataclass(frozen=True, slots=True)
class ExchangeFilter:
    """Which exchanges to list: every field narrows; None means "any"."""

    product: str | None = None
    model: str | None = None  # exact model id, seen anywhere in the exchange
    since: datetime | None = None
    before: datetime | None = None
    provider: str | None = None
    limit: int | None = 100


def parse_time(text: str) -> datetime:
    """An ISO-8601 date or time (UTC if no offset), or a relative age like ``7d``, ``12h``, ``30m``.

    Raises :class:`UsageError` naming the accepted forms.
    """
    value = text.strip()
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    try:
        if value[:-1].isascii() and value[:-1].isdigit() and value[-1:] in units:
            from datetime import timedelta

            return datetime.now(UTC) - timedelta(seconds=int(value[:-1]) * units[value[-1]])
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise UsageError(
            f"cannot read time {text!r}: use an ISO date/time (2026-03-01, 2026-03-01T12:00Z) "
            "or an age (7d, 12h, 30m) within years 1-9999"
        ) from None


def _filtered(stmt: Select[Any], flt: ExchangeFilter) -> Select[Any]:
    if flt.product is not None:
        stmt = stmt.where(ProductRow.name == flt.product)
    if flt.provider is not None:
        stmt = stmt.where(ProviderRow.slug == flt.provider)
    if flt.since is not None:
        stmt = stmt.where(ExchangeRow.started_at >= flt.since)
    if flt.before is not None:
        stmt = stmt.where(ExchangeRow.started_at < flt.before)
    if flt.model is not None:
        stmt = stmt.where(
            exists().where(
                ObservationRow.exchange_id == ExchangeRow.id, ObservationRow.model_id == flt.model
            )
        )
    return stmt


def _base() -> Select[Any]:
    return (
        select(ExchangeRow, ProductRow.name, ProviderRow.slug)
        .outerjoin(ProductRow, ExchangeRow.product_id == ProductRow.id)
        .outerjoin(ProviderRow, ExchangeRow.provider_id == ProviderRow.id)
    )


def _models_of(session: Any, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.execute(
        select(ObservationRow.exchange_id, ObservationRow.model_id)
        .where(ObservationRow.exchange_id.in_(ids))
        .distinct()
        .order_by(ObservationRow.exchange_id, ObservationRow.model_id)
    )
    for ex_id, model_id in rows:
        out[ex_id].append(model_id)
    return out


def summary(row: ExchangeRow, product: str | None, provider: str | None, models: list[str]) -> dict:
    """The short form of one exchange (one line of a listing)."""
    return {
        "id": row.id,
        "started_at": _iso(row.started_at),
        "product": product,
        "provider": provider,
        "method": row.method,
        "host": row.host,
        "path": row.path,
        "status": row.status,
        "api": row.api,
        "models": models,
        "streamed": row.streamed,
        "latency_ms": row.latency_ms,
        "ttfb_ms": row.ttfb_ms,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "error": row.error,
    }


def list_exchanges(store: Any, flt: ExchangeFilter) -> list[dict]:
    """Exchanges matching ``flt``, newest first, in their short form."""
    stmt = _filtered(_base(), flt).order_by(ExchangeRow.started_at.desc(), ExchangeRow.id.desc())
    if flt.limit is not None:
        stmt = stmt.limit(flt.limit)
    with store.session() as s:
        rows = s.execute(stmt).all()
        models = _models_of(s, [r[0].id for r in rows])
        return [summary(ex, prod, prov, models[ex.id]) for ex, prod, prov in rows]


def iter_exchanges(store: Any, flt: ExchangeFilter, batch: int = 500) -> Iterator[dict]:
    """Every matching exchange in full form, oldest first, read in batches (bounded memory)."""
    last_id = 0
    while True:
        stmt = _filtered(_base(), flt).where(ExchangeRow.id > last_id)
        stmt = stmt.order_by(ExchangeRow.id).limit(batch)
        with store.session() as s:
            rows = s.execute(stmt).all()
            if not rows:
                return
            obs = _observations_of(s, [r[0].id for r in rows])
            full = [detail(ex, prod, prov, obs[ex.id]) for ex, prod, prov in rows]
        yield from full
        last_id = full[-1]["id"]


def _observations_of(session: Any, ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {i: [] for i in ids}
    rows = session.scalars(
        select(ObservationRow)
        .where(ObservationRow.exchange_id.in_(ids))
        .order_by(ObservationRow.id)
    )
    for o in rows:
        out[o.exchange_id].append(
            {
                "model_id": o.model_id,
                "source": o.source,
                "location": o.location,
                "role": o.role,
                "kind": o.kind,
            }
        )
    return out


def detail(row: ExchangeRow, product: str | None, provider: str | None, observations: list[dict]):
    """The full (redacted) form of one exchange."""
    doc = summary(row, product, provider, sorted({o["model_id"] for o in observations}))
    doc.update(
        {
            "scheme": row.scheme,
            "port": row.port,
            "content_type": row.content_type,
            "http_version": row.http_version,
            "origin": row.origin,
            "client_ja4": row.client_ja4,
            "request_size": row.request_size,
            "response_size": row.response_size,
            "request_headers": row.request_headers,
            "response_headers": row.response_headers,
            "request_body": row.request_body,
            "response_body": row.response_body,
            "request_digest": row.request_digest,
            "response_digest": row.response_digest,
            "bodies_truncated": row.bodies_truncated,
            "usage": {
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "cached_tokens": row.cached_tokens,
                "cache_write_tokens": row.cache_write_tokens,
                "reasoning_tokens": row.reasoning_tokens,
                "total_tokens": row.total_tokens,
                "cost": row.cost,
                "raw": row.usage_raw,
            },
            "observations": observations,
            "parse_errors": row.parse_errors,
            "secret_hashes": row.secret_hashes,
            "deployment": row.deployment,
        }
    )
    return doc


def get_exchange(store: Any, exchange_id: int) -> dict | None:
    """One exchange in full form, or None if there is no such id."""
    with store.session() as s:
        row = s.execute(_base().where(ExchangeRow.id == exchange_id)).first()
        if row is None:
            return None
        ex, prod, prov = row
        return detail(ex, prod, prov, _observations_of(s, [ex.id])[ex.id])


def prune(store: Any, before: datetime) -> int:
    """Delete exchanges (and their observations) started before ``before``; return the count.

    The daily rollups of the days before ``before`` go too, and the day ``before`` falls in is
    recomputed from what remains of it; all in one transaction.
    """
    from provenance.store import rollups

    day = rollups.day_of(before)
    with store.engine.begin() as connection:
        ids = select(ExchangeRow.id).where(ExchangeRow.started_at < before)
        connection.execute(delete(ObservationRow).where(ObservationRow.exchange_id.in_(ids)))
        result = connection.execute(delete(ExchangeRow).where(ExchangeRow.started_at < before))
        rollups.rebuild(connection, last_day=day)
        return int(result.rowcount or 0)


def count_exchanges(store: Any) -> int:
    """How many exchanges the store holds."""
    with store.session() as s:
        return int(s.scalar(select(func.count(ExchangeRow.id))) or 0)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
