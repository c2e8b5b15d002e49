"""Fingerprints — tokenizer and logit runs, their channels, rankings, and a chart of scores."""

import altair as alt
import streamlit as st

from provenance.dashboards import _data as data
from provenance.dashboards import _filters as filters
from provenance.dashboards import _runs as channels
from provenance.reporting.runs import channel_text, notes_text

st.title("Fingerprint runs")
runs = data.guarded(data.runs, data.key())
if not runs:
    st.info("No fingerprint runs yet: `provenance fingerprint tokenizer URL --model NAME`.")
    st.stop()

st.dataframe(
    data.frame(
        [
            {
                "Run": r["id"],
                "Kind": r["kind"],
                "Started": r["started_at"],
                "Target": r["target"],
                "Model": r["model"],
                "Product": r["product"] or "",
                "Channel": channel_text(r["channel"]),
                "Verdict": r["verdict"] or "null",
                "Requests": r["requests"],
                "Notes": notes_text(r),
                "Reason": r["reason"] or "",
            }
            for r in runs
        ]
    ),
    hide_index=True,
    width="stretch",
)

by_id = {r["id"]: r for r in runs}
choice = st.selectbox(
    "Run",
    list(by_id),
    format_func=lambda i: data.label(
        f"#{i} {by_id[i]['kind']} → {by_id[i]['verdict'] or 'null'} ({by_id[i]['target']})"
    ),
)
run = by_id[choice]
if channels.worth_showing(run):
    channels.show_channel(run, filters.current().to_params())
ranking = data.frame(run["ranking"] or [])
if ranking.empty:
    st.info("This run has no ranking.")
    st.stop()
name = "tokenizer" if "tokenizer" in ranking.columns else "reference"
st.subheader("Score per candidate")
chart = (
    alt.Chart(ranking)
    .mark_bar()
    .encode(
        x=alt.X("score:Q", title="score"),
        y=alt.Y(f"{name}:N", sort="-x", title=name),
        color=alt.Color("status:N", title="status"),
        tooltip=[f"{name}:N", "score:Q", "status:N", "reason:N"],
    )
    .properties(height=max(120, 28 * len(ranking)))
)
st.altair_chart(chart, width="stretch")
st.dataframe(ranking, hide_index=True, width="stretch")
