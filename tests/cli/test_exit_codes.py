"""One exit code per kind of mistake, over every command.

A usage or input mistake (unknown option, bad value, missing file, unusable --db) exits 2 with
exactly one ``error:`` line on stderr and no traceback, whichever command it is given to. The
table must name every leaf command of the parser: a new command without cases fails here.

The same runs check that a database URL's credentials (password, ``password=``/``sslpassword=``/
``passfile=`` query parameters) appear in no output of any command that takes ``--db``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from provenance.cli.main import build_parser, main
from provenance.store import open_store

SECRETS = ("hunter2", "hunter3", "hunter4", "hunter5")
BAD_DB = (
    "postgresql://auditor:hunter2@127.0.0.1:1/db"
    "?password=hunter3&sslpassword=hunter4&passfile=/etc/hunter5"
)
MISSING = "/nonexistent/provenance-test/file.har"
URL = "http://127.0.0.1:1/v1"

# leaf command -> argument lists that are mistakes (each must exit 2 with one error line)
MISTAKES: dict[str, list[list[str]]] = {
    "capture": [
        ["--listen-port", "70000"],
        ["--listen-port", "x"],
        ["--listen-host", "0.0.0.0"],
        ["--max-body", "-1"],
        ["--mode", "nonsense"],
    ],
    "import": [[MISSING], ["--jobs", "-3", MISSING], ["--max-body", "many", MISSING]],
    "models": [["--db", "nosuchdialect://x/y"]],
    "resolve": [[]],
    "db upgrade": [["--db", "nosuchdialect://x/y"]],
    "db current": [["--db", "/nonexistent/dir/store.sqlite"]],
    "db rebuild-rollups": [["--db", "nosuchdialect://x/y"]],
    "setup": [["--listen-port", "-1"], ["--listen-port", "99999"]],
    "fingerprint tokenizer": [
        [URL],
        [URL, "--model", "m", "--max-requests", "0"],
        [URL, "--model", "m", "--timeout", "-5"],
        [URL, "--model", "m", "--api", "carrier-pigeon"],
        ["not a url", "--model", "m"],
        [],  # no channel at all
        ["--from-exchange", "0"],
        ["--from-exchange", "first"],
        [URL, "--model", "m", "--guided"],
        [URL, "--model", "m", "--prompt-at", "a.b"],
        ["--from-exchange", "3", "--model", "m"],
        ["--guided", "--header", "authorization=env:NOPE"],
        ["--from-exchange", "3", "--wait", "-1"],
    ],
    "probe inspect": [["--from-exchange", "x"], []],
    "fingerprint passive": [["--min-samples", "0"], ["--min-samples", "lots"]],
    "fingerprint logits": [
        [URL, "--model", "m"],
        [URL, "--model", "m", "--reference", "/nonexistent/model"],
        [URL, "--model", "m", "--reference", "/tmp", "--max-requests", "-1"],
        [URL, "--model", "m", "--reference", "/tmp", "--timeout", "nan"],
    ],
    "serve-reference": [
        ["/nonexistent/model"],
        ["/tmp", "--port", "70000"],
        ["/tmp", "--host", "0.0.0.0"],
    ],
    "signatures build": [["/nonexistent/tokenizer.json"]],
    "signatures probes": [["--units", "0"], ["--text-probes", "-1"]],
    "signatures list": [["--format", "xml"]],
    "report": [["--format", "pdf"], ["--out", "/nonexistent/dir/report.md"]],
    "exchanges": [
        ["show", "abc"],
        ["show", "-1"],
        ["show", "99999999999999999999999"],
        ["--limit", "-5"],
        ["--since", "yesterday-ish"],
        ["--since", "99999999999d"],
        ["--since", "'; DROP TABLE exchanges; --"],
        ["dance"],
    ],
    "export": [
        [],
        ["--format", "csv"],
        ["--format", "jsonl", "--since", "soon"],
        ["--format", "har", "--out", "/nonexistent/dir/evidence.har"],
    ],
    "prune": [[], ["--before", "whenever"]],
    "dashboard": [
        ["--host", "0.0.0.0"],
        ["--port", "70000"],
        ["--host", "0.0.0.0", "--allow-remote"],  # beyond loopback without a password
        ["--password-env", "PROVENANCE_TEST_UNSET_VARIABLE"],
    ],
    "connections": [["--db", "nosuchdialect://x/y"], ["--json", "--format", "csv"]],
    "fingerprint runs": [["--format", "yaml"], ["--limit", "0"]],
    "completion": [[], ["powershell"]],
}

# leaf command -> arguments that make it reach its store (for the --db credential check)
REACHES_STORE: dict[str, list[str]] = {
    "capture": ["--listen-port", "0"],
    "import": [str(Path(__file__))],
    "models": [],
    "db upgrade": [],
    "db current": [],
    "db rebuild-rollups": [],
    "fingerprint tokenizer": [URL, "--model", "m"],
    "fingerprint logits": [URL, "--model", "m", "--reference", "/nonexistent/model"],
    "fingerprint passive": [],
    "probe inspect": ["--from-exchange", "1"],
    "report": [],
    "exchanges": [],
    "export": ["--format", "jsonl"],
    "prune": ["--before", "7d"],
    "dashboard": ["--port", "0"],
    "connections": [],
    "fingerprint runs": [],
}


def _leaves(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[tuple]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for action in subs:
        for name, sub in action.choices.items():
            yield from _leaves(sub, (*prefix, name))


LEAVES = {" ".join(path): sub for path, sub in _leaves(build_parser())}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as done:
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_table_covers_every_command() -> None:
    assert set(MISTAKES) == set(LEAVES)
    takes_db = {name for name, sub in LEAVES.items() if "--db" in sub._option_string_actions}
    assert set(REACHES_STORE) == takes_db


CASES = [
    pytest.param(command, args, id=f"{command} {' '.join(args)}".strip())
    for command, cases in MISTAKES.items()
    for args in [*cases, ["--no-such-option"]]
]


@pytest.mark.parametrize(("command", "args"), CASES)
def test_a_mistake_exits_2_with_one_error_line(
    command: str, args: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = [*command.split(), *args]
    if "--db" not in args and "--db" in LEAVES[command]._option_string_actions:
        # an existing, empty store: only the mistake under test can fail the command
        store = tmp_path / "store.sqlite"
        open_store(f"sqlite:///{store}", create=True).close()
        argv += ["--db", str(store)]
    code, _out, err = _run(argv, capsys)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err


@pytest.mark.parametrize("command", sorted(REACHES_STORE))
def test_no_credential_of_the_db_url_in_any_output(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run([*command.split(), *REACHES_STORE[command], "--db", BAD_DB], capsys)
    assert code == 2, err
    assert "127.0.0.1:1/db" in err  # the store is named ...
    for secret in SECRETS:  # ... without its credentials
        assert secret not in out + err
