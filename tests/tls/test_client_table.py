"""The JA4 → client table: well-formed, sourced, and true for the clients installed here."""

from __future__ import annotations

import json
import ssl
import sys

import pytest

from provenance.tls.client_table import (
    SCHEMA,
    catch_client_hello,
    client_for_ja4,
    local_clients,
    table_path,
)
from provenance.tls.ja4 import ja4_from_client_hello


def test_table_is_well_formed() -> None:
    doc = json.loads(table_path().read_text())
    assert doc["schema"] == SCHEMA
    assert doc["entries"]
    seen = set()
    for entry in doc["entries"]:
        assert entry["ja4"] not in seen
        seen.add(entry["ja4"])
        assert entry["client"] and entry["source"].startswith("computed here on ")
        assert client_for_ja4(entry["ja4"]) == entry["client"]
    assert client_for_ja4("t13d0000zz_000000000000_000000000000") is None
    assert client_for_ja4(None) is None


def test_table_matches_local_clients_of_the_same_version() -> None:
    """Every client installed here whose version is the one recorded must fingerprint the same."""
    doc = json.loads(table_path().read_text())
    by_client = {e["client"]: e for e in doc["entries"]}
    checked = 0
    for name, version, connect in local_clients():
        entry = by_client.get(name)
        if entry is None or version not in entry["source"]:
            continue  # another version here: the recorded one cannot be checked on this machine
        assert ja4_from_client_hello(catch_client_hello(connect) or b"") == entry["ja4"], name
        checked += 1
    if not checked:
        pytest.skip(
            f"no client here has a recorded version (Python {sys.version.split()[0]}, "
            f"{ssl.OPENSSL_VERSION})"
        )
