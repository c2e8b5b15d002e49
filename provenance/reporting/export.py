"""Export stored (redacted) evidence as JSON Lines or HAR 1.2, streaming, bounded memory.

Every text field is passed through the redactor once more on the way out, so a secret format
learned after capture is still caught before evidence leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from provenance import __version__
from provenance.reporting.exchanges import ExchangeFilter, iter_exchanges

FORMATS = ("jsonl", "har")
JSONL_SCHEMA = "provenance.exchange/1"


def _scrub(value: Any, redactor: Any) -> Any:
    if redactor is None:
        return value
    if isinstance(value, str):
        return redactor.redact_text(value)
    if isinstance(value, dict):
        return {k: _scrub(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, redactor) for v in value]
    return value


def export(store: Any, fmt: str, out: TextIO, flt: ExchangeFilter, redactor: Any = None) -> int:
    """Write every exchange matching ``flt`` to ``out`` as ``fmt``; return how many."""
    rows = (_scrub(doc, redactor) for doc in iter_exchanges(store, flt))
    if fmt == "jsonl":
        return _jsonl(rows, out)
    if fmt == "har":
        return _har(rows, out)
    raise ValueError(f"unknown export format {fmt!r}")


def _jsonl(rows: Iterator[dict], out: TextIO) -> int:
    n = 0
    for doc in rows:
        out.write(json.dumps({"schema": JSONL_SCHEMA, **doc}, default=str) + "\n")
        n += 1
    return n


def _headers(pairs: list[Any] | None) -> list[dict[str, str]]:
    return [{"name": str(k), "value": str(v)} for k, v in (pairs or [])]


def har_entry(doc: dict[str, Any]) -> dict[str, Any]:
    """One HAR 1.2 entry for one exported exchange (bodies are the redacted text, if kept)."""
    port = doc.get("port")
    default = {"http": 80, "https": 443}.get(doc.get("scheme") or "")
    netloc = doc["host"] if port in (None, default) else f"{doc['host']}:{port}"
    req_headers = doc.get("request_headers") or []
    ctype = next((v for k, v in req_headers if str(k).lower() == "content-type"), "")
    ttfb = doc.get("ttfb_ms")
    total = doc.get("latency_ms")
    entry: dict[str, Any] = {
        "startedDateTime": doc["started_at"],
        "time": total if total is not None else -1,
        "request": {
            "method": doc["method"],
            "url": f"{doc.get('scheme') or 'https'}://{netloc}{doc['path']}",
            "httpVersion": doc.get("http_version") or "HTTP/1.1",
            "headers": _headers(req_headers),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": doc.get("request_size") if doc.get("request_size") is not None else -1,
        },
        "response": {
            "status": doc.get("status") or 0,
            "statusText": "",
            "httpVersion": doc.get("http_version") or "HTTP/1.1",
            "headers": _headers(doc.get("response_headers")),
            "cookies": [],
            "content": {
                "size": doc.get("response_size") or 0,
                "mimeType": doc.get("content_type") or "",
                "text": doc.get("response_body") or "",
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": doc.get("response_size") if doc.get("response_size") is not None else -1,
        },
        "cache": {},
        "timings": {
            "send": 0,
            "wait": ttfb if ttfb is not None else -1,
            "receive": (total - ttfb) if total is not None and ttfb is not None else -1,
        },
        "_provenance": {
            "id": doc["id"],
            "product": doc.get("product"),
            "provider": doc.get("provider"),
            "models": doc.get("models"),
            "observations": doc.get("observations"),
            "usage": doc.get("usage"),
        },
    }
    if doc.get("request_body") is not None:
        entry["request"]["postData"] = {"mimeType": ctype, "text": doc["request_body"]}
    return entry


def _har(rows: Iterator[dict], out: TextIO) -> int:
    creator = {"name": "provenance", "version": __version__}
    out.write('{"log": {"version": "1.2", "creator": ' + json.dumps(creator) + ', "entries": [\n')
    n = 0
    for doc in rows:
        if n:
            out.write(",\n")
        out.write(json.dumps(har_entry(doc), default=str))
        n += 1
    out.write("\n]}}\n")
    return n
