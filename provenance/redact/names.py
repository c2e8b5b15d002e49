"""Which header, query-parameter and JSON-field names carry secrets.

Names are compared after :func:`normalise` (lowercase, ``-`` and ``_`` removed), so ``api_key``,
``apiKey``, ``API-KEY`` and ``x-api-key`` are treated alike.

Two strengths:

- *secret names*: the value is replaced whatever it looks like (``password``, ``api_key`` …);
- *ambiguous names* (``key``, ``token``, ``code`` …): the value is replaced only when it has the
  shape of a credential (:func:`looks_like_credential`). ``token`` matters most: OpenAI logprobs
  carry ``{"token": "Hello", "logprob": …}``, which is evidence, not a secret.

Deliberately *not* redacted: ``openai-organization`` / ``openai-project`` headers and
``x-request-id``-style ids. They identify an account or a request, grant nothing, and are useful
evidence for attribution. ``chatgpt-account-id`` is hashed (it names a person's account).
A JSON ``signature`` field is not secret-named either: Anthropic thinking blocks carry an opaque
``signature`` that grants nothing (query parameters named ``signature``/``sig`` are hidden).
"""

from __future__ import annotations

import functools
import re


def normalise(name: str) -> str:
    """Lowercase with ``-``, ``_``, ``.`` and spaces removed."""
    return name.lower().replace("-", "").replace("_", "").replace(".", "").replace(" ", "")


# Headers whose whole value is a credential (after normalise). Authorization-like headers keep
# their scheme word; cookies keep their names: see Redactor.redact_headers.
SECRET_HEADERS = frozenset(
    normalise(n)
    for n in (
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "x-auth-token",
        "x-session-token",
        "x-access-token",
        "x-amz-security-token",
        "x-amz-credential",
        "x-amz-signature",
        "helicone-auth",
        "x-cursor-checksum",
        "chatgpt-account-id",
        "x-goog-iam-authorization-token",
        "openai-sentinel-token",
        "x-portkey-api-key",
    )
)

# Header names that are secret when they contain one of these words between separators.
_SECRET_HEADER_WORDS = re.compile(
    r"(?:^|[-_])(?:api-?key|apikey|key|secret|password|passwd|token|auth|credential|session)"
    r"(?:$|[-_])"
)

# JSON fields and query parameters whose value is always a secret (normalised names).
SECRET_FIELDS = frozenset(
    normalise(n)
    for n in (
        "api_key",
        "apikey",
        "x-api-key",
        "api_secret",
        "secret",
        "secret_key",
        "client_secret",
        "password",
        "passwd",
        "access_token",
        "refresh_token",
        "id_token",
        "session_token",
        "auth_token",
        "bearer_token",
        "authorization",
        "proxy_authorization",
        "private_key",
        "access_key",
        "access_key_id",
        "secret_access_key",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_access_key_id",
        "session_key",
        "cookie",
        "set_cookie",
        "credentials",
        "x-amz-credential",
        "x-amz-signature",
        "x-amz-security-token",
        "x-goog-credential",
        "x-goog-signature",
        "sig",
        "client_assertion",
    )
)
# Suffixes that make any field name secret (``openaiApiKey``, ``anthropic_api_key`` …).
_SECRET_SUFFIXES = (
    "apikey",
    "secretkey",
    "secret",
    "password",
    "accesstoken",
    "refreshtoken",
    "sessiontoken",
    "authtoken",
    "privatekey",
    "accesskey",
)

# Names that carry a secret only when the value looks like one (see module docstring).
AMBIGUOUS_FIELDS = frozenset(
    normalise(n) for n in ("key", "token", "auth", "code", "session", "session_id", "jwt", "pat")
)

# Query parameters: secret names plus these (normalised); ``code`` is an OAuth authorization code.
SECRET_QUERY = SECRET_FIELDS | frozenset(
    normalise(n) for n in ("key", "token", "code", "signature", "jwt", "auth")
)

