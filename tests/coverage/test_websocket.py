"""WebSocket sessions: OpenAI Realtime and Gemini Live, through ``WebSocketTap`` and
``extract_websocket``.

Sources:

* OpenAI Realtime server events (``session.created``, ``response.done`` with ``usage``,
  ``input_token_details``/``output_token_details``) and the ``?model=`` URL:
  https://platform.openai.com/docs/api-reference/realtime-server-events ,
  https://platform.openai.com/docs/guides/realtime-websocket
* Gemini Live ``BidiGenerateContent`` (``setup.model``, ``setupComplete``, ``serverContent``
  with ``turnComplete``, ``usageMetadata`` with ``responseTokenCount``) and the ``?key=`` URL:
  https://ai.google.dev/api/live
"""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from provenance.extract.websocket import MAX_LOG_STRING, WebSocketTap, extract_websocket
from tests.coverage.conftest import CI, ids, raw_exchange

OPENAI_KEY = "sk-proj-" + "Qw8Er7Ty6Ui5Op4As3Df2Gh1" * 2
GOOGLE_KEY = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
REALTIME_URL = "wss://api.openai.com/v1/realtime?model=gpt-4o-realtime-preview-2024-12-17"
LIVE_URL = (
    "wss://generativelanguage.googleapis.com/ws/"
    "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=" + GOOGLE_KEY
)


def realtime_usage(inp: int, out: int, cached: int) -> dict:
    return {
        "total_tokens": inp + out,
        "input_tokens": inp,
        "output_tokens": out,
        "input_token_details": {
            "text_tokens": inp - 13,
            "audio_tokens": 13,
            "cached_tokens": cached,
        },
        "output_token_details": {"text_tokens": 30, "audio_tokens": out - 30},
    }


REALTIME_SESSION = [
    (
        False,
        {
            "type": "session.created",
            "event_id": "event_1234",
            "session": {
                "id": "sess_001",
                "object": "realtime.session",
                "model": "gpt-4o-realtime-preview-2024-12-17",
                "modalities": ["text", "audio"],
            },
        },
    ),
    (True, {"type": "session.update", "session": {"instructions": "Be brief.", "voice": "alloy"}}),
    (
        True,
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\x00" * 6000).decode()},
    ),
    (True, {"type": "response.create"}),
    (
        False,
        {
            "type": "response.done",
            "event_id": "event_3132",
            "response": {
                "id": "resp_001",
                "object": "realtime.response",
                "status": "completed",
                "output": [],
                "usage": realtime_usage(132, 121, 64),
            },
        },
    ),
    (True, {"type": "response.create"}),
    (
        False,
        {
            "type": "response.done",
            "event_id": "event_3140",
            "response": {
                "id": "resp_002",
                "object": "realtime.response",
                "status": "completed",
                "output": [],
                "usage": realtime_usage(260, 40, 128),
            },
        },
    ),
]


def feed(tap: WebSocketTap, messages) -> None:
    for from_client, doc in messages:
        tap.feed(json.dumps(doc), from_client, True)


def test_openai_realtime_session(redactor) -> None:
    tap = WebSocketTap(url=REALTIME_URL)
    feed(tap, REALTIME_SESSION)
    tap.feed(json.dumps({"type": "session.update", "session": {"api_key": OPENAI_KEY}}), True, True)
    result = tap.finish()
    assert result.api == "openai.realtime"
    assert result.client_messages == 5 and result.server_messages == 3
    # usage is per response: the session sums them
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (392, 161, 192)
    assert usage.total_tokens == 553
    handshake = raw_exchange(
        "https://api.openai.com/v1/realtime?model=gpt-4o-realtime-preview-2024-12-17",
        method="GET",
        request_headers=[("authorization", f"Bearer {OPENAI_KEY}"), ("openai-beta", "realtime=v1")],
        status=101,
        response_headers=[("upgrade", "websocket")],
    )
    record = extract_websocket(handshake, result, redactor=redactor)
    assert record.api == "openai.realtime" and record.streamed and record.provider == "openai"
    assert ids(record) == {
        ("gpt-4o-realtime-preview-2024-12-17", "url_query", "request"),
        ("gpt-4o-realtime-preview-2024-12-17", "websocket_message", "response"),
    }
    assert [o.location for o in record.observations if o.source == "websocket_message"] == [
        "$.session.model"
    ]
    stored = json.dumps([record.request_headers, record.response_body, record.path])
    assert OPENAI_KEY not in stored
    assert record.secret_hashes  # the key in the header and in the message: one hash, kept
    log = [json.loads(line) for line in record.response_body.splitlines()]
    assert log[0] == {"from": "server", "data": REALTIME_SESSION[0][1]}
    audio = log[2]["data"]["audio"]
    assert len(audio) < MAX_LOG_STRING + 40 and audio.endswith("characters]")
    assert log[-1]["data"]["session"]["api_key"].startswith("[REDACTED:")


