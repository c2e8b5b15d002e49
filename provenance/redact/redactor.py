"""The :class:`Redactor`: replaces secrets in headers, URLs, text and JSON by keyed-hash tokens.

A secret becomes ``[REDACTED:<kind>:<hex>]`` where ``hex`` is the first 12 hex digits of
HMAC-SHA256(installation key, secret as UTF-8). The same secret gives the same token everywhere
on one installation (header, query string, JSON body, protobuf string), so a key can be followed
across exchanges; another installation's key gives another token. No part of the plaintext is
kept (no "first 8 characters" masking).

Contracts shared by every method:

- never raises on any ``str``/JSON input, and never alters text that holds no secret;
- idempotent: redacting redacted output changes nothing (tokens are recognised and kept);
- the hashes of credentials replaced inside a :meth:`Redactor.collecting` block are collected
  for that block (per thread, nested blocks included), so an exchange record can say which keys
  it carried while other threads redact other exchanges with the same instance.

JSON choices (see :mod:`provenance.redact.names` for the name lists):

- a string under a *secret-named* field (``api_key``, ``password``, ``client_secret`` …) is
  replaced whole, whatever it looks like; a container under such a field has every string and
  number in it replaced;
- under an *ambiguous* field (``key``, ``token``, ``code`` …) only a credential-shaped value is
  replaced: OpenAI logprobs entries are ``{"token": "Hello"}`` and must survive;
- Claude Code's ``metadata.user_id`` (``user_<hash>_account_<uuid>_session_<uuid>``) and the
  top-level OpenAI ``user`` / ``safety_identifier`` fields are personal identifiers: replaced by a
  ``user-id`` token (still correlatable), but not collected, which lists credentials only;
- a name/value pair (``{"key"|"name"|"header": <credential name>, "value": S}``, as API
  clients and tool configs write headers and environment variables) treats ``S`` as if it sat
  under that name;
- every other string is judged by what it is (:mod:`provenance.redact.values`: a high-entropy
  token of credential shape, or base64 of text holding a key) unless its name says it is evidence
  (:func:`~provenance.redact.names.is_evidence_name`: ids, digests, media, model names; array
  items inherit their array's name), then goes, like every object key, through
  :meth:`Redactor.redact_text`;
- a secret split over two adjacent strings of one object or array is found in their joined
  text (:func:`~provenance.redact.fragments.split_pair`).

The same value rule applies to whole header values (plus ``Bearer``/``Basic``/``Token``
credentials in any header), query and form values and path parameters (``;jsessionid=…``),
except under evidence names. It never applies inside free text: there only the format table
and the field names of :mod:`provenance.redact.patterns` are used.

In URLs a token is written as is (``?key=[REDACTED:query:…]``), not percent-encoded: stored URLs
are for reading, and the token must stay recognisable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from provenance.redact.fragments import split_pair
from provenance.redact.names import (
    is_evidence_name,
    is_secret_header,
    is_secret_query,
    looks_like_credential,
    normalise,
)
from provenance.redact.patterns import (
    PATTERNS,
    PERSONAL_KINDS,
    TOKEN_RE,
    SecretPattern,
    classify,
    starts_at_boundary,
)
from provenance.redact.roles import (
    AMBIGUOUS,
    AUTHORIZATION,
    EVIDENCE,
    METADATA,
    PERSONAL_TOP,
    SECRET,
    USER_ID,
    field_role,
    pair_value,
)
from provenance.redact.values import base64_text, is_opaque

_ALL_TRIGGERS = tuple(sorted({t for p in PATTERNS if not p.fold for t in p.triggers}))
_FOLD_TRIGGERS = tuple(sorted({t for p in PATTERNS if p.fold for t in p.triggers}))
_PATTERNS_BY_TRIGGER: dict[str, tuple[int, ...]] = {
    t: tuple(i for i, p in enumerate(PATTERNS) if t in p.triggers)
    for t in _ALL_TRIGGERS + _FOLD_TRIGGERS
}
_MAX_NAME = 64
_NAME_REST = rf"[a-z0-9_.-]{{0,{_MAX_NAME}}}(?=[\\\"']{{0,2}}\s*[:=])"
# Per named pattern, one regex per trigger word: the literal first (fast search), then the rest
# of the name and a separator, so only "name: …" / "name=…" hits come back to Python.
_NAME_FINDERS = {
    w: re.compile(re.escape(w) + _NAME_REST)
    for p in PATTERNS
    if p.name_rule is not None
    for w in p.triggers
}
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_MIN_SECRET_TEXT = 12  # shorter texts can only hold a URL userinfo ("://a:b@", 7 characters)
_CACHE_LIMIT = 20_000
_CLEAN_CACHE_MAX_LEN = 200  # short strings known to hold no secret are remembered (ids, roles)
_MIN_VALUE_RULE = 16  # shorter values are neither opaque tokens nor base64 of a key

_AUTH_SCHEME = re.compile(r"(\s*)([A-Za-z][A-Za-z0-9._-]*)(\s+)(\S.*?)(\s*)\Z", re.S)
_SIGV4_CREDENTIAL = re.compile(r"(Credential=)([^/,\s]+)")
_SIGV4_SIGNATURE = re.compile(r"(Signature=)([0-9A-Fa-f]+)")
_URL_AUTHORITY = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)([^/?#]*)")
_PATH_PARAMETER = re.compile(r";([^;/?#=]+)=([^;/?#]*)")
# credentials after these scheme words are hidden in any header (RFC 6750 bearer, RFC 7617 basic)
_ANY_HEADER_SCHEMES = frozenset({"bearer", "basic", "token", "apikey", "api-key"})
_SCHEMES = tuple(_ANY_HEADER_SCHEMES)
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]{8,}=*")
_QUERY_SAFE = "[]:/"  # tokens written into a query stay readable


class SecretHashes:
    """The digests of credentials replaced inside one :meth:`Redactor.collecting` block."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, digest: str) -> None:
        self._seen[digest] = None

    @property
    def hashes(self) -> list[str]:
        """First seen first, each once."""
        return list(self._seen)


