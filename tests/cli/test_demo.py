"""``make demo`` (``python -m provenance.demo``) works end to end on a fresh data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.capture.dbrows import exchanges

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_demo_runs_the_whole_path(provenance_home: Path) -> None:
    env = {**os.environ, "DEMO_SERVE": "0", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "provenance.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "asked for gpt-4o, answered by gpt-4o-2024-08-06" in out
    assert "5 exchange(s) stored" in out
    rows = exchanges(f"sqlite:///{provenance_home / 'provenance.sqlite'}")
    seen = {(i[0], i[1]) for r in rows for i in r["ids"]}
    kimi = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"
    assert {(kimi, "request_field"), (kimi, "sse_frame"), (kimi, "protobuf_field")} <= seen
    assert ("gpt-4o-2024-08-06", "response_field") in seen
    assert "gpt-4o-2024-08-06" in out and "kimi-k2.5" in out  # the models table, resolved
    # the verdict table: an id named by the traffic, one found by the tokenizer alone, and a
    # product whose literal id (gpt-4o) and token counts (Kimi K2) disagree
    verdicts = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert verdicts["acme-code"][1:3] == ["kimi-k2", "identified"]
    assert verdicts["shadow-ide"][1:3] == ["-", "conflict"]
    assert "model-id says gpt-4o; tokenizer says kimi-k2" in out
    assert verdicts["provenance-demo"][2] == "identified"
    # a Connect/protobuf product that names no model, identified by replaying its own RPC
    assert verdicts["connect-ide"][1:3] == ["kimi-k2", "identified"]
    assert "the product reports no usage; decided from its stream boundaries" in out
    assert "demo-session-token-not-real" not in "".join(str(r) for r in rows)
