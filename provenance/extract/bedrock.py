"""AWS Bedrock event-stream messages → the JSON documents inside them.

Two streaming APIs share the :mod:`~provenance.extract.eventstream` framing:

* ``InvokeModelWithResponseStream``: ``:event-type=chunk`` messages whose payload is
  ``{"bytes": "<base64>"}``; the base64 holds the model's own JSON chunk (Anthropic's
  ``message_start`` … ``message_stop``, Llama's ``{"generation": …}``, Nova's
  ``{"contentBlockDelta": …}``, Titan's ``{"outputText": …}``), and the last chunk adds
  ``amazon-bedrock-invocationMetrics``.
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html
* ``ConverseStream``: the payload is the event member itself, named by ``:event-type``
  (``messageStart``, ``contentBlockDelta``, ``messageStop``, ``metadata`` with ``usage`` and
  ``metrics``).
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html

``:message-type=exception`` messages (``:exception-type`` names the error, the payload is
``{"message": …}``) and ``:message-type=error`` (``:error-code`` / ``:error-message``
headers) are reported by type only: their text can quote the request.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from provenance.extract.eventstream import EventMessage

_MAX_INNER = 16 * 1024 * 1024


@dataclass(slots=True)
class BedrockEvent:
    """What one message holds: ``documents`` as ``(json_value, label)`` to scan for ids and
    usage (``label`` prefixes locations, e.g. ``chunk``); ``projection`` a JSON-able summary
    for the stored body text; ``exception`` the exception/error type, if any; ``errors``."""

    documents: list[tuple[object, str]] = field(default_factory=list)
    projection: dict[str, object] = field(default_factory=dict)
    exception: str | None = None
    errors: list[str] = field(default_factory=list)


def _json(data: bytes) -> tuple[object | None, bool]:
    try:
        return json.loads(data), True
    except (ValueError, RecursionError):
        return None, False


def interpret(message: EventMessage) -> BedrockEvent:
    """Decode one event-stream message as Bedrock sends it. Never raises."""
    out = BedrockEvent()
    kind = message.message_type or "event"
    name = message.event_type
    out.projection = {"event": name, "message_type": kind}
    if kind in ("exception", "error"):
        out.exception = name or kind
        if kind == "error":
            text = message.header(":error-message")
            if isinstance(text, str):
                out.projection["error_message"] = text
    payload = message.payload
    if not payload.strip():
        return out
    doc, ok = _json(payload)
    if not ok:
        out.errors.append("event-stream payload is not JSON")
        out.projection["payload_bytes"] = len(payload)
        return out
    out.projection["payload"] = doc
    if kind in ("exception", "error"):
        return out
    label = name or "event"
    encoded = doc.get("bytes") if isinstance(doc, dict) else None
    if isinstance(encoded, str):
        inner = _inner(encoded, out)
        if inner is not None:
            out.projection["payload"] = {k: v for k, v in doc.items() if k != "bytes"}
            out.projection["bytes"] = inner
            out.documents.append((inner, label))
        return out
    out.documents.append((doc, label))
    return out


def _inner(encoded: str, out: BedrockEvent) -> object | None:
    if len(encoded) > _MAX_INNER * 4 // 3 + 4:
        out.errors.append("event-stream chunk larger than the cap: not decoded")
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        out.errors.append("invalid base64 in an event-stream chunk")
        return None
    inner, ok = _json(raw)
    if not ok:
        out.errors.append("event-stream chunk bytes are not JSON")
        return None
    return inner
