"""Incremental Content-Encoding decoders with a cap against decompression bombs.

A :class:`BodyDecoder` takes the body as it arrives on the wire (still compressed) and returns
decoded bytes chunk by chunk. It never raises: invalid data, an unknown encoding or reaching the
decoded-bytes cap stops decoding and sets :attr:`BodyDecoder.error` to a short reason; further
input is then ignored (the caller still sees the raw bytes it fed).

Memory stays bounded whatever the input: compressed input is fed to the codec in small slices
and the output of each call is checked against the cap before more input goes in.

* gzip / deflate (zlib or raw) use :mod:`zlib` with ``max_length``, so no call decodes more
  than the bytes still allowed under the cap.
* br (``brotli`` 1.1) and zstd (``zstandard``) have no output limit per call, so input slices
  adapt to the observed expansion: they start at one byte, shrink (down to one byte) while
  output is large and at most double while it is small, up to a per-codec maximum chosen
  from the densest encoding (16 bytes for brotli, 512 for zstd; see ``_ADAPTIVE_MAX_SLICE``).
  One call on a bomb therefore yields at most a few tens of MiB (measured: 8 MiB for one
  byte of brotli quality 11, 128 KiB for one byte of zstd), so a cap is overshot by at most
  one call's output, which is discarded beyond the cap.

Stacked encodings (``Content-Encoding: gzip, br``) are undone last-applied-first.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

DEFAULT_DECODED_CAP = 64 * 1024 * 1024
CAP_REACHED = "decompression cap reached"

_MAX_SLICE = 64 * 1024
_TARGET_OUT = 1024 * 1024  # aim for about this much output per codec call (br, zstd)


class _Codec:
    """One decoding stage. ``push(data, limit)`` decodes a prefix of ``data`` and returns
    ``(output, unconsumed_input)``; output is at most ``limit`` bytes where the codec can enforce
    it. ``flush`` returns what is left at end of body. Both may raise on invalid data."""

    name = "identity"

    def push(self, data: bytes, limit: int) -> tuple[bytes, bytes]:
        return data, b""

    def flush(self, limit: int) -> bytes:
        return b""

    def finished_ok(self) -> bool:
        return True


def _only_padding(data: bytes) -> bool:
    return not data.strip(b"\x00\r\n\t ")


class _ZlibCodec(_Codec):
    """gzip (wbits 31), zlib-wrapped deflate (15) or raw deflate (-15); deflate auto-detects
    zlib vs raw from the first two bytes, since servers send both under ``deflate``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._obj = zlib.decompressobj(31) if name == "gzip" else None
        self._pending = b""

    def _start(self, data: bytes, final: bool) -> bytes:
        self._pending += data
        if len(self._pending) < 2 and not final:
            return b""
        head = self._pending[:2]
        # zlib header (RFC 1950): CM=8 in the low nibble, CMF*256+FLG a multiple of 31.
        wrapped = len(head) == 2 and head[0] & 0x0F == 8 and (head[0] * 256 + head[1]) % 31 == 0
        self._obj = zlib.decompressobj(15 if wrapped else -15)
        data, self._pending = self._pending, b""
        return data

    def push(self, data: bytes, limit: int) -> tuple[bytes, bytes]:
        if self._obj is None:
            data = self._start(data, final=False)
            if self._obj is None:
                return b"", b""
        obj = self._obj
        if obj.eof:  # the stream ended earlier; what follows may start another gzip member
            if self.name == "gzip":
                data = self._pending + data
                self._pending = b""
                if data == b"\x1f":
                    self._pending = data  # the next member's magic, split across chunks
                    return b"", b""
                if data[:2] == b"\x1f\x8b":
                    self._obj = zlib.decompressobj(31)
                    return b"", data
            if not _only_padding(data):
                raise ValueError("trailing bytes after compressed stream")
            return b"", b""
        out = obj.decompress(data, limit)
        rest = obj.unconsumed_tail
        if obj.eof and obj.unused_data:
            tail = obj.unused_data + rest
            if self.name == "gzip" and tail[:2] == b"\x1f\x8b":
                # Concatenated gzip members form one gzip stream (RFC 1952 section 2.2).
                self._obj = zlib.decompressobj(31)
                return out, tail
            if not _only_padding(tail):
                raise ValueError("trailing bytes after compressed stream")
            return out, b""
        return out, rest

    def flush(self, limit: int) -> bytes:
        if self._obj is None:
            data = self._start(b"", final=True)
            out, _ = self.push(data, limit) if data else (b"", b"")
            return out
        if self._obj.eof:
            return b""
        return self._obj.flush()[:limit]

    def finished_ok(self) -> bool:
        return self._obj is not None and self._obj.eof and not self._pending


