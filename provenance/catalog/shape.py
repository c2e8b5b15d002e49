"""The generic shape of a model id, for strings no catalog pattern knows.

Used by :func:`provenance.catalog.looks_like_model_id` to pick candidate ids out of schema-less
protobuf strings, where most strings are prose, file paths, UUIDs, versions, hashes or tokens.
The rules are about shape only (no model names): 3–200 characters of ``[A-Za-z0-9._:/@-]``,
starting with a letter, with at least two letters, a digit and a separator; and not one of the
shapes below that look alike but are something else (versions, product/version tokens such as
``acme-agent/3.4.1`` that clients send beside the model, hashes, provider object ids).
"""

from __future__ import annotations

import itertools
import re

_CHARSET = re.compile(r"^[A-Za-z][A-Za-z0-9._:/@-]{2,199}$")
_SEPARATORS = re.compile(r"[-._:/@]")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SEMVER = re.compile(r"^v?\d+(?:\.\d+)+(?:[-+][0-9a-z.-]+)?$")
# a product token: a name, then ``/`` or ``@`` and a dotted version, as in a User-Agent
# (``acme-agent/3.4.1``, ``connect-es/v1.4.0``, ``acme@1.2.3``, ``x/1.2.3-beta.1``). Model ids put
# a model name after a slash, and their ``@`` revisions have no dots (``…@20240620``, ``…@001``)
_PRODUCT_VERSION = re.compile(r"[/@]v?\d+(?:\.\d+)+(?:[-+][0-9a-z.-]+)?$")
_HEX = re.compile(r"^[0-9a-f]{16,}$")
# a file name, host name or e-mail: the part after the last dot is a short run of letters
_LETTER_SUFFIX = re.compile(r"\.[a-z]{1,6}$")
# well-known technical tokens followed only by numbers: utf-8, x86_64, http/1.1, python3.11 ...
_TECH_TOKEN = re.compile(
    r"^(?:utf|ucs|iso|sha|md|crc|x86|amd|arm|aarch|i[3-6]86|https?|tls|ssl|ipv|python|py|"
    r"node|es|ecmascript|win|windows|macos|darwin|linux|ubuntu|debian|gzip|base|rfc|cp|latin|"
    r"h|v|ver|version)[-_./]?\d+(?:[-_./:]\d+)*$"
)
# provider object ids: a known prefix and one opaque token (OpenAI ``fp_…`` system fingerprints,
# ``call_…``/``toolu_…`` tool calls, ``chatcmpl-…``/``resp_…``/``msg_…`` response and message ids)
_OBJECT_ID = re.compile(
    r"^(?:fp|call|chatcmpl|cmpl|msg|resp|toolu|srvtoolu|req|thread|asst|file|batch|item|conv|rs|"
    r"fc|evt|sess)[-_][a-z0-9]+$"
)
_MAX_SEGMENT = 40


def _looks_random(segment: str) -> bool:
    """Base64/token-like: long letter–digit alternation, or case flipping inside a word."""
    if len(segment) >= 12:
        flips = sum(1 for a, b in itertools.pairwise(segment) if a.isdigit() != b.isdigit())
        if flips >= 4:
            return True
    upper_after_lower = sum(
        1 for a, b in itertools.pairwise(segment) if a.islower() and b.isupper()
    )
    return upper_after_lower >= 2


def has_generic_id_shape(text: str) -> bool:
    """True when ``text`` is shaped like a model id (see the module docstring). Never raises."""
    if not isinstance(text, str) or not _CHARSET.match(text):
        return False
    low = text.lower()
    if sum(c.isalpha() for c in text) < 2 or not any(c.isdigit() for c in text):
        return False
    if not _SEPARATORS.search(text) or text[-1] in "-._:/@":
        return False
    if "//" in text or ".." in text or text.count("/") > 4 or text.count("@") > 1:
        return False
    if _UUID.search(low) or _SEMVER.match(low) or _TECH_TOKEN.match(low) or _OBJECT_ID.match(low):
        return False
    if _PRODUCT_VERSION.search(low):
        return False
    if _LETTER_SUFFIX.search(low):
        return False
    for segment in _SEPARATORS.split(text):
        if len(segment) > _MAX_SEGMENT or _HEX.match(segment.lower()) or _looks_random(segment):
            return False
    return True
