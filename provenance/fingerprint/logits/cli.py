"""``provenance fingerprint logits URL --model NAME --reference [NAME=]PATH …``.

Compares an endpoint's next-token log-probabilities with local (or served) candidate bases and
names the base it derives from, or null. See ``docs/logit-fingerprinting.md``. Exit 0 for any
verdict, null included; 1 when the run could not be carried out; 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provenance.cli.common import (
    add_db_option,
    add_json_option,
    emit_json,
    ensure_store,
    int_in,
    print_table,
    timeout_seconds,
)
from provenance.display.terminal import line
from provenance.errors import UsageError
from provenance.fingerprint.channel.options import add_channel_options, channel_kind


def register(stages: argparse._SubParsersAction) -> None:
    """Add the ``logits`` stage to the ``fingerprint`` group."""
    p = stages.add_parser(
        "logits", help="compare an endpoint's logprobs with local candidate bases"
    )
    p.add_argument(
        "url",
        metavar="URL",
        nargs="?",
        help="the endpoint's OpenAI-compatible base URL; or --from-exchange / --guided instead",
    )
    p.add_argument("--model", default=None, help="model name to request from the endpoint")
    p.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="a candidate base: Hugging Face folder (repeatable)",
    )
    p.add_argument(
        "--reference-server",
        action="append",
        default=[],
        metavar="[NAME=]URL",
        help="a candidate base served by vLLM/SGLang/serve-reference (repeatable)",
    )
    p.add_argument(
        "--reference-server-flavour",
        choices=["auto", "openai", "sglang"],
        default="auto",
        help="API of the --reference-server(s): openai (vLLM, serve-reference), sglang "
        "(native /generate), or auto (SGLang if it answers /model_info; default)",
    )
    p.add_argument(
        "--reference-server-key-env",
        metavar="VAR",
        default=None,
        help="environment variable holding the reference servers' API key (vLLM --api-key)",
    )
    p.add_argument("--api", choices=["openai"], default="openai", help="endpoint API (openai)")
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        default=None,
        help="environment variable holding the endpoint's API key",
    )
    p.add_argument(
        "--max-requests",
        type=int_in(1, 10_000),
        default=32,
        help="probe request budget (default 32)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not use the reference score cache")
    p.add_argument("--product", default=None, help="product name to store the run under")
    p.add_argument(
        "--timeout", type=timeout_seconds, default=120.0, help="seconds per endpoint request"
    )
    p.add_argument("--no-store", action="store_true", help="do not save the run in the store")
    add_db_option(p)
    add_json_option(p)
    add_channel_options(p)
    p.set_defaults(func=run)  # fmt: skip


def split_named(spec: str) -> tuple[str | None, str]:
    """``NAME=VALUE`` → (NAME, VALUE); a bare path or URL → (None, VALUE)."""
    name, sep, value = spec.partition("=")
    if sep and name and "/" not in name and ":" not in name:
        return name, value
    return None, spec


def _api_key(var: str | None, option: str = "--api-key-env") -> str | None:
    if var is None:
        return None
    key = os.environ.get(var)
    if not key:
        raise UsageError(f"{option} {var}: that environment variable is empty or unset")
    return key


def load_references(args: argparse.Namespace) -> list[Any]:
    """Open every ``--reference`` and ``--reference-server`` (names checked for duplicates)."""
    from provenance.reference.cache import CachedReference

    if not args.reference and not args.reference_server:
        raise UsageError("give at least one --reference or --reference-server")
    specs = [split_named(s) for s in args.reference]
    servers = [split_named(s) for s in args.reference_server]
    names = [n or Path(v).resolve().name for n, v in specs] + [n for n, _ in servers if n]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"two references are named {dupes[0]!r}; give them distinct NAME=")
    refs: list[Any] = []
    from provenance.reference.transformers_backend import TransformersReference

    for name, path in specs:
        refs.append(TransformersReference(path, name=name))
    if servers:
        from provenance.reference.remote_backend import RemoteReference

        key = _api_key(args.reference_server_key_env, "--reference-server-key-env")
        for name, url in servers:
            refs.append(
                RemoteReference(url, name=name, flavour=args.reference_server_flavour, api_key=key)
            )
    names = [r.name for r in refs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"two references are named {dupes[0]!r}; give them distinct NAME=")
    if not args.no_cache:
        refs = [CachedReference(r) for r in refs]
    return refs


def run(args: argparse.Namespace) -> int:
    """Run the stage and print (and store) its document."""

    if args.max_requests < 1:
        raise UsageError("--max-requests must be at least 1")
    key = _api_key(args.api_key_env)
    if not args.no_store:
        ensure_store(args.db)
    kind = channel_kind(args)
    if kind == "api" and not args.model:
        raise UsageError("--model is required with a URL")
    started = datetime.now(UTC)
    refs = load_references(args)
    _say_related(refs)
    try:
        doc = _run_api(args, refs, key) if kind == "api" else _run_product(args, refs)
    finally:
        for r in refs:
            r.close()
    doc["started_at"] = started.isoformat()
    if args.json:
        emit_json(doc)
    else:
        rows = [(e["reference"], e["score"], e["status"], e["reason"]) for e in doc["ranking"]]
        print_table(f"logit fingerprint of {doc['target']} ({doc['method']})",
                    ["reference", "score", "status", "reason"], rows)  # fmt: skip
        print(
            line(
                f"verdict: {doc['verdict'] or 'null'} ({doc['outcome']}); {doc['reason']}; "
                f"requests: {doc['requests']}"
            )
        )
    if not args.no_store:
        save_run(args.db, doc, product=args.product or doc.get("product"), started=started)
    return 0


def _say_related(refs: list[Any]) -> None:
    """Name related references on stderr before probing (a successor and its base)."""
    import sys

    from provenance.fingerprint.logits.kinship import before_probing

    for kin in before_probing(refs):
        print(line(f"references {kin.text()}"), file=sys.stderr)


def _run_api(args: argparse.Namespace, refs: list[Any], key: str | None) -> dict[str, Any]:
    from provenance.fingerprint.http import public_url
    from provenance.fingerprint.logits.endpoint import EndpointProber, http_post
    from provenance.fingerprint.logits.engine import run_fingerprint

    post, client = http_post(
        args.url, api_key=key, timeout=args.timeout, max_requests=args.max_requests
    )
    try:
        prober = EndpointProber(post, args.model, max_requests=args.max_requests)
        doc = run_fingerprint(prober, refs)
    finally:
        client.close()
    doc["target"] = public_url(args.url)
    doc["model"] = args.model
    doc["evidence"]["http_attempts"] = client.requests_sent
    return doc


def _run_product(args: argparse.Namespace, refs: list[Any]) -> dict[str, Any]:
    """Through a replayed or guided product: chat turns only (see ``ChannelProber``)."""
    from provenance.fingerprint.channel.options import open_product_channel
    from provenance.fingerprint.logits.endpoint import ChannelProber
    from provenance.fingerprint.logits.engine import run_fingerprint
    from provenance.store import open_store

    store = open_store(args.db, create=False)
    try:
        with open_product_channel(args, store) as channel:
            prober = ChannelProber(channel, max_requests=args.max_requests)
            doc = run_fingerprint(prober, refs)  # type: ignore[arg-type]
            described = channel.describe()
    finally:
        store.close()
    doc.update(target=described.get("target"), model=described.get("model"), channel=described)
    if described.get("product"):
        doc["product"] = described["product"]
    doc["evidence"]["http_attempts"] = prober.requests
    return doc


def save_run(db: str | None, doc: dict[str, Any], *, product: str | None, started: datetime) -> int:
    """Store the run (kind ``logits``); returns its id."""
    from provenance.store import FingerprintRunRecord, open_store

    record = FingerprintRunRecord(
        kind="logits",
        started_at=started,
        target=str(doc.get("target") or ""),
        model=doc.get("model"),
        method=f"logits/{doc['method']}",
        requests=int(doc.get("requests") or 0),
        result=doc,
        product=product,
        verdict=str(doc.get("outcome") or ("match" if doc.get("verdict") else "unrelated")),
        family=doc.get("verdict"),  # the reference (candidate base) named, or None
    )
    store = open_store(db, create=True)
    try:
        return store.save_fingerprint_run(record)
    finally:
        store.close()
