"""Secrets split across stream frames: join each output channel's text, redact the joined text,
and carry the redaction back onto the fragments the frames hold.

A model that streams a secret back (an API key a user pasted, a PEM private key it echoes)
sends it in token-sized deltas, one per frame: ``{"delta": {"content": "sk-pro"}}``, then
``"j-abc…"``. Redacting frame by frame sees no whole secret. :func:`redact_split_secrets`
takes the parsed frames of one body (SSE ``data:`` documents, event-stream/Connect/protobuf
projection lines, the elements of a JSON-array stream, WebSocket log lines), in order, and:

1. walks every string in every frame (document order) and files it under its *channel*: the
   path of keys to it, array positions collapsed to ``*``, each object on the way qualified by
   its discriminating fields (``type``, ``event``, ``from``, ``index``, ``output_index``,
   ``content_index``, ``contentBlockIndex``, ``summary_index``). So OpenAI's
   ``choices[index=0].delta.content``, Anthropic's ``content_block_delta`` (``index``)
   ``delta.text`` / ``delta.partial_json``, Responses ``response.output_text.delta``
   (``output_index``, ``content_index``) ``delta``, Gemini's
   ``candidates[index].content.parts[*].text``, Bedrock's chunk documents and Converse
   ``contentBlockDelta.delta.text``, a Connect stream's protobuf field ``1`` and a Realtime
   session's ``response.text.delta`` each join into one text. Strings under metadata keys
   (``id``, ``model``, ``type``, ``role`` …, :data:`SKIP_KEYS`) are not text and are left out;
2. runs ``redactor.redact_text`` over each channel's joined text (channels with two or more
   fragments only: a lone fragment is what the per-frame pass already sees);
3. maps every token back to the span of joined text it replaced: the literal text between
   tokens must match the joined text exactly, and the span's end is the one whose keyed hash
   (``redactor.digest``) equals the token's, so the span is exact, not guessed;
4. rewrites the fragments in place: the fragment where a secret starts gets the token in place
   of its part of the secret, the following fragments lose their parts. The stored frames,
   joined again, read as ``redact_text`` of the joined text. One exception keeps this never
   worse than the per-frame pass: a span of joined text can run into a secret that a fragment
   holds whole (two keys glued together, ``sk-…`` swallowing ``Bearer``), so the fragments a
   span touches are redacted on their own too and overlapping spans merge into one token.
   This repeats until the joined text redacts to itself (:data:`_ROUNDS` at most).

The same machinery serves a secret split over two *adjacent fields* of one document
(``{"key_a": "sk-proj-AbC…", "key_b": "…xyz"}``, two neighbouring array items, two neighbouring
form fields): :func:`split_pair` joins the run of token characters ending one value with the run
starting the next, and when a secret of the format table straddles the seam, rewrites both.

When a token cannot be mapped back (a redactor that rewrites text other than by inserting
tokens), the frames are left alone and the result lists the channel's redacted joined text in
:attr:`SplitSecrets.unmapped`; the caller must then not store the frames (see
provenance.redact.bodies). The input is bounded by what the caller stores
(``max_body``), so is the work here: one walk, one ``redact_text`` per channel.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, MutableSequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from provenance.redact.patterns import TOKEN_RE

if TYPE_CHECKING:
    from provenance.redact import Redactor

# Fields that qualify the object holding them (which block, which event, which direction).
DISCRIMINATORS = (
    "from",
    "type",
    "event",
    "index",
    "output_index",
    "content_index",
    "contentBlockIndex",
    "summary_index",
)
_DISCRIMINATING = frozenset(DISCRIMINATORS)
# Strings that are metadata, not streamed text (``p`` is Bedrock's random chunk padding).
SKIP_KEYS = frozenset(
    {
        "id",
        "model",
        "type",
        "object",
        "role",
        "event",
        "from",
        "message_type",
        "finish_reason",
        "finishReason",
        "stop_reason",
        "stopReason",
        "stop_sequence",
        "system_fingerprint",
        "service_tier",
        "status",
        "item_id",
        "response_id",
        "call_id",
        "modelVersion",
        "responseId",
        "p",
    }
)
MAX_DEPTH = 64
SPLIT_SECRET_NOTICE = "body replaced by its redacted streamed text"
UNMAPPED = "a secret split across frames could not be mapped back onto them"
_ROUNDS = 4  # rewrite rounds before a channel counts as unmappable (one is the norm)
MAX_SECRET = 16 * 1024  # longest span searched for a token's end (an RSA-4096 PEM is ~3.2 KiB)

Path = tuple[str | int, ...]


@dataclass(slots=True)
class _Fragment:
    frame: int
    path: Path
    start: int  # offset in the channel's joined text
    text: str
    original: str = ""

    def __post_init__(self) -> None:
        self.original = self.text


@dataclass(slots=True)
class SplitSecrets:
    """What :func:`redact_split_secrets` did: ``redacted`` secrets found in joined text and
    written back onto fragments; ``frames`` the indexes of the frames it changed;
    ``unmapped`` ``(channel label, redacted joined text)`` for channels it could not map back
    (the frames are then unchanged and must not be stored)."""

    redacted: int = 0
    frames: set[int] = field(default_factory=set)
    unmapped: list[tuple[str, str]] = field(default_factory=list)


def discriminator(obj: dict) -> tuple[tuple[str, object], ...]:
    """The discriminating fields of an object, in :data:`DISCRIMINATORS` order (a channel key
    part; ``()`` for most objects, found without a lookup per field)."""
    if _DISCRIMINATING.isdisjoint(obj):
        return ()
    out = []
    for key in DISCRIMINATORS:
        value = obj.get(key)
        if value is None:  # the usual case: checked before any type test
            continue
        kind = type(value)
        if kind is str or (kind is not bool and isinstance(value, str | int)):
            out.append((key, value))
    return tuple(out)


def _walk(value: object, path: Path, channel: tuple, depth: int) -> Iterator[tuple]:
    """``(channel, path, text)`` for every non-empty string, in document order."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        disc = discriminator(value)
        for key, item in value.items():
            if isinstance(item, str):
                if item and key not in SKIP_KEYS:
                    yield (*channel, disc, key), (*path, key), item
            elif isinstance(item, dict | list):
                yield from _walk(item, (*path, key), (*channel, disc, key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                if item:
                    yield (*channel, "*"), (*path, i), item
            elif isinstance(item, dict | list):
                yield from _walk(item, (*path, i), (*channel, "*"), depth + 1)
    elif isinstance(value, str) and value:
        yield channel, path, value


def channels(frames: MutableSequence[object]) -> dict[tuple, list[_Fragment]]:
    """Every channel's fragments, frames in order (``None`` frames are skipped)."""
    out: dict[tuple, list[_Fragment]] = {}
    sizes: dict[tuple, int] = {}
    for index, doc in enumerate(frames):
        if doc is None:
            continue
        for channel, path, text in _walk(doc, (), (), 0):
            start = sizes.get(channel, 0)
            out.setdefault(channel, []).append(_Fragment(index, path, start, text))
            sizes[channel] = start + len(text)
    return out


def channel_label(channel: tuple) -> str:
    """A readable name for a channel, e.g. ``type=content_block_delta,index=0/delta/text``."""
    parts: list[str] = []
    for step in channel:
        if isinstance(step, tuple):
            if step:
                parts.append(",".join(f"{k}={v}" for k, v in step))
        else:
            parts.append(str(step))
    return "/".join(parts) or "$"


def secret_spans(original: str, redacted: str, redactor: Redactor) -> list[tuple[int, int, str]]:
    """The ``(start, end, token)`` spans of ``original`` that ``redacted`` replaced by tokens.

    Raises ``ValueError`` when ``redacted`` is not ``original`` with spans replaced by tokens
    whose keyed hash matches the span. Tokens already present in ``original`` are kept text.
    """
    spans: list[tuple[int, int, str]] = []
    tokens = list(TOKEN_RE.finditer(redacted))
    pos = rpos = 0
    for n, match in enumerate(tokens):
        literal = redacted[rpos : match.start()]
        if not original.startswith(literal, pos):
            raise ValueError("redacted text does not follow the original")
        pos += len(literal)
        token = match.group()
        rpos = match.end()
        if original.startswith(token, pos):  # a token that was there before
            pos += len(token)
            continue
        following = redacted[rpos : tokens[n + 1].start() if n + 1 < len(tokens) else None]
        end = _span_end(original, pos, following, token[-13:-1], redactor, n + 1 == len(tokens))
        spans.append((pos, end, token))
        pos = end
    if original[pos:] != redacted[rpos:]:
        raise ValueError("redacted text does not end like the original")
    return spans


def _span_end(
    original: str, start: int, following: str, hexed: str, redactor: Redactor, last: bool
) -> int:
    """The end of the secret starting at ``start``: followed by ``following`` (all the rest
    of the text when ``last``) and hashing to ``hexed``."""
    if last:
        end = len(original) - len(following)
        if (
            end > start
            and original.endswith(following)
            and redactor.digest(original[start:end]) == hexed
        ):
            return end
        raise ValueError("no span matches the token")
    limit = min(len(original), start + MAX_SECRET)
    end = original.find(following, start + 1, limit + len(following))
    while 0 <= end <= limit:
        if redactor.digest(original[start:end]) == hexed:
            return end
        end = original.find(following, end + 1, limit + len(following))
    raise ValueError("no span matches the token")


def _touched(fragments: list[_Fragment], spans: list[tuple[int, int, str]]) -> set[int]:
    """Indexes of the fragments that a span of joined text overlaps."""
    starts = [f.start for f in fragments]
    out: set[int] = set()
    for start, end, _token in spans:
        i = bisect_right(starts, start) - 1
        while i < len(fragments) and fragments[i].start < end:
            if fragments[i].start + len(fragments[i].text) > start:
                out.add(i)
            i += 1
    return out


def _merge(
    spans: list[tuple[int, int, str]], joined: str, redactor: Redactor
) -> list[tuple[int, int, str]]:
    """Overlapping spans become one: the token of a span covering the others, else a new token
    for the whole (kind of the first)."""
    out: list[tuple[int, int, str]] = []
    group: list[tuple[int, int, str]] = []
    for span in [*sorted(spans), (len(joined) + 1, 0, "")]:
        if group and span[0] >= max(e for _, e, _ in group):
            start, end = group[0][0], max(e for _, e, _ in group)
            whole = [t for s, e, t in group if (s, e) == (start, end)]
            if whole:  # one span covers the others (a secret and a piece of it)
                out.append((start, end, whole[0]))
            else:
                kind = group[0][2][len("[REDACTED:") : -14]
                out.append((start, end, redactor.redact_secret(joined[start:end], kind)))
            group = []
        group.append(span)
    return out


def _rewrite(fragments: list[_Fragment], spans: list[tuple[int, int, str]]) -> dict[int, str]:
    """New text per fragment index: each span's token where it starts, its other parts cut."""
    starts = [f.start for f in fragments]
    edits: dict[int, list[tuple[int, int, str]]] = {}
    for start, end, token in spans:
        i = bisect_right(starts, start) - 1
        while i < len(fragments) and fragments[i].start < end:
            frag = fragments[i]
            lo = max(start, frag.start) - frag.start
            hi = min(end, frag.start + len(frag.text)) - frag.start
            if hi > lo:
                edits.setdefault(i, []).append((lo, hi, token if frag.start <= start else ""))
            i += 1
    out: dict[int, str] = {}
    for i, cuts in edits.items():
        text = fragments[i].text
        for lo, hi, repl in sorted(cuts, reverse=True):
            text = text[:lo] + repl + text[hi:]
        out[i] = text
    return out


def _assign(frames: MutableSequence[object], frame: int, path: Path, text: str) -> None:
    if not path:
        frames[frame] = text
        return
    target = frames[frame]
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = text  # type: ignore[index]


def redact_split_secrets(frames: MutableSequence[object], redactor: Redactor) -> SplitSecrets:
    """Find secrets split across ``frames`` (parsed JSON values, ``None`` for frames that are
    not JSON) and write their tokens back onto the fragments, in place (module docstring).

    May raise only if the redactor does; callers guard it like any redaction step.
    """
    result = SplitSecrets()
    for channel, fragments in channels(frames).items():
        if len(fragments) < 2:
            continue
        try:
            found = _redact_channel(fragments, redactor)
        except ValueError:
            joined = redactor.redact_text("".join(f.text for f in fragments))
            result.unmapped.append((channel_label(channel), joined))
            continue
        result.redacted += found
        for frag in fragments:
            if frag.text != frag.original:
                _assign(frames, frag.frame, frag.path, frag.text)
                result.frames.add(frag.frame)
    return result


def _redact_channel(fragments: list[_Fragment], redactor: Redactor) -> int:
    """Rewrite ``fragments`` (their ``text``) until their joined text redacts to itself;
    returns how many spans were replaced. ``ValueError`` when a token cannot be mapped back.

    A span of joined text can swallow the context that let the per-frame pass see a secret
    whole inside the next fragment (``sk-…`` running into ``Bearer xyz``): so the fragments a
    span touches are redacted on their own too, and overlapping spans merge into one token.
    """
    found = 0
    for _round in range(_ROUNDS):
        offset = 0
        for frag in fragments:
            frag.start, offset = offset, offset + len(frag.text)
        joined = "".join(f.text for f in fragments)
        redacted = redactor.redact_text(joined)
        if redacted == joined:
            return found
        spans = secret_spans(joined, redacted, redactor)
        for i in _touched(fragments, spans):
            frag = fragments[i]
            own = redactor.redact_text(frag.text)
            if own != frag.text:
                spans += [
                    (frag.start + s, frag.start + e, t)
                    for s, e, t in secret_spans(frag.text, own, redactor)
                ]
        spans = _merge(spans, joined, redactor)
        found += len(spans)
        for i, text in _rewrite(fragments, spans).items():
            fragments[i].text = text
    raise ValueError("joined text does not settle")


TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_.~:%$-"
_MAX_RUN = 1024  # a key half longer than this is not looked for across the seam
MIN_JOINED = 20  # the shortest key format of the table (an AWS access key id) is 20 long


def split_pair(first: str, second: str, redactor: Redactor) -> tuple[str, str] | None:
    """Both values rewritten when a secret straddles the seam between two adjacent fields
    (``first`` ends with its start, ``second`` starts with its rest), else None.

    The run of token characters ending ``first`` and the run starting ``second`` (each with one
    more word across a space, for formats that need a word before the key: ``Bearer …``) are
    joined and redacted; it counts when the join finds a secret that neither side finds alone
    (``sk-pr`` + ``oj-…``, ``B`` + ``earer …``), and not when a secret held whole on one side
    runs on into the other (``gsk_…`` + ``sse``). The rewrite is the stream one:
    the token where the secret starts, the other field's part of it cut, so the two values
    joined again read as ``redact_text`` of the joined runs. If the spans cannot be mapped back,
    both values are replaced whole. Cheap when the seam is not inside a word (one or two
    character tests) and for short or clean joins (the redactor's caches).
    """
    if len(first) + len(second) < MIN_JOINED:
        return None
    if not first or not second or first[-1] not in TOKEN_CHARS or second[0] not in TOKEN_CHARS:
        return None
    tail, head = _tail_words(first[-_MAX_RUN:]), _head_words(second[:_MAX_RUN])
    cut, head_end = len(first) - len(tail), len(head)
    joined = tail + head
    if len(joined) < MIN_JOINED or redactor.known_clean(joined):
        return None
    seam = len(tail)
    with redactor.probing():  # a span that is no split secret must leave no hash behind
        redacted = redactor.redact_text(joined)
        if redacted == joined:
            return None
        try:
            spans = [(s, e) for s, e, _ in secret_spans(joined, redacted, redactor)]
            before = _own_spans(tail, redactor)
            after = [(s + seam, e + seam) for s, e in _own_spans(head, redactor)]
        except ValueError:
            spans, before, after = [(0, len(joined))], [], []  # unmappable: replaced whole
    if set(spans) <= {*before, *after}:
        return None  # each side finds it alone: no split
    if any(e == seam for _, e in before) or any(s == seam for s, _ in after):
        return None  # a secret held whole on one side, run on into the other
    try:
        fragments = [_Fragment(0, (), 0, tail), _Fragment(0, (), seam, head)]
        _redact_channel(fragments, redactor)
    except ValueError:
        return _whole_pair(first, second, redactor)
    return first[:cut] + fragments[0].text, fragments[1].text + second[head_end:]


def _tail_words(zone: str) -> str:
    """The run of token characters ``zone`` ends with, and the run before it when only spaces
    separate them (``Bearer`` in ``… Bear``, kept with the context a format needs)."""
    run = zone[len(zone.rstrip(TOKEN_CHARS)) :]
    rest = zone[: len(zone) - len(run)]
    gap = rest[len(rest.rstrip(" \t")) :]
    if run and gap:
        before = rest[: len(rest) - len(gap)]
        return before[len(before.rstrip(TOKEN_CHARS)) :] + gap + run
    return run


def _head_words(zone: str) -> str:
    """The run of token characters ``zone`` starts with, and the run after it when only
    spaces separate them (``earer X…`` after ``B``)."""
    run = zone[: len(zone) - len(zone.lstrip(TOKEN_CHARS))]
    rest = zone[len(run) :]
    after = rest.lstrip(" \t")
    if run and len(after) < len(rest):
        return (
            run
            + rest[: len(rest) - len(after)]
            + after[: len(after) - len(after.lstrip(TOKEN_CHARS))]
        )
    return run


def _own_spans(text: str, redactor: Redactor) -> list[tuple[int, int]]:
    """The spans ``redact_text`` replaces in ``text`` on its own."""
    redacted = redactor.redact_text(text)
    if redacted == text:
        return []
    return [(s, e) for s, e, _ in secret_spans(text, redacted, redactor)]


def _whole_pair(first: str, second: str, redactor: Redactor) -> tuple[str, str]:
    return redactor.redact_secret(first, "split"), redactor.redact_secret(second, "split")


def stream_text(frames: MutableSequence[object], redactor: Redactor) -> str:
    """The fallback body when a split secret could not be mapped back: one JSON line per
    channel, ``{"channel": label, "text": redacted joined text}`` (metadata fields dropped)."""
    import json

    lines = []
    for channel, fragments in channels(frames).items():
        text = redactor.redact_text("".join(f.text for f in fragments))
        lines.append(
            json.dumps({"channel": channel_label(channel), "text": text}, ensure_ascii=False)
        )
    return "\n".join(lines)
