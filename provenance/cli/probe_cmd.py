"""``provenance probe inspect --from-exchange ID``: how replay sees a stored exchange.

Prints the format, where the prompt is (or the candidate PATHs), what must be re-supplied, and
the reply's text and usage candidates (schema ``provenance.probe-inspect/1`` with ``--json``).
Nothing is sent to the product.
"""

from __future__ import annotations

import argparse

from provenance.cli.common import add_db_option, add_json_option, emit_json, print_table
from provenance.display.terminal import line


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``provenance probe`` and its ``inspect`` sub-command."""
    probe = sub.add_parser("probe", help="look at a stored exchange as a probe template")
    stages = probe.add_subparsers(dest="probe_command", metavar="COMMAND", required=True)
    inspect = stages.add_parser(
        "inspect", help="where the prompt, reply text and usage are in a stored exchange"
    )
    inspect.add_argument("--from-exchange", type=int, required=True, metavar="ID")
    inspect.add_argument("--typed", metavar="TEXT", help="what you typed into the product")
    add_db_option(inspect)
    add_json_option(inspect)
    inspect.set_defaults(func=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    from provenance.fingerprint.channel.inspect import inspect_exchange
    from provenance.store import open_store

    store = open_store(args.db, create=False)
    try:
        doc = inspect_exchange(store, args.from_exchange, typed=args.typed)
    finally:
        store.close()
    if args.json:
        emit_json(doc)
        return 0
    print(line(f"exchange {doc['exchange']}: {doc['target']} ({doc['framing']}); "
               f"product {doc['product'] or '—'}, model {doc['model'] or '—'}"))  # fmt: skip
    known = doc["format"] or "none (give --prompt-at, --text-at, --usage-at)"
    print(line(f"known format: {known}"))
    print(line(f"prompt at: {doc['prompt_at'] or '—'}"))
    if doc.get("prompt_note"):
        print(line(doc["prompt_note"]))
    print_table(
        "prompt candidates (--prompt-at)",
        ["path", "frame", "chars", "holds --typed", "preview"],
        [(c["path"], c["frame"], c["chars"], c["holds_typed"], c["preview"])
         for c in doc["prompt_candidates"]],
    )  # fmt: skip
    print_table(
        "reply text candidates (--text-at)",
        ["path", "frames"],
        [(c["path"], c["frames"]) for c in doc["text_candidates"]],
    )
    print_table(
        "usage candidates in the last frame (--usage-at)",
        ["path", "value"],
        [(c["path"], c["value"]) for c in doc["usage_candidates"]],
    )
    for item in doc["resupply"]:
        print(line(f"re-supply: {item}"))
    exact = {True: "yes", False: "NO", None: "not checked"}[doc["rebuilds_exactly"]]
    print(line(f"template rebuilds the captured request bytes: {exact}"))
    return 0
