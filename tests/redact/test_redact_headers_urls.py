"""Header and URL redaction: what is hidden, what is kept byte for byte."""

from __future__ import annotations

import re

import pytest

from provenance.redact import Redactor
from tests.secrets_corpus import BY_NAME

TOKEN = r"\[REDACTED:{kind}:[0-9a-f]{{12}}\]"


def tok(kind: str) -> str:
    return TOKEN.format(kind=re.escape(kind))


@pytest.mark.parametrize(
    "name",
    [
        "authorization",
        "Proxy-Authorization",
        "x-api-key",
        "API-Key",
        "x-goog-api-key",
        "x-auth-token",
        "x-session-token",
        "X-Access-Token",
        "x-amz-security-token",
        "helicone-auth",
        "x-cursor-checksum",
        "chatgpt-account-id",
        "x-custom-secret",
        "x-portkey-api-key",
    ],
)
def test_secret_headers_hidden_whatever_the_value(redactor: Redactor, name: str) -> None:
    [(out_name, value)] = redactor.redact_headers([(name, "plainvalue")])
    assert out_name == name
    assert "plainvalue" not in value and "[REDACTED:" in value


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("openai-organization", "org-2kQ9xYz1AbCdEfGh3456IjKl"),  # an identifier: kept on purpose
        ("openai-project", "proj_8sDf7Gh6Jk5Lm4Nb3Vc2Xz1Q"),
        ("x-request-id", "req_011CVxQmPfU8jLkJ4a5b6c7d"),
        ("anthropic-ratelimit-tokens-remaining", "400000"),
        ("x-ratelimit-remaining-tokens", "149984"),
        ("content-type", "application/connect+proto"),
        ("user-agent", "Cursor/0.48.6 connect-es/1.4.0"),
        ("www-authenticate", 'Bearer realm="api", error="invalid_token"'),
        ("anthropic-beta", "claude-code-20250219,oauth-2025-04-20"),
        ("x-cursor-client-version", "0.48.6"),
        ("openai-model", "gpt-4o-2024-08-06"),
    ],
)
def test_ordinary_headers_kept(redactor: Redactor, name: str, value: str) -> None:
    assert redactor.redact_headers([(name, value)]) == [(name, value)]


def test_bearer_keeps_scheme_and_names_the_key_kind(redactor: Redactor) -> None:
    key = BY_NAME["anthropic-oauth"].value
    [(_, value)] = redactor.redact_headers([("Authorization", f"Bearer {key}")])
    assert re.fullmatch("Bearer " + tok("anthropic-oauth"), value)
    [(_, value)] = redactor.redact_headers([("authorization", "Bearer opaque-but-long-token-1234")])
    assert re.fullmatch("Bearer " + tok("bearer"), value)
    [(_, value)] = redactor.redact_headers([("Authorization", "Basic dXNlcjpwYXNzd29yZA==")])
    assert re.fullmatch("Basic " + tok("basic"), value)
    jwt = BY_NAME["jwt"].value
    [(_, value)] = redactor.redact_headers([("Authorization", f"Bearer {jwt}")])
    assert re.fullmatch("Bearer " + tok("jwt"), value)


def test_api_key_header_kind_from_value(redactor: Redactor) -> None:
    key = BY_NAME["anthropic-api"].value
    [(_, value)] = redactor.redact_headers([("x-api-key", key)])
    assert re.fullmatch(tok("anthropic"), value)
    [(_, value)] = redactor.redact_headers([("api-key", BY_NAME["mistral"].value)])
    assert re.fullmatch(tok("header"), value)


def test_sigv4_keeps_structure(redactor: Redactor) -> None:
    akid = BY_NAME["aws-access-key-akia"].value
    sig = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    value = (
        f"AWS4-HMAC-SHA256 Credential={akid}/20250101/us-east-1/bedrock/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date, Signature={sig}"
    )
    [(_, out)] = redactor.redact_headers([("Authorization", value)])
    assert akid not in out and sig not in out
    assert re.fullmatch(
        "AWS4-HMAC-SHA256 Credential="
        + tok("aws-access-key")
        + "/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, "
        "Signature=" + tok("signature"),
        out,
    )


