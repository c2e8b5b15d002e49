"""The audit's filter: a UTC day range, a product and a provider.

One value object shared by the dashboard (where it lives in the URL's query parameters, so a
filtered view can be shared), the verdict queries (which read the daily rollups between the
days) and the reports downloaded from the dashboard. Values that cannot be read (a malformed
date, an empty name) are dropped rather than refused: a hand-edited URL shows the unfiltered
view instead of an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

PARAMS = ("since", "until", "product", "provider")
_MAX_NAME = 500


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """``since``/``until``: first and last UTC day included (None: open-ended)."""

    since: date | None = None
    until: date | None = None
    product: str | None = None
    provider: str | None = None

    @property
    def empty(self) -> bool:
        return self == AuditFilter()

    @property
    def since_day(self) -> str | None:
        """``since`` as the rollups' ``YYYY-MM-DD`` day key."""
        return self.since.isoformat() if self.since else None

    @property
    def until_day(self) -> str | None:
        return self.until.isoformat() if self.until else None

    def since_time(self) -> datetime | None:
        """The first instant included (UTC midnight of ``since``)."""
        return datetime.combine(self.since, time(0), UTC) if self.since else None

    def until_time(self) -> datetime | None:
        """The last instant included (the end of ``until``)."""
        return datetime.combine(self.until, time.max, UTC) if self.until else None

    def includes(self, when: datetime | None) -> bool:
        """Whether an instant falls inside the day range (an unknown time does)."""
        if when is None:
            return True
        day = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).date()
        return (self.since is None or day >= self.since) and (
            self.until is None or day <= self.until
        )

    def to_params(self) -> dict[str, str]:
        """The query parameters of this filter (only the fields that are set)."""
        out = {"since": self.since_day, "until": self.until_day}
        out |= {"product": self.product, "provider": self.provider}
        return {k: v for k, v in out.items() if v}

    def describe(self) -> str:
        """One line for a report header: what the figures are restricted to."""
        parts = []
        if self.since or self.until:
            parts.append(f"days {self.since_day or '…'} to {self.until_day or '…'} (UTC)")
        if self.product:
            parts.append(f"product {self.product}")
        if self.provider:
            parts.append(f"provider {self.provider}")
        return ", ".join(parts) or "everything in the store"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AuditFilter:
        """Read query parameters; unreadable values are dropped (see the module docstring)."""
        since, until = _day(params.get("since")), _day(params.get("until"))
        if since and until and since > until:
            since, until = until, since
        return cls(since, until, _name(params.get("product")), _name(params.get("provider")))


def _day(value: Any) -> date | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _name(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_NAME:
        return None
    return value


def on_rollup(stmt: Any, table: Any, flt: AuditFilter | None, *, product: bool = True) -> Any:
    """``stmt`` over a daily rollup ``table`` (``traffic_days``, ``model_days``: columns ``day``,
    ``product_id``, ``provider_id``) narrowed to ``flt``'s days, provider and (unless
    ``product=False``) product."""
    from sqlalchemy import select

    from provenance.store.models import ProductRow, ProviderRow

    if flt is None:
        return stmt
    c = table.c if hasattr(table, "c") else table.__table__.c
    if flt.since_day is not None:
        stmt = stmt.where(c.day >= flt.since_day)
    if flt.until_day is not None:
        stmt = stmt.where(c.day <= flt.until_day)
    if product and flt.product is not None:
        wanted = select(ProductRow.id).where(ProductRow.name == flt.product).scalar_subquery()
        stmt = stmt.where(c.product_id == wanted)
    if flt.provider is not None:
        wanted = select(ProviderRow.id).where(ProviderRow.slug == flt.provider).scalar_subquery()
        stmt = stmt.where(c.provider_id == wanted)
    return stmt
