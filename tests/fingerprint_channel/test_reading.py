"""Replies read from the stored form: stream pieces, usage paths, errors on one line."""

from __future__ import annotations

import base64
import json

from provenance.fingerprint.channel.formats import format_for
from provenance.fingerprint.channel.reading import ReplyPaths, StoredReply, read_reply

CONNECT = "/aiserver.v1.ChatService/StreamUnifiedChatWithTools"


def stored(body, ct, *, status=200, usage=(None, None)):
    return StoredReply(7, status, ct, body, usage[0], usage[1], None, True, "h/p")


def test_openai_sse_pieces_and_usage_from_the_capture():
    frames = [{"choices": [{"delta": {"content": p}}]} for p in ("Hel", "lo", " there")]
    body = "".join(f"data: {json.dumps(f)}\n\n" for f in frames) + "data: [DONE]\n\n"
    reply = read_reply(stored(body, "text/event-stream", usage=(40, 3)), None, ReplyPaths())
    assert reply.pieces == ("Hel", "lo", " there") and reply.prompt_tokens == 40
    assert reply.ok and reply.exchange_id == 7


def test_connect_projection_lines_with_bytes_shown_as_base64():
    zwj = "base64:" + base64.b64encode("\u200d".encode()).decode()
    lines = [{"2": {"1": "a"}}, {"2": {"1": zwj}}, {"2": {"1": {"$string": "base64:x"}}},
             {"end_stream": {}}]  # fmt: skip
    body = "\n".join(json.dumps(x) for x in lines)
    reply = read_reply(stored(body, "application/connect+proto"), format_for(None, CONNECT),
                       ReplyPaths())  # fmt: skip
    assert reply.pieces == ("a", "\u200d", "base64:x") and reply.prompt_tokens is None


def test_connect_end_stream_error_is_the_reply_error():
    body = json.dumps(
        {"end_stream": {"error": {"code": "unauthenticated", "message": "bad\ntoken"}}}
    )
    reply = read_reply(stored(body, "application/connect+proto"), None, ReplyPaths())
    assert reply.error == "Connect error unauthenticated from h/p: bad token"


def test_explicit_paths_read_the_last_frame_with_usage():
    body = 'data: {"o":{"t":"x"}}\n\ndata: {"o":{"t":"y"}}\n\ndata: {"m":{"in":9,"out":2}}\n\n'
    reply = read_reply(stored(body, "text/event-stream"), None, ReplyPaths("o.t", "m.in", "m.out"))
    assert reply.pieces == ("x", "y") and (reply.prompt_tokens, reply.completion_tokens) == (9, 2)


def test_http_errors_and_unreadable_replies_are_one_line():
    reply = read_reply(stored('{"error": {"message": "slow\\ndown"}}', "application/json",
                              status=429), None, ReplyPaths())  # fmt: skip
    assert reply.error == "HTTP 429 from h/p: slow down" and not reply.ok
    reply = read_reply(stored("<html>hi</html>", "text/html"), None, ReplyPaths())
    assert "neither text nor usage" in reply.error and "--text-at" in reply.error
