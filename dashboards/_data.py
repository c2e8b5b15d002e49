"""Cached access to the store for the pages. Read-only; errors become a message on the page.

The database comes from ``PROVENANCE_DB`` (``provenance dashboard --db URL`` sets it), else the
default embedded file. Query results are cached for ``TTL`` seconds.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from provenance.errors import ProvenanceError

TTL = 30


@st.cache_resource(show_spinner=False)
def _store(url: str | None) -> Any:
    from provenance.store import open_store

    return open_store(url)


def store() -> Any:
    """The open store, or a clear error on the page (and the page stops)."""
    try:
        return _store(os.environ.get("PROVENANCE_DB") or None)
    except ProvenanceError as exc:
        st.error(str(exc))
        st.stop()


def _url() -> str:
    return os.environ.get("PROVENANCE_DB") or ""


@st.cache_data(ttl=TTL, show_spinner="Reading the store…")
def overview(db_key: str) -> dict[str, Any]:
    from provenance.reporting.dashboard import overview as q

    return q(store())


@st.cache_data(ttl=TTL, show_spinner=False)
def models(db_key: str) -> list[dict[str, Any]]:
    from provenance.store.queries import models_table

    return models_table(store())


@st.cache_data(ttl=TTL, show_spinner=False)
def timeline(db_key: str) -> list[dict[str, Any]]:
    from provenance.reporting.dashboard import model_timeline

    return model_timeline(store())


@st.cache_data(ttl=TTL, show_spinner=False)
def runs(db_key: str) -> list[dict[str, Any]]:
    from provenance.reporting.runs import list_runs

    return list_runs(store())


@st.cache_data(ttl=TTL, show_spinner=False)
def options(db_key: str) -> dict[str, list[str]]:
    from provenance.reporting.dashboard import filter_options

    return filter_options(store())


@st.cache_data(ttl=TTL, show_spinner=False)
def exchanges(
    db_key: str,
    product: str | None,
    provider: str | None,
    model: str | None,
    since: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    from provenance.reporting.exchanges import ExchangeFilter, list_exchanges, parse_time

    flt = ExchangeFilter(
        product=product,
        provider=provider,
        model=model or None,
        since=parse_time(since) if since else None,
        limit=limit,
    )
    return list_exchanges(store(), flt)


@st.cache_data(ttl=TTL, show_spinner=False)
def timings(db_key: str, product: str | None, provider: str | None) -> list[dict[str, Any]]:
    from provenance.reporting.dashboard import timing_sample
    from provenance.reporting.exchanges import ExchangeFilter

    return timing_sample(store(), ExchangeFilter(product=product, provider=provider, limit=None))


def exchange(exchange_id: int) -> dict[str, Any] | None:
    from provenance.reporting.exchanges import get_exchange

    return get_exchange(store(), exchange_id)


def key() -> str:
    """Cache key part that changes with the database URL."""
    return _url()


def guarded(fn: Any, *args: Any) -> Any:
    """Call a query; a library error becomes a message on the page and the page stops."""
    try:
        return fn(*args)
    except ProvenanceError as exc:
        st.error(str(exc))
        st.stop()
