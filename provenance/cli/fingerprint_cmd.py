"""``provenance fingerprint {tokenizer,passive,logits}``: the probe stages, cheapest first.

Each stage lives in its own package and registers its sub-command here; heavy dependencies are
imported only when that sub-command runs.
"""

from __future__ import annotations

import argparse
import importlib

STAGES: tuple[str, ...] = (
    "provenance.fingerprint.tokenizer.cli",
    "provenance.fingerprint.logits.cli",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``fingerprint`` and its stages."""
    parser = sub.add_parser("fingerprint", help="probe an endpoint to name its base model")
    stages = parser.add_subparsers(dest="stage", metavar="STAGE", parser_class=type(parser))
    for name in STAGES:
        importlib.import_module(name).register(stages)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
