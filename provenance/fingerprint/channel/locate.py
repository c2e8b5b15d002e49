"""Finding the user's prompt in a stored request: the format's rules, a PATH, or candidates.

:func:`locate` says where the prompt is: ``--prompt-at PATH`` (in the first frame with text
there; with ``--typed`` only that text inside it is replaced), else the format's rules
(``fingerprints/``), else the one candidate string holding ``--typed``. Anything else is a
:class:`~provenance.fingerprint.channel.paths.PathError` listing the candidates: strings that
read like a person's text (:func:`candidates`), best first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provenance.fingerprint.channel.formats import PromptRule, matches
from provenance.fingerprint.channel.paths import PathError, get_path, leaves
from provenance.fingerprint.channel.template import (
    PLACEHOLDER,
    Location,
    Template,
    text_of,
    turns_at,
    with_text,
)


def locate(template: Template, *, prompt_at: str | None, typed: str | None) -> Location:
    """Where the prompt is: ``prompt_at`` (in the first frame that has text there), else the
    format's rules, else the one candidate containing ``typed``. :class:`PathError` (listing the
    candidates) when it is not found or ambiguous."""
    protobuf = template.protobuf
    if prompt_at:
        for i, doc in enumerate(template.docs):
            value = text_of(get_path(doc, prompt_at, protobuf=protobuf))
            if isinstance(value, str):
                if typed and typed not in value:
                    raise PathError(
                        f"--prompt-at {prompt_at}: the text there does not contain the --typed text"
                    )
                return Location(i, prompt_at, typed=typed)
        raise PathError(
            f"--prompt-at {prompt_at}: no text there; {_candidates_line(template, typed)}"
        )
    if template.fmt is not None and not typed:
        for i, doc in enumerate(template.docs):
            for rule in template.fmt.prompt:
                if _rule_applies(doc, rule, protobuf):
                    return Location(i, rule.list or rule.field, rule=rule)
    found = candidates(template, typed)
    if typed:
        holding = [c for c in found if c.contains_typed]
        if len(holding) == 1:
            c = holding[0]
            return Location(c.frame, c.path, typed=typed)
        if not holding:
            raise PathError(f"the typed text is not in exchange {template.exchange.id}'s request")
    raise PathError(
        f"cannot tell where the prompt is in exchange {template.exchange.id}'s request "
        f"({'ambiguous' if found else 'no text found'}); give --prompt-at PATH; "
        + _candidates_line(template, typed)
    )


def _rule_applies(doc: Any, rule: PromptRule, protobuf: bool) -> bool:
    if rule.list is None:
        return isinstance(text_of(get_path(doc, rule.field, protobuf=protobuf)), str)
    turns = turns_at(doc, rule.list, protobuf=protobuf)
    users = [t for t in turns if matches(t, rule.where)]
    if not users or not isinstance(users[-1], dict) or rule.field not in users[-1]:
        return False
    try:
        with_text(users[-1][rule.field], rule, "")
    except PathError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Candidate:
    """A string of the request that may be the user's text."""

    frame: int
    path: str
    preview: str
    length: int
    contains_typed: bool
    score: float


def candidates(template: Template, typed: str | None = None) -> list[Candidate]:
    """Strings of the request body that look like the user's text, best first."""
    out = []
    for i, doc in enumerate(template.docs):
        for path, value in leaves(doc, protobuf=template.protobuf):
            value = text_of(value)
            if not isinstance(value, str) or PLACEHOLDER in value or "[" in path:
                continue
            holds = bool(typed) and typed in value
            score = _prose_score(value) + (10.0 if holds else 0.0)
            if score > 0.3 or holds:
                preview = " ".join(value.split())[:60]
                out.append(Candidate(i, path, preview, len(value), holds, score))
    out.sort(key=lambda c: (-c.score, c.frame, c.path))
    return out


def _prose_score(text: str) -> float:
    """How much ``text`` reads like something a person typed (0 for ids, URLs, base64)."""
    if len(text) < 2 or text.startswith(("http://", "https://", "base64:")):
        return 0.0
    words = text.split()
    letters = sum(c.isalpha() for c in text) / len(text)
    if len(words) < 2:
        return 0.0
    return min(1.0, letters) * min(1.0, len(words) / 3)


def _candidates_line(template: Template, typed: str | None) -> str:
    found = candidates(template, typed)[:5]
    if not found:
        return "no string of the request looks like a prompt (see `provenance probe inspect`)"
    listed = ", ".join(f"{c.path} ({c.preview[:30]!r})" for c in found)
    return f"candidates: {listed} (see `provenance probe inspect`)"
