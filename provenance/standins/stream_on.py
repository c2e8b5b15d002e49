"""Plain mitmproxy with streaming on: every response body is streamed, never buffered.

    mitmdump -s provenance/standins/stream_on.py

The baseline for the capture proxy's streaming figures (time to first chunk, inter-chunk delay).
"""

from __future__ import annotations

from typing import Any


class StreamOn:
    def responseheaders(self, flow: Any) -> None:
        if flow.response is not None:
            flow.response.stream = True


addons = [StreamOn()]
