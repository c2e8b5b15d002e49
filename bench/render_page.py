"""Time one cold render of a dashboard page with ``streamlit.testing.v1.AppTest``.

    python -m bench.render_page DB_URL [PAGE] [KEY=VALUE ...]   # prints one JSON line

``KEY=VALUE`` pairs are the page's query parameters (``product=cursor``, ``id=42``).

Run in a fresh process per measurement, so Streamlit's caches start empty (a cold landing page,
what a user opening the dashboard waits for). ``seconds`` covers ``AppTest.run()`` only (the
page's queries and its rendering), not the interpreter start or the imports; ``warm_seconds`` is
a second run in the same process (served from ``st.cache_data``). A trivial page is run first,
so Streamlit's one-off start-up work (scanning installed packages for components) is not counted.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

PAGES = Path(__file__).resolve().parents[1] / "dashboards" / "pages"


def main() -> None:
    url = sys.argv[1]
    page = sys.argv[2] if len(sys.argv) > 2 else "1_Products.py"
    params = dict(arg.split("=", 1) for arg in sys.argv[3:])
    os.environ["PROVENANCE_DB"] = url
    import pandas  # noqa: F401  (imported before timing: the page imports it)
    from streamlit.testing.v1 import AppTest

    import provenance.reporting.dashboard
    import provenance.verdicts.collect  # noqa: F401

    # Streamlit's first AppTest run in a process scans every installed package for components
    # (seconds, once per server start, not per page view): do it on an empty page first.
    AppTest.from_string("import streamlit as st\nst.write('warm-up')", default_timeout=300).run()
    at = AppTest.from_file(str(PAGES / page), default_timeout=900)
    for key, value in params.items():
        at.query_params[key] = value
    start = time.perf_counter()
    at.run()
    cold = time.perf_counter() - start
    errors = [e.message for e in at.exception]
    shown = {}
    if not errors and at.metric:
        shown = {m.label: m.value for m in at.metric}
    if not errors and not at.title:
        errors = ["the page showed no title"]
    start = time.perf_counter()
    at.run()
    warm = time.perf_counter() - start
    print(json.dumps({"seconds": cold, "warm_seconds": warm, "errors": errors, "metrics": shown}))


if __name__ == "__main__":
    main()
