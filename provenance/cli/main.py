"""Entry point of the ``provenance`` console script.

Exit codes (documented in the README): 0 ok; 1 failure (a library error, a finding that failed);
2 usage or input error (bad argument, unreadable file, bad --db URL). Errors are one line on
stderr, prefixed ``error:``; no traceback for anything the user did.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from provenance import __version__
from provenance.display.terminal import line
from provenance.errors import ProvenanceError

# Each module named here defines ``register(subparsers)``, which adds its sub-command(s) and sets
# ``func(args) -> int`` on the parser. Imports are per module, so that `provenance models` never
# imports torch or streamlit.
COMMAND_MODULES: tuple[str, ...] = (
    "provenance.cli.capture_cmd",
    "provenance.cli.import_cmd",
    "provenance.cli.models_cmd",
    "provenance.cli.resolve_cmd",
    "provenance.cli.db_cmd",
    "provenance.cli.setup_cmd",
    "provenance.cli.fingerprint_cmd",
    "provenance.cli.probe_cmd",
    "provenance.cli.serve_reference_cmd",
    "provenance.cli.signatures_cmd",
    "provenance.cli.report_cmd",
    "provenance.cli.exchanges_cmd",
    "provenance.cli.export_cmd",
    "provenance.cli.prune_cmd",
    "provenance.cli.dashboard_cmd",
    "provenance.cli.connections_cmd",
    "provenance.cli.completion_cmd",
)


class _Parser(argparse.ArgumentParser):
    """argparse with our one-line error format and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {line(message)} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every registered sub-command."""
    parser = _Parser(
        prog="provenance",
        description="Which base model does an AI product really run on? "
        "Capture, fingerprint, report.",
    )
    parser.add_argument("--version", action="version", version=f"provenance {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except ProvenanceError as exc:
        sys.stderr.write(f"error: {line(exc)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
