"""Store-test helpers: the CLI with only the store's commands, and a catalog resolver."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``provenance`` in-process through the real ``main()`` (its error handling and exit
    codes), with only the store's commands registered so other packages' state cannot interfere."""
    from provenance.cli import main as cli_main

    monkeypatch.setattr(
        cli_main, "COMMAND_MODULES", ("provenance.cli.db_cmd", "provenance.cli.models_cmd")
    )

    def run(*argv: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = cli_main.main(list(argv))
            except SystemExit as exc:  # argparse errors
                code = int(exc.code or 0)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


# The few ids these tests use, as the catalog (issue 2) resolves them.
_STUB_CATALOG = {
    "gpt-4o": ("gpt-4o", "openai"),
    "gpt-4o-2024-08-06": ("gpt-4o", "openai"),
    "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast": ("kimi-k2.5", "moonshot"),
}


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], tuple[str | None, str | None]]:
    """The (family, vendor) resolver ``models_table`` uses: the real catalog when it is
    installed, else a stub with the same answers for the ids above (patched in)."""
    from provenance.store import queries

    try:
        from provenance.catalog import resolve  # noqa: F401
    except ImportError:
        monkeypatch.setattr(
            queries,
            "catalog_resolver",
            lambda: lambda model_id: _STUB_CATALOG.get(model_id, (None, None)),
        )
    return queries.catalog_resolver()
