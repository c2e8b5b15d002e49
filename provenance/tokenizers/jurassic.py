"""AI21 Jurassic-2 pre- and post-processing around its SentencePiece model.

The J2 model ships with a ``config.json`` whose keys drive the encoding (semantics as described by
the ai21-tokenizer package that bundles the model):

* ``newline_piece``: text is split at ``\\n``; each newline becomes that one piece;
* ``add_dummy_prefix: false`` in the config means a space is prepended to every non-empty line by
  hand (the model itself adds none);
* ``space_mode``: runs of two or more spaces become the longest ``▁…▁`` pieces the vocabulary holds,
  tabs count as spaces;
* ``number_mode``: consecutive all-digit pieces are re-joined; ``*_keep`` keeps the whole number
  if it is one piece, otherwise it is re-cut into groups of three (``right``: a short group first).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_SPACE_RUN = re.compile("( {2,})")


def jurassic_encoder(sp: Any, config: dict[str, Any]) -> Callable[[str], list[int]]:
    """An ``encode(text) -> ids`` function for the J2 SentencePiece processor ``sp``."""
    piece_to_id = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    unk = config.get("unk_id")
    newline_id = piece_to_id.get(config["newline_piece"], unk)
    manual_prefix = not config.get("add_dummy_prefix", True)
    space_mode = config.get("space_mode")
    number_mode = config.get("number_mode")
    space_ids = sorted(
        ((n, piece_to_id["▁" * n]) for n in range(1, 33) if "▁" * n in piece_to_id), reverse=True
    )

    def encode_line(line: str) -> list[int]:
        if space_mode is None:
            return list(sp.encode(line))
        out: list[int] = []
        carry = ""
        for part in _SPACE_RUN.split(line.replace("\t", " ")):
            if not part:
                continue
            if not part.startswith("  "):
                out.extend(sp.encode(carry + part))
                carry = ""
                continue
            remaining = len(part) - 1  # the last space stays with the next word
            carry = " "
            for size, tok in space_ids:
                while remaining >= size:
                    out.append(tok)
                    remaining -= size
        if carry:
            out.extend(sp.encode(carry))
        return out

    def regroup_numbers(ids: list[int]) -> list[int]:
        if number_mode is None:
            return ids
        out: list[int] = []
        i = 0
        while i < len(ids):
            piece = sp.id_to_piece(ids[i])
            if not piece.isdigit():
                out.append(ids[i])
                i += 1
                continue
            digits = ""
            while i < len(ids) and sp.id_to_piece(ids[i]).isdigit():
                digits += sp.id_to_piece(ids[i])
                i += 1
            out.extend(_number_ids(digits, number_mode, piece_to_id, unk))
        return out

    def encode(text: str) -> list[int]:
        ids: list[int] = []
        for index, line in enumerate(text.split("\n")):
            if index:
                ids.append(newline_id)
            if line:
                ids.extend(encode_line((" " + line) if manual_prefix else line))
        return regroup_numbers(ids)

    return encode


def _number_ids(digits: str, mode: str, piece_to_id: dict[str, int], unk: int | None) -> list[int]:
    if mode.endswith("_keep"):
        if digits in piece_to_id:
            return [piece_to_id[digits]]
        mode = mode[: -len("_keep")]
    groups: list[str] = []
    if mode == "right" and len(digits) % 3:
        groups.append(digits[: len(digits) % 3])
        digits = digits[len(digits) % 3 :]
    groups.extend(digits[i : i + 3] for i in range(0, len(digits), 3))
    return [piece_to_id.get(g, unk if unk is not None else 0) for g in groups]
