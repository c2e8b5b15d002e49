"""What an input file is, decided by its first bytes (never by its name).

HAR (JSON, optionally gzip- or zlib-compressed as ``.har.gz``/``.zhar``), mitmproxy flow files
(tnetstring), pcap and pcapng. :func:`open_input` returns a reader over the decompressed bytes
plus a way to ask how far into the file (compressed bytes) it has got, for progress bars.
"""

from __future__ import annotations

import enum
import gzip
import io
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

from provenance.errors import UsageError

PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_TNETSTRING = re.compile(rb"^\d{1,12}:")


class FileKind(enum.StrEnum):
    HAR = "har"
    FLOW = "flow"
    PCAP = "pcap"


def kind_of(head: bytes) -> FileKind | None:
    """Classify uncompressed leading bytes; None if unrecognised."""
    if head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_MAGIC:
        return FileKind.PCAP
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{"):
        return FileKind.HAR
    if _TNETSTRING.match(text):
        return FileKind.FLOW
    return None


class _ZlibReader(io.RawIOBase):
    """A read-only stream over a zlib-compressed file (mitmproxy's ``.zhar``)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.dec = zlib.decompressobj()
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        while not self.pending:
            data = self.raw.read(1 << 16)
            if not data:
                self.pending = self.dec.flush()
                break
            self.pending = self.dec.decompress(data)
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def _wrap(raw: IO[bytes], head: bytes) -> tuple[IO[bytes], str | None]:
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), "gzip"  # type: ignore[return-value]
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return io.BufferedReader(_ZlibReader(raw)), "zlib"  # type: ignore[return-value]
    return raw, None


def open_input(path: Path) -> tuple[FileKind, IO[bytes], Callable[[], int]]:
    """Open ``path``; return its kind, a reader of its (decompressed) bytes, and a position probe.

    Raises :class:`UsageError` for a missing/unreadable file or an unknown format.
    """
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        head = raw.read(16)
        raw.seek(0)
        reader, compression = _wrap(raw, head)
        if compression is not None:
            try:
                head = reader.peek(64)[:64] if hasattr(reader, "peek") else b""
            except (OSError, zlib.error, EOFError):
                raise UsageError(f"{path}: corrupt {compression} data") from None
    except UsageError:
        raw.close()
        raise
    kind = kind_of(head)
    if kind is None or (kind is FileKind.PCAP and compression is not None):
        raw.close()
        raise UsageError(
            f"{path}: not a HAR, mitmproxy flow or pcap file (recognised by content, not name)"
        )
    return kind, reader, raw.tell
