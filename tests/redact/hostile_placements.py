"""The hostile-secrets corpus (issue 25, item 2): 104 placements of a secret in an exchange.

A red team planted secrets in 104 places an AI client could put them; 21 were stored in clear.
This module rebuilds those shapes with values of our own (deterministic, fake, none grants
anything), so that each placement is one test through the real :func:`provenance.extract.extract`
path: headers, the URL (query, path parameters), form and JSON request bodies, response bodies and
streams.

Each :class:`Placement` has

- ``id``: ``"<where>:<shape>"``, the test id and what a failure names;
- ``raw``: the :class:`~provenance.records.RawExchange` carrying the secret;
- ``needles``: what must never be stored (the secret; for a key split over two fields, each
  half without the format's public prefix, since either half alone is most of the key);
- ``broken``: True for the 21 placements the red team found stored in clear before issue 25.

:func:`stored` is everything the record would put in the store, :func:`leaks` the needles
found in it (as is, JSON- or percent-escaped, or base64-encoded: the views of
:func:`tests.secrets_corpus.find_secrets`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from provenance.records import ExchangeRecord, RawExchange
from tests.secrets_corpus import (
    ALNUM,
    B64,
    B64URL,
    BY_NAME,
    HEX,
    SecretSample,
    _rand,
    find_secrets,
)

BASE_URL = "https://api.example-ai.test/v1/chat/completions"
JSON_TYPE = ("content-type", "application/json")
FORM_TYPE = ("content-type", "application/x-www-form-urlencoded")
CHAT = {"model": "gpt-4o-2024-08-06", "messages": [{"role": "user", "content": "hi"}]}
REPLY = b'{"id":"chatcmpl-1","model":"gpt-4o-2024-08-06","choices":[]}'


@dataclass(frozen=True)
class Placement:
    """One place a secret can travel in an exchange (module docstring)."""

    id: str
    raw: RawExchange
    needles: tuple[str, ...]
    broken: bool = False


def _v(name: str, alphabet: str = ALNUM, n: int = 32) -> str:
    return _rand(f"hostile:{name}", alphabet, n)


def _exchange(
    *,
    url: str = BASE_URL,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    content_type: tuple[str, str] = JSON_TYPE,
    response_headers: list[tuple[str, str]] | None = None,
    response: bytes = REPLY,
    response_type: str = "application/json",
) -> RawExchange:
    return RawExchange(
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        method="POST",
        url=url,
        request_headers=[content_type, ("user-agent", "curl/8.5.0"), *(headers or [])],
        request_body=json.dumps(CHAT).encode() if body is None else body,
        status=200,
        response_headers=[("content-type", response_type), *(response_headers or [])],
        response_body=response,
    )


def _header(
    name: str, value: str, secret: str, *, broken: bool = False, shape: str = ""
) -> Placement:
    raw = _exchange(headers=[(name, value)])
    return Placement(f"header:{name}{shape}", raw, (secret,), broken)


def _query(name: str, secret: str, *, broken: bool = False, encode: bool = True) -> Placement:
    value = quote(secret, safe="") if encode else secret
    url = f"{BASE_URL}?{name}={value}&alt=sse"
    return Placement(f"query:{name}", _exchange(url=url), (secret,), broken)


def _json(shape: str, doc: dict, secret: str, *, broken: bool = False) -> Placement:
    body = json.dumps({**CHAT, **doc}).encode()
    return Placement(f"json:{shape}", _exchange(body=body), (secret,), broken)


def _form(shape: str, body: str, secret: str, *, broken: bool = False) -> Placement:
    raw = _exchange(
        url="https://auth.example-ai.test/oauth/token", body=body.encode(), content_type=FORM_TYPE
    )
    return Placement(f"form:{shape}", raw, (secret,), broken)


def _path(shape: str, path: str, secret: str, *, broken: bool = False) -> Placement:
    return Placement(
        f"path:{shape}", _exchange(url="https://api.example-ai.test" + path), (secret,), broken
    )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _sse(pieces: list[str]) -> bytes:
    frames = []
    for piece in pieces:
        chunk = {"id": "chatcmpl-9", "choices": [{"index": 0, "delta": {"content": piece}}]}
        frames.append(f"data: {json.dumps(chunk)}\n\n")
    return ("".join(frames) + "data: [DONE]\n\n").encode()


# ------------------------------------------------------------------------------------ values

OPAQUE = _v("opaque", ALNUM + "._-", 40)  # an opaque bearer token of no known format
MISTRAL = _v("mistral")  # 32 alphanumerics, no prefix: recognisable by name or by its shape
COHERE = _v("cohere", ALNUM, 40)
AWS_SECRET = _v("aws-secret", B64, 40)
HMAC_HEX = _v("hmac", HEX, 64)  # an HMAC-SHA256 signature: hex, like a content digest
SESSION = _v("session", ALNUM, 48)
SHORT_BEARER = _v("short-bearer", ALNUM, 18)  # under the 20 characters the Bearer format needs
PASSWORD = "Tr0ub4dor&3-" + _v("password", ALNUM, 8)
BASIC = _b64(f"svc-reporter:{PASSWORD}")
OAUTH_CODE = "4/0A" + _v("oauth-code", B64URL, 60)
LICENSE = "-".join(_v(f"license{i}", "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 5) for i in range(5))
GITLAB = "glpat-" + _v("gitlab", B64URL, 20)
HELICONE = "sk-helicone-" + _v("helicone", "abcdefghijklmnopqrstuvwxyz0123456789", 28)
PEM = BY_NAME["private-key"]
SPLIT_PREFIX = "sk-proj-"
SPLIT_KEY = BY_NAME["openai-project"].value
SPLIT_AT = len(SPLIT_PREFIX) + 12  # the first field: the prefix and 12 characters of the key


def k(name: str) -> str:
    """A corpus key of a known format (``tests.secrets_corpus``)."""
    return BY_NAME[name].value


# --------------------------------------------------------------------------------- placements

HEADERS = [
    _header("Authorization", f"Bearer {k('openai-project')}", k("openai-project")),
    _header("Authorization", f"Bearer {OPAQUE}", OPAQUE, shape="-opaque"),
    Placement(
        "header:Authorization-basic",
        _exchange(headers=[("Authorization", f"Basic {BASIC}")]),
        (BASIC, PASSWORD),
    ),
    Placement(
        "header:Authorization-token",
        _exchange(headers=[("Authorization", f"Token {COHERE}")]),
        (COHERE,),
    ),
    Placement(
        "header:Authorization-raw", _exchange(headers=[("Authorization", MISTRAL)]), (MISTRAL,)
    ),
    _header("Proxy-Authorization", f"Basic {BASIC}", BASIC),
    _header("x-api-key", k("anthropic-api"), k("anthropic-api")),
    _header("api-key", k("together")[:32], k("together")[:32]),
    _header("x-goog-api-key", k("google-api-key"), k("google-api-key")),
    _header("X-Auth-Token", OPAQUE, OPAQUE),
    _header("X-Access-Token", OPAQUE, OPAQUE),
    _header("X-Session-Token", SESSION, SESSION),
    _header("X-Amz-Security-Token", k("aws-session-token"), k("aws-session-token")),
    _header("Helicone-Auth", f"Bearer {HELICONE}", HELICONE),
    _header("x-portkey-api-key", MISTRAL, MISTRAL),
    _header("Ocp-Apim-Subscription-Key", HMAC_HEX[:32], HMAC_HEX[:32]),
    _header("X-Client-Secret", COHERE, COHERE),
    _header("X-Password", PASSWORD, PASSWORD),
    _header("X-Api-Token", OPAQUE, OPAQUE),
    Placement(
        "header:Cookie",
        _exchange(headers=[("Cookie", f"session={SESSION}; theme=dark")]),
        (SESSION,),
    ),
    Placement(
        "header:Cookie-claude",
        _exchange(headers=[("Cookie", f"sessionKey={k('anthropic-session')}")]),
        (k("anthropic-session"),),
    ),
    _header("X-Forwarded-Note", f"forwarded key={k('groq')};ttl=3", k("groq")),
    _header("X-Debug", f"Bearer {OPAQUE}", OPAQUE),
    _header("X-Custom-Secret", MISTRAL, MISTRAL),
    _header("Private-Token", GITLAB, GITLAB),
    _header("X-Goog-IAM-Authorization-Token", k("google-oauth"), k("google-oauth")),
    _header("OpenAI-Sentinel-Token", OPAQUE, OPAQUE),
    _header("X-Refresh-Token", k("google-refresh"), k("google-refresh")),
    Placement(
        "header:Set-Cookie",
        _exchange(response_headers=[("Set-Cookie", f"sid={SESSION}; Path=/; HttpOnly")]),
        (SESSION,),
    ),
    # the red team's eight headers, stored in clear before issue 25
    _header("Authentication", f"Bearer {SHORT_BEARER}", SHORT_BEARER, broken=True),
    _header("X-Sessionid", SESSION, SESSION, broken=True),
    _header("X-Creds", f"svc-reporter:{PASSWORD}", PASSWORD, broken=True),
    _header("X-Access", COHERE, COHERE, broken=True),
    _header("Api-Keys", MISTRAL, MISTRAL, broken=True),
    _header("X-Signature", HMAC_HEX, HMAC_HEX, broken=True),
    _header("X-Hub-Signature-256", f"sha256={HMAC_HEX}", HMAC_HEX, broken=True),
    _header("X-Api-Kee", COHERE, COHERE, broken=True),
]

QUERY = [
    _query("key", k("google-api-key")),
    _query("api_key", MISTRAL),
    _query("apiKey", COHERE),
    _query("access_token", k("google-oauth")),
    _query("token", OPAQUE),
    _query("auth", OPAQUE),
    _query("code", OAUTH_CODE),
    _query("sig", AWS_SECRET),
    _query("signature", HMAC_HEX),
    _query("X-Amz-Signature", HMAC_HEX),
    _query(
        "X-Amz-Credential", k("aws-access-key-akia") + "/20260101/us-east-1/bedrock/aws4_request"
    ),
    _query("X-Amz-Security-Token", k("aws-session-token")),
    _query("password", PASSWORD),
    _query("client_secret", COHERE),
    _query("refresh_token", k("google-refresh")),
    _query("jwt", k("jwt")),
    _query("note", k("openai-project")),
    _query("q", f"Bearer {OPAQUE}"),
    _query("api%5Fkey", MISTRAL),
    _query("X-Goog-Signature", HMAC_HEX),
    _query("session_token", SESSION),
    _query("secret", COHERE),
    # the red team's seven query names
    _query("session", SESSION, broken=True),
    _query("sessionid", SESSION, broken=True),
    _query("creds", COHERE, broken=True),
    _query("k", MISTRAL, broken=True),
    _query("hash", HMAC_HEX, broken=True),
    _query("license", LICENSE, broken=True),
    _query("apikey2", COHERE, broken=True),
]

_SA = json.loads(k("gcp-service-account"))
_SPLIT = {"key_a": SPLIT_KEY[:SPLIT_AT], "key_b": SPLIT_KEY[SPLIT_AT:]}
JSON = [
    _json("api_key", {"api_key": MISTRAL}, MISTRAL),
    _json("apiKey", {"apiKey": COHERE}, COHERE),
    _json("password", {"password": PASSWORD}, PASSWORD),
    _json("client_secret", {"client_secret": COHERE}, COHERE),
    _json("access_token", {"access_token": OPAQUE}, OPAQUE),
    _json("refresh_token", {"refresh_token": k("google-refresh")}, k("google-refresh")),
    _json("private_key", {"private_key": PEM.value}, PEM.needle),
    _json("credentials", {"credentials": {"user": "svc", "secret": AWS_SECRET}}, AWS_SECRET),
    _json("headers-authorization", {"headers": {"Authorization": f"Bearer {OPAQUE}"}}, OPAQUE),
    _json("headers-x-api-key", {"headers": {"x-api-key": MISTRAL}}, MISTRAL),
    _json("provider-config", {"provider": {"openaiApiKey": COHERE}}, COHERE),
    _json(
        "message-text",
        {"messages": [{"role": "user", "content": f"my key is {k('openai-project')} ok"}]},
        k("openai-project"),
    ),
    _json(
        "tool-arguments",
        {
            "tool_calls": [
                {
                    "function": {
                        "name": "sh",
                        "arguments": json.dumps(
                            {"command": f"export OPENAI_API_KEY={k('openai-legacy')}"}
                        ),
                    }
                }
            ]
        },
        k("openai-legacy"),
    ),
    _json("base64-json", {"payload": _b64(json.dumps({"api_key": MISTRAL}))}, MISTRAL),
    _json("ambiguous-token", {"token": OPAQUE}, OPAQUE),
    _json("auth-bearer", {"auth": {"bearer": OPAQUE}}, OPAQUE),
    _json(
        "service-account",
        {"vertex": {"service_account": _SA}},
        BY_NAME["gcp-service-account"].needle,
    ),
    _json(
        "env-pair-known-format", {"env": [{"name": "GROQ_API_KEY", "value": k("groq")}]}, k("groq")
    ),
    # the red team's four JSON shapes
    _json(
        "key-value-pair",
        {"headers": [{"key": "x-api-key", "value": MISTRAL}]},
        MISTRAL,
        broken=True,
    ),
    _json(
        "name-value-pair",
        {"headers": [{"name": "X-Auth-Token", "value": COHERE}]},
        COHERE,
        broken=True,
    ),
    _json("base64-key", {"config": _b64(k("openai-project"))}, k("openai-project"), broken=True),
    Placement(
        "json:split-over-two-fields",
        _exchange(body=json.dumps({**CHAT, **_SPLIT}).encode()),
        (SPLIT_KEY[len(SPLIT_PREFIX) : SPLIT_AT], SPLIT_KEY[SPLIT_AT:]),
        broken=True,
    ),
]

FORM = [
    _form("api_key", f"api_key={MISTRAL}&grant_type=client_credentials", MISTRAL),
    _form("client_secret", f"client_id=app-1&client_secret={COHERE}", COHERE),
    _form("password", f"username=alice&password={quote(PASSWORD, safe='')}", PASSWORD),
    _form(
        "refresh_token",
        f"grant_type=refresh_token&refresh_token={k('google-refresh')}",
        k("google-refresh"),
    ),
    _form("token", f"token={OPAQUE}&token_type_hint=access_token", OPAQUE),
    _form("api%5Fkey", f"api%5Fkey={MISTRAL}&model=gpt-4o", MISTRAL, broken=True),
]

PATHS = [
    _path("key-in-segment", f"/v1/keys/{k('openai-project')}/usage", k("openai-project")),
    _path("api_key-parameter", f"/v1/chat;api_key={MISTRAL}/completions", MISTRAL),
    _path("jwt-in-segment", f"/v1/sessions/{k('jwt')}/messages", k("jwt")),
    _path("jsessionid", f"/app;jsessionid={SESSION}/v1/complete", SESSION, broken=True),
]

_ANT = k("anthropic-api")
BODIES = [
    Placement(
        "sse:split-echo",
        _exchange(
            response=_sse([_ANT[i : i + 7] for i in range(0, len(_ANT), 7)]),
            response_type="text/event-stream",
        ),
        (_ANT,),
    ),
    Placement(
        "sse:whole-echo",
        _exchange(
            response=_sse([f"your key {k('groq')} works"]), response_type="text/event-stream"
        ),
        (k("groq"),),
    ),
    Placement(
        "response:api_key",
        _exchange(response=json.dumps({"id": "key_1", "api_key": MISTRAL}).encode()),
        (MISTRAL,),
    ),
    Placement(
        "response:created-key",
        _exchange(response=json.dumps({"data": {"key": k("openrouter")}}).encode()),
        (k("openrouter"),),
    ),
    Placement(
        "text:env-line",
        _exchange(
            body=f"OPENAI_API_KEY={COHERE}\n".encode(), content_type=("content-type", "text/plain")
        ),
        (COHERE,),
    ),
    Placement(
        "text:log-line",
        _exchange(
            body=f"login ok, password: {PASSWORD}\n".encode(),
            content_type=("content-type", "text/plain"),
        ),
        (PASSWORD,),
    ),
]

PLACEMENTS: tuple[Placement, ...] = (*HEADERS, *QUERY, *JSON, *FORM, *PATHS, *BODIES)


def stored(record: ExchangeRecord) -> str:
    """Everything of ``record`` that the store keeps, as one text."""
    return json.dumps(
        [
            record.path,
            record.request_headers,
            record.response_headers,
            record.request_body,
            record.response_body,
            record.error,
            [o.model_id for o in record.observations],
            record.parse_errors,
        ],
        ensure_ascii=False,
    )


def leaks(placement: Placement, blob: str) -> list[str]:
    """Descriptions (length and a short prefix, never the value) of the needles in ``blob``."""
    samples = [
        SecretSample(f"{placement.id}#{i}", None, n, "hostile corpus")
        for i, n in enumerate(placement.needles)
    ]
    return [f"{s.name}: {s.value[:4]}… ({len(s.value)} chars)" for s in find_secrets(blob, samples)]