def test_gemini_live_session_with_binary_json_frames(redactor) -> None:
    tap = WebSocketTap(url=LIVE_URL)
    setup = {
        "setup": {
            "model": "models/gemini-2.0-flash-live-001",
            "generationConfig": {"responseModalities": ["TEXT"]},
        }
    }
    tap.feed(json.dumps(setup), True, True)
    server = [
        {"setupComplete": {}},
        {"serverContent": {"modelTurn": {"parts": [{"text": "Hel"}]}}},
        # a running total repeated within the turn must count once
        {
            "serverContent": {"modelTurn": {"parts": [{"text": "lo"}]}},
            "usageMetadata": {
                "promptTokenCount": 9,
                "responseTokenCount": 1,
                "totalTokenCount": 10,
            },
        },
        {
            "serverContent": {"turnComplete": True},
            "usageMetadata": {
                "promptTokenCount": 9,
                "responseTokenCount": 2,
                "totalTokenCount": 11,
            },
        },
        {
            "serverContent": {"turnComplete": True},
            "usageMetadata": {
                "promptTokenCount": 20,
                "responseTokenCount": 4,
                "totalTokenCount": 24,
            },
        },
    ]
    for doc in server:
        tap.feed(json.dumps(doc).encode(), False, False)  # the Live API sends binary frames
    tap.feed(b"\x00\x01 raw audio", True, False)
    result = tap.finish()
    assert result.api == "gemini.live"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (
        29,
        6,
        35,
    )
    handshake = raw_exchange(
        LIVE_URL.replace("wss://", "https://"), method="GET", status=101, response_headers=[]
    )
    record = extract_websocket(handshake, result, redactor=redactor)
    assert record.provider == "google-gemini"
    assert ("models/gemini-2.0-flash-live-001", "websocket_message", "request") in ids(record)
    assert GOOGLE_KEY not in record.path and "key=[REDACTED:" in record.path
    assert json.loads(record.response_body.splitlines()[-1]) == {
        "from": "client",
        "binary_bytes": 12,
    }


def test_log_cap_no_bodies_and_bad_messages(redactor) -> None:
    tap = WebSocketTap(url=REALTIME_URL, max_log=300)
    tap.feed("{not json", True, True)
    tap.feed("plain text", False, True)
    feed(tap, REALTIME_SESSION)
    result = tap.finish()
    assert result.log_truncated and sum(len(x) + 1 for x in result.log) <= 300
    assert result.parse_errors == ["malformed JSON in a WebSocket message"]
    assert result.usage.output_tokens == 161  # parsing goes on past the log cap
    handshake = raw_exchange(REALTIME_URL.replace("wss", "https"), method="GET", status=101)
    from provenance.extract import ExtractOptions

    record = extract_websocket(
        handshake, result, redactor=redactor, options=ExtractOptions(keep_bodies=False)
    )
    assert record.response_body is None and record.bodies_truncated
    assert "websocket: malformed JSON in a WebSocket message" in record.parse_errors
    oversize = WebSocketTap(max_message=10)
    oversize.feed(b"x" * 11, True, False)
    assert oversize.finish().parse_errors == [
        "WebSocket message of 11 bytes over the cap: not parsed"
    ]


@CI
@given(
    st.lists(
        st.tuples(
            st.one_of(st.binary(max_size=200), st.text(max_size=200)), st.booleans(), st.booleans()
        ),
        max_size=20,
    )
)
def test_any_messages_never_raise(messages) -> None:
    tap = WebSocketTap(url=REALTIME_URL, max_log=2000)
    for content, from_client, is_text in messages:
        tap.feed(content, from_client, is_text)
    result = tap.finish()
    assert result.client_messages + result.server_messages == len(messages)
    assert tap.finish() is result


@CI
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
        max_leaves=30,
    )
)
def test_any_json_message_never_raises(doc) -> None:
    tap = WebSocketTap()
    tap.feed(
        json.dumps({"type": "response.done", "response": {"usage": doc}, "setup": doc}), False, True
    )
    tap.feed(
        json.dumps({"serverContent": {"turnComplete": True}, "usageMetadata": doc}), False, True
    )
    assert tap.finish().parse_errors == []
