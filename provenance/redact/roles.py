"""What a JSON key (or a name/value pair's name) means for redaction: bit flags, one lookup
per distinct name.

- ``SECRET``: every string or number under it is replaced (``api_key``, ``password`` …);
- ``AMBIGUOUS``: only a credential-shaped string is (``key``, ``token`` …);
- ``USER_ID``, ``METADATA``, ``PERSONAL_TOP``: Claude Code's ``metadata.user_id`` and the
  top-level OpenAI ``user`` are personal identifiers;
- ``AUTHORIZATION``: the value keeps its scheme word, as the header does;
- ``EVIDENCE``: the value rule (:mod:`provenance.redact.values`) does not judge it
  (:func:`~provenance.redact.names.is_evidence_name`: ids, digests, media, model names).

:func:`pair_value` finds the name/value pair shape, ``{"key"|"name"|"header": <credential
name>, "value": S}``, whose value takes the role of its name. Shared by the full path
(``Redactor.redact_json``) and the fast path (:mod:`provenance.redact.quick`), so both judge
alike.
"""

from __future__ import annotations

import functools
from urllib.parse import unquote

from provenance.redact.names import (
    is_ambiguous_field,
    is_evidence_name,
    is_secret_field,
    is_secret_header,
    normalise,
)

SECRET, AMBIGUOUS, USER_ID, METADATA, PERSONAL_TOP, AUTHORIZATION = 1, 2, 4, 8, 16, 32
EVIDENCE = 64  # the value rule does not apply (names.is_evidence_name)
# roles that, on their own, never change a value the value rule and the text leave alone
QUIET_ROLES = AMBIGUOUS | EVIDENCE
_PERSONAL_TOP_FIELDS = frozenset({"user", "safetyidentifier"})
_MAX_NAME = 64  # a longer "name" is text, not a header name
_PAIR_NAMES = ("key", "name", "header", "field", "param", "parameter", "Key", "Name", "Header")
_PAIR_VALUES = ("value", "Value")


def pair_value(obj: dict) -> tuple[str, int] | None:
    """``(value key, role)`` for a name/value pair object (``{"key": "x-api-key", "value":
    …}``, ``{"name": "Authorization", "value": …}``) whose name is a credential name, else
    None. The role is the one the name would give as a key: secret-named headers and fields
    hide any value, ambiguous names credential-shaped ones, ``Authorization`` keeps its scheme."""
    for value_key in _PAIR_VALUES:
        if value_key in obj:
            break
    else:
        return None
    for name_key in _PAIR_NAMES:
        name = obj.get(name_key)
        if type(name) is str and name:
            role = _pair_role(name)
            if role:
                return value_key, role
    return None


@functools.lru_cache(maxsize=4096)
def _pair_role(name: str) -> int:
    """The role a pair's name gives its value: a key's role, or secret for a header name."""
    role = field_role(name) & (SECRET | AMBIGUOUS | AUTHORIZATION)
    if len(name) <= _MAX_NAME and is_secret_header(name):
        role = (role & ~AMBIGUOUS) | SECRET
    return role


@functools.lru_cache(maxsize=4096)
def field_role(name: str) -> int:
    """Bit flags saying what a JSON key means for redaction (cached: keys repeat a lot).
    Percent-escapes in the name are decoded first (``api%5Fkey``)."""
    if "%" in name:
        name = unquote(name)
    n = normalise(name)
    role = 0
    if is_secret_field(name):
        role |= SECRET
    elif is_ambiguous_field(name):
        role |= AMBIGUOUS
    if n == "userid":
        role |= USER_ID
    if n == "metadata":
        role |= METADATA
    if n in _PERSONAL_TOP_FIELDS:
        role |= PERSONAL_TOP
    if n in ("authorization", "proxyauthorization"):
        role |= AUTHORIZATION
    if not role & SECRET and is_evidence_name(name):
        role |= EVIDENCE
    return role
