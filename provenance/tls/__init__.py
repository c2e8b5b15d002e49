"""TLS ClientHello parsing and client fingerprints (JA4 family, JA3), pure Python.

``ja4_from_client_hello(raw)`` is what the live addon calls with mitmproxy's
``client_hello.raw_bytes()``; the pcap reader uses the same functions.
"""

from __future__ import annotations

from provenance.tls.clienthello import ClientHello, MalformedHello, is_grease, parse_client_hello
from provenance.tls.ja3 import ja3_hash, ja3_string
from provenance.tls.ja4 import JA4, ja4_for_hello, ja4_from_client_hello, ja4_variants

__all__ = [
    "JA4",
    "ClientHello",
    "MalformedHello",
    "is_grease",
    "ja3_hash",
    "ja3_string",
    "ja4_for_hello",
    "ja4_from_client_hello",
    "ja4_variants",
    "parse_client_hello",
]
