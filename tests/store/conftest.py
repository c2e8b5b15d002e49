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


@pytest.fixture
def catalog() -> Callable[[str], tuple[str | None, str | None]]:
    """The (family, vendor) resolver ``models_table`` uses by default (the real catalog)."""
    from provenance.store.queries import catalog_resolver

    return catalog_resolver()
