"""Redacting what is stored of a body: one interface for whole bodies, stream frames and
WebSocket logs.

:func:`redact_body` is what extraction stores of a tapped body (:class:`~provenance.extract.tap.
TapResult`): a JSON document through ``redact_json``; line-framed streams (SSE ``data:`` lines,
projections of binary frames, NDJSON) and WebSocket message logs through :func:`redact_frames`,
which first redacts secrets split across the frames (:mod:`.fragments`: a streamed echo of a
key, one token per frame), then each frame; values found at secret protobuf field paths are
replaced by their tokens; anything else through ``redact_text``. When a split secret cannot be
mapped back onto the frames, the body is replaced by the redacted joined text of its channels and
a parse error says so. A form body (``application/x-www-form-urlencoded``) is redacted field by
field, as a query string is (``Redactor.redact_query``). Never raises for any input; the
redactor collects the secret hashes.

Documents the tap already parsed are reused (``TapResult.docs`` / ``document``; never changed
here), and :mod:`.quick` first proves, in one walk, whether anything needs redacting: when
nothing does, documents are serialised as they are, with no redacted copy; the output is the
same either way.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from provenance.redact.fragments import (
    SPLIT_SECRET_NOTICE,
    UNMAPPED,
    redact_split_secrets,
    stream_text,
)
from provenance.redact.quick import clean_frames, unchanged

if TYPE_CHECKING:
    from provenance.extract.tap import TapResult
    from provenance.redact.redactor import Redactor

# framings whose stored text is JSON per line (SSE data lines, projections of binary frames)
LINE_FRAMINGS = frozenset(
    {
        "sse",
        "ndjson",
        "eventstream",
        "connect",
        "connect-json",
        "grpc",
        "grpc-json",
        "grpc-web",
        "grpc-web-text",
        "protobuf",
    }
)
FORM_TYPE = "application/x-www-form-urlencoded"
CUT_ARRAY = "a secret split across the elements of a JSON array stream cut at the body cap"


def redact_body(redactor: Redactor, tap: TapResult, errors: list[str]) -> str | None:
    """The redacted text to store for a tapped body (None when there is none to keep).

    A body kept only up to the cap loses its last, cut word first (:func:`drop_cut_word`): a
    key straddling the cap is too short for its pattern, so its prefix is dropped, not stored.
    """
    if not tap.body:
        return None
    if tap.truncated and tap.text:
        tap = dataclasses.replace(tap, text=drop_cut_word(tap.text))
    if tap.field_secrets:
        text = replace_field_secrets(redactor, tap)
        return redact_frames(redactor, text.split("\n"), errors, tap.role)
    if tap.json_body:
        if tap.document is not None and tap.framing != "json-array":
            doc = tap.document[0]  # parsed by the tap: read here, never changed
        else:
            try:
                doc = json.loads(tap.body)
            except (ValueError, RecursionError):
                doc = None
        if doc is not None:
            if tap.framing == "json-array" and isinstance(doc, list):
                split = redact_split_secrets(doc, redactor)  # elements are frames
                if split.unmapped:
                    errors.append(f"{tap.role}: {SPLIT_SECRET_NOTICE} ({UNMAPPED})")
                    return stream_text(doc, redactor)
            if unchanged(doc, redactor):
                return _dumps(doc)
            return _dumps(redactor.redact_json(doc))
    if tap.text is None:
        return None
    if tap.framing in LINE_FRAMINGS:
        return redact_frames(redactor, tap.text.split("\n"), errors, tap.role, tap.docs)
    if tap.framing == "json-array":
        return _cut_array(redactor, tap, errors)
    if _is_form(tap.content_type):
        return redactor.redact_query(tap.text)  # field by field, names percent-decoded
    return redactor.redact_text(tap.text)


def _is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == FORM_TYPE


_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_.~:%-")


def drop_cut_word(text: str) -> str:
    """``text`` without the run of token characters it ends with (a body cut at the cap ends
    mid-word: that word may be the start of a key). Linear in the run's length."""
    end = len(text)
    while end and text[end - 1] in _WORD_CHARS:
        end -= 1
    return text[:end]