class _BrotliCodec(_Codec):
    name = "br"

    def __init__(self) -> None:
        import brotli

        self._obj = brotli.Decompressor()

    def push(self, data: bytes, limit: int) -> tuple[bytes, bytes]:
        if self._obj.is_finished():
            if not _only_padding(data):
                raise ValueError("trailing bytes after compressed stream")
            return b"", b""
        return self._obj.process(data), b""

    def finished_ok(self) -> bool:
        return bool(self._obj.is_finished())


class _ZstdCodec(_Codec):
    name = "zstd"

    def __init__(self) -> None:
        import zstandard

        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()

    def push(self, data: bytes, limit: int) -> tuple[bytes, bytes]:
        if self._obj.eof:
            # Several zstd frames in a row decode as their concatenation (RFC 8878 section 3).
            rest = data  # the previous frame's unused_data was already handed back as rest
            if _only_padding(rest):
                return b"", b""
            self._obj = self._dctx.decompressobj()
            data = rest
        out = self._obj.decompress(data)
        return out, (self._obj.unused_data if self._obj.eof else b"")

    def finished_ok(self) -> bool:
        return bool(self._obj.eof)


def _make_codec(token: str) -> _Codec | None:
    token = token.strip().lower()
    if token in ("", "identity", "none"):
        return _Codec()
    if token in ("gzip", "x-gzip"):
        return _ZlibCodec("gzip")
    if token == "deflate":
        return _ZlibCodec("deflate")
    if token == "br":
        return _BrotliCodec()
    if token == "zstd":
        return _ZstdCodec()
    return None


# Largest input slice per codec call for the codecs without an output limit. The densest
# encodings bound the output of one call: a zstd block yields at most 128 KiB and takes at
# least 4 bytes (an RLE block), so 512 bytes give at most 16 MiB; a brotli meta-block yields
# at most 16 MiB and takes several bytes (measured: one byte can complete an 8 MiB block),
# so 16 bytes give at most a few meta-blocks. Slices start at one byte and at most double.
_ADAPTIVE_MAX_SLICE = {"br": 16, "zstd": 512}


class _Stage:
    """Feeds one codec in slices and hands each piece of output on via ``emit``."""

    def __init__(self, codec: _Codec) -> None:
        self.codec = codec
        self.adaptive = isinstance(codec, _BrotliCodec | _ZstdCodec)
        self.max_slice = _ADAPTIVE_MAX_SLICE.get(codec.name, _MAX_SLICE)
        self.slice = 1 if self.adaptive else _MAX_SLICE

    def run(self, data: bytes, limit: Callable[[], int], emit: Callable[[bytes], bool]) -> None:
        """Decode all of ``data``; stop early when ``emit`` returns False (cap reached)."""
        while data:
            part, data = data[: self.slice], data[self.slice :]
            while part:
                out, part = self.codec.push(part, limit())
                if out and not emit(out):
                    return
                if self.adaptive:
                    # Proportional control: keep one call's output near _TARGET_OUT.
                    ratio = max(len(out), 1) / max(self.slice, 1)
                    target = int(_TARGET_OUT / ratio)
                    self.slice = max(1, min(self.max_slice, 2 * self.slice, target))
                    if part:
                        data, part = part + data, b""


