"""JA4 (all four variants) against the reference implementation's published vectors.

The captures and expected outputs live in ``../shared/data/ja4`` beside the checkout (CI lays
``shared/`` there). Every ClientHello of every expected stream must match exactly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from provenance.pcap import read_capture

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ja4"
EXPECTED = sorted(VECTORS.glob("*.expected.json")) if VECTORS.is_dir() else []
VARIANTS = ("JA4", "JA4_r", "JA4_o", "JA4_ro")


def _require_vectors() -> None:
    if EXPECTED:
        return
    if os.environ.get("PROVENANCE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"JA4 test vectors missing: {VECTORS}")
    pytest.skip(f"JA4 test vectors not present at {VECTORS}")


@pytest.mark.parametrize("expected_path", EXPECTED or [None], ids=lambda p: p.name if p else "none")
def test_ja4_matches_reference_vectors(expected_path: Path | None) -> None:
    _require_vectors()
    assert expected_path is not None
    capture = expected_path.with_name(expected_path.name.removesuffix(".expected.json"))
    result = read_capture(capture)
    by_endpoints = {
        (c.client_ip, c.client_port, c.server_ip, c.server_port): c for c in result.connections
    }
    checked = 0
    for entry in json.loads(expected_path.read_text()):
        key = (entry["src"], int(entry["srcport"]), entry["dst"], int(entry["dstport"]))
        conn = by_endpoints.get(key)
        assert conn is not None, f"stream {entry['stream']} {key} not found"
        if entry.get("domain"):
            assert conn.sni == entry["domain"], f"stream {entry['stream']}"
        for n in (1, 2):
            for variant in VARIANTS:
                name = f"{variant}.{n}"
                if name not in entry:
                    continue
                assert len(conn.hellos) >= n, f"stream {entry['stream']}: ClientHello {n} missing"
                assert conn.hellos[n - 1][variant.lower()] == entry[name], (
                    f"stream {entry['stream']} {name}"
                )
                checked += 1
    assert checked > 0
    # Nothing in these captures is TLS beyond what the reference listed.
    assert len(result.connections) == len(json.loads(expected_path.read_text()))


def test_vector_count() -> None:
    """All captures together hold 580 fingerprint values (135 streams; HelloRetryRequests give
    a second hello); this guards against vectors silently disappearing."""
    _require_vectors()
    total = 0
    for path in EXPECTED:
        for entry in json.loads(path.read_text()):
            total += sum(1 for k in entry if k.split(".")[0] in VARIANTS)
    assert total == 580
