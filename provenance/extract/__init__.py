"""Extraction: from the bytes of an exchange to model ids, usage and a redacted record.

Public API:

- :func:`extract` (``raw, *, redactor, options, request_tap, response_tap``) →
  :class:`~provenance.records.ExchangeRecord`; never raises.
- :class:`ExtractOptions` (``keep_bodies``, ``max_body``).
- :class:`BodyTap` (``feed``/``finish``) → :class:`TapResult`; :func:`tap_body` for a whole body.

- :class:`~provenance.extract.websocket.WebSocketTap` (``feed(message, from_client, is_text)``
  / ``finish``) and :func:`~provenance.extract.websocket.extract_websocket` → one record per
  WebSocket session (OpenAI Realtime, Gemini Live).

Building blocks, one module per wire format: :mod:`.decode` (Content-Encoding, bomb cap),
:mod:`.sse`, :mod:`.envelope` (Connect/gRPC/gRPC-web), :mod:`.eventstream` (AWS event stream)
and :mod:`.bedrock` (what Bedrock puts in it), :mod:`.jsonstream` (JSON array stream, NDJSON),
:mod:`.protobuf` (schema-less walk), :mod:`.rpcmaps` (secret field paths and model enums per
RPC, from ``fingerprints/protobuf_*.json``), :mod:`.documents` (provider JSON parsers),
:mod:`.usage` (normalisation), :mod:`.locate` (URL and header ids, API detection),
:mod:`.websocket` (sessions). What is stored of a body is redacted by
:mod:`provenance.redact.bodies` (secrets split across stream frames:
:mod:`provenance.redact.fragments`).
"""

from __future__ import annotations

from provenance.extract.pipeline import ExtractOptions, extract
from provenance.extract.tap import BodyTap, TapResult, tap_body

__all__ = ["BodyTap", "ExtractOptions", "TapResult", "extract", "tap_body"]
