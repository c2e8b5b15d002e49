"""``provenance setup``: print how to route this machine's tools through the capture proxy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from provenance.capture.options import DEFAULT_LISTEN_HOST, DEFAULT_LISTEN_PORT
from provenance.cli.common import add_json_option, emit_json, port_number


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "setup",
        help="print how to route tools through the capture proxy (CA trust, proxy, base URLs)",
        description="Print the steps to route this machine's tools through `provenance capture`.",
    )
    parser.add_argument("--listen-host", default=DEFAULT_LISTEN_HOST, metavar="HOST")
    parser.add_argument(
        "--listen-port", type=port_number, default=DEFAULT_LISTEN_PORT, metavar="PORT"
    )
    parser.add_argument(
        "--confdir",
        type=Path,
        default=None,
        metavar="DIR",
        help="mitmproxy's configuration/CA directory (default ~/.mitmproxy)",
    )
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from provenance.capture.guide import ca_path, setup_steps

    sections = setup_steps(
        listen_host=args.listen_host, listen_port=args.listen_port, confdir=args.confdir
    )
    if args.json:
        emit_json(
            {
                "schema": "provenance.setup/1",
                "ca_cert": str(ca_path(args.confdir)),
                "proxy": f"http://{args.listen_host}:{args.listen_port}",
                "sections": [{"title": s.title, "lines": list(s.lines)} for s in sections],
            }
        )
        return 0
    out = sys.stdout
    for section in sections:
        out.write(f"{section.title}\n")
        for line in section.lines:
            out.write(f"    {line}\n")
        out.write("\n")
    return 0
