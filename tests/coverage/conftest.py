"""Fixtures for the capture-coverage tests (wire formats beyond plain JSON/SSE).

The tiny protobuf encoders come from ``tests/extract/conftest.py``; the end-to-end fixtures
(a module-scoped ``mitmdump -s addons/capture.py``, its confdir and home, the TLS stand-in
provider) are the capture engineer's, imported from ``tests/e2e/conftest.py``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from provenance.records import RawExchange
from tests.e2e.conftest import confdir, e2e_home, shared_proxy, standin_tls  # noqa: F401
from tests.extract.conftest import CI, envelope, pb_len, pb_varint, varint  # noqa: F401


@pytest.fixture
def redactor():
    from provenance.redact import Redactor

    return Redactor(b"coverage-tests-key-0123456789abcdef")


def raw_exchange(url: str, **kw: object) -> RawExchange:
    """A RawExchange with sensible defaults (POST, 200, no bodies)."""
    base: dict[str, object] = dict(
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        method="POST",
        url=url,
        request_headers=[("content-type", "application/json")],
        request_body=None,
        status=200,
        response_headers=[("content-type", "application/json")],
        response_body=None,
    )
    base.update(kw)
    return RawExchange(**base)  # type: ignore[arg-type]


def ids(record) -> set[tuple[str, str, str]]:
    """``(model_id, source, role)`` of a record's observations."""
    return {(o.model_id, str(o.source), o.role) for o in record.observations}
