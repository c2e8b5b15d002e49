"""Exchange — one stored exchange, redacted, as ``provenance exchanges show N`` prints it, with
each model id highlighted where it was found.

Opened with ``?id=N`` (from a product's evidence, or typed in). An id that is not one (``0``,
``-1``, ``abc``, a number beyond what the page's number box holds) or none at all is a message
on the page, never an exception.
"""

import streamlit as st

from provenance.dashboards import _data as data
from provenance.dashboards import _filters as filters
from provenance.dashboards.nav import pages

flt = filters.sidebar()
raw_id = st.query_params.get("id", "")
wanted = data.exchange_id(raw_id)
chosen = st.number_input(
    "Exchange id",
    min_value=1,
    max_value=data.MAX_EXCHANGE_ID,
    step=1,
    value=wanted,
    placeholder="an exchange id, e.g. 1",
)
if chosen is None:
    if raw_id:
        st.warning(
            f"No exchange with id {data.md(data.shown_id(raw_id))}: an exchange id is a whole "
            f"number from 1 to {data.MAX_EXCHANGE_ID:,}."
        )
    else:
        st.info("Type an exchange id above, or open one from a product's evidence.")
    st.stop()
if str(chosen) != raw_id:
    st.query_params["id"] = str(chosen)
doc = data.guarded(data.exchange, int(chosen))
if doc is None:
    st.warning(f"No exchange with id {int(chosen)} in the store.")
    st.stop()

st.title(f"Exchange {doc['id']}")
if doc["product"]:
    st.page_link(
        pages()["product"],
        label=f"product: {data.md(doc['product'])}",
        query_params={**flt.to_params(), "product": doc["product"]},
    )
c1, c2, c3, c4 = st.columns(4)
c1.metric("Status", doc["status"] if doc["status"] is not None else "—")
c2.metric("Provider", data.label(doc["provider"] or "—"))
c3.metric("Latency", f"{doc['latency_ms']:.0f} ms" if doc["latency_ms"] is not None else "—")
c4.metric("First byte", f"{doc['ttfb_ms']:.0f} ms" if doc["ttfb_ms"] is not None else "—")
where = doc["scheme"] + "://" + doc["host"] + doc["path"]
st.markdown(
    f"{data.md(doc['method'])} {data.md(where)}  \n"
    f"started {data.md(doc['started_at'])}, origin {data.md(doc['origin'])}, "
    f"client JA4 {data.md(doc['client_ja4'] or '—')}"
)

st.subheader("Model ids found")
for obs in doc["observations"]:
    excerpt = data.excerpt(doc, obs)
    st.markdown(
        f"**{data.md(obs['model_id'])}** — {data.md(obs['source'])} at "
        f"{data.md(obs['location'])} ({data.md(obs['role'])})"
        + (f"\n\n> {excerpt}" if excerpt else "")
    )
if not doc["observations"]:
    st.caption("No model id in this exchange.")

st.subheader("Usage")
usage = {k: v for k, v in doc["usage"].items() if k != "raw" and v is not None}
st.dataframe(
    data.frame([usage]) if usage else data.frame([{"usage": "none reported"}]), hide_index=True
)

for role in ("request", "response"):
    st.subheader(role.capitalize())
    st.caption(
        f"{doc[role + '_size'] or 0:,} bytes, SHA-256 {data.label(doc[role + '_digest'] or '—')}"
        + (" — kept only up to the body cap" if doc["bodies_truncated"] else "")
    )
    st.dataframe(
        data.frame([{"header": k, "value": v} for k, v in doc[role + "_headers"]]),
        hide_index=True,
        width="stretch",
    )
    body = doc[role + "_body"]
    if body:
        st.code(data.block(body), language=None)

if doc["parse_errors"]:
    st.subheader("Parse errors")
    for err in doc["parse_errors"]:
        st.markdown(f"- {data.md(err)}")
