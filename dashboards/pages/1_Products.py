"""Products — the landing page: each product, the base model it runs on, how sure, and why."""

import streamlit as st

from provenance.dashboards import _data as data
from provenance.dashboards import _filters as filters
from provenance.dashboards.nav import pages

flt = filters.sidebar()
st.title("Which base model does each product run on?")
if not flt.empty:
    st.caption(f"Filtered: {data.md(flt.describe())}")
view = data.guarded(data.overview, data.key(), flt)
if view["exchanges"] == 0 and not view["products"]:
    st.info(
        "The store is empty. Capture traffic with `provenance capture`, import a HAR, flow or "
        "pcap file with `provenance import`, or run `provenance fingerprint` against an endpoint."
    )
    st.stop()

c1, c2, c3, c4 = st.columns(4)
c1.metric("Products", len(view["products"]))
c2.metric("Identified", view["identified"])
c3.metric("Conflicts", view["conflicts"])
c4.metric("Exchanges", f"{view['exchanges']:,}")

table = data.frame(
    [
        {
            "Product": p["product"],
            "Base model": p["family"] or "—",
            "Reference": p["reference"] or "",
            "Confidence": p["confidence"],
            "Status": p["status"],
            "Evidence": ", ".join(p["evidence_kinds"]),
            "Exchanges": p["exchanges"],
            "First seen": p["first_seen"],
            "Last seen": p["last_seen"],
        }
        for p in view["products"]
    ]
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "Confidence": st.column_config.ProgressColumn(
            "Confidence", min_value=0.0, max_value=1.0, format="percent"
        )
    },
)
st.caption(
    "Confidence is the noisy-OR of the weights of the agreeing evidence (an id in a response 0.9, "
    "logits 0.8, an id in a request 0.7, tokenizer 0.6, passive tokenizer fit and stream "
    "boundaries 0.4): a ranking "
    "of how much independent, direct evidence agrees, not a calibrated probability."
)

st.subheader("Products")
for p in view["products"]:
    st.page_link(
        pages()["product"],
        label=f"{data.md(p['product'])}: {data.md(p['family'] or p['status'])} (evidence)",
        query_params={**flt.to_params(), "product": p["product"]},
    )

st.subheader("Download the audit report")
st.caption(f"For {data.md(flt.describe())}; the HTML file is self-contained and printable.")
cols = st.columns(4)
for col, (fmt, mime) in zip(
    cols,
    [("html", "text/html"), ("md", "text/markdown"), ("json", "application/json"),
     ("csv", "text/csv")],
    strict=True,
):  # fmt: skip
    col.download_button(
        f"Report ({fmt.upper()})",
        data=lambda fmt=fmt: data.report(data.key(), fmt, flt),  # built on click only
        file_name=f"provenance-audit.{fmt}",
        mime=mime,
        key=f"download-{fmt}",
        on_click="ignore",
    )

st.subheader("Why")
for p in view["products"]:
    label = f"{data.md(p['product'])} → {data.md(p['family'] or p['status'])}"
    if p["family"]:
        label += f" ({p['confidence']:.0%})"
    with st.expander(label):
        for reason in p["reasons"]:
            st.markdown(f"- {data.md(reason)}")
        if p["conflicts"]:
            st.error(
                "Conflicting evidence:\n\n" + "\n".join(f"- {data.md(c)}" for c in p["conflicts"])
            )
        for sw in p["switches"]:
            st.warning(
                f"Switched from {data.md(sw['from'])} to {data.md(sw['to'])} "
                f"on {data.md(sw['at'][:10])}"
            )
