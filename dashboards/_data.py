"""Cached access to the store for the pages. Read-only; errors become a message on the page.

The database comes from ``PROVENANCE_DB`` (``provenance dashboard --db URL`` sets it), else the
default embedded file. Query results are cached for ``TTL`` seconds.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import streamlit as st

from provenance.display import md_text, shorten, visible, visible_deep
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
        st.error(md_text(exc))
        st.stop()


def _url() -> str:
    return os.environ.get("PROVENANCE_DB") or ""


@st.cache_data(ttl=TTL, show_spinner="Reading the store…")
def overview(db_key: str, flt: Any = None) -> dict[str, Any]:
    from provenance.reporting.dashboard import overview as q

    return q(store(), flt)


@st.cache_data(ttl=TTL, show_spinner="Reading the store…")
def product(db_key: str, name: str, flt: Any = None) -> dict[str, Any] | None:
    from provenance.reporting.product import product_view

    return product_view(store(), name, flt)


@st.cache_data(ttl=TTL, show_spinner=False)
def day_bounds(db_key: str) -> tuple[str | None, str | None]:
    from provenance.reporting.dashboard import day_bounds as q

    return q(store())


@st.cache_data(ttl=TTL, show_spinner="Writing the report…")
def report(db_key: str, fmt: str, flt: Any = None) -> str:
    """The audit report for the filter, as downloaded (md, html, json or csv)."""
    from provenance.reporting.report import build_report, render

    return render(build_report(store(), flt), fmt)


def store_label() -> str:
    """The store's URL with every credential removed (for the read-only banner)."""
    return str(store().url)


@st.cache_data(ttl=TTL, show_spinner=False)
def models(db_key: str, flt: Any = None) -> list[dict[str, Any]]:
    from provenance.store.queries import models_table

    if flt is None:
        return models_table(store())
    return models_table(
        store(),
        product=flt.product,
        since_day=flt.since_day,
        until_day=flt.until_day,
        provider=flt.provider,
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def timeline(db_key: str, flt: Any = None) -> list[dict[str, Any]]:
    from provenance.reporting.dashboard import model_timeline

    return model_timeline(store(), flt)


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


MAX_EXCHANGE_ID = 2**53 - 1  # the largest whole number a browser's number box holds exactly


def exchange_id(raw: str | None) -> int | None:
    """The exchange id in a query parameter: ASCII digits for a number from 1 to
    :data:`MAX_EXCHANGE_ID`; None for anything else (missing, ``0``, ``-1``, ``1.5``, ``abc``,
    other scripts' digits, spaces, larger numbers)."""
    if not raw or len(raw) > 16 or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_EXCHANGE_ID else None


def shown_id(raw: str) -> str:
    """A query parameter's value as given, cut to 40 characters, for a message."""
    return raw if len(raw) <= 40 else raw[:40] + "…"


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
        st.error(md_text(exc))
        st.stop()


# Rendering captured data. Everything a page shows from the store goes through one of these:
# Streamlit renders Markdown in text elements, labels and messages (links, images that load from
# remote hosts, colour directives), so captured text reaches it only escaped.


def md(value: Any) -> str:
    """Captured text for any Markdown-rendering element (markdown, labels, messages)."""
    return md_text(value)


def label(value: Any) -> str:
    """Captured text as a plain one-line label (selectbox options, chart fields)."""
    return shorten(visible(value), 200)


def frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame of ``rows`` whose text cells are shown literally (escapes, cut to length)."""
    table = pd.DataFrame(rows)
    if columns is not None and not table.empty:
        table = table[columns]
    for col in table.columns:
        if table[col].dtype == object:
            table[col] = table[col].map(_cell)
    return table


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return shorten(visible(value))
    if isinstance(value, list | tuple):
        return shorten(visible(", ".join(str(v) for v in value)))
    if isinstance(value, dict):
        return shorten(visible(str(value)))
    return value


def block(text: str, limit: int = 200_000) -> str:
    """A body for ``st.code``: line breaks kept, every other control character shown as an
    escape, cut to ``limit`` characters."""
    return "\n".join(visible(part) for part in shorten(text, limit).split("\n"))


EXCERPT = 160  # characters shown on each side of a model id found in a body


def excerpt(doc: dict[str, Any], observation: dict[str, Any]) -> str:
    """Markdown: the stored text around where ``observation``'s id was found, the id itself
    highlighted; empty when the id is not in the stored text (a header, or past the cap)."""
    model_id = observation["model_id"]
    role = observation.get("role") or "response"
    places = [doc.get(f"{role}_body") or ""]
    places.append(" ".join(f"{k}: {v}" for k, v in doc.get(f"{role}_headers") or []))
    places.append(doc.get("path") or "")
    for text in places:
        at = text.find(model_id)
        if at < 0:
            at = text.find(model_id.replace("/", "\\/"))  # as escaped in JSON text
        if at >= 0:
            before = text[max(0, at - EXCERPT) : at]
            after = text[at + len(model_id) : at + len(model_id) + EXCERPT]
            return (
                f"…{md_text(before)} :orange-background[**{md_text(model_id)}**] {md_text(after)}…"
            )
    return ""


def document(doc: Any) -> Any:
    """A JSON document for ``st.json`` with every string (keys too) shown literally."""
    return visible_deep(doc)
