"""A corpus of realistic fake secrets, helpers that plant them in traffic, and a leak checker.

Every sample is generated deterministically (a seeded RNG per sample), has the right prefix,
length and character set for its format, and is fake: none of them grants anything. Import it
from any test::

    from tests.secrets_corpus import SECRETS, plant_headers, plant_json, assert_no_secrets

Each :class:`SecretSample` has

- ``name``: unique, e.g. ``"openai-project"`` (what a failure message names);
- ``kind``: the token kind :class:`provenance.redact.Redactor` writes when it finds the sample in
  free text, or ``None`` for *context-only* formats (a bare 32-character Mistral key looks like
  any id: it is hidden only by a secret-named header, query parameter or JSON field);
- ``value``: the string to plant (for a Windsurf token it includes the ``devin-session-token$``
  prefix); ``secret``: the part that must never be stored (defaults to ``value``);
- ``source``: where the format is documented.

Planting helpers put every sample (or the ones given) into one location each: ``plant_headers``,
``plant_url``, ``plant_query``, ``plant_json``, ``plant_sse``, ``plant_text``,
``plant_protobuf`` / ``protobuf_strings`` and ``cursor_model_details`` (a bring-your-own key in
Cursor's ``ModelDetails.api_key`` protobuf field). ``assert_no_secrets(blob)`` fails naming the
sample, showing only a prefix and the length of the secret.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

from provenance.standins.provider import varint

ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "_-"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
UPPER_DIGITS = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class SecretSample:
    """One fake secret: see the module docstring for the fields."""

    name: str
    kind: str | None
    value: str
    source: str
    secret: str = ""

    @property
    def needle(self) -> str:
        """The substring that must not appear anywhere once redacted."""
        return self.secret or self.value

    @property
    def context_only(self) -> bool:
        """True when only a secret-named header, parameter or field reveals this format."""
        return self.kind is None


def _rand(name: str, alphabet: str, n: int) -> str:
    rng = random.Random(f"provenance-corpus:{name}:{n}")
    # Guarantee both a digit and a letter where the alphabet has them (real keys always do).
    out = [rng.choice(alphabet) for _ in range(n)]
    if n >= 4 and any(c.isdigit() for c in alphabet) and any(c.isalpha() for c in alphabet):
        out[1] = rng.choice([c for c in alphabet if c.isdigit()])
        out[2] = rng.choice([c for c in alphabet if c.isalpha()])
    return "".join(out)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(name: str, claims: dict[str, object]) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{_rand(name + ':sig', B64URL, 43)}"


def _pem_body(name: str) -> str:
    body = base64.b64encode(random.Random(f"pem:{name}").randbytes(630)).decode()
    return "\n".join(body[i : i + 64] for i in range(0, len(body), 64))


def _openai(name: str, kind_prefix: str, n: int) -> str:
    return f"{kind_prefix}{_rand(name + 'a', B64URL, n)}T3BlbkFJ{_rand(name + 'b', B64URL, n)}"


def _anthropic(name: str, prefix: str) -> str:
    return f"{prefix}{_rand(name, B64URL, 93)}AA"


_PEM = _pem_body("private-key")
_SA_PEM = _pem_body("gcp-service-account")
_USER_UUID = "3f6c1a52-9b1e-4d7a-8c2f-5e0b7d9a1c44"
_SESSION_UUID = "a7d2e4f1-0c3b-4e8d-9f6a-2b1c5d8e7f90"

SECRETS: tuple[SecretSample, ...] = (
    SecretSample(
        "openai-legacy",
        "openai",
        f"sk-{_rand('oai-l1', ALNUM, 20)}T3BlbkFJ{_rand('oai-l2', ALNUM, 20)}",
        "gitleaks openai.go: sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20}",
    ),
    SecretSample(
        "openai-project",
        "openai-project",
        _openai("oai-proj", "sk-proj-", 74),
        "gitleaks openai.go: sk-proj-…{74}T3BlbkFJ…{74}",
    ),
    SecretSample(
        "openai-svcacct",
        "openai-svcacct",
        _openai("oai-svc", "sk-svcacct-", 58),
        "gitleaks openai.go: sk-svcacct-…{58}T3BlbkFJ…{58}",
    ),
    SecretSample(
        "openai-admin",
        "openai-admin",
        _openai("oai-admin", "sk-admin-", 58),
        "gitleaks openai.go: sk-admin-…{58}T3BlbkFJ…{58}",
    ),
    SecretSample(
        "anthropic-api",
        "anthropic",
        _anthropic("ant-api", "sk-ant-api03-"),
        "gitleaks anthropic.go: sk-ant-api03-[a-zA-Z0-9_-]{93}AA",
    ),
    SecretSample(
        "anthropic-admin",
        "anthropic-admin",
        _anthropic("ant-admin", "sk-ant-admin01-"),
        "gitleaks anthropic.go: sk-ant-admin01-[a-zA-Z0-9_-]{93}AA",
    ),
    SecretSample(
        "anthropic-oauth",
        "anthropic-oauth",
        _anthropic("ant-oat", "sk-ant-oat01-"),
        "gitleaks claude_code.go: sk-ant-oat01-, 108 characters",
    ),
    SecretSample(
        "anthropic-refresh",
        "anthropic-refresh",
        _anthropic("ant-ort", "sk-ant-ort01-"),
        "gitleaks anthropic.go: sk-ant-ort01- refresh token",
    ),
    SecretSample(
        "anthropic-session",
        "anthropic-session",
        _anthropic("ant-sid", "sk-ant-sid01-"),
        "claude.ai sessionKey cookie sk-ant-sid01- (open-source clients)",
    ),
    SecretSample(
        "google-api-key",
        "google-api-key",
        f"AIzaSy{_rand('gapi', B64URL, 33)}",
        "gitleaks gcp.go: AIza[\\w-]{35}",
    ),
    SecretSample(
        "google-oauth",
        "google-oauth",
        f"ya29.a0{_rand('ya29', B64URL, 160)}",
        "Google OAuth 2.0 access token (ya29.), Vertex AI bearer",
    ),
    SecretSample(
        "google-refresh",
        "google-refresh",
        f"1//0{_rand('g1', B64URL, 99)}",
        "Google OAuth 2.0 refresh token (1//0…)",
    ),
    SecretSample(
        "aws-access-key-akia",
        "aws-access-key",
        f"AKIA{_rand('akia', UPPER_DIGITS, 16)}",
        "gitleaks aws.go: (A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
    ),
    SecretSample(
        "aws-access-key-asia",
        "aws-access-key",
        f"ASIA{_rand('asia', UPPER_DIGITS, 16)}",
        "gitleaks aws.go (temporary STS key id)",
    ),
    SecretSample(
        "aws-secret-key",
        None,
        _rand("aws-secret", B64, 40),
        "AWS secret access key: 40 base64 characters, only recognisable next to its name",
    ),
    SecretSample(
        "aws-session-token",
        "aws-session-token",
        f"IQoJb3JpZ2luX2VjE{_rand('sts', B64, 300)}",
        "AWS STS session token (base64, starts IQoJb3JpZ2luX2Vj)",
    ),
    SecretSample(
        "github-classic",
        "github",
        f"ghp_{_rand('ghp', ALNUM, 36)}",
        "gitleaks github.go: ghp_[0-9a-zA-Z]{36}",
    ),
    SecretSample(
        "github-oauth",
        "github",
        f"gho_{_rand('gho', ALNUM, 36)}",
        "gitleaks github.go: gho_ (Copilot OAuth token)",
    ),
    SecretSample(
        "github-user-to-server",
        "github",
        f"ghu_{_rand('ghu', ALNUM, 36)}",
        "gitleaks github.go: ghu_",
    ),
    SecretSample(
        "github-server-to-server",
        "github",
        f"ghs_{_rand('ghs', ALNUM, 36)}",
        "gitleaks github.go: ghs_",
    ),
    SecretSample(
        "github-refresh",
        "github",
        f"ghr_{_rand('ghr', ALNUM, 36)}",
        "gitleaks github.go: ghr_",
    ),
    SecretSample(
        "github-fine-grained",
        "github-pat",
        f"github_pat_11{_rand('ghpat1', UPPER_DIGITS, 20)}_{_rand('ghpat2', ALNUM, 59)}",
        "gitleaks github.go: github_pat_[a-zA-Z0-9_]{82}",
    ),
    SecretSample(
        "groq", "groq", f"gsk_{_rand('gsk', ALNUM, 52)}", "gitleaks groq.go: gsk_[a-zA-Z0-9]{48,}"
    ),
    SecretSample(
        "xai", "xai", f"xai-{_rand('xai', ALNUM, 80)}", "xAI console keys: xai- + 80 alphanumerics"
    ),
    SecretSample(
        "fireworks", "fireworks", f"fw_{_rand('fw', ALNUM, 24)}", "Fireworks AI keys: fw_ prefix"
    ),
    SecretSample(
        "huggingface",
        "huggingface",
        f"hf_{_rand('hf', ALNUM, 34)}",
        "Hugging Face user access tokens: hf_ + 34",
    ),
    SecretSample(
        "replicate", "replicate", f"r8_{_rand('r8', ALNUM, 37)}", "Replicate API tokens: r8_ + 37"
    ),
    SecretSample(
        "perplexity",
        "perplexity",
        f"pplx-{_rand('pplx', ALNUM, 48)}",
        "Perplexity API keys: pplx- + 48",
    ),
    SecretSample(
        "openrouter",
        "openrouter",
        f"sk-or-v1-{_rand('or', HEX, 64)}",
        "OpenRouter keys: sk-or-v1- + 64 hex",
    ),
    SecretSample(
        "deepseek",
        "sk-generic",
        f"sk-{_rand('deepseek', HEX, 32)}",
        "DeepSeek platform keys: sk- + 32 hex",
    ),
    SecretSample(
        "moonshot",
        "sk-generic",
        f"sk-{_rand('moonshot', ALNUM, 48)}",
        "Moonshot/Kimi platform keys: sk- + 48 alphanumerics",
    ),
    SecretSample(
        "mistral",
        None,
        _rand("mistral", ALNUM, 32),
        "Mistral La Plateforme keys: 32 alphanumerics, no prefix (context only)",
    ),
    SecretSample(
        "together",
        None,
        _rand("together", HEX, 64),
        "Together AI legacy keys: 64 hex, no prefix (context only)",
    ),
    SecretSample(
        "cohere",
        None,
        _rand("cohere", ALNUM, 40),
        "Cohere keys: 40 alphanumerics, no prefix (context only)",
    ),
    SecretSample(
        "jwt",
        "jwt",
        _jwt(
            "jwt",
            {"sub": "auth0|user_8f2c", "iss": "https://auth.example.test/", "exp": 1900000000},
        ),
        "RFC 7519 JWS compact serialisation (Cursor bearer, Azure Entra tokens)",
    ),
    SecretSample(
        "windsurf-session",
        "jwt",
        "devin-session-token$"
        + _jwt("windsurf", {"sub": "devin-user-77", "team": "t-19", "exp": 1900000001}),
        "Windsurf devin-session-token$<JWT> in protobuf Metadata (community gateways)",
        secret=_jwt("windsurf", {"sub": "devin-user-77", "team": "t-19", "exp": 1900000001}),
    ),
    SecretSample(
        "cursor-session-cookie",
        "jwt",
        "user_01JD8ZQ4X7RPM2V6K3N9B5T1CW%3A%3A"
        + _jwt("cursor", {"sub": "user_01JD8ZQ4X7RPM2V6K3N9B5T1CW", "exp": 1900000002}),
        "Cursor web cookie WorkosCursorSessionToken=user_…%3A%3A<JWT> (several tools)",
        secret=_jwt("cursor", {"sub": "user_01JD8ZQ4X7RPM2V6K3N9B5T1CW", "exp": 1900000002}),
    ),
    SecretSample(
        "slack-bot",
        "slack",
        f"xoxb-{_rand('sl1', string.digits, 12)}-{_rand('sl2', string.digits, 13)}-"
        f"{_rand('sl3', ALNUM, 24)}",
        "gitleaks slack.go: xoxb-<digits>-<digits>-<24>",
    ),
    SecretSample(
        "stripe-live",
        "stripe",
        f"sk_live_51{_rand('stripe', ALNUM, 97)}",
        "Stripe secret keys: sk_live_ (gitleaks stripe.go)",
    ),
    SecretSample(
        "private-key",
        "private-key",
        f"-----BEGIN PRIVATE KEY-----\n{_PEM}\n-----END PRIVATE KEY-----\n",
        "RFC 7468 PKCS#8 PEM private key",
        secret=_PEM.split("\n")[1],
    ),
    SecretSample(
        "gcp-service-account",
        "private-key",
        json.dumps(
            {
                "type": "service_account",
                "project_id": "audit-demo-123",
                "private_key_id": _rand("sa-kid", HEX, 40),
                "private_key": f"-----BEGIN PRIVATE KEY-----\n{_SA_PEM}\n"
                "-----END PRIVATE KEY-----\n",
                "client_email": "capture@audit-demo-123.iam.gserviceaccount.com",
            }
        ),
        "gitleaks gcp.go: service-account JSON with private_key",
        secret=_SA_PEM.split("\n")[2],
    ),
    SecretSample(
        "bearer-opaque",
        "bearer",
        "Bearer " + _rand("opaque", ALNUM + "._-", 40),
        "RFC 6750 bearer token (opaque, no known prefix)",
        secret=_rand("opaque", ALNUM + "._-", 40),
    ),
    SecretSample(
        "claude-code-user-id",
        "user-id",
        f"user_{_rand('cc-user', HEX, 64)}_account_{_USER_UUID}_session_{_SESSION_UUID}",
        "Claude Code metadata.user_id (personal data, not a credential)",
    ),
)

BY_NAME: dict[str, SecretSample] = {s.name: s for s in SECRETS}
PATTERN_SECRETS: tuple[SecretSample, ...] = tuple(s for s in SECRETS if not s.context_only)
CONTEXT_SECRETS: tuple[SecretSample, ...] = tuple(s for s in SECRETS if s.context_only)


def _bare(sample: SecretSample) -> str:
    """The sample as planted outside an Authorization header (``bearer-opaque`` keeps its
    ``Bearer`` word there: a bare opaque token is recognisable only by a secret name)."""
    return sample.value


# ----------------------------------------------------------------------------------- planting

_SECRET_HEADER_NAMES = ("x-api-key", "api-key", "x-goog-api-key", "x-auth-token", "helicone-auth")


def plant_headers(samples: Iterable[SecretSample] = SECRETS) -> list[tuple[str, str]]:
    """A header list carrying every sample, spread over the header styles real clients use.

    Pattern samples alternate between ``Authorization: Bearer …``, secret-named headers and an
    innocent ``x-debug-note`` header (found by value); context-only samples go into secret-named
    headers. Cookie samples go in ``Cookie``. A few ordinary headers are mixed in. Newlines (PEM)
    are written as ``\\n`` so every value is a valid HTTP header value.
    """
    headers: list[tuple[str, str]] = [("Accept", "*/*")]
    for i, s in enumerate(samples):
        if s.name == "cursor-session-cookie":
            headers.append(("Cookie", f"theme=dark; WorkosCursorSessionToken={s.value}"))
        elif s.name == "anthropic-session":
            headers.append(("cookie", f"sessionKey={s.value}; lang=en"))
        elif s.name == "bearer-opaque":
            headers.append(("Authorization", s.value))
        elif s.context_only:
            headers.append((_SECRET_HEADER_NAMES[i % len(_SECRET_HEADER_NAMES)], s.value))
        elif i % 3 == 0:
            headers.append(("Authorization", f"Bearer {_bare(s)}"))
        elif i % 3 == 1:
            headers.append((_SECRET_HEADER_NAMES[i % len(_SECRET_HEADER_NAMES)], _bare(s)))
        else:
            headers.append(("x-debug-note", f"forwarded credential {_bare(s)} (test)"))
    headers.append(("User-Agent", "claude-cli/2.0.14 (external, cli)"))
    return [(n, v.replace("\r", "").replace("\n", "\\n")) for n, v in headers]


def plant_query(samples: Iterable[SecretSample] = SECRETS) -> str:
    """A query string (no ``?``): context-only samples under secret names, others under
    ``q``-like names (found by value), percent-encoded like a real client would."""
    params = [("model", "gpt-4o-2024-08-06")]
    names = ("key", "api_key", "access_token", "token", "X-Amz-Security-Token", "apiKey")
    for i, s in enumerate(samples):
        name = names[i % len(names)] if s.context_only or i % 2 else f"note{i}"
        params.append((name, _bare(s)))
    params.append(("alt", "sse"))
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


def plant_url(
    samples: Iterable[SecretSample] = SECRETS,
    base: str = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent",
) -> str:
    """``base?<plant_query()>``."""
    return f"{base}?{plant_query(samples)}"


def _secret_field(i: int) -> str:
    return ("api_key", "apiKey", "client_secret", "password", "aws_secret_access_key")[i % 5]


def plant_json(samples: Iterable[SecretSample] = SECRETS) -> dict[str, object]:
    """An OpenAI/Anthropic-style request body with every sample nested 1–4 levels deep.

    Context-only samples sit under secret-named keys; pattern samples sit in message text, tool
    arguments, nested provider configs and list items. Claude Code's ``metadata.user_id`` holds
    the user-id sample when present.
    """
    body: dict[str, object] = {
        "model": "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast",
        "messages": [{"role": "system", "content": "You are a helpful assistant."}],
        "metadata": {},
        "provider": {"routing": {"order": ["fireworks", "together"], "credentials": []}},
        "tools": [],
        "stream": True,
    }
    messages = body["messages"]
    creds = body["provider"]["routing"]["credentials"]  # type: ignore[index]
    assert isinstance(messages, list) and isinstance(creds, list)
    for i, s in enumerate(samples):
        if s.name == "claude-code-user-id":
            body["metadata"] = {"user_id": s.value}  # type: ignore[assignment]
        elif s.context_only:
            creds.append({"provider": s.name, _secret_field(i): s.value})
        elif s.name == "gcp-service-account":
            creds.append({"provider": "vertex", "service_account": json.loads(s.value)})
        elif i % 3 == 0:
            messages.append({"role": "user", "content": f"my key is {s.value} please keep it"})
        elif i % 3 == 1:
            args = json.dumps({"command": f"export TOKEN_{i}={_bare(s)}", "cwd": "/tmp"})
            body["tools"].append(  # type: ignore[union-attr]
                {"type": "function", "function": {"name": f"run_{i}", "arguments": args}}
            )
        else:
            creds.append({"provider": s.name, "settings": {"headers": [f"X-Note: {s.value}"]}})
    return body


def plant_sse(samples: Iterable[SecretSample] = SECRETS) -> bytes:
    """An OpenAI-style SSE stream: one ``data:`` frame per sample (JSON-escaped inside a
    ``delta.content``; context-only samples under a secret-named key), then ``data: [DONE]``."""
    frames = []
    for i, s in enumerate(samples):
        if s.context_only:
            chunk: dict[str, object] = {"id": "chatcmpl-9xQ", "debug": {_secret_field(i): s.value}}
        else:
            chunk = {
                "id": "chatcmpl-9xQ",
                "object": "chat.completion.chunk",
                "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "delta": {"content": f"echo {s.value} "}}],
            }
        frames.append(f"data: {json.dumps(chunk)}\n\n")
    frames.append("data: [DONE]\n\n")
    return "".join(frames).encode()


def plant_text(samples: Iterable[SecretSample] = SECRETS) -> str:
    """Free text (a log line, a form body, a protobuf string): pattern samples separated by
    spaces, context-only samples as ``api_key=<value>``."""
    parts = []
    for i, s in enumerate(samples):
        parts.append(f"{_secret_field(i)}={s.value}" if s.context_only else s.value)
    return "log: " + " ; ".join(parts) + " end"


def protobuf_strings(samples: Iterable[SecretSample] = PATTERN_SECRETS) -> list[str]:
    """Raw strings to embed as protobuf string fields (pattern samples only: a context-only key
    in protobuf is recognisable only by its field path, see :func:`cursor_model_details`)."""
    return [s.value for s in samples if not s.context_only]


def pb_field(number: int, payload: bytes | str) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def plant_protobuf(samples: Iterable[SecretSample] = PATTERN_SECRETS) -> bytes:
    """A protobuf message with each pattern sample as a string 3 levels deep
    (field 1 → field 4 → field 2), next to a model-id string at field 1 → field 1."""
    inner = b"".join(pb_field(4, pb_field(2, v)) for v in protobuf_strings(samples))
    return pb_field(1, pb_field(1, "gpt-4o-2024-08-06") + inner)


def cursor_model_details(model_name: str, api_key: str) -> bytes:
    """``StreamUnifiedChatRequest{model_details(5): ModelDetails{model_name(1), api_key(2)}}``:
    Cursor's bring-your-own-key shape (community schema)."""
    return pb_field(5, pb_field(1, model_name) + pb_field(2, api_key))


