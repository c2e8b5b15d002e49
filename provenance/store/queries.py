"""Read-side queries shared by the CLI, the report and the dashboard.

Every aggregate is computed by the database (GROUP BY), so the cost grows with the number of
distinct answers, not with the number of exchanges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from provenance.store import rollups
from provenance.store.models import ModelDayRow, ProductRow, ProviderRow
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
    store: Store,
    product: str | None = None,
    *,
    resolver: Resolver | None = None,
    since_day: str | None = None,
    until_day: str | None = None,
    provider: str | None = None,
) -> list[dict[str, Any]]:
    """One row per distinct (product, host-derived provider, model id) seen in exchanges.

    Keys: ``product``, ``provider`` (slug, None if the host is unknown), ``model_id``,
    ``family``/``vendor`` (from the catalog; None when the id is not recognised), ``sources``
    (sorted distinct observation sources), ``requests`` (distinct exchanges carrying the id: its
    request and response sightings in one exchange count once), ``first_seen``/``last_seen``
    (ISO-8601 UTC, ``Z``). Deployment aliases (observation kind ``deployment``) are not model ids
    and are left out. Rows are sorted by product, provider, model id (None first). ``product``
    restricts to one product name.

    Read from the ``model_days`` rollup (see :mod:`provenance.store.rollups`), so the cost grows
    with the number of distinct (id, day) pairs, not with the number of exchanges.
    ``since_day``/``until_day`` (``YYYY-MM-DD``, inclusive) and ``provider`` (slug) narrow it.
    """
    resolve = resolver or catalog_resolver()
    m = ModelDayRow
    stmt = (
        select(
            m.product_id,
            m.provider_id,
            m.model_id,
            func.sum(m.exchanges).label("requests"),
            func.min(m.first_seen).label("first_seen"),
            func.max(m.last_seen).label("last_seen"),
            *rollups.sources_any(m.sources),
        )
        .where(m.kind != "deployment")
        .group_by(m.product_id, m.provider_id, m.model_id)
    )
    if product is not None:
        product_id = select(ProductRow.id).where(ProductRow.name == product).scalar_subquery()
        stmt = stmt.where(m.product_id == product_id)
    if since_day is not None:
        stmt = stmt.where(m.day >= since_day)
    if until_day is not None:
        stmt = stmt.where(m.day <= until_day)
    if provider is not None:
        provider_id = select(ProviderRow.id).where(ProviderRow.slug == provider).scalar_subquery()
        stmt = stmt.where(m.provider_id == provider_id)
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
                "sources": rollups.sources_of(sum(int(v or 0) for v in row[6:])),
                "requests": int(row.requests),
                "first_seen": iso_utc(row.first_seen),
                "last_seen": iso_utc(row.last_seen),
            }
        )
    result.sort(key=lambda r: (r["product"] or "", r["provider"] or "", r["model_id"]))
    return result
