"""provenance audit dashboard: which base model each product runs on, and why.

Run with ``provenance dashboard [--db URL]`` or ``streamlit run dashboards/app.py``.
"""

from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="provenance — base-model audit", layout="wide")
navigation = st.navigation(
    [
        st.Page(HERE / "pages" / "1_Products.py", title="Products", default=True),
        st.Page(HERE / "pages" / "2_Models.py", title="Models", url_path="models"),
        st.Page(
            HERE / "pages" / "3_Fingerprints.py", title="Fingerprints", url_path="fingerprints"
        ),
        st.Page(HERE / "pages" / "4_Traffic.py", title="Traffic", url_path="traffic"),
    ]
)
navigation.run()