class BodyDecoder:
    """Incrementally undo a ``Content-Encoding`` header value, capping decoded output.

    ``feed(chunk)`` returns the decoded bytes that chunk produced; ``finish()`` returns any
    remaining output and checks the stream ended cleanly. Neither raises. After an error (see
    :attr:`error`) both return ``b""``. :attr:`decoded_size` counts decoded bytes produced,
    never more than ``cap``; :attr:`cap_reached` says the cap stopped decoding. The cap applies
    to decompressed output only: an identity body passes through uncapped (the caller bounds
    what it keeps).

    With ``sink``, decoded output is handed to ``sink`` piece by piece as each codec call
    produces it (and ``feed``/``finish`` return ``b""``), so a caller that consumes pieces
    holds one codec call's output at a time instead of a whole chunk's; ``sink`` must not
    raise.
    """

    def __init__(
        self,
        content_encoding: str | None,
        *,
        cap: int = DEFAULT_DECODED_CAP,
        sink: Callable[[bytes], None] | None = None,
    ) -> None:
        self.cap = cap
        self._sink = sink
        self.decoded_size = 0
        self.error: str | None = None
        self.cap_reached = False
        tokens = [t for t in (content_encoding or "").split(",") if t.strip()]
        self.encodings = [t.strip().lower() for t in tokens]
        stages: list[_Stage] = []
        try:
            # The header lists encodings in the order applied; decode in reverse.
            for token in reversed(tokens):
                codec = _make_codec(token)
                if codec is None:
                    self.error = f"unsupported content-encoding {token.strip()[:40]!r}"
                    stages = []
                    break
                if codec.name != "identity":
                    stages.append(_Stage(codec))
        except Exception as exc:  # a codec library missing or broken
            self.error = f"decoder unavailable: {type(exc).__name__}"
            stages = []
        self._stages = stages

    @property
    def identity(self) -> bool:
        """True when no decoding is applied (no or identity encoding, and no error)."""
        return not self._stages and self.error is None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def _budget(self) -> int:
        return max(self.cap - self.decoded_size, 0)

    def _limit_for(self, index: int) -> Callable[[], int]:
        """Output limit per codec call: about 1 MiB, and for the last stage one byte past the
        remaining budget (so producing that byte proves the cap is exceeded)."""
        if index + 1 < len(self._stages):
            return lambda: _TARGET_OUT
        return lambda: min(self._budget() + 1, _TARGET_OUT)

    def _run(self, data: bytes, final: bool) -> bytes:
        out_parts: list[bytes] = []

        def make_emit(index: int) -> Callable[[bytes], bool]:
            def emit(chunk: bytes) -> bool:
                if index + 1 < len(self._stages):
                    nxt = index + 1
                    self._stages[nxt].run(chunk, self._limit_for(nxt), make_emit(nxt))
                    return not self.cap_reached and self.error is None
                room = self._budget()
                if len(chunk) > room:
                    chunk = chunk[:room]
                    self.cap_reached = True
                    self.error = CAP_REACHED
                self.decoded_size += len(chunk)
                if chunk:
                    if self._sink is not None:
                        self._sink(chunk)
                    else:
                        out_parts.append(chunk)
                return not self.cap_reached

            return emit

        if not self._stages:  # identity: nothing is decompressed, so nothing to cap
            self.decoded_size += len(data)
            if self._sink is not None and data:
                self._sink(data)
                return b""
            return data
        self._stages[0].run(data, self._limit_for(0), make_emit(0))
        if final and self.error is None:
            for index, stage in enumerate(self._stages):
                tail = stage.codec.flush(self._budget() + 1)
                if tail:
                    make_emit(index)(tail)
                if self.error is None and not stage.codec.finished_ok():
                    self.error = f"truncated {stage.codec.name} stream"
                    break
        return b"".join(out_parts)

    def feed(self, chunk: bytes) -> bytes:
        """Decode one wire chunk. Returns decoded bytes (possibly empty); never raises."""
        if self.error is not None or not chunk:
            return b""
        try:
            return self._run(bytes(chunk), final=False)
        except Exception as exc:
            self.error = _describe(exc, self._stage_names())
            return b""

    def finish(self) -> bytes:
        """Flush at end of body and verify the stream was complete; never raises."""
        if self.error is not None:
            return b""
        try:
            return self._run(b"", final=True)
        except Exception as exc:
            self.error = _describe(exc, self._stage_names())
            return b""

    def _stage_names(self) -> str:
        return ", ".join(s.codec.name for s in self._stages) or "identity"


def _describe(exc: Exception, names: str) -> str:
    # Codec messages (zlib, brotli, zstandard) describe the format fault, never the data.
    detail = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
    return f"invalid {names} data: {detail}"


def decode_body(
    data: bytes, content_encoding: str | None, *, cap: int = DEFAULT_DECODED_CAP
) -> tuple[bytes, str | None]:
    """Decode a whole body at once: ``(decoded, error_or_None)``. Output is at most ``cap``."""
    decoder = BodyDecoder(content_encoding, cap=cap)
    out = decoder.feed(data) + decoder.finish()
    return out, decoder.error
