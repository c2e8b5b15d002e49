"""The extraction pipeline on a fuzzed exchange: JSON (and every other) body extraction.

The input picks the URL, content types and encodings and carries both bodies. ``extract()``
promises never to raise; a swallowed internal error ("internal error in ...") counts as a
finding too, and so does a stored body longer than the cap.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import atheris

from bench.fuzz.common import FuzzFinding, main, no_internal_errors

with atheris.instrument_imports(include=["provenance"]):
    from provenance.extract import ExtractOptions, extract
    from provenance.records import RawExchange
    from provenance.redact import Redactor

URLS = [
    "https://api.openai.com/v1/chat/completions",
    "https://api.anthropic.com/v1/messages",
    "https://api2.cursor.sh/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent?key=AIzaSyD-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20241022-v2:0/invoke-with-response-stream",
    "https://api.fireworks.ai/inference/v1/completions",
    "https://example.test/anything",
]
TYPES = [
    "application/json",
    "text/event-stream",
    "application/connect+proto",
    "application/connect+json",
    "application/grpc",
    "application/grpc-web+proto",
    "application/x-ndjson",
    "application/vnd.amazon.eventstream",
    "application/proto",
    "text/plain",
    None,
]
ENCODINGS = [None, "gzip", "br", "zstd", "deflate", "identity", "gzip, br", "bogus"]
REDACTOR = Redactor(b"fuzz-key-0123456789abcdef0123456")
MAX_BODY = 4096
OPTIONS = ExtractOptions(keep_bodies=True, max_body=MAX_BODY)

SEEDS = [
    b"\x00\x00\x00\x00\x00"
    + json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
    + b"\xff\xfe"
    + json.dumps({"model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 3}}).encode(),
    b'\x01\x01\x00\x01\x00{"model":"claude-sonnet-4-5","stream":true}\xff\xfe'
    b'event: message_start\ndata: {"message":{"model":"claude-sonnet-4-5-20250929"}}\n\n',
]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    url = URLS[fdp.ConsumeIntInRange(0, len(URLS) - 1)]
    req_type = TYPES[fdp.ConsumeIntInRange(0, len(TYPES) - 1)]
    resp_type = TYPES[fdp.ConsumeIntInRange(0, len(TYPES) - 1)]
    resp_enc = ENCODINGS[fdp.ConsumeIntInRange(0, len(ENCODINGS) - 1)]
    status = fdp.PickValueInList([200, 400, 500, None])
    rest = fdp.ConsumeBytes(fdp.remaining_bytes())
    req_body, _, resp_body = rest.partition(b"\xff\xfe")
    req_headers = [("authorization", "Bearer sk-proj-fuzzfuzzfuzzfuzzfuzz")]
    if req_type:
        req_headers.append(("content-type", req_type))
    resp_headers = []
    if resp_type:
        resp_headers.append(("content-type", resp_type))
    if resp_enc:
        resp_headers.append(("content-encoding", resp_enc))
    raw = RawExchange(
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        method="POST",
        url=url,
        request_headers=req_headers,
        request_body=req_body or None,
        status=status,
        response_headers=resp_headers,
        response_body=resp_body or None,
        streamed=resp_type == "text/event-stream",
    )
    record = extract(raw, redactor=REDACTOR, options=OPTIONS)
    no_internal_errors(record.parse_errors, "extract")
    for name in ("request_body", "response_body"):
        text = getattr(record, name)
        if text is not None and len(text.encode("utf-8", "surrogatepass")) > 16 * MAX_BODY + 4096:
            raise FuzzFinding(f"{name} holds {len(text)} chars with max_body={MAX_BODY}")


if __name__ == "__main__":
    main(test_one_input)
