"""Product — one product's verdict, the base model it ran on day by day, and its evidence.

Opened from the landing page with ``?product=NAME`` (and the filters); every model id links to
the first exchange that carries it, and every fingerprint run to the exchanges its channel used.
"""

import altair as alt
import pandas as pd
import streamlit as st

from provenance.dashboards import _data as data
from provenance.dashboards import _filters as filters
from provenance.dashboards import _runs as channels
from provenance.dashboards.nav import pages
from provenance.reporting.runs import channel_text, notes_text

flt = filters.sidebar()
names = data.guarded(data.options, data.key())["products"]
product = st.query_params.get("product") or (names[0] if names else None)
if product is None:
    st.info("No product in the store yet.")
    st.stop()
view = data.guarded(data.product, data.key(), product, flt)
if view is None:
    st.warning(f"No product named {data.md(product)} in the store.")
    st.stop()

v = view["verdict"]
st.title(data.md(v["product"]))
c1, c2, c3, c4 = st.columns(4)
c1.metric("Base model", data.label(v["family"] or "—"))
c2.metric("Confidence", f"{v['confidence']:.0%}" if v["family"] else "—")
c3.metric("Status", v["status"])
c4.metric("Exchanges", f"{v['exchanges']:,}")
if v["reference"]:
    st.caption(f"Closest local reference model: {data.md(v['reference'])}")

st.subheader("Why")
for reason in v["reasons"]:
    st.markdown(f"- {data.md(reason)}")
if v["conflicts"]:
    st.error("Conflicting evidence:\n\n" + "\n".join(f"- {data.md(c)}" for c in v["conflicts"]))

st.subheader("Base model per day")
daily = pd.DataFrame(view["daily"])
if daily.empty:
    st.caption("No model ids in this product's traffic for the filter.")
else:
    daily["family"] = daily["family"].map(data.label)
    bars = (
        alt.Chart(daily)
        .mark_bar()
        .encode(
            x=alt.X("day:O", title="day (UTC)"),
            y=alt.Y("exchanges:Q", title="exchanges", stack=True),
            color=alt.Color("family:N", title="family"),
            tooltip=["day:O", "family:N", "exchanges:Q"],
        )
    )
    switches = pd.DataFrame(
        [
            {"day": s["at"][:10], "switch": data.label(f"{s['from']} → {s['to']}")}
            for s in v["switches"]
        ]
    )
    chart = bars
    if not switches.empty:
        rules = (
            alt.Chart(switches)
            .mark_rule(color="#b00020", strokeDash=[4, 3])
            .encode(x="day:O", tooltip=["day:O", "switch:N"])
        )
        chart = bars + rules
    st.altair_chart(chart, width="stretch")
    for s in v["switches"]:
        st.warning(
            f"Switched from {data.md(s['from'])} to {data.md(s['to'])} on {data.md(s['at'][:10])}"
        )

st.subheader("Model ids seen")
if not view["ids"]:
    st.caption("No model id was seen in this product's traffic.")
else:
    st.dataframe(
        data.frame(
            [
                {
                    "model id": r["model_id"],
                    "family": r["family"] or "—",
                    "provider": r["provider"] or "—",
                    "found in": r["sources"],
                    "exchanges": r["requests"],
                    "first seen": r["first_seen"],
                    "last seen": r["last_seen"],
                }
                for r in view["ids"]
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    st.markdown("**Evidence** — the first exchange carrying each id:")
    for r in view["ids"]:
        if r["example"] is not None:
            st.page_link(
                pages()["exchange"],
                label=f"exchange {r['example']}: {data.md(r['model_id'])}",
                query_params={**flt.to_params(), "id": str(r["example"])},
            )

st.subheader("Fingerprint runs")
if not view["runs"]:
    st.caption("No fingerprint run names this product.")
else:
    st.dataframe(
        data.frame(
            [
                {
                    "run": r["id"],
                    "when": r["started_at"],
                    "kind": r["kind"],
                    "channel": channel_text(r["channel"]),
                    "target": r["target"],
                    "model": r["model"],
                    "verdict": r["verdict"] or "null",
                    "method": r["method"],
                    "requests": r["requests"],
                    "notes": notes_text(r),
                    "reason": r["reason"],
                }
                for r in view["runs"]
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    shown = [r for r in view["runs"] if channels.worth_showing(r)]
    if shown:
        st.markdown("**Channels** — the exchanges each run sent, replayed or matched:")
    for r in shown:
        channels.show_channel(r, flt.to_params())
