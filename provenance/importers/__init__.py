"""Importers: recorded traffic → the same extraction and redaction as live capture.

- :mod:`provenance.importers.detect` — what a file is, by its first bytes (not its name).
- :mod:`provenance.importers.har` — a streaming HAR reader (memory bounded by the largest entry).
- :mod:`provenance.importers.flows` — mitmproxy flow files via ``mitmproxy.io.FlowReader``.
- :mod:`provenance.importers.run` — import files into a store and summarise what happened.
"""
