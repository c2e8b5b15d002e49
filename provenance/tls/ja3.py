"""JA3 (Salesforce) fingerprint of a ClientHello: MD5 of
``version,ciphers,extensions,groups,point_formats`` (decimal, ``-``-joined, GREASE removed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from provenance.tls.clienthello import ClientHello, is_grease


def _join(values: Iterable[int]) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def ja3_string(hello: ClientHello) -> str:
    """The JA3 text (before hashing) for a parsed ClientHello."""
    return ",".join(
        (
            str(hello.legacy_version),
            _join(hello.cipher_suites),
            _join(hello.extensions),
            _join(hello.supported_groups),
            _join(hello.ec_point_formats),
        )
    )


def ja3_hash(hello: ClientHello) -> str:
    """The JA3 fingerprint: 32 hex characters (MD5 of :func:`ja3_string`)."""
    return hashlib.md5(ja3_string(hello).encode("ascii"), usedforsecurity=False).hexdigest()
