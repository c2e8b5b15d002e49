"""The filters every page shares: a UTC day range, a product and a provider, kept in the URL.

:func:`sidebar` reads the filter from the page's query parameters, shows it in the sidebar and
writes any change back to them; links between pages carry the same parameters, and the session
remembers the last filter for pages opened from the navigation (which drops query parameters),
so the filter persists from page to page and a copied URL reopens the same view.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from provenance.dashboards import _data as data
from provenance.reporting.filters import PARAMS, AuditFilter

ALL = "(all)"


_STATE = "provenance_audit_filter"


def current() -> AuditFilter:
    """The filter in the URL (unreadable values dropped); when the URL has none — the sidebar's
    page navigation drops query parameters — the one this session last used."""
    if any(k in st.query_params for k in PARAMS):
        return AuditFilter.from_params({k: st.query_params.get(k) for k in PARAMS})
    return st.session_state.get(_STATE) or AuditFilter()


def sidebar() -> AuditFilter:
    """Show the filter in the sidebar; return it (as changed by the reader)."""
    flt = current()
    opts = data.guarded(data.options, data.key())
    bounds = data.guarded(data.day_bounds, data.key())
    with st.sidebar:
        st.header("Filter")
        first = date.fromisoformat(bounds[0]) if bounds[0] else date.today()
        last = date.fromisoformat(bounds[1]) if bounds[1] else date.today()
        picked = st.date_input(
            "Days (UTC)",
            value=(flt.since or first, flt.until or last),
            min_value=min(first, flt.since or first),
            max_value=max(last, flt.until or last),
            key="flt_days",
        )
        # a name from the URL that the store does not hold stays selected (the page says so)
        products = [ALL, *opts["products"], *_unknown(flt.product, opts["products"])]
        providers = [ALL, *opts["providers"], *_unknown(flt.provider, opts["providers"])]
        product = st.selectbox(
            "Product",
            products,
            index=products.index(flt.product) if flt.product in products else 0,
            format_func=data.label,
            key="flt_product",
        )
        provider = st.selectbox(
            "Provider",
            providers,
            index=providers.index(flt.provider) if flt.provider in providers else 0,
            format_func=data.label,
            key="flt_provider",
        )
    days = list(picked) if isinstance(picked, list | tuple) else [picked]
    since, until = [*days, None, None][:2]
    chosen = AuditFilter(
        since=since if since and since != first else None,
        until=until if until and until != last else None,
        product=None if product == ALL else product,
        provider=None if provider == ALL else provider,
    )
    st.session_state[_STATE] = chosen
    if chosen.to_params() != {k: st.query_params[k] for k in PARAMS if k in st.query_params}:
        for k in PARAMS:
            st.query_params.pop(k, None)
        st.query_params.update(chosen.to_params())  # the URL shows (and shares) the filter
    return chosen


def _unknown(name: str | None, known: list[str]) -> list[str]:
    return [name] if name is not None and name not in known else []
