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
``signature`` that grants nothing (query parameters named ``signature``/``sig`` are hidden, and so
are headers: ``X-Signature``, ``X-Hub-Signature-256`` carry HMACs made with a shared secret).

Names are an open set, so headers and query parameters are also judged by *credential words*
anywhere in them (``Authentication``, ``X-Creds``, ``X-Sessionid``, ``;jsessionid=``, ``sig``,
``hmac``; in a query also ``license`` and ``hash``), a header ending in ``access``
(``X-Access``), trailing numbers and plurals dropped (``apikey2``, ``Api-Keys``), and names one
typo away from a known secret name (``X-Api-Kee``). Percent-encoded names (``api%5Fkey``) are
decoded first. Protocol headers whose words mislead (``WWW-Authenticate``,
``Access-Control-Allow-Credentials``, ``Sec-WebSocket-Key``) are never secret-named.

:func:`is_evidence_name` says which names hold evidence that the value rule
(:mod:`provenance.redact.values`) must not judge by its shape: identifiers, digests of content,
media and provider payloads, model names.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote


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

# Headers that are protocol or CORS metadata, never credentials, whatever their words say:
# a challenge (RFC 9110), a nonce and its SHA-1 (RFC 6455); ``Access-Control-*`` (Fetch) too.
NOT_SECRET_HEADERS = frozenset(
    normalise(n)
    for n in (
        "www-authenticate",
        "proxy-authenticate",
        "sec-websocket-key",
        "sec-websocket-accept",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    )
)
_NOT_SECRET_HEADER_PREFIX = "accesscontrol"

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


# Words that make a header, query-parameter or path-parameter name a credential name wherever
# they appear (``Authentication``, ``X-Creds``, ``X-Sessionid``, ``;jsessionid=``, ``sig``).
_CREDENTIAL_WORDS = _words(
    "auth authn authz authentication authorization authorisation authkey cred creds credential "
    "credentials session sessions sessionid sessid sess sid jsessionid phpsessid aspsessionid "
    "signature sig hmac"
)
# ... and in a query string only: license keys, the hash of a signed URL or login widget
_QUERY_CREDENTIAL_WORDS = _words("license licence licensekey hash")


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
        if w == "keys":
            out.append("key")
            continue
        for tail in ("token", "keys", "key"):
            head = w[: -len(tail)]
            if w.endswith(tail) and len(head) >= 2 and (tail == "token" or head in _KEY_QUALIFIERS):
                out += [head, tail[:3] if tail == "keys" else tail]
                break
        else:
            out.append(w)
    return out


@functools.lru_cache(maxsize=4096)  # header and parameter names repeat on every exchange
def strength_by_words(name: str) -> str | None:
    """``"secret"``, ``"ambiguous"`` or None for a name, judged by its words (see above);
    numbers at the end are not words (``apikey2``, ``token_1``)."""
    words = name_words(name)
    while len(words) > 1 and words[-1].isdigit():
        words.pop()
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
    if "%" in name:
        name = unquote(name)
    n = name.lower()
    flat = normalise(n)
    if flat in SECRET_HEADERS:
        return True
    if flat in NOT_SECRET_HEADERS or flat.startswith(_NOT_SECRET_HEADER_PREFIX):
        return False
    words = name_words(name)
    if NOT_SECRET_WORDS.intersection(words):  # counts: ratelimit headers and friends
        return False
    if _SECRET_HEADER_WORDS.search(n) is not None or strength_by_words(name) == "secret":
        return True
    if _CREDENTIAL_WORDS.intersection(words) or words[-1:] == ["access"]:
        return True
    return near_secret_name(flat)


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
    """True for query-parameter (and form-field, path-parameter) names whose value must be
    hidden. The caller decodes percent-escapes first."""
    n = normalise(name)
    if n in SECRET_QUERY or n.endswith(_SECRET_SUFFIXES) or strength_by_words(name) is not None:
        return True
    words = name_words(name)
    if not words or NOT_SECRET_WORDS.intersection(words):
        return False
    if _CREDENTIAL_WORDS.intersection(words) or _QUERY_CREDENTIAL_WORDS.intersection(words):
        return True
    return near_secret_name(n)


# Known secret names, normalised, that a name one typo away from counts as (6 letters or more:
# shorter names have too many innocent neighbours).
_NEAR_NAMES = tuple(sorted(n for n in SECRET_HEADERS | SECRET_FIELDS if len(n) >= 6))


@functools.lru_cache(maxsize=4096)
def near_secret_name(flat: str) -> bool:
    """True when the normalised name ``flat`` is one edit (insertion, deletion, substitution or
    swap of neighbours) away from a known secret name: ``xapikee``, ``apikeys``, ``passwrd``."""
    if len(flat) < 6:
        return False
    return any(_one_edit(flat, known) for known in _NEAR_NAMES if abs(len(known) - len(flat)) <= 1)


def _one_edit(a: str, b: str) -> bool:
    if a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    return a[i:] == b[i + 1 :]


# Words of names whose values are evidence, not judged by their shape (the value rule):
# identifiers (last word), digests of content, media and provider payloads, model names.
_ID_WORDS = _words("id ids uuid guid")
_EVIDENCE_WORDS = _words(
    "etag digest digests hash hashes checksum checksums sha md5 crc crc32c integrity fingerprint "
    "data delta bytes image images audio video embedding embeddings signature signatures "
    "encrypted b64 blob partial model models"
)


@functools.lru_cache(maxsize=4096)
def is_evidence_name(name: str) -> bool:
    """True for names whose values the value rule leaves alone (a secret name or a key format
    still applies): ``id``, ``request_id``, ``responseId``, ``x-request-id``, ``x-amz-id-2``;
    ``etag``, ``sha256``, ``x-goog-hash``; ``data``, ``delta``, ``b64_json``, ``*base64*``,
    ``signature``, ``thoughtSignature``, ``encrypted_content``; ``model``;
    ``Sec-WebSocket-Key``. A UUID or a request id is an identifier, not a credential, unless a
    credential name carries it."""
    flat = normalise(name)
    if flat in NOT_SECRET_HEADERS or "b64" in flat or "base64" in flat:
        return True
    words = name_words(name)
    while len(words) > 1 and words[-1].isdigit():  # ``x-amz-id-2``
        words.pop()
    if not words:
        return False
    return words[-1] in _ID_WORDS or bool(_EVIDENCE_WORDS.intersection(words))


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
