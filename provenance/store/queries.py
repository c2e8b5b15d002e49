"""Read-side queries shared by the CLI, the report and the dashboard.

Every aggregate is computed by the database (GROUP BY), so the cost grows with the number of
distinct answers, not with the number of exchanges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select

from provenance.store.models import ExchangeRow, ObservationRow, ProductRow, ProviderRow
from provenance.store.store import Store

# A resolver maps a model id to (family, vendor); None for both when unknown.
Resolver = Callable[[str], tuple[str | None, str | None]]

MODELS_SCHEMA = "provenance.models/1"


def iso_utc(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z`` suffix and millisecond precision; None stays None."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def catalog_resolver() -> Resolver:
    """(family, vendor) of a model id from ``provenance.catalog.resolve`` (imported lazily)."""
    from provenance.catalog import resolve

    def _resolve(model_id: str) -> tuple[str | None, str | None]:
        resolution = resolve(model_id)
        return resolution.family, resolution.vendor

    return _resolve


def _model_sightings(product: str | None) -> Select[Any]:
    """Observations of model ids (not deployment aliases) joined to product and provider."""
    stmt = (
        select(ProductRow.name.label("product"), ProviderRow.slug.label("provider"))
        .select_from(ObservationRow)
        .join(ExchangeRow, ExchangeRow.id == ObservationRow.exchange_id)
        .outerjoin(ProductRow, ProductRow.id == ExchangeRow.product_id)
        .outerjoin(ProviderRow, ProviderRow.id == ExchangeRow.provider_id)
        .where(ObservationRow.kind != "deployment")
    )
    if product is not None:
        stmt = stmt.where(ProductRow.name == product)
    return stmt


def models_table(
    store: Store, product: str | None = None, *, resolver: Resolver | None = None
) -> list[dict[str, Any]]:
    """One row per distinct (product, host-derived provider, model id) seen in exchanges.

    Keys: ``product``, ``provider`` (slug, None if the host is unknown), ``model_id``,
    ``family``/``vendor`` (from the catalog; None when the id is not recognised), ``sources``
    (sorted distinct observation sources), ``requests`` (distinct exchanges carrying the id: its
    request and response sightings in one exchange count once), ``first_seen``/``last_seen``
    (ISO-8601 UTC, ``Z``). Rows are sorted by product, provider, model id (None first).
    ``product`` restricts to one product name.
    """
    resolve = resolver or catalog_resolver()
    key = (ProductRow.name, ProviderRow.slug, ObservationRow.model_id)
    totals = (
        _model_sightings(product)
        .add_columns(
            ObservationRow.model_id,
            func.count(func.distinct(ObservationRow.exchange_id)).label("requests"),
            func.min(ExchangeRow.started_at).label("first_seen"),
            func.max(ExchangeRow.started_at).label("last_seen"),
        )
        .group_by(*key)
    )
    sources = (
        _model_sightings(product)
        .add_columns(ObservationRow.model_id, ObservationRow.source)
        .group_by(*key, ObservationRow.source)
    )
    with store.session() as session:
        total_rows = session.execute(totals).all()
        source_rows = session.execute(sources).all()

    seen_sources: dict[tuple[Any, ...], set[str]] = {}
    for row in source_rows:
        seen_sources.setdefault((row.product, row.provider, row.model_id), set()).add(row.source)
    families: dict[str, tuple[str | None, str | None]] = {}
    result = []
    for row in total_rows:
        if row.model_id not in families:
            families[row.model_id] = resolve(row.model_id)
        family, vendor = families[row.model_id]
        result.append(
            {
                "product": row.product,
                "provider": row.provider,
                "model_id": row.model_id,
                "family": family,
                "vendor": vendor,
                "sources": sorted(seen_sources.get((row.product, row.provider, row.model_id), ())),
                "requests": int(row.requests),
                "first_seen": iso_utc(row.first_seen),
                "last_seen": iso_utc(row.last_seen),
            }
        )
    result.sort(key=lambda r: (r["product"] or "", r["provider"] or "", r["model_id"]))
    return result
