"""HAR 1.2 files → :class:`~provenance.records.RawExchange`, streamed entry by entry.

Entries are read with :func:`~provenance.importers.jsonstream.iter_array_items` over
``log.entries``, so memory is bounded by the largest entry, not the file. HAR bodies
(``postData.text``, ``content.text``) are already decoded by the tool that wrote them, so the
``Content-Encoding`` header is dropped before extraction (it no longer describes the body);
``encoding: base64`` bodies are decoded. Time to first byte is HAR's ``timings.wait`` (request
sent → first response byte); latency is the entry's ``time``. A WebSocket entry (Chrome's
``_webSocketMessages``) becomes its handshake plus its messages (:func:`har_item`), stored as
one session like live capture stores it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

from provenance.capture.tee import is_stream_content_type
from provenance.importers.jsonstream import BadItem, iter_array_items
from provenance.ingest import Job, Message
from provenance.records import Headers, Origin, RawExchange


class SkipEntry(Exception):
    """This entry is not an HTTP exchange we import; ``str()`` is the reason (for the summary)."""


def iter_har_entries(fileobj: IO[bytes]) -> Iterator[Any]:
    """Yield the raw ``log.entries`` items; ``JsonStreamError`` for a malformed file."""
    yield from iter_array_items(fileobj, ("log", "entries"))


def _headers(value: Any) -> Headers:
    out: Headers = []
    if not isinstance(value, list):
        return out
    for item in value:
        if isinstance(item, dict):
            name, val = item.get("name"), item.get("value")
        elif isinstance(item, list | tuple) and len(item) == 2:
            name, val = item
        else:
            continue
        if not isinstance(name, str) or name.startswith(":"):  # HTTP/2 pseudo-headers
            continue
        out.append((name, "" if val is None else str(val)))
    return out


def _body(container: Any) -> bytes | None:
    if not isinstance(container, dict):
        return None
    text = container.get("text")
    if not isinstance(text, str) or text == "":
        return None
    if container.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            return text.encode("utf-8", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


UNDATED = "HAR entry has no readable startedDateTime"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _started(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
        return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def undated(raw: RawExchange) -> bool:
    """True for an exchange whose HAR entry had no readable time (see :func:`date_in_order`)."""
    return any(n.startswith(UNDATED) for n in raw.notes)


def date_in_order(items: Iterator[Job]) -> Iterator[Job]:
    """Give undated entries the time of the entry before them (the next one, for leading
    entries), so they keep the file's order; never today's date, since the dates of switches
    between base models are evidence. Entries of a file with no readable time at all get
    1970-01-01. Each such exchange keeps a parse error saying so."""
    pending: list[Job] = []
    last: datetime | None = None
    for item in items:
        if not undated(item.raw):
            last = item.raw.started_at
            for held in pending:
                held.raw.started_at = last
                yield held
            pending.clear()
        elif last is None:
            pending.append(item)
            continue
        else:
            item.raw.started_at = last
        yield item
    for held in pending:
        yield held


def _content_type(headers: Headers) -> str | None:
    for name, value in headers:
        if name.lower() == "content-type":
            return value
    return None


def raw_exchange_from_har_entry(entry: Any, *, product: str | None = None) -> RawExchange:
    """One HAR entry → RawExchange; raises :class:`SkipEntry` for what is not importable."""
    if not isinstance(entry, dict):
        raise SkipEntry("malformed entry (not an object)")
    request = entry.get("request")
    response = entry.get("response")
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise SkipEntry("malformed entry (no request URL)")
    url = request["url"]
    websocket = is_websocket_entry(entry)
    schemes = ("http://", "https://", "ws://", "wss://") if websocket else ("http://", "https://")
    if not url.lower().startswith(schemes):
        raise SkipEntry("not an HTTP(S) URL")
    if websocket and url[:3].lower() in ("ws:", "wss"):  # stored as live capture sees it
        url = ("https" if url[2:3].lower() == "s" else "http") + url[url.index(":") :]
    response = response if isinstance(response, dict) else {}
    status = response.get("status")
    status = status if isinstance(status, int) and status > 0 else None
    req_headers = _headers(request.get("headers"))  # a HAR holds bodies decoded: the
    resp_headers = _headers(response.get("headers"))  # encoding is evidence, not applied
    content = response.get("content")
    mime = content.get("mimeType") if isinstance(content, dict) else None
    error = None
    if status is None:
        reason = response.get("_error") or entry.get("_error")
        error = f"no response in the HAR ({reason})" if isinstance(reason, str) else None
        error = error or "no response in the HAR (status 0)"
    timings = entry.get("timings") if isinstance(entry.get("timings"), dict) else {}
    started = _started(entry.get("startedDateTime"))
    notes = []
    if started is None:
        shown = str(entry.get("startedDateTime"))[:40]
        notes.append(f"{UNDATED} ({shown!r}); dated like its neighbour to keep the file's order")
    return RawExchange(
        started_at=started or _EPOCH,
        method=str(request.get("method") or "GET").upper(),
        url=url,
        request_headers=req_headers,
        request_body=None if websocket else _body(request.get("postData")),
        status=status,
        response_headers=resp_headers,
        response_body=None if websocket else _body(content),
        latency_ms=_number(entry.get("time")),
        ttfb_ms=_number(timings.get("wait")),
        streamed=websocket or is_stream_content_type(_content_type(resp_headers) or mime),
        http_version=str(request.get("httpVersion") or "") or None,
        origin=Origin.HAR,
        product=product,
        error=error,
        notes=notes,
        bodies_decoded=True,
        request_wire_size=_wire_size(request),
        response_wire_size=_wire_size(response),
    )


def _wire_size(message: dict[str, Any]) -> int | None:
    """HAR's ``bodySize`` (bytes on the wire) when it is a real figure: -1 means unknown, and
    browsers write 0 for a body served from cache, so 0 counts only for an empty body."""
    size = message.get("bodySize")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return None
    if size == 0:
        body = message.get("content") or message.get("postData")
        text = body.get("text") if isinstance(body, dict) else None
        return 0 if not text else None
    return size


def is_websocket_entry(entry: Any) -> bool:
    """A WebSocket session: Chrome marks it ``_resourceType: websocket`` and records its
    messages in ``_webSocketMessages``; any tool's entry answered ``101`` is one too."""
    if not isinstance(entry, dict):
        return False
    if entry.get("_resourceType") == "websocket" or "_webSocketMessages" in entry:
        return True
    response = entry.get("response")
    return isinstance(response, dict) and response.get("status") == 101


