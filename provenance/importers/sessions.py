"""What an importer hands to extraction: one HTTP exchange, or one WebSocket session.

A recorded WebSocket session (a mitmproxy flow with ``flow.websocket``, a browser HAR entry
with ``_webSocketMessages``) becomes one exchange exactly as in live capture: every message is
fed, in order, to a :class:`~provenance.extract.websocket.WebSocketTap` (its log capped at
``max_body``) and the handshake plus ``tap.finish()`` go through
:func:`~provenance.extract.websocket.extract_websocket`, with the same redaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provenance.records import ExchangeRecord, RawExchange

if TYPE_CHECKING:
    from provenance.extract import ExtractOptions

# (content, from_client, is_text): a whole message, as mitmproxy and the tap see it
Message = tuple[bytes | str, bool, bool]


@dataclass(slots=True)
class ImportItem:
    """``raw`` is the exchange (for a WebSocket session: the upgrade handshake, bodies None);
    ``messages`` the session's messages in order, or None for a plain HTTP exchange."""

    raw: RawExchange
    messages: Iterable[Message] | None = None


def to_record(item: ImportItem, *, redactor: Any, options: ExtractOptions) -> ExchangeRecord:
    """The redacted record for one item, through the same functions as live capture. Never
    raises: a failure inside extraction keeps a bare row with the error as a parse error."""
    from provenance.capture.session import bare_record
    from provenance.extract import extract
    from provenance.extract.websocket import WebSocketTap, extract_websocket

    try:
        if item.messages is None:
            return extract(item.raw, redactor=redactor, options=options)
        tap = WebSocketTap(url=item.raw.url, max_log=options.max_body)
        for content, from_client, is_text in item.messages:
            tap.feed(content, from_client, is_text)
        return extract_websocket(item.raw, tap.finish(), redactor=redactor, options=options)
    except Exception as exc:  # both promise not to raise; keep the row if they do
        return bare_record(item.raw, redactor, f"extraction failed: {type(exc).__name__}")
