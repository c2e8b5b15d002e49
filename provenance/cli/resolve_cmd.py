"""``provenance resolve MODEL_ID [--json]``: what the catalog says about one model id.

Exit codes: 0 when the id was resolved (also when it is unknown: family null is an answer, not a
failure); 2 for an empty id; 1 if the shipped catalog itself is malformed (CatalogError).
"""

from __future__ import annotations

import argparse

from provenance.cli.common import add_json_option, emit_json, print_table
from provenance.errors import UsageError

SCHEMA = "provenance.resolve/1"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``resolve`` sub-command."""
    parser = subparsers.add_parser(
        "resolve",
        help="resolve a model id to its family, vendor, provider hint and tags",
        description="Resolve a model id (as seen in traffic) to a base-model family, vendor, "
        "the provider its shape implies, and variant tags. Unknown ids give family null.",
    )
    parser.add_argument("model_id", metavar="MODEL_ID", help="e.g. accounts/x/models/kimi-k2p5")
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the resolution of ``args.model_id``; see the module docstring for exit codes."""
    from provenance.catalog import resolve

    if not args.model_id.strip():
        raise UsageError("MODEL_ID is empty; pass the model id as seen in traffic")
    resolution = resolve(args.model_id)
    if args.json:
        emit_json({"schema": SCHEMA, **resolution.to_json()})
        return 0
    rows = [
        ("model id", resolution.model_id),
        ("family", resolution.family or "unknown (no catalog pattern fits)"),
        ("vendor", resolution.vendor),
        ("provider hint", resolution.provider_hint),
        ("tags", ", ".join(resolution.tags) or None),
    ]
    print_table("Model id resolution", ("field", "value"), rows)
    return 0
