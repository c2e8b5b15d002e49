"""Read-side queries shared by the CLI, the report and the dashboard.

Every aggregate is computed by the database (GROUP BY), so the cost grows with the number of
distinct answers, not with the number of exchanges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select

from provenance.records import Source
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


def models_table(
    store: Store, product: str | None = None, *, resolver: Resolver | None = None
) -> list[dict[str, Any]]:
    """One row per distinct (product, host-derived provider, model id) seen in exchanges.

    Keys: ``product``, ``provider`` (slug, None if the host is unknown), ``model_id``,
    ``family``/``vendor`` (from the catalog; None when the id is not recognised), ``sources``
    (sorted distinct observation sources), ``requests`` (distinct exchanges carrying the id: its
    request and response sightings in one exchange count once), ``first_seen``/``last_seen``
    (ISO-8601 UTC, ``Z``). Deployment aliases (observation kind ``deployment``) are not model ids
    and are left out. Rows are sorted by product, provider, model id (None first). ``product``
    restricts to one product name.

    One pass over observations ⋈ exchanges, grouped by ids; the sources come out of the same
    GROUP BY as one flag per known :class:`Source`; names are joined on the grouped rows.
    """
    resolve = resolver or catalog_resolver()
    sources = [str(source) for source in Source]
    flags = [
        func.max(case((ObservationRow.source == source, 1), else_=0)).label(f"source_{i}")
        for i, source in enumerate(sources)
    ]
    stmt = (
        select(
            ExchangeRow.product_id,
            ExchangeRow.provider_id,
            ObservationRow.model_id,
            func.count(func.distinct(ObservationRow.exchange_id)).label("requests"),
            func.min(ExchangeRow.started_at).label("first_seen"),
            func.max(ExchangeRow.started_at).label("last_seen"),
            *flags,
        )
        .select_from(ObservationRow)
        .join(ExchangeRow, ExchangeRow.id == ObservationRow.exchange_id)
        .where(ObservationRow.kind != "deployment")
        .group_by(ExchangeRow.product_id, ExchangeRow.provider_id, ObservationRow.model_id)
    )
    if product is not None:
        product_id = select(ProductRow.id).where(ProductRow.name == product).scalar_subquery()
        stmt = stmt.where(ExchangeRow.product_id == product_id)
    with store.session() as session:
        rows = session.execute(stmt).all()
        products = dict(session.execute(select(ProductRow.id, ProductRow.name)).all())
        providers = dict(session.execute(select(ProviderRow.id, ProviderRow.slug)).all())

    families: dict[str, tuple[str | None, str | None]] = {}
    result = []
    for row in rows:
        if row.model_id not in families:
            families[row.model_id] = resolve(row.model_id)
        family, vendor = families[row.model_id]
        result.append(
            {
                "product": products.get(row.product_id),
                "provider": providers.get(row.provider_id),
                "model_id": row.model_id,
                "family": family,
                "vendor": vendor,
                "sources": sorted(s for i, s in enumerate(sources) if row[6 + i]),
                "requests": int(row.requests),
                "first_seen": iso_utc(row.first_seen),
                "last_seen": iso_utc(row.last_seen),
            }
        )
    result.sort(key=lambda r: (r["product"] or "", r["provider"] or "", r["model_id"]))
    return result
