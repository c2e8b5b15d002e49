"""The Streamlit audit dashboard: `provenance dashboard` or `streamlit run dashboards/app.py`."""