def test_cookies_keep_names(redactor: Redactor) -> None:
    sid = BY_NAME["anthropic-session"].value
    [(_, out)] = redactor.redact_headers([("Cookie", f"sessionKey={sid}; theme=dark")])
    assert re.fullmatch(f"sessionKey={tok('anthropic-session')}; theme={tok('cookie')}", out)
    [(_, out)] = redactor.redact_headers(
        [("Set-Cookie", "sid=abc123def456; Path=/; HttpOnly; Secure; SameSite=Lax")]
    )
    assert re.fullmatch(f"sid={tok('cookie')}; Path=/; HttpOnly; Secure; SameSite=Lax", out)


def test_unknown_header_with_key_shaped_value(redactor: Redactor) -> None:
    key = BY_NAME["groq"].value
    [(_, out)] = redactor.redact_headers([("x-forwarded-note", f"key={key};ttl=3")])
    assert key not in out and out.endswith(";ttl=3") and "[REDACTED:groq:" in out


def test_headers_input_untouched_and_order_kept(redactor: Redactor) -> None:
    headers = [("A", "1"), ("Authorization", "Bearer abcdefghijklmnopqrstuvwxyz"), ("A", "2")]
    copy = list(headers)
    out = redactor.redact_headers(headers)
    assert headers == copy
    assert [n for n, _ in out] == ["A", "Authorization", "A"] and out[2] == ("A", "2")


# ------------------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1/chat/completions",
        "/v1/messages?beta=true",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse-stream",
        "https://api.fireworks.ai/inference/v1/chat/completions?model="
        "accounts%2Fanysphere%2Fmodels%2Fkimi-k2p5-rl-0317-s515-fast",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&x=1&&y&z=",
        "wss://api.openai.com/v1/realtime?model=gpt-4o-realtime-preview-2024-12-17",
        "https://example.test:8443/a;b/c?q=a+b%20c#frag",
        "",
        "?",
        "#",
        "http://[::1]:8080/p?x=%ZZ",
    ],
)
def test_urls_without_secrets_are_unchanged(redactor: Redactor, url: str) -> None:
    assert redactor.redact_url(url) == url


def test_query_parameters_by_name(redactor: Redactor) -> None:
    url = (
        "https://x.test/p?key=AIzaSyNotReallyButLongEnough_123456789012&alt=sse"
        "&access_token=abc&token=t1&api_key=k&apiKey=k2&X-Amz-Credential=AKIAXX%2F20250101"
        "&X-Amz-Signature=deadbeef&X-Amz-Security-Token=tok&sig=s1&signature=s2&code=c0de"
        "&model=gpt-4o"
    )
    out = redactor.redact_url(url)
    names = [p.split("=", 1)[0] for p in out.split("?", 1)[1].split("&")]
    assert names == [p.split("=", 1)[0] for p in url.split("?", 1)[1].split("&")]
    for part in out.split("?", 1)[1].split("&"):
        name, value = part.split("=", 1)
        if name in ("alt", "model"):
            assert value in ("sse", "gpt-4o")
        else:
            assert re.fullmatch(r"\[REDACTED:[a-z0-9-]+:[0-9a-f]{12}\]", value), part


def test_userinfo(redactor: Redactor) -> None:
    out = redactor.redact_url("https://alice:hunter2@proxy.example.test:3128/v1/models?x=1")
    assert re.fullmatch(
        r"https://" + tok("userinfo") + r"@proxy\.example\.test:3128/v1/models\?x=1", out
    )
    out = redactor.redact_url("postgresql://svc:p%40ss@db.internal/prov")
    assert "p%40ss" not in out and "svc" not in out and out.endswith("@db.internal/prov")


def test_fragment_tokens_and_secret_in_path(redactor: Redactor) -> None:
    out = redactor.redact_url("https://app.test/cb#access_token=ya29.a0AbcDefGhiJklMnoPqrStu&x=1")
    assert "ya29." not in out and out.endswith("&x=1")
    key = BY_NAME["openai-project"].value
    out = redactor.redact_url(f"/v1/keys/{key}/usage")
    assert key not in out and out.startswith("/v1/keys/[REDACTED:openai-project:")


def test_percent_encoded_secret_in_innocent_parameter(redactor: Redactor) -> None:
    sample = BY_NAME["windsurf-session"]
    from urllib.parse import quote

    out = redactor.redact_url("/x?meta=" + quote(sample.value, safe=""))
    assert sample.needle not in out and "[REDACTED:" in out


def test_query_hash_matches_header_hash(redactor: Redactor) -> None:
    key = BY_NAME["google-api-key"].value
    url = redactor.redact_url(f"/v1beta/models/gemini-2.5-pro:generateContent?key={key}")
    [(_, header)] = redactor.redact_headers([("x-goog-api-key", key)])
    assert header in url
