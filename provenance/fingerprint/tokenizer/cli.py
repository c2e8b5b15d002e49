"""``provenance fingerprint tokenizer`` (active, ≤ 4 requests) and ``… passive`` (captured traffic).

Both print one JSON document with ``--json`` (schema ``provenance.tokenizer-fingerprint/1``, or
``provenance.tokenizer-passive/1``: ``results``, the count fits, and ``boundaries``, the
stream-boundary fits, one per product and model id each), else tables.
A ``null`` verdict is a finding, not a failure: exit 0. Runs are saved to the store unless
``--no-store``. The API key is read from the environment and never printed or stored.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
from provenance.errors import FingerprintError, UsageError
from provenance.fingerprint.channel.options import add_channel_options, channel_kind

DEFAULT_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "bedrock": "AWS_BEARER_TOKEN_BEDROCK",
}
APIS = tuple(DEFAULT_KEY_ENV)


def register(stages: argparse._SubParsersAction) -> None:
    """Add the ``tokenizer`` and ``passive`` stages to ``provenance fingerprint``."""
    active = stages.add_parser(
        "tokenizer", help="name the tokenizer behind an endpoint or a product (≤4 calls)"
    )
    active.add_argument(
        "url",
        metavar="URL",
        nargs="?",
        help="base URL as the SDK takes it (…/v1 for OpenAI; no /v1 for Anthropic, Gemini, "
        "Bedrock); or --from-exchange / --guided instead",
    )
    active.add_argument("--model", default=None, help="model name to send (with URL)")
    active.add_argument("--api", choices=APIS, default="openai")
    active.add_argument(
        "--api-key-env",
        metavar="VAR",
        default=None,
        help="environment variable holding the key (default: OPENAI_API_KEY or ANTHROPIC_API_KEY)",
    )
    active.add_argument(
        "--max-requests",
        type=int,
        default=4,
        help="HTTP requests at most, retries included (default 4, minimum 2)",
    )
    active.add_argument("--product", default=None, help="product name to file the run under")
    active.add_argument("--timeout", type=timeout_seconds, default=60.0, help="seconds per request")
    active.add_argument("--probes", type=Path, default=None, help=argparse.SUPPRESS)
    active.add_argument("--no-store", action="store_true", help="do not save the run")
    add_db_option(active)
    add_json_option(active)
    add_channel_options(active)
    active.set_defaults(func=_run_active)

    passive = stages.add_parser(
        "passive",
        help="fit known tokenizers to captured usage counts and stream chunk boundaries",
    )
    passive.add_argument("--product", default=None, help="only this product")
    passive.add_argument(
        "--min-samples",
        type=int_in(1, 1_000_000),
        default=3,
        help="exchanges needed per (product, model id) (default 3)",
    )
    passive.add_argument("--no-store", action="store_true", help="do not save the runs")
    add_db_option(passive)
    add_json_option(passive)
    passive.set_defaults(func=_run_passive)


def safe_target(url: str) -> str:
    """The URL without userinfo, query or fragment (what is shown and stored)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _api_key(args: argparse.Namespace) -> str | None:
    if args.api_key_env:
        value = os.environ.get(args.api_key_env)
        if not value:
            raise UsageError(f"--api-key-env {args.api_key_env}: that variable is not set")
        return value
    return os.environ.get(DEFAULT_KEY_ENV[args.api]) or None


def _run_active(args: argparse.Namespace) -> int:
    from provenance.tokenizers.probes import load_probe_set
    from provenance.tokenizers.signatures import load_signatures

    if args.max_requests < 2:
        raise UsageError("--max-requests must be at least 2 (a baseline and one probe)")
    kind = channel_kind(args)
    probe_set = load_probe_set(args.probes)
    signatures = load_signatures()
    if kind == "api":
        doc = _run_api(args, probe_set, signatures)
    else:
        doc = _run_product(args, kind, probe_set, signatures)
    if args.json:
        emit_json(doc)
    else:
        _print_result(doc)
    if not args.no_store:
        save_run(args.db, "tokenizer", doc, product=args.product)
    failure = doc.get("failure")
    if failure:
        raise FingerprintError(f"{failure} (the partial run was {'not ' * args.no_store}saved)")
    return 0


