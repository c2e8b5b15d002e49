"""The dashboard's pages, in one place: ``app.py`` navigates them, pages link to each other.

Links carry their target in query parameters (``product``, ``id``) and keep the filters of
:mod:`provenance.dashboards._filters`, so a URL can be shared and reopens the same view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

HERE = Path(__file__).resolve().parent


def pages() -> dict[str, Any]:
    """Page key → ``st.Page`` (the first is the landing page)."""
    p = HERE / "pages"
    return {
        "products": st.Page(p / "1_Products.py", title="Products", default=True),
        "product": st.Page(p / "5_Product.py", title="Product", url_path="product"),
        "exchange": st.Page(p / "6_Exchange.py", title="Exchange", url_path="exchange"),
        "models": st.Page(p / "2_Models.py", title="Models", url_path="models"),
        "fingerprints": st.Page(
            p / "3_Fingerprints.py", title="Fingerprints", url_path="fingerprints"
        ),
        "traffic": st.Page(p / "4_Traffic.py", title="Traffic", url_path="traffic"),
    }
