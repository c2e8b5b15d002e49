"""The channel options every fingerprint stage takes, and opening the channel they name.

``URL --model M`` (an API), ``--from-exchange ID`` (replay) or ``--guided``; then
``--prompt-at``/``--typed``/``--text-at``/``--usage-at`` for formats the catalog does not know,
``--header NAME=env:VAR``/``--query NAME=env:VAR``/``--field PATH=env:VAR`` for the secrets a
stored exchange holds redacted, ``--min-interval`` (replay) and ``--wait`` (guided). Values
re-supplied from the environment are read here, once, and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from provenance.errors import UsageError
from provenance.fingerprint.channel.paths import parse_path
from provenance.fingerprint.channel.reading import ReplyPaths
from provenance.fingerprint.channel.template import Secrets

PROBE_SCHEMA = "provenance.probe/1"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an exchange id (a number), got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 86400, got {text!r}")
    return value


def add_channel_options(parser: argparse.ArgumentParser, *, url: bool = True) -> None:
    """Add ``--from-exchange``, ``--guided`` and the options they take to ``parser``."""
    group = parser.add_argument_group("probing a product (replay or guided)")
    group.add_argument(
        "--from-exchange",
        type=_positive_int,
        metavar="ID",
        help="replay this stored exchange of the product, the prompt replaced by each probe"
        + (" (instead of URL and --model)" if url else ""),
    )
    group.add_argument(
        "--guided",
        action="store_true",
        help="print each probe to send through the product's own client while "
        "`provenance capture` records into the same --db",
    )
    group.add_argument("--prompt-at", metavar="PATH", help="where the prompt is in the request")
    group.add_argument("--typed", metavar="TEXT", help="what you typed (finds the prompt)")
    group.add_argument("--text-at", metavar="PATH", help="where each reply frame's text is")
    group.add_argument(
        "--usage-at",
        metavar="prompt=PATH[,completion=PATH]",
        help="where the reply's usage counts are (last frame that has them)",
    )
    for flag, what in (("--header", "NAME"), ("--query", "NAME"), ("--field", "PATH")):
        group.add_argument(
            flag,
            action="append",
            default=[],
            metavar=f"{what}=env:VAR",
            help=f"re-supply a redacted {flag[2:]} from environment variable VAR (repeatable)",
        )
    group.add_argument(
        "--min-interval",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="replay: at least this long between requests (default 1)",
    )
    group.add_argument(
        "--wait",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="guided: how long to wait for each probe to arrive (default 300)",
    )


def channel_kind(args: argparse.Namespace) -> str:
    """``api``, ``replay`` or ``guided``, checking that exactly one was asked for."""
    chosen = [
        name
        for name, on in (
            ("URL", getattr(args, "url", None)),
            ("--from-exchange", args.from_exchange is not None),
            ("--guided", args.guided),
        )
        if on
    ]
    if len(chosen) != 1:
        raise UsageError(
            "give one of URL (with --model), --from-exchange ID or --guided"
            + (f", not {' and '.join(chosen)}" if chosen else "")
        )
    kind = {"URL": "api", "--from-exchange": "replay", "--guided": "guided"}[chosen[0]]
    if kind == "api":
        flags = ("prompt_at", "typed", "text_at", "usage_at", "header", "query", "field")
        stray = [f"--{f.replace('_', '-')}" for f in flags if getattr(args, f, None)]
        if stray:
            raise UsageError(f"{stray[0]} is for --from-exchange or --guided, not for a URL")
    elif getattr(args, "model", None):
        raise UsageError(f"--model is not used with {chosen[0]}: the product's exchange names it")
    if kind == "guided":
        stray = [f for f in ("header", "query", "field") if getattr(args, f, None)]
        if stray or args.typed:
            flag = f"--{stray[0]}" if stray else "--typed"
            raise UsageError(f"{flag} is for --from-exchange (guided probes go by the product)")
    return kind


def reply_paths(args: argparse.Namespace) -> ReplyPaths:
    """``--text-at`` and ``--usage-at`` as :class:`ReplyPaths`."""
    text = args.text_at
    if text:
        parse_path(text)
    prompt = completion = None
    if args.usage_at:
        for item in args.usage_at.split(","):
            key, sep, path = item.partition("=")
            key = key.strip()
            if not sep or key not in ("prompt", "completion"):
                raise UsageError(f"--usage-at {args.usage_at!r}: use prompt=PATH[,completion=PATH]")
            parse_path(path)
            if key == "prompt":
                prompt = path.strip()
            else:
                completion = path.strip()
    return ReplyPaths(text, prompt, completion)


def _from_env(flag: str, spec: str) -> tuple[str, str]:
    name, sep, source = spec.partition("=")
    name = name.strip()
    if not sep or not name or not source.startswith("env:") or not source[4:]:
        raise UsageError(
            f"{flag} {name or spec!r}: use {flag} NAME=env:VAR (the value is read from the "
            "environment, never typed on the command line)"
        )
    var = source[4:]
    value = os.environ.get(var)
    if not value:
        raise UsageError(f"{flag} {name}=env:{var}: that variable is not set")
    if "\n" in value or "\r" in value:
        raise UsageError(f"{flag} {name}=env:{var}: the value holds a line break")
    return name, value


def secrets(args: argparse.Namespace) -> Secrets:
    """The re-supplied values (read from the environment now)."""
    headers = tuple(_from_env("--header", s) for s in args.header)
    query = tuple(_from_env("--query", s) for s in args.query)
    fields = []
    for spec in args.field:
        path, value = _from_env("--field", spec)
        parse_path(path)
        fields.append((path, value))
    return Secrets(headers, query, tuple(fields))


def announce_json(probe_id: str, text: str) -> None:
    """One ``provenance.probe/1`` line on stdout: what to send now."""
    sys.stdout.write(json.dumps({"schema": PROBE_SCHEMA, "probe": probe_id, "send": text}) + "\n")
    sys.stdout.flush()


def announce_human(wait: float) -> Any:
    """A printer of probes for a person (stderr keeps stdout for the result)."""

    def announce(probe_id: str, text: str) -> None:
        sys.stderr.write(
            f"\nSend this as a NEW chat in the product (probe {probe_id}; waiting up to "
            f"{wait:g} s). Paste it whole, line breaks included:\n"
            f"----8<----\n{text}\n----8<----\n"
        )
        sys.stderr.flush()

    return announce


@contextmanager
def open_product_channel(args: argparse.Namespace, store: Any) -> Iterator[Any]:
    """The replay or guided channel the arguments name (``store`` is open and stays so)."""
    from provenance.fingerprint.channel.guided import GuidedChannel
    from provenance.fingerprint.channel.replay import ReplayChannel
    from provenance.fingerprint.channel.template import load_template

    paths = reply_paths(args)
    if args.from_exchange is not None:
        template = load_template(
            store, args.from_exchange, prompt_at=args.prompt_at, typed=args.typed
        )
        channel: Any = ReplayChannel(
            template,
            store,
            secrets=secrets(args),
            paths=paths,
            min_interval=args.min_interval,
            timeout=getattr(args, "timeout", 120.0),
        )
    else:
        announce = announce_json if args.json else announce_human(args.wait)
        channel = GuidedChannel(store, announce=announce, wait=args.wait, paths=paths)
    try:
        yield channel
    finally:
        channel.close()
