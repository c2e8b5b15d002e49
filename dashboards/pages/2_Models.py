"""Models — every observed raw model id, its family, vendor, provider and traffic over time."""

import altair as alt
import streamlit as st

from provenance.dashboards import _data as data
from provenance.dashboards import _filters as filters

flt = filters.sidebar()
st.title("Observed model ids")
if not flt.empty:
    st.caption(f"Filtered: {data.md(flt.describe())}")
rows = data.guarded(data.models, data.key(), flt)
if not rows:
    st.info("No model ids observed yet.")
    st.stop()

st.dataframe(
    data.frame(
        rows,
        [
            "product",
            "provider",
            "model_id",
            "family",
            "vendor",
            "requests",
            "sources",
            "first_seen",
            "last_seen",
        ],
    ),
    hide_index=True,
    width="stretch",
)

timeline = data.frame(data.guarded(data.timeline, data.key(), flt))
if not timeline.empty:
    st.subheader("Exchanges per day")
    chart = (
        alt.Chart(timeline)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="day"),
            y=alt.Y("exchanges:Q", title="exchanges"),
            color=alt.Color("model_id:N", title="model id"),
            tooltip=["day:T", "model_id:N", "exchanges:Q"],
        )
        .properties(height=320)
    )
    st.altair_chart(chart, width="stretch")