def connect_frame(message: bytes, flags: int = 0) -> bytes:
    """A Connect/gRPC envelope: flags (u8), length (u32 big-endian), payload."""
    return bytes([flags]) + len(message).to_bytes(4, "big") + message


# ---------------------------------------------------------------------------------- checking

_B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{24,}={0,2}")


def _views(blob: bytes | str) -> list[str]:
    """The blob as text, plus unescaped, percent-decoded and base64-decoded views of it."""
    raw = blob if isinstance(blob, bytes) else blob.encode("utf-8", "surrogatepass")
    text = raw.decode("utf-8", "replace")
    views = [text, text.replace("\\/", "/"), unquote(text)]
    for m in _B64_RUN.finditer(raw):
        chunk = m.group()
        for decoder in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decoder(chunk + b"=" * (-len(chunk) % 4))
            except ValueError:
                continue
            views.append(decoded.decode("utf-8", "replace"))
    return views


def describe(sample: SecretSample) -> str:
    """A safe description: name, kind, a short prefix and the length (never the whole secret)."""
    needle = sample.needle
    return f"{sample.name} (kind {sample.kind}): {needle[:6]}… ({len(needle)} chars)"


def find_secrets(
    blob: bytes | str, samples: Sequence[SecretSample] = SECRETS
) -> list[SecretSample]:
    """The samples whose secret occurs in ``blob`` (as is, JSON/percent-escaped or base64)."""
    views = _views(blob)
    return [s for s in samples if any(s.needle in v for v in views)]


def assert_no_secrets(blob: bytes | str, samples: Sequence[SecretSample] = SECRETS) -> None:
    """Fail (AssertionError) naming every corpus secret found in ``blob``, without showing it."""
    found = find_secrets(blob, samples)
    if found:
        listing = "; ".join(describe(s) for s in found)
        raise AssertionError(f"{len(found)} corpus secret(s) in plain text: {listing}")