_CREDENTIAL_SHAPE = re.compile(r"[A-Za-z0-9_.~+/=:$%-]{16,}")
_SEPARATORS = re.compile(r"[-_.:/]")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- names by their words: ``api_token``, ``auth_key``, ``Ocp-Apim-Subscription-Key``, ``pwd`` …
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|[0-9]|$)|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# a name holding one of these words counts something, it does not carry a secret
# (``max_tokens``, ``prompt_tokens``, ``x-ratelimit-remaining-tokens``, ``token_count`` …)
NOT_SECRET_WORDS = _words(
    "tokens count counts limit limits remaining reset used usage max min num total budget "
    "logprob logprobs length len size type types index offset position details estimate rate "
    "ratelimit"
)
_SECRET_WORDS = _words(
    "password passwd pwd passphrase secret secrets credential credentials apikey privatekey bearer"
)
# words before ``key`` that make it a credential (``subscription-key``, ``auth_key`` …);
# other ``*_key`` names (``cache_key``, ``partition_key``) are ambiguous
_KEY_QUALIFIERS = _words(
    "api auth access private subscription secret session signing master admin client service "
    "account license licence encryption ssh app application developer dev user org project "
    "write read live test prod x"
)
# words before ``token`` that name a vocabulary or pagination token, not a credential
_TOKEN_NOT_CREDENTIAL = _words(
    "eos bos pad unk sep cls mask stop special start end image audio video first last top next "
    "prev previous page continuation sample output input prompt completion reasoning cached "
    "cache thinking context"
)


def name_words(name: str) -> list[str]:
    """The lower-case words of a name: separators and camelCase split (``clientSecret`` →
    ``client``, ``secret``), and a compound ending in ``token``/``key`` split when its first
    part is a known qualifier (``apitoken`` → ``api``, ``token``; ``monkey`` stays whole)."""
    words = [w.lower() for w in _WORD.findall(name)]
    out: list[str] = []
    for w in words:
        for tail in ("token", "key"):
            head = w[: -len(tail)]
            if w.endswith(tail) and len(head) >= 2 and (tail == "token" or head in _KEY_QUALIFIERS):
                out += [head, tail]
                break
        else:
            out.append(w)
    return out


@functools.lru_cache(maxsize=4096)  # header and parameter names repeat on every exchange
def strength_by_words(name: str) -> str | None:
    """``"secret"``, ``"ambiguous"`` or None for a name, judged by its words (see above)."""
    words = name_words(name)
    if not words or NOT_SECRET_WORDS.intersection(words):
        return None
    if _SECRET_WORDS.intersection(words) or any(w.endswith(("password", "secret")) for w in words):
        return "secret"
    last, before = words[-1], set(words[:-1])
    if last == "pass":
        return "secret" if before else "ambiguous"
    if last == "key":
        return "secret" if before & _KEY_QUALIFIERS else "ambiguous"
    if last == "token":
        return "secret" if before and not before & _TOKEN_NOT_CREDENTIAL else "ambiguous"
    return None


@functools.lru_cache(maxsize=4096)
def is_secret_header(name: str) -> bool:
    """True for header names whose value must be hidden whatever it looks like."""
    n = name.lower()
    if normalise(n) in SECRET_HEADERS:
        return True
    if NOT_SECRET_WORDS.intersection(name_words(name)):  # counts: ratelimit headers and friends
        return False
    return _SECRET_HEADER_WORDS.search(n) is not None or strength_by_words(name) == "secret"


@functools.lru_cache(maxsize=4096)
def is_secret_field(name: str) -> bool:
    """True for JSON field names whose string value is always a secret."""
    n = normalise(name)
    return n in SECRET_FIELDS or n.endswith(_SECRET_SUFFIXES) or strength_by_words(name) == "secret"


@functools.lru_cache(maxsize=4096)
def is_ambiguous_field(name: str) -> bool:
    """True for field names that hold a secret only when the value looks like a credential."""
    return normalise(name) in AMBIGUOUS_FIELDS or strength_by_words(name) == "ambiguous"


@functools.lru_cache(maxsize=4096)
def is_secret_query(name: str) -> bool:
    """True for query-parameter names whose value must be hidden."""
    n = normalise(name)
    return n in SECRET_QUERY or n.endswith(_SECRET_SUFFIXES) or strength_by_words(name) is not None


def looks_like_credential(value: str) -> bool:
    """16+ token characters, no spaces, both a letter and a digit, and one unbroken run of 16+
    between ``- _ . : /`` separators. Keys pass; ``cache-key-model-v1`` and UUIDs do not."""
    if _CREDENTIAL_SHAPE.fullmatch(value) is None:
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    return max(len(part) for part in _SEPARATORS.split(value)) >= 16


def field_strength(name: str) -> str | None:
    """``"secret"``, ``"ambiguous"`` or None for a field name (used on names found in free text)."""
    if is_secret_field(name):
        return "secret"
    if is_ambiguous_field(name):
        return "ambiguous"
    return None
