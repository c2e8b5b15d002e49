"""Passive analysis of packet captures: TLS metadata (SNI, ALPN, JA4/JA3), DNS names, and —
with a key log — decrypted HTTP/1.1 and HTTP/2 exchanges as ``RawExchange(origin=PCAP)``.

Entry points: :func:`read_capture` (collects), :func:`iter_capture` (streams), and
:func:`provenance.pcap.importer.import_capture` (extract, redact and store).
scapy is imported only when a file is opened.
"""

from __future__ import annotations

from provenance.pcap.capture import iter_capture, read_capture
from provenance.pcap.model import CaptureResult, CaptureStats, TlsConnection

__all__ = ["CaptureResult", "CaptureStats", "TlsConnection", "iter_capture", "read_capture"]
