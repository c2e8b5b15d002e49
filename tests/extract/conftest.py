"""Fixtures for the extraction tests: a hypothesis ``ci`` profile, a real redactor, and a tiny
protobuf encoder (the tests build wire bytes by hand so every byte is known)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from provenance.standins.provider import varint

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
# Applied per test (``@CI``) rather than loaded globally, so other suites keep their own.
CI = settings.get_profile("ci")

LEAK_ID = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"


@pytest.fixture
def redactor():
    from provenance.redact import Redactor

    return Redactor(b"extract-tests-key-0123456789abcdef")


def pb_len(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (string, bytes or nested message)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def pb_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def envelope(payload: bytes, flags: int = 0) -> bytes:
    return bytes([flags]) + len(payload).to_bytes(4, "big") + payload
