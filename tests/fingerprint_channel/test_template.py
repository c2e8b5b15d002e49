"""Templates from stored exchanges: the prompt found by the format data, replaced, the history
trimmed, settings set where the template has them, and placeholders never sent."""

from __future__ import annotations

import gzip
import json

import pytest

from provenance.errors import UsageError
from provenance.fingerprint.channel.formats import format_for, load_formats
from provenance.fingerprint.channel.locate import candidates, locate
from provenance.fingerprint.channel.template import (
    MissingSecrets,
    Secrets,
    StoredExchange,
    Template,
    parse_body,
)

KEY = "[REDACTED:bearer:0123456789ab]"


def exchange(body, *, api, headers=(), path="/v1/chat/completions", ct="application/json"):
    text = body if isinstance(body, str) else json.dumps(body)
    return StoredExchange(
        id=7, method="POST", scheme="https", host="api.example.test", port=443, path=path,
        request_headers=[("content-type", ct), *headers], request_body=text,
        bodies_truncated=False, api=api, product="acme", model="m", response_content_type=None,
        response_body=None,
    )  # fmt: skip


def template(ex, **kw):
    framing, docs = parse_body(ex)
    t = Template(ex, framing, docs, format_for(ex.api, None))
    t.location = locate(t, prompt_at=kw.get("prompt_at"), typed=kw.get("typed"))
    return t


def sent(t, text="PROBE", secrets=None, **kw):
    req = t.build(text, secrets or Secrets(), **kw)
    return req, json.loads(req.body)


def test_every_format_entry_has_a_source_and_rules():
    names = {f.name for f in load_formats()}
    assert {"openai.chat", "openai.responses", "anthropic.messages", "gemini.generate",
            "bedrock.converse"} <= names  # fmt: skip
    assert all(f.source.startswith("https://") for f in load_formats())


def test_openai_chat_last_user_turn_replaced_and_history_trimmed():
    body = {
        "model": "m", "max_tokens": 400, "temperature": 0.7,
        "messages": [
            {"role": "system", "content": "hidden rules"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": [{"type": "text", "text": "<ctx/>"},
                                         {"type": "text", "text": "what is 2+2?"}]},
        ],
    }  # fmt: skip
    t = template(exchange(body, api="openai.chat"))
    _, doc = sent(t, max_tokens=1, temperature=0.0)
    assert [m["role"] for m in doc["messages"]] == ["system", "user"]
    assert doc["messages"][1]["content"] == [
        {"type": "text", "text": "<ctx/>"},
        {"type": "text", "text": "PROBE"},
    ]
    assert doc["max_tokens"] == 1 and doc["temperature"] == 0.0
    assert t.trimmed == 2
    assert "max_completion_tokens" not in doc  # only fields the template has are set


def test_anthropic_gemini_bedrock_and_responses():
    cases = [
        ("anthropic.messages", {"model": "c", "max_tokens": 9, "system": "S", "messages": [
            {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"}]}, lambda d: d["messages"]),
        ("gemini.generate", {"contents": [{"parts": [{"text": "hi"}]}],
                             "generationConfig": {"maxOutputTokens": 50}},
         lambda d: d["contents"]),
        ("bedrock.converse", {"messages": [{"role": "user", "content": [{"text": "x"}]}],
                              "inferenceConfig": {"maxTokens": 5}}, lambda d: d["messages"]),
        ("openai.responses", {"model": "m", "input": "typed words"}, lambda d: [d["input"]]),
    ]  # fmt: skip
    for api, body, turns in cases:
        _, doc = sent(template(exchange(body, api=api)), max_tokens=1)
        assert "PROBE" in json.dumps(turns(doc)), api
        assert len(turns(doc)) == 1, api


def test_typed_text_inside_a_wrapper_is_replaced_alone():
    body = {"q": {"text": "Context: long\n\nUser said: fix the bug please\n"}, "id": "abc"}
    t = template(exchange(body, api=None), typed="fix the bug please")
    _, doc = sent(t)
    assert doc["q"]["text"] == "Context: long\n\nUser said: PROBE\n"


def test_unknown_format_without_path_lists_candidates():
    body = {"a": {"b": "please refactor this function now"}, "c": "hello there friend"}
    with pytest.raises(UsageError, match=r"ambiguous.*candidates: .*a\.b") as err:
        template(exchange(body, api=None))
    assert "c (" in str(err.value)
    t = template(exchange(body, api=None), prompt_at="c")
    assert sent(t)[1]["c"] == "PROBE"
    with pytest.raises(UsageError, match="no text there"):
        template(exchange(body, api=None), prompt_at="a.zz")


def test_candidates_rank_the_typed_text_first():
    body = {"x": "a long piece of boilerplate text here", "y": "my own words"}
    t = Template(exchange(body, api=None), "json", [body], None)
    assert candidates(t, "own words")[0].path == "y"


def test_placeholders_are_never_sent():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "user": KEY}
    ex = exchange(body, api="openai.chat", headers=[("authorization", f"Bearer {KEY}")],
                  path=f"/v1/chat/completions?key={KEY}")  # fmt: skip
    t = template(ex)
    with pytest.raises(MissingSecrets) as err:
        t.build("PROBE", Secrets())
    text = str(err.value)
    assert "header authorization" in text and "query parameter key" in text
    assert "body field user" in text and "nothing was sent" in text
    fixed = Secrets(headers=(("Authorization", "Bearer real"),), query=(("key", "q"),),
                    fields=(("user", "u1"),))  # fmt: skip
    req, doc = sent(t, secrets=fixed)
    assert ("Authorization", "Bearer real") in req.headers and req.url.endswith("?key=q")
    assert doc["user"] == "u1" and b"REDACTED" not in req.body


def test_hop_by_hop_headers_dropped_and_gzip_kept():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    sent_headers = [("content-length", "99"), ("host", "x"), (":authority", "x"),
                    ("content-encoding", "gzip"), ("x-client", "7")]  # fmt: skip
    ex = exchange(body, api="openai.chat", headers=sent_headers)
    req = template(ex).build("PROBE", Secrets())
    names = [k.lower() for k, _ in req.headers]
    assert "content-length" not in names and "host" not in names and ":authority" not in names
    assert "x-client" in names
    assert json.loads(gzip.decompress(req.body))["messages"][0]["content"] == "PROBE"


def test_bodies_replay_cannot_use():
    from dataclasses import replace

    from provenance.fingerprint.channel import ChannelError

    base = exchange({"a": 1}, api=None)
    cases = [
        (replace(base, request_body=None), "no stored request body"),
        (replace(base, bodies_truncated=True), "cut at --max-body"),
        (replace(base, request_body="not json"), "neither JSON nor protobuf"),
        (exchange("{}", api=None, ct="application/grpc-web-text"), "not supported"),
    ]
    for ex, words in cases:
        with pytest.raises(ChannelError, match=words):
            parse_body(ex)
