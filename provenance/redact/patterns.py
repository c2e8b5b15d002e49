"""The table of secret formats that :func:`Redactor.redact_text` finds anywhere in a string.

Each entry is data: a kind (the word that appears in the replacement token), a regex, the
literal *triggers* that any match must contain (a cheap ``in`` test skips the regex when none is
present, so text without any trigger costs a few substring searches; one short trigger such as
``sk-`` gates a whole family, and ``fold=True`` looks triggers up in the lowercased text), a
validity check, and where the format is documented.

Entries with a ``name_rule`` are found differently: their (lowercase) triggers are looked up
in the lowercased text, the name around each hit (letters, digits, ``_ - .``) must pass the rule,
and the regex must match right after the name; the rule says ``"secret"`` (any value of 8+
characters) or ``"ambiguous"`` (credential-shaped values only).

Order matters: entries are applied one after another, specific
formats before generic ones, and a replaced span can never match a later entry because the
replacement token ``[REDACTED:kind:hex]`` contains none of the triggers' continuations.

A regex either matches the secret itself, or has a named group ``s`` holding the secret (the rest
of the match, such as a ``Bearer`` scheme word or a field name, is kept verbatim).

Regexes start with their literal prefix (no leading look-behind) so that the regex engine can
search for the prefix quickly; the one exception, the body of a PEM key before its END line,
runs only on text holding its trigger and starts with a look-behind that admits one start per
run of base64, so it stays linear. Formats with a short or common prefix (``sk-``, ``AIza``,
``AKIA``, ``hf_`` …) also need a left word boundary, checked afterwards in Python
(``boundary=True``, see :func:`starts_at_boundary`): ``task-…`` or a base64 blob that happens to
contain ``AIza`` is not a key. Distinctive prefixes (``sk-ant-``, ``gsk_``, ``eyJ…``) match
anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from provenance.redact.names import field_strength, normalise


def _mixed(secret: str) -> bool:
    """At least one digit and one letter: random keys have both, words and ids often do not."""
    return any(c.isdigit() for c in secret) and any(c.isalpha() for c in secret)


def _always(secret: str) -> bool:
    return True


@dataclass(frozen=True)
class SecretPattern:
    """One secret format. ``check`` gets the secret text and may reject a match."""

    kind: str
    regex: re.Pattern[str]
    triggers: tuple[str, ...]
    source: str
    boundary: bool = True
    check: Callable[[str], bool] = _always
    name_rule: Callable[[str], str | None] | None = None
    fold: bool = False  # triggers are looked up in the lowercased text


def _aws_secret_name(name: str) -> str | None:
    n = normalise(name)
    return "secret" if n.endswith(("secretaccesskey", "secretkey")) else None


def _p(
    kind: str,
    regex: str,
    triggers: tuple[str, ...],
    source: str,
    *,
    boundary: bool = True,
    check: Callable[[str], bool] = _always,
    name_rule: Callable[[str], str | None] | None = None,
    fold: bool = False,
) -> SecretPattern:
    fold = fold or name_rule is not None
    compiled = re.compile(regex)
    return SecretPattern(kind, compiled, triggers, source, boundary, check, name_rule, fold)


_B64URL = r"[A-Za-z0-9_-]"
PATTERNS: tuple[SecretPattern, ...] = (
    _p(
        "private-key",
        r"-----BEGIN[A-Z ]{0,24}PRIVATE KEY-----[A-Za-z0-9+/=\s\\:,-]*?"
        r"(?:-----END[A-Z ]{0,24}PRIVATE KEY-----|(?=[^A-Za-z0-9+/=\s\\:,-])|\Z)",
        ("PRIVATE KEY-----",),
        "RFC 7468 (PEM); gitleaks private-key and gcp.go service-account rules",
        boundary=False,
    ),
    _p(
        "private-key",
        r"(?<![A-Za-z0-9+/=\r\n\\])(?P<s>[A-Za-z0-9+/=\r\n\\]*+)"
        r"-----END[A-Z ]{0,24}PRIVATE KEY-----",
        ("PRIVATE KEY-----",),
        "RFC 7468 (PEM): the rest of a private key whose BEGIN line travels elsewhere (a key "
        "split over two fields); the END line is kept",
        boundary=False,
        check=lambda body: len(body.strip()) >= 16,
    ),
    _p(
        "anthropic",
        rf"sk-ant-api\d\d-{_B64URL}{{20,}}",
        ("sk-",),
        "gitleaks anthropic.go (sk-ant-api03-…{93}AA); trufflehog anthropic.go",
        boundary=False,
    ),
    _p(
        "anthropic-admin",
        rf"sk-ant-admin\d\d-{_B64URL}{{20,}}",
        ("sk-",),
        "gitleaks anthropic.go (sk-ant-admin01-…{93}AA)",
        boundary=False,
    ),
    _p(
        "anthropic-oauth",
        rf"sk-ant-oat\d\d-{_B64URL}{{20,}}",
        ("sk-",),
        "gitleaks claude_code.go (Claude Code OAuth access token, sk-ant-oat01-)",
        boundary=False,
    ),
    _p(
        "anthropic-refresh",
        rf"sk-ant-ort\d\d-{_B64URL}{{20,}}",
        ("sk-",),
        "gitleaks anthropic.go (OAuth refresh token, sk-ant-ort01-)",
        boundary=False,
    ),
    _p(
        "anthropic-session",
        rf"sk-ant-sid\d\d-{_B64URL}{{20,}}",
        ("sk-",),
        "claude.ai sessionKey cookie (sk-ant-sid01-), seen in several open-source clients",
        boundary=False,
    ),
    _p(
        "anthropic",
        rf"sk-ant-[a-z]{{2,8}}\d\d-{_B64URL}{{20,}}",
        ("sk-",),
        "Anthropic key family sk-ant-<type><nn>- (future types)",
        boundary=False,
    ),
    _p(
        "openai-project",
        rf"sk-proj-{_B64URL}{{20,}}",
        ("sk-",),
        "gitleaks openai.go (sk-proj-…T3BlbkFJ…); trufflehog openai.go",
        boundary=False,
    ),
    _p(
        "openai-svcacct",
        rf"sk-(?:svcacct|service)-{_B64URL}{{20,}}",
        ("sk-",),
        "gitleaks openai.go (sk-svcacct-); trufflehog openai.go (sk-service-)",
        boundary=False,
    ),
    _p(
        "openai-admin",
        rf"sk-admin-{_B64URL}{{20,}}",
        ("sk-",),
        "gitleaks openai.go (sk-admin-…T3BlbkFJ…)",
        boundary=False,
    ),
    _p(
        "openai",
        r"sk-[A-Za-z0-9_-]{4,}T3BlbkFJ[A-Za-z0-9_-]{4,}",
        ("sk-",),
        "gitleaks openai.go (legacy sk-…{20}T3BlbkFJ…{20}; T3BlbkFJ is base64 of 'OpenAI')",
        boundary=False,
    ),
    _p(
        "openrouter",
        r"sk-or-v\d+-[A-Za-z0-9]{32,}",
        ("sk-",),
        "OpenRouter key prefix sk-or-v1- (64 hex), openrouter.ai docs and client code",
        boundary=False,
    ),
    _p(
        "sk-generic",
        r"sk-[A-Za-z0-9]{32,}",
        ("sk-",),
        "OpenAI-compatible providers (DeepSeek sk-+32 hex, Moonshot sk-+48); mitmproxy "
        "examples/addons secret_leak_detector.py",
        check=_mixed,
    ),
    _p(
        "stripe",
        r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
        ("k_live_", "k_test_"),
        "Stripe API keys docs (sk_live_, rk_live_); gitleaks stripe.go",
        boundary=False,
    ),
    _p(
        "google-api-key",
        r"AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])",
        ("AIza",),
        "gitleaks gcp.go (gcp-api-key: AIza[\\w-]{35})",
    ),
    _p(
        "google-oauth",
        rf"ya29\.{_B64URL}{{20,}}",
        ("ya29.",),
        "Google OAuth 2.0 access tokens (ya29.), used as Vertex AI bearer",
        boundary=False,
    ),
    _p(
        "google-refresh",
        rf"1//0{_B64URL}{{30,}}",
        ("1//0",),
        "Google OAuth 2.0 refresh tokens (1//0…), gitleaks gcp.go",
        check=_mixed,
        boundary=False,
    ),
    _p(
        "aws-access-key",
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        ("A",),
        "gitleaks aws.go (access key id prefixes)",
    ),
    _p(
        "aws-session-token",
        r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[A-Za-z0-9/+=]{40,}",
        ("IQoJb3JpZ2lu", "FwoGZXIvYXdz"),
        "AWS STS session tokens (base64 of the token's fixed header), trufflehog aws detectors",
        boundary=False,
    ),
    _p(
        "github-pat",
        r"github_pat_[A-Za-z0-9_]{22,}",
        ("github_pat_",),
        "gitleaks github.go (fine-grained PAT github_pat_…{82})",
        boundary=False,
    ),
    _p(
        "github",
        r"gh[pousr]_[A-Za-z0-9]{36,}",
        ("gh",),
        "gitleaks github.go (ghp_/gho_/ghu_/ghs_/ghr_ + 36)",
        boundary=False,
    ),
    _p(
        "groq",
        r"gsk_[A-Za-z0-9]{40,}",
        ("gsk_",),
        "gitleaks groq.go (gsk_ + 48)",
        boundary=False,
    ),
    _p(
        "xai",
        r"xai-[A-Za-z0-9]{40,}",
        ("xai-",),
        "xAI console keys (xai- + 80); req_llm docs, third-party gitleaks config",
        check=_mixed,
        boundary=False,
    ),
    _p(
        "fireworks",
        r"fw_[A-Za-z0-9]{20,}",
        ("fw_",),
        "Fireworks AI API keys (fw_ prefix), docs.fireworks.ai",
        check=_mixed,
    ),
    _p(
        "huggingface",
        r"hf_[A-Za-z0-9]{30,}",
        ("hf_",),
        "Hugging Face user access tokens (hf_ + 34), gitleaks huggingface.go",
        check=_mixed,
    ),
    _p(
        "replicate",
        r"r8_[A-Za-z0-9]{30,}",
        ("r8_",),
        "Replicate API tokens (r8_ + 37), replicate.com docs",
        check=_mixed,
    ),
    _p(
        "perplexity",
        r"pplx-[A-Za-z0-9]{32,}",
        ("pplx-",),
        "Perplexity API keys (pplx- + 48), docs.perplexity.ai",
        check=_mixed,
        boundary=False,
    ),
    _p(
        "slack",
        r"xox[abposr]-[A-Za-z0-9-]{10,}",
        ("xox",),
        "gitleaks slack.go (xoxb-/xoxp-/xoxa-/xoxs-)",
        check=_mixed,
        boundary=False,
    ),
    _p(
        "cursor-session",
        r"WorkosCursorSessionToken=(?P<s>[^;\s\"'&,]+)",
        ("WorkosCursorSessionToken",),
        "Cursor web session cookie WorkosCursorSessionToken=user_…%3A%3A<JWT> (several tools)",
        boundary=False,
    ),
    _p(
        "jwt",
        rf"eyJ{_B64URL}{{8,}}\.{_B64URL}{{8,}}\.{_B64URL}*",
        ("eyJ",),
        "RFC 7519 JWS compact form (base64url of '{\"'); mitmproxy secret_leak_detector example",
        boundary=False,
    ),
    _p(
        "user-id",
        r"user_[0-9a-f]{16,}_account_[0-9a-f-]{8,}_session_[0-9a-f-]{8,}",
        ("_account_",),
        "Claude Code metadata.user_id (user_<hash>_account_<uuid>_session_<uuid>): personal data",
        boundary=False,
    ),
    _p(
        "userinfo",
        r"://(?P<s>[^/\s:@\"'<>\[\]]+:[^/\s@\"'<>\[\]]+)@",
        ("://",),
        "RFC 3986 userinfo (user:password@host) in URLs",
        boundary=False,
    ),
    _p(
        "bearer",
        r"(?:Bearer|bearer|BEARER)\s+(?P<s>[A-Za-z0-9_.~+/-]{20,}=*)",
        ("bearer",),
        "RFC 6750 bearer tokens; mitmproxy secret_leak_detector example (Bearer …{20,})",
        fold=True,
    ),
    _p(
        "aws-secret-key",
        r"[\\\"' ]{0,4}[:=][\\\"' ]{0,4}(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
        ("secret",),
        "AWS secret access key: 40 base64 chars after a context name (mitmproxy example; "
        "gitleaks aws.go)",
        boundary=False,
        name_rule=_aws_secret_name,
    ),
    _p(
        "field",
        r"[\\\"']{0,2}\s*[:=]\s*[\\\"']{0,2}"
        r"(?:(?i:bearer|basic|token|digest|negotiate|ntlm|apikey|aws4-hmac-sha256)\s+)?"
        r"(?P<s>[A-Za-z0-9_.~+/=$%-]{8,})",
        ("key", "secret", "passw", "token", "auth"),
        "secret-named fields in free text (name: value, name=value, JSON text); names as in "
        "provenance.redact.names",
        boundary=False,
        name_rule=field_strength,
    ),
)

# A replacement token, as written by the redactor. Nothing above matches inside one.
TOKEN_RE = re.compile(r"\[REDACTED:[a-z0-9-]+:[0-9a-f]{12}\]")

# Kinds that are personal identifiers, not credentials: hashed, never collected as secret hashes.
PERSONAL_KINDS = frozenset({"user-id"})

_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def starts_at_boundary(text: str, start: int) -> bool:
    """True when ``text[start]`` starts a word: no letter or digit right before it, or one that
    is itself preceded by a control or non-ASCII character (a protobuf length prefix such as
    ``\x12\x38`` before a 56-character key read as text)."""
    if start == 0 or text[start - 1] not in _WORD:
        return True
    if start == 1:
        return False
    before = ord(text[start - 2])
    return before < 0x20 or before >= 0x7F


def classify(value: str) -> str | None:
    """The kind of the pattern matching all of ``value`` (outer spaces ignored), else None.

    Patterns are tried in table order, only those with a trigger in ``value``.
    """
    value = value.strip()
    candidates = {i for trigger, indexes in _CLASSIFY_INDEX if trigger in value for i in indexes}
    for i in sorted(candidates):
        pattern = PATTERNS[i]
        m = pattern.regex.fullmatch(value)
        if m is not None and pattern.check(value):
            return pattern.kind
    return None


def _classify_index() -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(trigger, indexes of the patterns it starts) for the patterns :func:`classify` may use:
    not those that need context around the secret (a name rule or an ``s`` group)."""
    usable = [
        i for i, p in enumerate(PATTERNS) if p.name_rule is None and "s" not in p.regex.groupindex
    ]
    triggers = sorted({t for i in usable for t in PATTERNS[i].triggers})
    return tuple((t, tuple(i for i in usable if t in PATTERNS[i].triggers)) for t in triggers)


_CLASSIFY_INDEX = _classify_index()
