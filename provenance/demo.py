"""``make demo``: the whole capture path on this machine, with nothing but loopback traffic.

1. starts the bundled stand-in provider (:mod:`provenance.standins.provider`) on a free loopback
   port;
2. starts ``provenance capture`` (the real proxy, a subprocess) on another free port;
3. runs the real ``openai`` and ``anthropic`` SDKs (JSON and streaming) and a Connect/protobuf
   call through it: ``gpt-4o`` comes back as ``gpt-4o-2024-08-06``, a coding tool's
   ``accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast`` travels in JSON, SSE and protobuf;
4. stops the proxy with SIGINT (it flushes everything) and prints the models table;
5. fingerprints two endpoints that do not say what they run: a stand-in that counts tokens with
   Kimi K2's real tokenizer and answers as ``acme-coder`` (product ``acme-code``: identified by
   its tokenizer alone), and one that answers as ``gpt-4o`` but counts with the same Kimi
   tokenizer, probed through a second capture proxy so its literal id is captured too (product
   ``shadow-ide``: the id and the fingerprint disagree, a conflict);
6. captures a Connect/protobuf coding assistant that hides its model (product ``connect-ide``:
   its own RPC, a 3,000-token hidden system prompt, no usage counts, Kimi K2's tokenizer behind
   it), then identifies it *through its own API*: ``provenance fingerprint tokenizer
   --from-exchange ID`` replays the captured exchange with each probe as the prompt (the
   session token re-supplied from the environment) and reads where its stream chunks end;
7. prints the verdict table (literal ids, fingerprint, conflict) and serves the dashboard on the
   same store, unless ``DEMO_SERVE=0`` (tests set it).

The store is the embedded default (``--db``/``$PROVENANCE_DB`` override it); demo rows carry the
product name ``provenance-demo``. Exit code 0 when every step worked.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from provenance.standins.processes import ProxyDidNotStart, ProxyProcess
from provenance.standins.provider import CONNECT_PATH, StandInProvider, connect_chat_request

KIMI = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"
PRODUCT = "provenance-demo"
HIDDEN = "acme-code"  # identified by its tokenizer alone
SHADOW = "shadow-ide"  # claims gpt-4o, counts tokens like Kimi K2: a conflict
CONNECT_IDE = "connect-ide"  # hides its model behind its own Connect API: found by replay
DEMO_SESSION = "demo-session-token-not-real"
KIMI_TOKENIZER = "pkg:splintr-rs:kimi_k2"


def start_capture(db_url: str, product: str = PRODUCT) -> ProxyProcess:
    """``provenance capture`` as a subprocess, its lines echoed with a ``[proxy]`` prefix."""
    argv = [sys.executable, "-m", "provenance.cli.main", "capture", "--listen-port", "0",
            "--db", db_url, "--product", product, "--quiet"]  # fmt: skip
    return ProxyProcess(argv, echo="  [proxy] ")


def fingerprint_stand_in(db_url: str, product: str, answers_as: str, proxy: str | None) -> int:
    """``provenance fingerprint tokenizer`` against a stand-in that counts prompt tokens with
    Kimi K2's real tokenizer behind a hidden system prompt and chat template, and names itself
    ``answers_as``; through ``proxy`` (a capture proxy) when given."""
    import random

    from provenance.cli.main import main as cli
    from provenance.standins.tokencount import EndpointConfig, StandInServer, hidden_system_prompt
    from provenance.tokenizers import load_tokenizer

    handle = load_tokenizer(KIMI_TOKENIZER)
    system = hidden_system_prompt(random.Random(17), 300)
    config = EndpointConfig("chatml", "segments", system, 3)
    saved = {k: os.environ.get(k) for k in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")}
    try:
        if proxy is not None:
            os.environ.update(HTTP_PROXY=proxy, http_proxy=proxy, NO_PROXY="", no_proxy="")
        with StandInServer(lambda text, parse: handle.count(text, specials=parse), config) as srv:
            print(f"\nfingerprinting {product!r}: an endpoint that answers as {answers_as!r}")
            return cli(["fingerprint", "tokenizer", f"{srv.base}/v1", "--model", answers_as,
                        "--product", product, "--db", db_url])  # fmt: skip
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def replay_connect_product(db_url: str) -> int:
    """Capture one chat of a Connect/protobuf product that names no model, then fingerprint it
    by replaying that exchange (see the module docstring, step 6)."""
    import httpx

    from provenance.cli.main import main as cli
    from provenance.standins.products import ConnectProduct, ProductServer, Wrapping
    from provenance.standins.provider import connect_headers
    from provenance.store import open_store
    from provenance.store.models import ExchangeRow
    from provenance.tokenizers import load_tokenizer

    wrapping = Wrapping.seeded(load_tokenizer(KIMI_TOKENIZER), seed=5)
    with ProductServer(ConnectProduct(wrapping, token=DEMO_SESSION)) as product:
        capture = start_capture(db_url, CONNECT_IDE)
        try:
            port = capture.wait_listening()
            with httpx.Client(proxy=f"http://127.0.0.1:{port}", trust_env=False) as client:
                resp = client.post(
                    f"{product.base_url}{CONNECT_PATH}",
                    content=connect_chat_request("default", "Why does this test fail?"),
                    headers=connect_headers(token=DEMO_SESSION, client_version="2.0.77"),
                )
            print(f"\n{CONNECT_IDE}: a Connect chat, HTTP {resp.status_code}, no model named")
        except ProxyDidNotStart:
            raise SystemExit("demo: the capture proxy did not start") from None
        finally:
            stopped = capture.stop(signal.SIGINT)
        if stopped != 0:
            return 1
        from sqlalchemy import func, select

        with open_store(db_url) as store, store.session() as session:
            exchange = session.scalar(
                select(func.max(ExchangeRow.id)).where(ExchangeRow.path == CONNECT_PATH)
            )
        print(f"fingerprinting {CONNECT_IDE!r} by replaying exchange {exchange} through its API")
        os.environ["DEMO_CONNECT_TOKEN"] = f"Bearer {DEMO_SESSION}"
        try:
            return cli(["fingerprint", "tokenizer", "--from-exchange", str(exchange),
                        "--header", "authorization=env:DEMO_CONNECT_TOKEN", "--min-interval",
                        "0.2", "--db", db_url])  # fmt: skip
        finally:
            os.environ.pop("DEMO_CONNECT_TOKEN", None)


def print_verdicts(db_url: str) -> None:
    """The verdict of every demo product: base model, status, confidence and evidence."""
    from provenance.cli.common import print_table
    from provenance.store import open_store
    from provenance.verdicts.collect import verdicts

    with open_store(db_url) as store:
        shown = (PRODUCT, HIDDEN, SHADOW, CONNECT_IDE)
        found = [v for v in verdicts(store) if v.product in shown]
    print()
    print_table(
        "Verdicts",
        ["product", "base model", "status", "confidence", "evidence", "why"],
        [
            [v.product, v.family, v.status, f"{v.confidence:.0%}", ", ".join(v.evidence_kinds),
             "; ".join(v.conflicts or v.reasons[:1])]
            for v in found
        ],
    )  # fmt: skip


def run_clients(proxy_url: str, upstream: StandInProvider) -> None:
    """The real SDKs through the proxy (regular forward-proxy mode, plain HTTP upstream)."""
    import anthropic
    import openai

    # each SDK's own client class (anthropic 2.x accepts only its httpx2 clients)
    settings = {"proxy": proxy_url, "trust_env": False, "timeout": 60}
    with (
        openai.DefaultHttpxClient(**settings) as oai_http,
        anthropic.DefaultHttpxClient(**settings) as claude_http,
    ):
        oai = openai.OpenAI(
            base_url=f"{upstream.base_url}/v1",
            api_key="sk-demo-not-a-real-key",
            http_client=oai_http,
        )
        reply = oai.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Which model are you?"}]
        )
        print(f"openai  JSON : asked for gpt-4o, answered by {reply.model}")
        stream = oai.chat.completions.create(
            model=KIMI,
            messages=[{"role": "user", "content": "Stream, please."}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        print(f"openai  SSE  : {KIMI} -> {text!r}")
        claude = anthropic.Anthropic(
            base_url=upstream.base_url, api_key="sk-ant-demo-not-real", http_client=claude_http
        )
        msg = claude.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "Hello"}],
        )
        print(f"anthropic    : asked for claude-sonnet-4-5, answered by {msg.model}")
        with claude.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "Stream"}],
        ) as s:
            print(f"anthropic SSE: {s.get_final_text()!r}")
        resp = oai_http.post(
            f"{upstream.base_url}{CONNECT_PATH}",
            content=connect_chat_request(KIMI, "Refactor this function"),
            headers={
                "content-type": "application/connect+proto",
                "connect-protocol-version": "1",
                "user-agent": "connect-es/1.4.0",
            },
        )
        print(f"connect/proto: HTTP {resp.status_code}, {len(resp.content)} bytes of frames")


def serve_dashboard(db_url: str) -> int:
    """The demo's last step: serve the dashboard on the demo's store (blocks until Ctrl-C)."""
    from provenance.cli.main import main as cli

    print("\nServing the dashboard (Ctrl-C to stop; DEMO_SERVE=0 skips this step).")
    return cli(["dashboard", "--db", db_url])


def main(argv: Sequence[str] | None = None) -> int:
    from provenance.cli.main import main as cli
    from provenance.store import resolve_db_url

    parser = argparse.ArgumentParser(
        prog="python -m provenance.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--db", default=None, metavar="URL", help="store (default: the embedded one)"
    )
    args = parser.parse_args(argv)
    db_url = resolve_db_url(args.db)

    with StandInProvider() as upstream:
        print(f"stand-in provider on {upstream.base_url}")
        capture = start_capture(db_url)
        try:
            try:
                port = capture.wait_listening()
            except ProxyDidNotStart:
                raise SystemExit(
                    "demo: the capture proxy did not start (see its output above)"
                ) from None
            run_clients(f"http://127.0.0.1:{port}", upstream)
        finally:
            code = capture.stop(signal.SIGINT)
    if code != 0:
        print(f"demo: the capture proxy exited with {code}", file=sys.stderr)
        return 1
    print()
    status = cli(["models", "--db", db_url, "--product", PRODUCT])
    if status != 0:
        return status
    if fingerprint_stand_in(db_url, HIDDEN, "acme-coder", proxy=None) != 0:
        return 1
    shadow = start_capture(db_url, SHADOW)
    try:
        try:
            port = shadow.wait_listening()
        except ProxyDidNotStart:
            raise SystemExit("demo: the second capture proxy did not start") from None
        status = fingerprint_stand_in(db_url, SHADOW, "gpt-4o", proxy=f"http://127.0.0.1:{port}")
    finally:
        code = shadow.stop(signal.SIGINT)
    if status != 0 or code != 0:
        return 1
    if replay_connect_product(db_url) != 0:
        return 1
    print_verdicts(db_url)
    if os.environ.get("DEMO_SERVE", "1") != "0":
        return serve_dashboard(db_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
