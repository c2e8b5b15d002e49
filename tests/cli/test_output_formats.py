"""List commands in every output shape, plain text into pipes, and shell completion.

``models``, ``exchanges``, ``connections`` and ``fingerprint runs`` each print the same records
as ``--format json``, ``jsonl`` (one object per line) and ``csv`` (a header row of the table's
columns); their table is plain text (no box drawing, no colour, no title) into a pipe and on a
terminal with ``NO_COLOR`` set, and a Rich table on a terminal otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provenance.store import ConnectionRecord, FingerprintRunRecord, open_store
from tests.reporting.seed import KIMI, seed

BOX = set("┏┃│─━┡╇└┘")
LISTS = {
    "models": ("models", "product"),
    "exchanges": ("exchanges", "id"),
    "connections": ("connections", "SNI"),
    "fingerprint runs": ("runs", "id"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('formats') / 'store.sqlite'}"
    seed(url)
    now = datetime(2026, 3, 17, tzinfo=UTC)
    with open_store(url, create=True) as s:
        s.save_connections([ConnectionRecord(first_seen=now, last_seen=now, sni="api2.cursor.sh")])
        s.save_fingerprint_run(
            FingerprintRunRecord(kind="tokenizer", started_at=now, target="http://x/v1",
                                 model="m", method="tokenizer-differential/x", requests=3,
                                 result={"verdict": "kimi-k2"}, product="cursor",
                                 verdict="kimi-k2", family="kimi-k2")
        )  # fmt: skip
    return url


def _run(args: list[str], **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "provenance", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("command", sorted(LISTS))
def test_every_shape_carries_the_same_records(command: str, store: str) -> None:
    key, first_column = LISTS[command]
    base = [*command.split(), "--db", store]
    records = json.loads(_run([*base, "--format", "json"]))[key]
    assert records and json.loads(_run([*base, "--json"]))[key] == records
    lines = [json.loads(line) for line in _run([*base, "--format", "jsonl"]).splitlines()]
    assert lines == records
    rows = list(csv.reader(io.StringIO(_run([*base, "--format", "csv"]))))
    assert rows[0][0] == first_column and len(rows) == len(records) + 1
    plain = _run(base)
    assert not BOX & set(plain) and "\x1b" not in plain
    assert plain.splitlines()[0].split()[0] == first_column.split()[0]
    assert len(plain.splitlines()) == len(records) + 1


def _on_a_terminal(args: list[str], **env: str) -> str:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "provenance", *args],
        stdout=follower,
        stderr=follower,
        env={**os.environ, "COLUMNS": "200", **env},
    )
    os.close(follower)
    out = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    return out.decode()


def test_a_terminal_gets_a_table_unless_no_color_is_set(store: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    rich = _on_a_terminal(["models", "--db", store], **{**env, "NO_COLOR": ""})
    assert BOX & set(rich) and "Models seen" in rich and KIMI[:30] in rich
    plain = _on_a_terminal(["models", "--db", store], NO_COLOR="1")
    assert not BOX & set(plain) and "Models seen" not in plain and KIMI[:30] in plain


def _complete(script: Path, *words: str) -> list[str]:
    line = " ".join(f"'{w}'" for w in ["provenance", *words])
    code = (
        f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _provenance; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_bash_completion_knows_commands_options_and_choices(tmp_path: Path) -> None:
    script = tmp_path / "provenance.bash"
    script.write_text(_run(["completion", "bash"]))
    assert _complete(script, "mo") == ["models"]
    assert {"tokenizer", "passive", "logits", "runs"} <= set(_complete(script, "fingerprint", ""))
    assert _complete(script, "models", "--format", "") == ["table", "csv", "jsonl", "json"]
    assert "--max-requests" in _complete(script, "fingerprint", "tokenizer", "--max")
    assert _complete(script, "completion", "")[:3] == ["bash", "zsh", "fish"]


def test_zsh_and_fish_scripts_name_every_command() -> None:
    zsh, fish = _run(["completion", "zsh"]), _run(["completion", "fish"])
    assert zsh.startswith("#compdef provenance") and "bashcompinit" in zsh
    for command in ("capture", "import", "models", "exchanges", "dashboard", "completion"):
        assert f"-a {command}" in fish and command in zsh