def redact_frames(
    redactor: Redactor,
    lines: list[str],
    errors: list[str],
    role: str,
    parsed: Mapping[str, object] | None = None,
) -> str:
    """Lines of a stream (or a WebSocket log), redacted and joined with newlines.

    ``redact_json`` on each line that is JSON (``data: {...}`` SSE lines too, the prefix kept);
    the rest of each line, and non-JSON lines, through ``redact_text``. Secrets split across the
    lines' documents are redacted first; when one cannot be mapped back onto the lines, the
    result is the redacted joined text of their channels and ``errors`` says so (``role``
    names the body in that message). ``parsed`` maps a line's stripped JSON text to the
    document the tap already parsed from it (read, never changed; lines not in it are parsed
    here). When :func:`~provenance.redact.quick.clean_frames` shows that nothing splits across
    frames, frames that hold no secret are serialised as they are, without a redacted copy.
    """
    heads: list[str] = []
    docs: list[object] = []
    known = parsed or {}
    for line in lines:
        head, body = "", line
        if line.startswith("data:"):
            head, body = "data:", line[5:]
            if body.startswith(" "):
                head, body = "data: ", body[1:]
        heads.append(head)
        doc = known.get(body.strip()) if known else None
        docs.append(json_line(body) if doc is None else doc)
    clean = clean_frames(docs, redactor)
    if clean is None:  # the full path rewrites frames in place: give it fresh documents
        return _redact_frames_full(redactor, lines, heads, errors, role)
    out: list[str] = []
    for line, head, doc, same in zip(lines, heads, docs, clean, strict=True):
        if doc is None:
            out.append(redactor.redact_text(line))
        elif same:
            out.append(head + _dumps(doc))
        else:
            out.append(head + _dumps(redactor.redact_json(doc)))
    return "\n".join(out)


def _redact_frames_full(
    redactor: Redactor, lines: list[str], heads: list[str], errors: list[str], role: str
) -> str:
    """:func:`redact_frames` when a secret may be split across frames (module docstring)."""
    docs = [json_line(line[len(head) :]) for line, head in zip(lines, heads, strict=True)]
    split = redact_split_secrets(docs, redactor)
    if split.unmapped:
        errors.append(f"{role}: {SPLIT_SECRET_NOTICE} ({UNMAPPED})")
        return stream_text(docs, redactor)
    out: list[str] = []
    for line, head, doc in zip(lines, heads, docs, strict=True):
        if doc is None:
            out.append(redactor.redact_text(line))
        else:
            out.append(head + _dumps(redactor.redact_json(doc)))
    return "\n".join(out)


def replace_field_secrets(redactor: Redactor, tap: TapResult) -> str:
    """The tap's text with every value found at a secret protobuf path replaced by its token
    (JSON-escaped form first, so the replacement lands inside projection strings)."""
    text = tap.text or ""
    for kind, value in sorted(tap.field_secrets, key=lambda kv: -len(kv[1])):
        if not value:
            continue
        token = redactor.redact_secret(value, kind)
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        text = text.replace(escaped, token)
        if escaped != value:
            text = text.replace(value, token)
    return text


def json_line(body: str) -> object | None:
    """The JSON document a line holds (an object or an array), else None."""
    stripped = body.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):
            return None
    return None


def _cut_array(redactor: Redactor, tap: TapResult, errors: list[str]) -> str:
    """A JSON-array stream kept only in part: its complete elements are checked for secrets
    split across them; if there is one, the redacted stream text is stored."""
    from provenance.extract.jsonstream import JsonArrayFramer

    framer = JsonArrayFramer()
    elements = framer.feed((tap.text or "").encode("utf-8", "surrogatepass"))
    docs = [json_line(e.decode("utf-8", "replace")) for e in elements]
    split = redact_split_secrets(docs, redactor)
    if split.redacted or split.unmapped:
        errors.append(f"{tap.role}: {SPLIT_SECRET_NOTICE} ({CUT_ARRAY})")
        return stream_text(docs, redactor)
    return redactor.redact_text(tap.text or "")


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(doc: object) -> str:
    return _ENCODE(doc)