def _run_api(args: argparse.Namespace, probe_set: Any, signatures: Any) -> dict[str, Any]:
    from provenance.fingerprint.channel.api import ApiChannel
    from provenance.fingerprint.tokenizer.active import run_active

    if not args.model:
        raise UsageError("--model is required with a URL")
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"URL must be http(s)://host[:port]/path, got {safe_target(args.url)!r}")
    if not args.no_store:
        ensure_store(args.db)
    channel = ApiChannel(
        args.url, args.model, api=args.api, api_key=_api_key(args), timeout=args.timeout
    )
    with channel:
        doc = run_active(channel, probe_set, signatures, max_requests=args.max_requests)
    doc["target"] = safe_target(args.url)
    return doc


def _run_product(
    args: argparse.Namespace, kind: str, probe_set: Any, signatures: Any
) -> dict[str, Any]:
    from provenance.fingerprint.channel.options import open_product_channel
    from provenance.fingerprint.tokenizer.active import run_active
    from provenance.store import open_store

    store = open_store(args.db, create=False)
    try:
        with open_product_channel(args, store) as channel:
            return run_active(channel, probe_set, signatures, max_requests=args.max_requests)
    finally:
        store.close()


def _print_result(doc: dict[str, Any], title: str | None = None) -> None:
    rows = [(r["tokenizer"], r["score"], r["status"], r["reason"]) for r in doc["ranking"]]
    print_table(
        title or f"tokenizer fingerprint of {doc.get('target')}",
        ["tokenizer", "score", "status", "reason"],
        rows,
    )
    families = ", ".join(doc.get("families") or []) or "—"
    print(
        line(
            f"verdict: {doc['verdict'] or 'null'} (families: {families}); {doc['reason']}; "
            f"requests: {doc.get('requests')}"
        )
    )


def save_run(db: str | None, kind: str, doc: dict[str, Any], *, product: str | None) -> int:
    """Save one run's document as a fingerprint run; returns the row id."""
    from provenance.store import FingerprintRunRecord, open_store

    families = doc.get("families") or []
    started = doc.get("started_at")
    record = FingerprintRunRecord(
        kind=kind,
        started_at=datetime.fromisoformat(started) if started else datetime.now(UTC),
        target=str(doc.get("target") or ""),
        model=doc.get("model"),
        method=str(doc.get("method_label") or f"tokenizer-differential/{doc.get('method')}"),
        requests=int(doc.get("requests") or 0),
        result=doc,
        product=product or doc.get("product"),
        verdict=doc.get("verdict"),
        family=families[0] if len(families) == 1 else None,
    )
    store = open_store(db, create=True)
    try:
        return store.save_fingerprint_run(record)
    finally:
        store.close()


def _run_passive(args: argparse.Namespace) -> int:
    from provenance.fingerprint.tokenizer.boundary import run_boundary
    from provenance.fingerprint.tokenizer.passive import PASSIVE_SCHEMA, run_passive
    from provenance.store import open_store

    store = open_store(args.db, create=False)
    try:
        results = run_passive(store, product=args.product, min_samples=args.min_samples)
        boundaries = run_boundary(store, product=args.product)
    finally:
        store.close()
    if args.json:
        emit_json({"schema": PASSIVE_SCHEMA, "results": results, "boundaries": boundaries})
    else:
        if not results:
            print("no (product, model id) with captured prompt-token counts")
        for doc in results:
            _print_result(doc, f"passive fit: {doc['product'] or '—'} / {doc['model'] or '—'}")
        if not boundaries:
            print("no (product, model id) with stored streamed text")
        for doc in boundaries:
            title = f"stream boundaries: {doc['product'] or '—'} / {doc['model'] or '—'}"
            _print_result(doc, title)
    if not args.no_store:
        for doc in results:
            save_run(args.db, "tokenizer-passive", doc, product=doc.get("product"))
        for doc in boundaries:
            save_run(args.db, "tokenizer-boundary", doc, product=doc.get("product"))
    return 0
