"""The fast path of stream-body redaction: prove, in one walk, that redaction changes nothing.

Almost every stream frame holds no secret, yet the full path (:func:`~provenance.redact.
fragments.redact_split_secrets`, then ``Redactor.redact_json`` per frame) builds a channel map
with a path per string and a redacted deep copy of every frame. :func:`clean_frames` walks each
frame once, without copying, and answers two questions:

- would ``redact_json`` return this frame unchanged? Conservatively: every object key has no
  redaction role (or only the *ambiguous* role with no credential-shaped value under it, or the
  *evidence* role), no object is a name/value pair with a credential name, every key and string
  redacts to itself, no string is base64 of a JSON document, no string is a secret by what it
  is (``Redactor.value_kind``, unless its name, or its array's name, is evidence) and no two
  neighbouring strings hold a secret split between them
  (:func:`~provenance.redact.fragments.split_pair`);
- would the split-secret pass change anything? It collects each channel's strings exactly as
  :func:`~provenance.redact.fragments.channels` does (same channel keys, same skipped metadata
  keys, same order) and redacts each joined text of two or more fragments.

It returns ``None`` when the split-secret pass might change a frame (or a frame nests deeper
than the channel walk goes), and the caller must run the full path; otherwise one flag per
frame. So the fast path's output is, by construction, the full path's output; the property
test in ``tests/redact/test_quick.py`` checks that on generated frames with planted secrets.
Never mutates the frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from provenance.redact.fragments import (
    DISCRIMINATORS,
    MAX_DEPTH,
    MIN_JOINED,
    SKIP_KEYS,
    TOKEN_CHARS,
    discriminator,
    split_pair,
)
from provenance.redact.names import looks_like_credential
from provenance.redact.redactor import _BASE64_JSON, _BASE64_JSON_MAX, _MIN_VALUE_RULE, _is_token
from provenance.redact.roles import AMBIGUOUS, EVIDENCE, QUIET_ROLES, field_role, pair_value

if TYPE_CHECKING:
    from provenance.redact.redactor import Redactor


class _GiveUp(Exception):
    """A frame nests deeper than the channel walk looks, or holds values ``json.loads`` never
    makes (subclasses, tuples): the full path handles it."""


def clean_frames(frames: Sequence[object], redactor: Redactor) -> list[bool] | None:
    """Per frame, True when ``redactor.redact_json`` would return it unchanged (``None``
    frames count as clean); ``None`` when secrets split across frames may need redacting."""
    channels: dict[tuple, list[str]] = {}
    walker = _Walker(redactor, channels)
    flags: list[bool] = []
    try:
        for doc in frames:
            flags.append(doc is None or not walker.value(doc, (), 0))
    except _GiveUp:
        return None
    for parts in channels.values():
        if len(parts) > 1:
            joined = "".join(parts)
            if redactor.redact_text(joined) != joined:
                return None
    return flags


def unchanged(doc: object, redactor: Redactor) -> bool:
    """True when ``redactor.redact_json(doc)`` would equal ``doc`` (False when unsure: the
    caller then redacts). For a whole document, where no split-secret pass runs."""
    try:
        return not _Walker(redactor, None).value(doc, (), 0)
    except _GiveUp:
        return False


class _Walker:
    """One walk per frame: collect channel strings, and say whether anything would change.

    Keys and short strings repeat from frame to frame (``id``, ``model``, ``object``), so their
    judgements are remembered for the walk of one body.
    """

    __slots__ = ("channels", "evidence", "keys", "kind", "leaves", "pairs", "redactor", "text")

    def __init__(self, redactor: Redactor, channels: dict[tuple, list[str]] | None) -> None:
        self.redactor = redactor
        self.text: Callable[[str], str] = redactor.redact_text
        self.kind: Callable[[str], str | None] = redactor.value_kind
        self.channels = channels  # None: judge only, collect no channel strings
        self.keys: dict[str, tuple[int, bool]] = {}  # key -> (role, would change)
        self.leaves: dict[str, bool] = {}  # short role-free string -> clean
        self.evidence: dict[str, bool] = {}  # the same under an evidence name
        self.pairs: dict[tuple[str, str], bool] = {}  # short neighbouring strings -> split

    def value(self, value: object, channel: tuple, depth: int) -> bool:
        """True when redaction would change ``value`` (the top of a frame)."""
        if isinstance(value, dict):
            return self.mapping(value, channel, depth)
        if isinstance(value, list):
            return self.sequence(value, channel, depth)
        if isinstance(value, str):
            if value and self.channels is not None:
                self.channels.setdefault(channel, []).append(value)
            return not self.leaf_clean(value, 0)
        return isinstance(value, tuple)  # redact_json turns tuples into lists

    def mapping(self, obj: dict, channel: tuple, depth: int) -> bool:
        if depth > MAX_DEPTH:
            raise _GiveUp
        chans = self.channels
        disc = () if chans is None or _DISCRIMINATING.isdisjoint(obj) else discriminator(obj)
        # a name/value pair with a credential name: its value takes that name's role
        dirty = ("value" in obj or "Value" in obj) and pair_value(obj) is not None
        keys = self.keys
        prev: str | None = None
        for key, item in obj.items():
            role = 0
            if type(key) is str:
                judged = keys.get(key)
                if judged is None:
                    role = field_role(key)
                    judged = keys[key] = (
                        role,
                        bool(role & ~QUIET_ROLES) or self.text(key) != key,
                    )
                role, changes = judged
                dirty = dirty or changes
            elif isinstance(key, str):
                raise _GiveUp  # a str subclass as a key
            kind = type(item)
            if kind is str:
                if item:
                    if chans is not None and key not in SKIP_KEYS:
                        chans.setdefault((*channel, disc, key), []).append(item)
                    if not dirty and not self.leaf_clean(item, role):
                        dirty = True
                    if not dirty and prev and len(prev) + len(item) >= MIN_JOINED:
                        dirty = self.splits(prev, item)
                prev = item
                continue
            prev = None
            if kind is dict:
                sub = (*channel, disc, key) if chans is not None else channel
                dirty = self.mapping(item, sub, depth + 1) or dirty
            elif kind is list:
                sub = (*channel, disc, key) if chans is not None else channel
                dirty = self.sequence(item, sub, depth + 1, role & EVIDENCE) or dirty
            elif kind not in _SCALARS:
                dirty = self._other(item) or dirty
        return dirty

    def sequence(self, items: list, channel: tuple, depth: int, inherited: int = 0) -> bool:
        """Like :meth:`mapping` for an array; ``inherited`` is the evidence role of the
        array's name, which its string items (and nested arrays) take."""
        if depth > MAX_DEPTH:
            raise _GiveUp
        dirty = False
        chans = self.channels
        inner = (*channel, "*") if chans is not None else channel
        prev: str | None = None
        for item in items:
            kind = type(item)
            if kind is str:
                if item:
                    if chans is not None:
                        chans.setdefault(inner, []).append(item)
                    if not dirty and not self.leaf_clean(item, inherited):
                        dirty = True
                    if not dirty and prev and len(prev) + len(item) >= MIN_JOINED:
                        dirty = self.splits(prev, item)
                prev = item
                continue
            prev = None
            if kind is dict:
                dirty = self.mapping(item, inner, depth + 1) or dirty
            elif kind is list:
                dirty = self.sequence(item, inner, depth + 1, inherited) or dirty
            elif kind not in _SCALARS:
                dirty = self._other(item) or dirty
        return dirty

    def splits(self, first: str, second: str) -> bool:
        """True when a secret is split between two neighbouring strings (``split_pair``);
        short pairs are remembered for the walk (``id`` then ``object`` in every frame)."""
        if first[-1] not in TOKEN_CHARS or second[0] not in TOKEN_CHARS:
            return False  # the seam is not inside a word
        if len(first) + len(second) > _REMEMBER:
            return split_pair(first, second, self.redactor) is not None
        known = self.pairs.get((first, second))
        if known is None:
            known = self.pairs[first, second] = split_pair(first, second, self.redactor) is not None
        return known

    @staticmethod
    def _other(item: object) -> bool:
        """A value of no plain JSON type: other scalars are left alone by both paths; string,
        container and tuple subclasses go to the full path."""
        if isinstance(item, str | dict | list | tuple):
            raise _GiveUp
        return False

    def leaf_clean(self, value: str, role: int) -> bool:
        """``redact_json``'s leaf rule leaves this non-empty string alone (``role`` holds no
        more than the ambiguous and evidence roles; anything else was already judged dirty).
        Judgements of short strings without the ambiguous role are remembered for the walk,
        per role (an ``id`` repeats in every frame)."""
        memo = self.leaves if not role else self.evidence if role == EVIDENCE else None
        if memo is not None:
            known = memo.get(value)
            if known is not None:
                return known
        if _is_token(value):
            clean = True
        elif role & AMBIGUOUS and looks_like_credential(value):
            return False
        elif len(value) <= _BASE64_JSON_MAX and _BASE64_JSON.fullmatch(value) is not None:
            clean = False  # maybe base64 of a JSON document with a secret: the full path judges
        elif len(value) >= _MIN_VALUE_RULE and not role & EVIDENCE and self.kind(value):
            clean = False
        else:
            clean = self.text(value) == value
        if memo is not None and len(value) <= _REMEMBER:
            memo[value] = clean
        return clean


_DISCRIMINATING = frozenset(DISCRIMINATORS)
_SCALARS = frozenset({int, float, bool, type(None)})
_REMEMBER = 200  # strings up to this long have their judgement remembered within one body
