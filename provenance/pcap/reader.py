"""Stream frames out of a pcap or pcapng file with scapy's raw readers (bounded memory).

:func:`iter_frames` yields ``(linktype, timestamp, frame bytes)`` one at a time and never loads
the file. TLS key logs embedded in pcapng Decryption Secrets Blocks are handed to a
:class:`~provenance.tls.keylog.KeyLog` (instead of scapy's global ``conf``). A truncated or
corrupt tail ends the iteration and is reported through ``on_error``; nothing raises after open.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path

from provenance.errors import UsageError
from provenance.optional import require
from provenance.tls.keylog import KeyLog

_DSB_TLS_KEYLOG = 0x544C534B
_MAX_FRAME = 1 << 18


def _ng_reader_class():
    require("scapy", "pcap", "reading packet captures")
    from scapy.utils import RawPcapNgReader

    class _Reader(RawPcapNgReader):
        keylog: KeyLog | None = None

        def __init__(self, filename, fdesc=None, magic=None):  # type: ignore[no-untyped-def]
            super().__init__(filename, fdesc, magic)
            self.blocktypes[10] = self._read_dsb_keylog

        def _read_dsb_keylog(self, block: bytes, size: int) -> None:
            if len(block) < 8 or self.keylog is None:
                return None
            stype, slen = struct.unpack(self.endian + "II", block[:8])
            if stype == _DSB_TLS_KEYLOG:
                self.keylog.add_text(block[8 : 8 + slen].decode("utf-8", "replace"))
            return None

    return _Reader


def open_capture(path: str | Path, keylog: KeyLog | None = None):
    """Open a pcap/pcapng file (gzip too) with scapy's raw readers. UsageError if unreadable."""
    require("scapy", "pcap", "reading packet captures")
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapReader

    path = str(path)
    if not Path(path).is_file():
        raise UsageError(f"capture file not found: {path}")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic == b"\x0a\x0d\x0d\x0a":
            reader = _ng_reader_class()(path)
            reader.keylog = keylog
        else:
            reader = RawPcapReader(path)
    except (Scapy_Exception, OSError, EOFError, struct.error, ValueError) as exc:
        raise UsageError(
            f"not a readable pcap/pcapng file: {path} ({type(exc).__name__})"
        ) from None
    return reader


def iter_frames(
    reader, on_error: Callable[[str], None] = lambda reason: None
) -> Iterator[tuple[int, float, bytes]]:
    """Yield ``(linktype, seconds since epoch, frame)`` for every packet until EOF or damage."""
    nano = bool(getattr(reader, "nano", False))
    default_linktype = getattr(reader, "linktype", 1)
    while True:
        try:
            item = reader._read_packet(size=_MAX_FRAME)  # scapy's raw API: (bytes, metadata)
        except EOFError:
            return
        except Exception as exc:  # a damaged block anywhere in the file
            on_error(f"damaged capture block ({type(exc).__name__})")
            return
        if item is None:
            return
        frame, meta = item
        if hasattr(meta, "tsresol"):
            ts = ((meta.tshigh << 32) | meta.tslow) / meta.tsresol
            linktype = meta.linktype
        else:
            ts = meta.sec + meta.usec / (1e9 if nano else 1e6)
            linktype = default_linktype
        caplen = getattr(meta, "caplen", None)
        if caplen is not None and len(frame) < caplen:
            on_error("truncated capture (last packet cut short)")
        yield linktype, ts, frame


def bytes_read(reader) -> int:
    """How far into the file the reader is (for progress), 0 if unknown."""
    try:
        return int(reader.f.tell())
    except (AttributeError, OSError, ValueError):
        return 0