def har_messages(entry: Any) -> Iterator[Message]:
    """The messages of a WebSocket entry, in order, as ``(content, from_client, is_text)``.

    Chrome writes ``{"type": "send"|"receive", "time": …, "opcode": 1|2, "data": …}``: opcode 1
    is a text message, 2 a binary one whose ``data`` is base64. Other opcodes and malformed
    items are skipped; never raises.
    """
    items = entry.get("_webSocketMessages") if isinstance(entry, dict) else None
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict) or item.get("type") not in ("send", "receive"):
            continue
        data, opcode = item.get("data"), item.get("opcode", 1)
        if not isinstance(data, str):
            continue
        from_client = item["type"] == "send"
        if opcode == 1:
            yield data, from_client, True
        elif opcode == 2:
            try:
                yield base64.b64decode(data, validate=False), from_client, False
            except (binascii.Error, ValueError):
                continue


def har_item(entry: Any, *, product: str | None = None) -> Job:
    """One HAR entry → an :class:`Job` (a WebSocket entry carries its messages);
    raises :class:`SkipEntry` for what is not importable (a :class:`BadItem` included)."""
    if isinstance(entry, BadItem):
        raise SkipEntry(f"HAR entry skipped: {entry.reason}")
    raw = raw_exchange_from_har_entry(entry, product=product)
    return Job(raw, messages=har_messages(entry) if is_websocket_entry(entry) else None)
