"""The bytes of one token, for the loaders whose libraries do not give them directly.

``TokenizerHandle.piece(id) -> bytes`` must spell the encoded text back when the pieces of
``encode(text)`` are joined (a SentencePiece dummy-prefix space aside). A tokenizer whose layout
is not understood here gets ``None``: it still counts tokens, it just takes no part in the
stream-boundary fingerprint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, inverted (the printable stand-in of each byte)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, codes, strict=True)}


def _uses(doc: dict[str, Any], kind: str) -> bool:
    """True when ``kind`` (``ByteLevel``, ``Metaspace``) appears in the pre-tokenizer or decoder."""
    import json

    return f'"type": "{kind}"' in json.dumps(
        [doc.get("pre_tokenizer"), doc.get("decoder")], separators=(", ", ": ")
    )


def hf_piece(doc: dict[str, Any], tok: Any) -> Callable[[int], bytes] | None:
    """Piece function of a Hugging Face ``tokenizer.json`` (byte-level or Metaspace BPE)."""
    model = doc.get("model") or {}
    if model.get("type") not in ("BPE", "Unigram"):
        return None
    if _uses(doc, "ByteLevel"):
        table = _byte_decoder()

        def byte_level(token_id: int) -> bytes:
            text = tok.id_to_token(token_id) or ""
            try:
                return bytes(table[ch] for ch in text)
            except KeyError:  # an added token stored as plain text
                return text.encode("utf-8")

        return byte_level
    if _uses(doc, "Metaspace") or model.get("byte_fallback"):

        def metaspace(token_id: int) -> bytes:
            return _spm_bytes(tok.id_to_token(token_id) or "")

        return metaspace
    return None


def _spm_bytes(piece: str) -> bytes:
    match = _BYTE_PIECE.fullmatch(piece)
    if match:
        return bytes([int(match.group(1), 16)])
    return piece.replace("▁", " ").encode("utf-8")


def sentencepiece_piece(sp: Any) -> Callable[[int], bytes]:
    """Piece function of a SentencePiece processor (``▁`` is a space, ``<0xNN>`` a byte)."""

    def piece(token_id: int) -> bytes:
        if sp.IsByte(token_id):
            return _spm_bytes(sp.id_to_piece(token_id))
        if sp.IsControl(token_id) or sp.IsUnknown(token_id):
            return b""
        return _spm_bytes(sp.id_to_piece(token_id))

    return piece
