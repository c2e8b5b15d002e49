"""``make demo``: the whole capture path on this machine, with nothing but loopback traffic.

1. starts the bundled stand-in provider (:mod:`provenance.standins.provider`) on a free loopback
   port;
2. starts ``provenance capture`` (the real proxy, a subprocess) on another free port;
3. runs the real ``openai`` and ``anthropic`` SDKs (JSON and streaming) and a Connect/protobuf
   call through it: ``gpt-4o`` comes back as ``gpt-4o-2024-08-06``, a coding tool's
   ``accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast`` travels in JSON, SSE and protobuf;
4. stops the proxy with SIGINT (it flushes everything) and prints the models table;
5. serves the dashboard on the same store, unless ``DEMO_SERVE=0`` (tests set it).

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


def start_capture(db_url: str) -> ProxyProcess:
    """``provenance capture`` as a subprocess, its lines echoed with a ``[proxy]`` prefix."""
    argv = [sys.executable, "-m", "provenance.cli.main", "capture", "--listen-port", "0",
            "--db", db_url, "--product", PRODUCT, "--quiet"]  # fmt: skip
    return ProxyProcess(argv, echo="  [proxy] ")


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
    if os.environ.get("DEMO_SERVE", "1") != "0":
        return serve_dashboard(db_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
