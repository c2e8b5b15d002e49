"""provenance audit dashboard: which base model each product runs on, and why.

Run with ``provenance dashboard [--db URL]`` (which serves it behind the request guard, see
``serve.py``) or ``streamlit run dashboards/app.py`` (with ``PROVENANCE_DB`` set). Read-only:
nothing on any page writes to the store.
"""

import streamlit as st

from provenance.dashboards import _data as data
from provenance.dashboards.nav import pages

st.set_page_config(page_title="provenance — base-model audit", layout="wide")
navigation = st.navigation(list(pages().values()))
st.caption(f"Read-only view of {data.md(data.store_label())}")
navigation.run()
