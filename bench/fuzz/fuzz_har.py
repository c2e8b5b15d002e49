"""The streaming HAR reader: only ``JsonStreamError`` for bad input; where the whole document is
valid JSON with a ``log.entries`` array, the streamed items equal ``json.loads``'s; every entry
converts to a RawExchange or is skipped with a reason (``SkipEntry``)."""

from __future__ import annotations

import contextlib
import io
import json

import atheris

from bench.fuzz.common import FuzzFinding, main

with atheris.instrument_imports(include=["provenance"]):
    from provenance.importers.har import SkipEntry, raw_exchange_from_har_entry
    from provenance.importers.jsonstream import JsonStreamError, iter_array_items

SEEDS = [
    json.dumps(
        {
            "log": {
                "version": "1.2",
                "entries": [
                    {
                        "startedDateTime": "2026-01-01T00:00:00Z",
                        "time": 12.5,
                        "request": {
                            "method": "POST",
                            "url": "https://api.openai.com/v1/chat/completions",
                            "headers": [{"name": "content-type", "value": "application/json"}],
                            "postData": {"text": '{"model": "gpt-4o"}'},
                        },
                        "response": {
                            "status": 200,
                            "headers": [],
                            "content": {"mimeType": "text/event-stream", "text": "data: x\n\n"},
                        },
                        "timings": {"wait": 3},
                    }
                ],
            }
        }
    ).encode(),
    b'{"log": {"entries": [1, "two", {"request": {"url": "ws://x"}}, [], null]}}',
    b'\xef\xbb\xbf  {"a": {"log": 1}, "log": {"pages": [], "entries": []}}',
]


def test_one_input(data: bytes) -> None:
    chunk = 1 + (data[0] % 64) if data else 1
    items: list[object] = []
    error = None
    try:
        for item in iter_array_items(io.BytesIO(data), ("log", "entries"), chunk_size=chunk):
            items.append(item)
    except JsonStreamError as exc:
        error = exc
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        doc = None
    if (
        isinstance(doc, dict)
        and isinstance(doc.get("log"), dict)
        and isinstance(doc["log"].get("entries"), list)
        and list(doc).count("log") == 1
        and data.count(b'"log"') == 1
        and data.count(b'"entries"') == 1
    ):
        if error is not None:
            raise FuzzFinding(f"valid HAR rejected: {error}")
        if items != doc["log"]["entries"]:
            raise FuzzFinding("streamed entries differ from json.loads")
    for item in items:
        with contextlib.suppress(SkipEntry):
            raw_exchange_from_har_entry(item)


if __name__ == "__main__":
    main(test_one_input)
