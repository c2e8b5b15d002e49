"""Benchmark: the tokenizer stage through a product, by replay — right, null and wrong.

    python -m bench.product_channels            # full; rewrites the table in the docs
    python -m bench.product_channels --quick    # one seed
    python -m bench.product_channels --no-docs  # print only

Three stand-in products (``provenance.standins.products``): a Connect/protobuf assistant that
reports no usage (stream boundaries decide), a custom JSON+SSE agent API read with explicit
paths, and an Anthropic-shape gateway with prompt caching. Each is served with every shipped
tokenizer that has token pieces, and with three tokenizers trained here that no signature knows
(any claim about those is a false claim). Recipes apart from the tests: seeds 301+, hidden
system prompts of 500–6,000 tokens, every chat template and counting style of the stand-ins,
the captured user text and history drawn from the project's docs. For each, one exchange is
captured (the capture's own extraction, stored), then ``run_active`` replays it with 4 requests.
Printed: per product, runs named right (the true id, or the base it shares merges with), null,
and named wrong; the false-claim rate; and the wrong ones.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench:product_channels:begin -->", "<!-- bench:product_channels:end -->"
TOKEN, KEY = "bench-session-token-0000000000", "bench-gateway-key-000000000000"
KINDS = ("connect", "agent", "gateway")


def user_text(rng: random.Random) -> str:
    docs = sorted((ROOT / "docs").glob("*.md"))
    text = rng.choice(docs).read_text(encoding="utf-8")
    start = rng.randrange(0, max(1, len(text) - 300))
    return " ".join(text[start : start + rng.randrange(40, 300)].split()) or "hello"


def capture_one(kind: str, base: str, rng: random.Random) -> Any:
    """One real request to the product and its answer, as a RawExchange."""
    import httpx

    from provenance.records import RawExchange
    from provenance.standins.provider import CONNECT_PATH, connect_chat_request, connect_headers

    text, earlier = user_text(rng), user_text(rng)
    if kind == "connect":
        path, headers = CONNECT_PATH, connect_headers(token=TOKEN, client_version="2.1.0")
        body = connect_chat_request(
            "default", text, history=[("user", earlier), ("assistant", "ok")]
        )
    elif kind == "agent":
        path, headers = "/api/agent/turn", {"authorization": f"Bearer {TOKEN}",
                                            "content-type": "application/json"}  # fmt: skip
        body = json.dumps({"session": {"id": "s1", "client": "acme-agent/3.4.1"},
                           "turn": {"input": {"text": text},
                                    "history": [{"role": "user", "text": earlier}]},
                           "opts": {"limit": 64}}).encode()  # fmt: skip
    else:
        path, headers = "/v1/messages", {"x-api-key": KEY, "content-type": "application/json",
                                         "anthropic-version": "2023-06-01"}  # fmt: skip
        body = json.dumps({"model": "gw", "max_tokens": 16, "system": "Be brief.",
                           "messages": [{"role": "user", "content": earlier},
                                        {"role": "assistant", "content": "ok"},
                                        {"role": "user", "content": text}]}).encode()  # fmt: skip
    with httpx.Client(trust_env=False, timeout=60) as client:
        resp = client.post(base + path, content=body, headers=headers)
    return RawExchange(
        started_at=datetime.now(UTC), method="POST", url=base + path,
        request_headers=list(headers.items()), request_body=body, status=resp.status_code,
        response_headers=list(resp.headers.items()), response_body=resp.content,
        streamed=True, product=f"bench-{kind}",
    )  # fmt: skip


def product(kind: str, handle: Any, seed: int) -> Any:
    from provenance.standins.products import AgentProduct, ConnectProduct, GatewayProduct, Wrapping
    from provenance.standins.tokencount import COUNTING, TEMPLATES

    rng = random.Random(seed)
    wrapping = Wrapping.seeded(
        handle, system_tokens=rng.choice([500, 1500, 3000, 6000]), seed=seed,
        template=rng.choice(sorted(TEMPLATES)), counting=rng.choice(COUNTING),
    )  # fmt: skip
    if kind == "connect":
        return ConnectProduct(wrapping, token=TOKEN)
    if kind == "agent":
        return AgentProduct(wrapping, token=TOKEN)
    return GatewayProduct(wrapping, api_key=KEY, caching=rng.random() < 0.5)


def replay(kind: str, handle: Any, seed: int, store: Any, signatures: Any, handles: Any) -> dict:
    from provenance.extract import extract
    from provenance.fingerprint.channel.reading import ReplyPaths
    from provenance.fingerprint.channel.replay import ReplayChannel
    from provenance.fingerprint.channel.template import Secrets, load_template
    from provenance.fingerprint.tokenizer.active import run_active
    from provenance.redact import Redactor
    from provenance.standins.products import ProductServer
    from provenance.tokenizers.probes import load_probe_set

    redactor = Redactor.from_data_dir()
    with ProductServer(product(kind, handle, seed)) as server:
        raw = capture_one(kind, server.base_url, random.Random(seed * 7))
        [exchange] = store.write_exchanges([extract(raw, redactor=redactor)])
        if kind == "agent":
            template = load_template(store, exchange, prompt_at="turn.input.text")
            paths = ReplyPaths("out.t", "meter.in", "meter.out")
            secrets = Secrets(headers=(("authorization", f"Bearer {TOKEN}"),))
        else:
            template = load_template(store, exchange)
            paths = ReplyPaths()
            header = (
                ("authorization", f"Bearer {TOKEN}") if kind == "connect" else ("x-api-key", KEY)
            )
            secrets = Secrets(headers=(header,))
        with ReplayChannel(template, store, secrets=secrets, paths=paths, min_interval=0,
                           redactor=redactor) as channel:  # fmt: skip
            return run_active(channel, load_probe_set(), signatures, handles=handles)


def measure(quick: bool) -> tuple[dict, list[str]]:
    from bench.tokenizer_boundary import unknown_handles
    from provenance.fingerprint.tokenizer.passive import candidate_handles
    from provenance.store import open_store
    from provenance.tokenizers.signatures import load_signatures, signature_dirs

    signatures = load_signatures(signature_dirs()[:1])
    handles = candidate_handles(signatures)
    truths: dict[str, Any] = {k: h for k, h in handles.items() if h.segments}
    unknown = unknown_handles()
    truths.update(unknown)
    seeds = range(301, 302 if quick else 304)
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    wrong: list[str] = []
    with tempfile.TemporaryDirectory() as home:
        os.environ["PROVENANCE_HOME"] = home
        store = open_store(f"sqlite:///{home}/bench.sqlite", create=True)
        for kind in KINDS:
            for truth, handle in sorted(truths.items()):
                for seed in seeds:
                    doc = replay(kind, handle, seed, store, signatures, handles)
                    row = stats[kind]
                    row["runs"] += 1
                    row["requests"] += int(doc["requests"])
                    row["unknown"] += truth in unknown
                    verdict = doc["verdict"]
                    if verdict is None:
                        row["null"] += 1
                    elif truth not in unknown and (
                        verdict == truth or truth in (doc.get("alternatives") or [])
                    ):
                        row["right"] += 1
                    else:
                        row["wrong"] += 1
                        wrong.append(
                            f"{kind} {truth} seed {seed}: said {verdict} ({doc['reason']})"
                        )
        store.close()
    return stats, wrong


def table(stats: dict, wrong: list[str], seconds: float) -> str:
    lines = [
        "| product (evidence) | runs | of them unknown tokenizers | right | null | wrong | "
        "requests per run |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"connect": "Connect/protobuf, no usage (stream boundaries)",
             "agent": "custom JSON+SSE, explicit paths (usage)",
             "gateway": "Anthropic-shape gateway, caching (usage)"}  # fmt: skip
    for kind in KINDS:
        r = stats[kind]
        lines.append(
            f"| {names[kind]} | {r['runs']} | {r['unknown']} | {r['right']} | {r['null']} | "
            f"{r['wrong']} | {r['requests'] / max(r['runs'], 1):.1f} |"
        )
    runs = sum(r["runs"] for r in stats.values())
    false = sum(r["wrong"] for r in stats.values())
    lines.append("")
    lines.append(
        f"False claims: {false} of {runs} runs ({false / max(runs, 1):.1%}); {seconds:.0f} s."
    )
    lines += [f"- wrong: {w}" for w in wrong[:20]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.product_channels")
    parser.add_argument("--quick", action="store_true", help="one seed")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite the docs table")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    stats, wrong = measure(args.quick)
    text = table(stats, wrong, time.perf_counter() - start)
    print(text)
    if not args.no_docs:
        from bench.tokenizer_matrix import write_docs

        doc = ROOT / "docs" / "fingerprint-products.md"
        write_docs(text, BEGIN, END, "## Benchmark: through a product, by replay", doc=doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