def _letters_and_digits(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _is_token(value: str) -> bool:
    return "[REDACTED:" in value and TOKEN_RE.fullmatch(value.strip()) is not None


class Redactor:
    """Replaces secrets by keyed-hash tokens. Thread-safe; one instance per process is enough."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) < 16:
            raise ValueError("the redaction key must be at least 16 bytes")
        self._key = bytes(key)
        self._cache: dict[str, str] = {}
        self._clean: dict[str, None] = {}
        self._no_kind: dict[str, None] = {}  # short values known to be no secret by what they are
        self._local = threading.local()  # .blocks: this thread's open collecting() blocks

    def __reduce__(self) -> tuple[type[Redactor], tuple[bytes]]:
        # Pickled (to the capture's extraction process only) as its key: caches stay behind.
        return (type(self), (self._key,))

    @classmethod
    def from_data_dir(cls) -> Redactor:
        """The installation's redactor: key in ``data_dir()/redaction.key``, created 0600."""
        from provenance.redact.keyfile import load_or_create_key

        return cls(load_or_create_key())

    # ----------------------------------------------------------------- tokens and hashes

    def digest(self, secret: str) -> str:
        """First 12 hex digits of HMAC-SHA256(key, secret): the correlation id of a secret."""
        hexed = self._cache.get(secret)
        if hexed is None:
            mac = hmac.new(self._key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256)
            hexed = mac.hexdigest()[:12]
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[secret] = hexed
        return hexed

    def redact_secret(self, secret: str, kind: str = "field") -> str:
        """The token for a value known to be secret (e.g. a protobuf field at a known path).

        Already-redacted tokens and empty strings are returned unchanged.
        """
        if not secret or _is_token(secret):
            return secret
        hexed = self.digest(secret)
        if kind not in PERSONAL_KINDS:
            for block in getattr(self._local, "blocks", ()):
                block.add(hexed)
        return f"[REDACTED:{kind}:{hexed}]"

    @contextmanager
    def collecting(self) -> Iterator[SecretHashes]:
        """Collect the digests (12 hex) of credentials this thread replaces inside the block.

        Blocks nest (an outer block sees its inner blocks' digests too) and are per thread, so
        one redactor serves concurrent extractions without mixing their hashes. Personal
        identifiers (``user-id`` tokens) are not collected.
        """
        blocks: list[SecretHashes] | None = getattr(self._local, "blocks", None)
        if blocks is None:
            blocks = self._local.blocks = []
        found = SecretHashes()
        blocks.append(found)
        try:
            yield found
        finally:
            blocks.remove(found)

    @contextmanager
    def probing(self) -> Iterator[None]:
        """Redaction inside the block collects no hashes in this thread: for probes whose
        result may be thrown away (is a secret split over these two values?)."""
        blocks = getattr(self._local, "blocks", None)
        self._local.blocks = []
        try:
            yield
        finally:
            self._local.blocks = [] if blocks is None else blocks

    def known_clean(self, text: str) -> bool:
        """True when ``text`` is known (remembered) to hold nothing ``redact_text`` replaces;
        False means unknown. A lookup, no search."""
        return text in self._clean

    # ----------------------------------------------------------------------------- text

    def redact_text(self, text: str) -> str:
        """Replace every key-shaped string found by :data:`~provenance.redact.patterns.PATTERNS`."""
        return self._text(text, _ALL_TRIGGERS, _FOLD_TRIGGERS)

    def _text(self, text: str, plain: tuple[str, ...], fold: tuple[str, ...]) -> str:
        """redact_text, looking only for the given triggers (the others are known absent)."""
        if not isinstance(text, str) or len(text) < 7:
            return text
        if len(text) < _MIN_SECRET_TEXT and "@" not in text:
            return text
        short = len(text) <= _CLEAN_CACHE_MAX_LEN
        if short and text in self._clean:
            return text
        original = text
        present = {t for t in plain if t in text}
        if fold:
            low = text.lower()
            present.update(t for t in fold if t in low)
        if not present:
            if short:
                self._remember_clean(text)
            return text
        todo = sorted({i for t in present for i in _PATTERNS_BY_TRIGGER[t]})
        for i in todo:
            pattern = PATTERNS[i]
            if pattern.name_rule is not None:
                text = self._replace_named(pattern, text, present)
            else:
                text = pattern.regex.sub(lambda m, p=pattern: self._replace(p, m), text)
        if short and text == original:
            self._remember_clean(text)
        return text

    def _remember_clean(self, text: str) -> None:
        if len(self._clean) >= _CACHE_LIMIT:
            self._clean.clear()
        self._clean[text] = None

    def _replace_named(self, pattern: SecretPattern, text: str, present: set[str]) -> str:
        """Secrets that follow a secret-named field (``api_key=…``, ``"password": "…"``)."""
        assert pattern.name_rule is not None
        low = text.lower()
        spans: dict[int, tuple[int, str]] = {}
        for word in pattern.triggers:
            if word not in present:
                continue
            finder = _NAME_FINDERS[word]
            for hit in finder.finditer(low):
                end = hit.end()
                start = hit.start()
                floor = max(0, start - _MAX_NAME)
                while start > floor and low[start - 1] in _NAME_CHARS:
                    start -= 1
                if low.endswith("[redacted:", 0, start):
                    continue  # the kind inside a token, e.g. [REDACTED:aws-access-key:…]
                strength = pattern.name_rule(text[start:end])
                if strength is None:
                    continue
                m = pattern.regex.match(text, end)
                if m is None:
                    continue
                secret = m.group("s")
                if _is_token(secret) or not pattern.check(secret):
                    continue
                if strength == "ambiguous" and not looks_like_credential(secret):
                    continue
                spans[m.start("s")] = (m.end("s"), secret)
        if not spans:
            return text
        out: list[str] = []
        pos = 0
        for start in sorted(spans):
            end, secret = spans[start]
            if start < pos:
                continue
            kind = classify(secret) or pattern.kind
            out.append(text[pos:start])
            out.append(self.redact_secret(secret, kind))
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def _replace(self, pattern: SecretPattern, m: re.Match[str]) -> str:
        whole = m.group()
        if pattern.boundary and not starts_at_boundary(m.string, m.start()):
            return whole
        group = "s" if "s" in pattern.regex.groupindex else 0
        secret = m.group(group)
        if not secret or not pattern.check(secret):
            return whole
        kind = pattern.kind
        if kind in ("field", "bearer"):  # a name said "secret"; the value may say which one
            kind = classify(secret) or kind
        lo, hi = m.start(group) - m.start(), m.end(group) - m.start()
        return whole[:lo] + self.redact_secret(secret, kind) + whole[hi:]

    # -------------------------------------------------------------------------- headers

    def redact_headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """A new list: secret headers replaced (scheme words, cookie names kept); others scanned."""
        return [(name, self._header_value(name, value)) for name, value in headers]

    def _header_value(self, name: str, value: str) -> str:
        if not isinstance(value, str) or not value:
            return value
        lname = normalise(name) if isinstance(name, str) else ""
        if lname in ("authorization", "proxyauthorization"):
            return self._authorization(value)
        if lname == "cookie":
            return ";".join(self._cookie_pair(p) for p in value.split(";"))
        if lname == "setcookie":
            first, sep, attributes = value.partition(";")
            return self._cookie_pair(first) + sep + attributes
        if isinstance(name, str) and is_secret_header(name):
            scheme = _AUTH_SCHEME.match(value) if " " in value.strip() else None
            if scheme is not None and scheme[2].lower() in _ANY_HEADER_SCHEMES:
                return self._authorization(value)  # the scheme word is kept, as in Authorization
            return self._whole(value, "header")
        if isinstance(name, str) and not is_evidence_name(name):
            judged = self._header_by_value(value)
            if judged is not None:
                return judged
        return self.redact_text(value)

    def _header_by_value(self, value: str) -> str | None:
        """The header value redacted for what it is (a ``Bearer``/``Basic``/``Token``
        credential, an opaque token, base64-wrapped text with a key), else None."""
        m = _AUTH_SCHEME.match(value) if value.lstrip()[:7].lower().startswith(_SCHEMES) else None
        if m is not None and m[2].lower() in _ANY_HEADER_SCHEMES and not _is_token(m[4]):
            credential = m[4]
            if _TOKEN68.fullmatch(credential) and (
                len(credential) >= 16 or credential.endswith("=") or _letters_and_digits(credential)
            ):
                kind = "basic" if m[2].lower() == "basic" else "bearer"
                return m[1] + m[2] + m[3] + self._whole(credential, kind) + m[5]
        stripped = value.strip()
        kind = self.value_kind(stripped)
        return None if kind is None else self._whole(value, kind)

    def value_kind(self, value: str) -> str | None:
        """The token kind when the whole of ``value`` is a secret by what it is, else None:
        an opaque high-entropy token (its format's kind, or ``opaque``), or base64 of text that
        holds a secret (``base64``). See :mod:`provenance.redact.values`. Whitespace around the
        value is not part of it (``" sk…"`` is the second half of ``"Bearer" + " sk…"``)."""
        value = value.strip()
        if len(value) < _MIN_VALUE_RULE or value in self._no_kind or _is_token(value):
            return None
        if is_opaque(value):
            return classify(value) or "opaque"
        text = base64_text(value)
        if text is not None and self.redact_text(text) != text:
            return "base64"
        if len(value) <= _CLEAN_CACHE_MAX_LEN:
            if len(self._no_kind) >= _CACHE_LIMIT:
                self._no_kind.clear()
            self._no_kind[value] = None
        return None

    def _whole(self, value: str, default_kind: str) -> str:
        """Replace ``value`` (surrounding spaces kept) by one token; kind from its shape."""
        stripped = value.strip()
        if not stripped or _is_token(stripped):
            return value
        lead = value[: len(value) - len(value.lstrip())]
        trail = value[len(value.rstrip()) :]
        token = self.redact_secret(stripped, classify(stripped) or default_kind)
        return lead + token + trail

    def _authorization(self, value: str) -> str:
        m = _AUTH_SCHEME.match(value)
        if m is None:
            return self._whole(value, "header")
        lead, scheme, gap, credential, trail = m.groups()
        if _is_token(credential):
            return value
        if scheme.upper().startswith("AWS4-"):
            signed = _SIGV4_CREDENTIAL.sub(
                lambda c: c[1] + self.redact_secret(c[2], "aws-access-key"), credential
            )
            signed = _SIGV4_SIGNATURE.sub(
                lambda s: s[1] + self.redact_secret(s[2], "signature"), signed
            )
            if signed != credential:
                return lead + scheme + gap + self.redact_text(signed) + trail
        lower = scheme.lower()
        default = "bearer" if lower == "bearer" else "basic" if lower == "basic" else "header"
        return lead + scheme + gap + self._whole(credential, default) + trail

    def _cookie_pair(self, pair: str) -> str:
        name, eq, value = pair.partition("=")
        if not eq:
            return self._whole(pair, "cookie")
        return name + eq + self._whole(value, "cookie")

    # ----------------------------------------------------------------------------- URLs

    def redact_url(self, url_or_path: str) -> str:
        """Hide userinfo, secret query parameters and key-shaped strings; keep every other byte.

        Works on absolute URLs, scheme-relative ``//host/...`` and ``/path?query`` strings. A
        fragment with ``=`` in it (OAuth implicit flow ``#access_token=…``) is treated as a query.
        """
        if not isinstance(url_or_path, str) or not url_or_path:
            return url_or_path
        head, hsep, fragment = url_or_path.partition("#")
        base, qsep, query = head.partition("?")
        prefix = ""
        m = _URL_AUTHORITY.match(base)
        if m is not None:
            scheme, authority = m.groups()
            userinfo, at, hostport = authority.rpartition("@")
            if at and userinfo and not _is_token(userinfo):
                secret = unquote(userinfo)
                authority = self.redact_secret(secret, "userinfo") + at + hostport
            prefix, base = scheme + authority, base[m.end() :]
        if ";" in base:
            base = _PATH_PARAMETER.sub(self._path_parameter, base)
        base = self.redact_text(base)
        if qsep:
            query = self.redact_query(query)
        if hsep:
            if "=" in fragment:
                fragment = self.redact_query(fragment)
            else:
                fragment = self.redact_text(fragment)
        return prefix + base + qsep + query + hsep + fragment

    def _path_parameter(self, m: re.Match[str]) -> str:
        """One ``;name=value`` path parameter, judged like a query parameter."""
        name, value = m[1], m[2]
        if not value or _is_token(value):
            return m[0]
        decoded, plain = unquote(value), unquote(name)
        if is_secret_query(plain):
            return f";{name}={self.redact_secret(decoded, classify(decoded) or 'query')}"
        kind = None if is_evidence_name(plain) else self.value_kind(decoded)
        return m[0] if kind is None else f";{name}={self.redact_secret(decoded, kind)}"

    def redact_query(self, query: str) -> str:
        """Redact an ``a=1&b=2`` string (a URL query or a form body) parameter by parameter:
        secret names (percent-decoded first), values that are secrets by what they are (unless
        the name is evidence), secrets split over two neighbouring values, then the text."""
        parts = query.split("&")
        self._split_parameters(parts)
        for i, part in enumerate(parts):
            name, eq, value = part.partition("=")
            if not eq:
                parts[i] = self.redact_text(part)
                continue
            if not value or _is_token(value):
                continue
            decoded = unquote_plus(value)
            plain = unquote_plus(name)
            if is_secret_query(plain):
                parts[i] = name + eq + self.redact_secret(decoded, classify(decoded) or "query")
                continue
            kind = None if is_evidence_name(plain) else self.value_kind(decoded)
            if kind is not None:
                parts[i] = name + eq + self.redact_secret(decoded, kind)
                continue
            red = self.redact_text(value)
            if red == value and decoded != value and self.redact_text(decoded) != decoded:
                red = self.redact_secret(decoded, classify(decoded) or "query")
            parts[i] = self.redact_text(name) + eq + red
        return "&".join(parts)

    def _split_parameters(self, parts: list[str]) -> None:
        """Rewrite, in place, neighbouring ``name=value`` parts whose decoded values hold a
        secret split between them (:func:`~provenance.redact.fragments.split_pair`)."""
        for i in range(len(parts) - 1):
            name, eq, value = parts[i].partition("=")
            name2, eq2, value2 = parts[i + 1].partition("=")
            if not (eq and eq2 and value and value2):
                continue
            pair = split_pair(unquote_plus(value), unquote_plus(value2), self)
            if pair is not None:
                parts[i] = name + eq + quote(pair[0], safe=_QUERY_SAFE)
                parts[i + 1] = name2 + eq2 + quote(pair[1], safe=_QUERY_SAFE)

    # ----------------------------------------------------------------------------- JSON

    def redact_json(self, value: object) -> object:
        """A redacted deep copy of a JSON-like value (dicts, lists, tuples → lists, scalars).

        Iterative, so any nesting depth that ``json.loads`` can produce is fine. A large value is
        serialised once to learn which triggers occur anywhere in it, so each string is only
        searched for those.
        """
        # Triggers to look for; narrowed, on the first long string, to those present anywhere in
        # the whole value (serialised once). Small values (SSE chunks) skip the serialising.
        triggers: list[tuple[str, ...]] = [_ALL_TRIGGERS, _FOLD_TRIGGERS]
        narrowed = False

        def text(v: str) -> str:
            nonlocal narrowed
            if not narrowed and len(v) > _NARROW_AT:
                narrowed = True
                triggers[:] = _triggers_in(value)
            return self._text(v, triggers[0], triggers[1])

        holder: list[object] = [None]
        # (source, destination container, slot, role of the key it sits under, top level, secret)
        stack: list[tuple[object, Any, object, int, bool, bool]] = [
            (value, holder, 0, 0, True, False)
        ]
        leaf = self._json_leaf
        while stack:
            src, dst, slot, under, top, secret = stack.pop()
            if isinstance(src, dict):
                new: dict[object, object] = {}
                dst[slot] = new
                pair = pair_value(src)
                split = self._split_strings(src.items()) if len(src) > 1 else None
                for k, v in src.items():
                    if isinstance(k, str):
                        role = field_role(k)
                        if pair is not None and k == pair[0]:
                            role |= pair[1]
                        nk: object = text(k)
                    else:
                        role, nk = 0, k
                    if split and k in split:
                        v = split[k]
                    sub_secret = secret or bool(role & SECRET)
                    if isinstance(v, dict | list | tuple):
                        new[nk] = None
                        stack.append((v, new, nk, role, False, sub_secret))
                    else:
                        new[nk] = leaf(v, role, under, top, sub_secret, text)
            elif isinstance(src, list | tuple):
                items: list[object] = [None] * len(src)
                dst[slot] = items
                inherited = under & EVIDENCE  # array items are judged by the array's name
                split = self._split_strings(enumerate(src)) if len(src) > 1 else None
                for i, v in enumerate(src):
                    if split and i in split:
                        v = split[i]
                    if isinstance(v, list | tuple):
                        stack.append((v, items, i, inherited, False, secret))
                    elif isinstance(v, dict):
                        stack.append((v, items, i, 0, False, secret))
                    else:
                        items[i] = leaf(v, inherited, 0, False, secret, text)
            else:
                dst[slot] = leaf(src, 0, 0, False, secret, text)
        return holder[0]

    def _split_strings(self, members: Iterable[tuple[object, object]]) -> dict[object, str] | None:
        """New values for neighbouring string members (or array items, keyed by index) that
        hold a secret split between them; None when there is none."""
        out: dict[object, str] | None = None
        prev_key: object = None
        prev: str | None = None
        for k, v in members:
            if type(v) is not str:
                prev = None
                continue
            if prev is not None:
                pair = split_pair(prev, v, self)
                if pair is not None:
                    out = out or {}
                    out[prev_key], out[k] = pair
                    v = pair[1]
            prev_key, prev = k, v
        return out

    def _base64_json(self, value: str) -> str | None:
        """``value`` when it is base64 of a JSON document holding a secret: the document
        redacted and encoded again the same way (so the rest stays readable evidence). None when
        it is no such string or there is nothing to hide."""
        if len(value) > _BASE64_JSON_MAX or _BASE64_JSON.fullmatch(value) is None:
            return None
        urlsafe = "-" in value or "_" in value
        decode = base64.urlsafe_b64decode if urlsafe else base64.b64decode
        try:
            doc = json.loads(decode(value + "=" * (-len(value) % 4)))
        except (binascii.Error, ValueError, RecursionError):
            return None
        if not isinstance(doc, dict | list):
            return None
        redacted = self.redact_json(doc)
        if redacted == doc:
            return None
        raw = json.dumps(redacted, ensure_ascii=False, separators=(",", ":")).encode()
        encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
        return encoded if value.endswith("=") else encoded.rstrip("=")

    def _json_leaf(
        self,
        v: object,
        role: int,
        under: int,
        top: bool,
        secret: bool,
        text: Callable[[str], str],
    ) -> object:
        if isinstance(v, str):
            if not v or _is_token(v):
                return v
            if role & AUTHORIZATION:
                return self._authorization(v)  # keeps the scheme word, like the header
            if secret:
                return self.redact_secret(v, classify(v) or "field")
            if role:
                if (role & USER_ID and under & METADATA) or (top and role & PERSONAL_TOP):
                    return self.redact_secret(v, "user-id")
                if role & AMBIGUOUS and looks_like_credential(v):
                    return self.redact_secret(v, classify(v) or "field")
            wrapped = self._base64_json(v)
            if wrapped is not None:
                return wrapped
            if not role & EVIDENCE:
                kind = self.value_kind(v)
                if kind is not None:
                    return self.redact_secret(v, kind)
            return text(v)
        if secret and isinstance(v, int | float) and not isinstance(v, bool):
            return self.redact_secret(repr(v), "field")
        return v


_NARROW_AT = 256
# base64 (standard or URL-safe) of a JSON object or array: '{"' → ey, '{\n' → ew, '[{' → W3
_BASE64_JSON = re.compile(r"(?:ey|ew|W3|Wy)[A-Za-z0-9+/_-]{14,}={0,2}")
_BASE64_JSON_MAX = 4 * 1024 * 1024
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _triggers_in(value: object) -> list[tuple[str, ...]]:
    """The plain and fold triggers occurring anywhere in a JSON value (all of them if it does
    not serialise)."""
    try:
        dumped = _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        return [_ALL_TRIGGERS, _FOLD_TRIGGERS]
    lowered = dumped.lower()
    return [
        tuple(t for t in _ALL_TRIGGERS if t in dumped),
        tuple(t for t in _FOLD_TRIGGERS if t in lowered),
    ]
