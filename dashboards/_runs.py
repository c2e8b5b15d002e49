"""A fingerprint run's channel on the pages that list runs (Product, Fingerprints).

:func:`show_channel` says how the run reached the model (``api``, a replay of a stored exchange,
or guided through the product's own client), links each exchange it used to the Exchange page
(the template a replay re-sent, then the probes it stored or a guided run matched), and shows
what the run's document says about usage and a partial run. Every value from the store goes
through :mod:`._data`'s renderers.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from provenance.dashboards import _data as data
from provenance.dashboards.nav import pages
from provenance.reporting.runs import channel_text, partial_text, usage_text

LINKS_PER_ROW = 6


def worth_showing(run: dict[str, Any]) -> bool:
    """Whether the run has exchanges to link or a note beyond the table's row."""
    channel = run["channel"] or {}
    return bool(
        channel.get("exchanges")
        or channel.get("template_exchange")
        or run["usage_reported"] is False
        or partial_text(run)
    )


def _links(channel: dict[str, Any] | None) -> list[tuple[int, str]]:
    if not channel:
        return []
    out = []
    if channel["template_exchange"] is not None:
        out.append(
            (channel["template_exchange"], f"template: exchange {channel['template_exchange']}")
        )
    noun = "matched" if channel["kind"] == "guided" else "probe"
    out += [(i, f"{noun}: exchange {i}") for i in channel["exchanges"]]
    return out


def _details(channel: dict[str, Any] | None, target: str | None) -> str:
    if not channel:
        return ""
    parts = [f"target {channel.get('target') or target or '—'}"]
    if channel.get("prompt_at"):
        parts.append(f"prompt at {channel['prompt_at']}")
    if channel.get("format"):
        parts.append(f"format {channel['format']}")
    if channel.get("history_trimmed"):
        parts.append(f"history trimmed: {channel['history_trimmed']} turns")
    return ", ".join(str(p) for p in parts)


def show_channel(run: dict[str, Any], params: dict[str, str]) -> None:
    """One bordered block for ``run``: its channel, notes and exchange links (the links carry
    ``params``, the page's filter)."""
    channel = run["channel"]
    with st.container(border=True):
        st.markdown(
            f"**Run {run['id']}** ({data.md(run['kind'])}, {data.md(run['started_at'])}, "
            f"verdict {data.md(run['verdict'] or 'null')}): {data.md(channel_text(channel))}"
        )
        details = _details(channel, run["target"])
        if details:
            st.caption(data.md(details))
        if run["usage_reported"] is False:
            st.info(data.md(usage_text(run)))
        partial = partial_text(run)
        if partial:
            st.warning(data.md(partial))
        links = _links(channel)
        for start in range(0, len(links), LINKS_PER_ROW):
            columns = st.columns(LINKS_PER_ROW)
            for column, (exchange, label) in zip(
                columns, links[start : start + LINKS_PER_ROW], strict=False
            ):
                column.page_link(
                    pages()["exchange"], label=label, query_params={**params, "id": str(exchange)}
                )
