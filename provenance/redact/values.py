"""What a value is, whatever name it travels under: the value rule and base64-wrapped secrets.

Names are an open set (``X-Api-Kee``, ``creds``, ``k``), so a structured value (a whole header
value, query or form value, path parameter or JSON string) is also judged by its shape:

- :func:`is_opaque` — *the value rule*: a high-entropy token of credential shape. All of:

  1. 24 to 256 characters of base64/base64url/base62 (``A-Z a-z 0-9 + / _ . ~ -``, then at
     most two ``=``): shorter strings are too short to be a key, longer ones are blobs (media,
     encrypted reasoning, thinking signatures; the format table and the names still apply);
  2. not a typed identifier ``<prefix>_…`` / ``<prefix>-…`` whose prefix is a provider's object
     type (:data:`ID_PREFIXES`: ``chatcmpl-``, ``msg_``, ``req_``, ``org-`` …);
  3. not words and numbers joined by separators (three or more of ``- _ . / + ~`` with no
     part of 10 characters or more: ``Qwen/Qwen3-235B-A22B-fp8-tput``);
  4. 20 or more letters and digits, with upper case, lower case and digits all present (so hex
     — SHA-256 digests, UUIDs, hex ids — and upper-case ids such as ULIDs never match: a hex
     value is a credential only under a credential name);
  5. character classes change between neighbours at least 38% of the time (random base62:
     about 62%; ``Llama-3.3-70B-Instruct``: 23%) and the Shannon entropy of the letters and
     digits is at least 0.8 × log2(min(n, 62)) bits per character;
  6. not base64 of readable text (a random key never decodes to printable UTF-8; base64 of
     text is judged by :func:`base64_text` instead).

  Measured on random keys: 1–4% of 24-character ones escape the rule, about 1% of
  32-character ones, none of 40 or more; 0 of the 668 model ids of the real-world corpus match.
- :func:`base64_text` — the readable text a base64 value decodes to (a base64-wrapped
  ``sk-proj-…`` key, a ``user:password`` pair), for the caller to search with the format table.

Where the rule does not apply is the caller's business (see :func:`provenance.redact.names.
is_evidence_name`): identifiers (``id``, ``*_id``), digests of content (``etag``, ``sha256``),
media and provider payloads (``data``, ``delta``, ``signature``, ``encrypted_content``) and model
names are evidence, never judged by their shape.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
import re

MIN_OPAQUE = 24
MAX_OPAQUE = 256
_OPAQUE_CHARS = re.compile(rf"[A-Za-z0-9+/_.~-]{{{MIN_OPAQUE},{MAX_OPAQUE}}}={{0,2}}")
_TYPED_ID = re.compile(r"([a-z][a-z0-9]{0,11})[-_]")
_SEPARATOR = re.compile(r"[-_./+~]")
_NO_SEPARATORS = str.maketrans("", "", "+/_.~-")
_MIN_TRANSITIONS = 0.38
_MIN_ENTROPY = 0.8

# Object-type prefixes of provider identifiers: ``<prefix>_<random>`` / ``<prefix>-<random>``.
# Sources: OpenAI API reference (chatcmpl-, cmpl-, resp_, msg_, rs_, fc_, ws_, call_, file-,
# asst_, thread_, run_, step_, batch_, ft-/ftjob-/ftckpt-, org-, proj_, user-, vs_, evt_/event_,
# sess_, item_, conv_, mcp_/mcpl_, ig_, ctc_, cntr_, modr-); Anthropic API reference (msg_,
# msgbatch_, toolu_, srvtoolu_, req_, file_, compl_); OpenRouter (gen-); Groq (req_).
_ID_PREFIX_LIST = (
    "chatcmpl cmpl resp msg rs fc fs ws call file asst thread run step batch ft ftjob ftckpt "
    "org proj user vs vsfb evt event sess item conv mcp mcpl ig ctc cntr modr msgbatch toolu "
    "srvtoolu req compl gen"
)
ID_PREFIXES = frozenset(_ID_PREFIX_LIST.split())

_B64_TEXT = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
MAX_BASE64_TEXT = 64 * 1024  # base64 values longer than this are media, not a wrapped key


def _classes(c: str) -> int:
    return 0 if "A" <= c <= "Z" else 1 if "a" <= c <= "z" else 2


def is_opaque(value: str) -> bool:
    """True when the whole of ``value`` is a high-entropy token of credential shape (module
    docstring, steps 1–6). Cheap for most strings: a length test and one regex come first."""
    if not MIN_OPAQUE <= len(value) <= MAX_OPAQUE + 2 or _OPAQUE_CHARS.fullmatch(value) is None:
        return False
    body = value.rstrip("=")
    typed = _TYPED_ID.match(body)
    if typed is not None and typed.group(1) in ID_PREFIXES:
        return False
    parts = _SEPARATOR.split(body)
    if len(parts) > 3 and max(map(len, parts)) < 10:
        return False
    alnum = body.translate(_NO_SEPARATORS)
    n = len(alnum)
    if n < 20 or alnum.isdigit() or alnum.isalpha() or alnum.lower() == alnum:
        return False
    if alnum.upper() == alnum:
        return False
    changes = sum(1 for a, b in itertools.pairwise(alnum) if _classes(a) != _classes(b))
    if changes < _MIN_TRANSITIONS * (n - 1):
        return False
    counts: dict[str, int] = {}
    for c in alnum:
        counts[c] = counts.get(c, 0) + 1
    entropy = -sum(k / n * math.log2(k / n) for k in counts.values())
    if entropy < _MIN_ENTROPY * math.log2(min(n, 62)):
        return False
    return base64_text(value) is None


def base64_text(value: str) -> str | None:
    """The printable UTF-8 text that ``value`` (standard or URL-safe base64, 16 characters to
    64 KiB) decodes to, else None. Images, audio and random keys decode to bytes that are not
    text, so they give None quickly."""
    if not 16 <= len(value) <= MAX_BASE64_TEXT or _B64_TEXT.fullmatch(value) is None:
        return None
    body = value.rstrip("=")
    if len(body) % 4 == 1:
        return None
    urlsafe = "-" in body or "_" in body
    if urlsafe and ("+" in body or "/" in body):
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        if urlsafe:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if not text.replace("\n", "").replace("\r", "").replace("\t", "").isprintable():
        return None
    return text
