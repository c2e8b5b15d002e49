"""Traffic — filterable exchanges with redacted headers and bodies; latency and TTFB."""

import altair as alt
import pandas as pd
import streamlit as st

from provenance.dashboards import _data as data

st.title("Traffic")
opts = data.guarded(data.options, data.key())
c1, c2, c3, c4 = st.columns(4)
product = c1.selectbox("Product", ["(all)", *opts["products"]], format_func=data.label)
provider = c2.selectbox("Provider", ["(all)", *opts["providers"]], format_func=data.label)
model = c3.text_input("Model id (exact)")
since = c4.text_input("Since (ISO time or 7d, 12h)")
product = None if product == "(all)" else product
provider = None if provider == "(all)" else provider

rows = data.guarded(data.exchanges, data.key(), product, provider, model, since or None, 500)
if not rows:
    st.info("No exchanges match.")
    st.stop()
st.dataframe(
    data.frame(
        rows,
        [
            "id",
            "started_at",
            "product",
            "provider",
            "method",
            "host",
            "path",
            "status",
            "models",
            "streamed",
            "latency_ms",
            "ttfb_ms",
            "input_tokens",
            "output_tokens",
        ],
    ),
    hide_index=True,
    width="stretch",
)

times = pd.DataFrame(data.guarded(data.timings, data.key(), product, provider))
if not times.empty:
    long = times.melt(
        id_vars=["streamed"],
        value_vars=["latency_ms", "ttfb_ms"],
        var_name="measure",
        value_name="ms",
    ).dropna()
    if not long.empty:
        st.subheader("Latency and time to first byte")
        chart = (
            alt.Chart(long)
            .mark_bar(opacity=0.7)
            .encode(
                x=alt.X("ms:Q", bin=alt.Bin(maxbins=40), title="milliseconds"),
                y=alt.Y("count():Q", stack=None, title="exchanges"),
                color=alt.Color("measure:N"),
            )
            .properties(height=260)
        )
        st.altair_chart(chart, width="stretch")

st.subheader("One exchange (redacted)")
chosen = st.selectbox("Exchange", [r["id"] for r in rows])
doc = data.exchange(int(chosen))
if doc is not None:
    st.json(data.document(doc), expanded=1)
