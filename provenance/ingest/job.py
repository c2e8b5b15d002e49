"""What a source hands to the funnel: one HTTP exchange, or one WebSocket session.

A :class:`Job` pickles (it crosses the pipe to the extraction process): every field is plain
data. Exactly one of :attr:`Job.websocket` (a live session's finished tap) and
:attr:`Job.messages` (a recorded session's messages, fed in order) is set for a WebSocket
session; neither for an HTTP exchange.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from provenance.records import RawExchange

if TYPE_CHECKING:
    from provenance.extract import TapResult
    from provenance.extract.websocket import WebSocketResult

# (content, from_client, is_text): a whole WebSocket message, as mitmproxy and the tap see it
Message = tuple[bytes | str, bool, bool]


@dataclass(slots=True)
class Job:
    """One exchange to extract and store.

    ``raw`` is the exchange (for a WebSocket session: the upgrade handshake). ``request_tap`` /
    ``response_tap`` are body taps a live capture fed while streaming (the matching raw body is
    then not parsed again). ``extra_errors`` are the source's own notes on the exchange (a tee
    that failed, a stream cut short), stored as parse errors.
    """

    raw: RawExchange
    request_tap: TapResult | None = None
    response_tap: TapResult | None = None
    websocket: WebSocketResult | None = None
    messages: Iterable[Message] | None = None
    extra_errors: list[str] = field(default_factory=list)

    @property
    def is_websocket(self) -> bool:
        return self.websocket is not None or self.messages is not None
