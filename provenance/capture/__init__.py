"""The live-capture side of provenance: what the mitmproxy addon (``addons/capture.py``) calls.

- :mod:`provenance.capture.options` — options: body cap, proxy mode, listen address.
- :mod:`provenance.capture.convert` — ``HTTPFlow`` → ``RawExchange``.
- :mod:`provenance.capture.tee` — the per-flow streaming tee (``flow.response.stream`` callable).
- :mod:`provenance.capture.session` — store, writer, redactor; one method per hook.
- :mod:`provenance.capture.launcher` — runs mitmproxy in-process for ``provenance capture``.
"""
