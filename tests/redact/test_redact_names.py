"""Secrets recognised by the name they travel under, inside base64-wrapped JSON, and at the cap.

Every name below goes through the three places a name appears: a header, a query parameter (the
same parser reads form bodies) and a JSON key. Secret names hide any value; ambiguous names
(``cache_key``, ``eos_token`` …) hide credential-shaped values only; counting names
(``max_tokens``, ``prompt_tokens`` …) are never secrets.
"""

from __future__ import annotations

import base64
import json

import pytest

from provenance.extract import ExtractOptions, extract
from provenance.redact import Redactor
from provenance.redact.names import strength_by_words
from tests.extract.test_pipeline import _raw

KEY = "zQ8vT3mLpX9wR2nK7yB4"  # credential-shaped, matches no provider's key format
WORDS = "plain words"

SECRET_NAMES = [
    "api_token", "ApiToken", "apitoken", "x-api-token", "auth_key", "authkey", "subscription-key",
    "Ocp-Apim-Subscription-Key", "subscriptionKey", "pwd", "db_pass", "x-pass", "clientSecret",
    "my_password", "user_token", "client_token", "x-foo-key", "private_key", "webhook_secret",
    "bearer", "credentials",
]  # fmt: skip
AMBIGUOUS_NAMES = ["token", "key", "cache_key", "primary_key", "eos_token", "next_page_token",
                   "prompt_cache_key", "idempotency-key", "pass"]  # fmt: skip
NOT_SECRET_NAMES = [
    "max_tokens", "prompt_tokens", "completion_tokens", "max_completion_tokens", "token_count",
    "x-ratelimit-remaining-tokens", "anthropic-ratelimit-tokens-limit", "top_logprobs",
    "keywords", "monkey", "tokenizer", "passage", "bypass", "model", "messages",
]  # fmt: skip


def _hidden(redactor: Redactor, name: str, value: str) -> dict[str, bool]:
    header = redactor.redact_headers([(name, value)])[0][1]
    query = redactor.redact_query(f"{name}={value}")
    doc = redactor.redact_json({name: value})[name]
    return {"header": value not in header, "query": value not in query, "json": value not in doc}


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_hide_any_value(redactor: Redactor, name: str) -> None:
    assert strength_by_words(name) == "secret"
    assert all(_hidden(redactor, name, KEY).values())
    assert _hidden(redactor, name, WORDS)["json"]


@pytest.mark.parametrize("name", AMBIGUOUS_NAMES)
def test_ambiguous_names_hide_credential_shaped_values_only(redactor: Redactor, name: str) -> None:
    assert _hidden(redactor, name, KEY)["json"]
    assert not _hidden(redactor, name, WORDS)["json"]


@pytest.mark.parametrize("name", NOT_SECRET_NAMES)
def test_counting_and_ordinary_names_are_not_secrets(redactor: Redactor, name: str) -> None:
    assert strength_by_words(name) is None
    hidden = _hidden(redactor, name, "4096")
    assert not any(hidden.values()), hidden
    if name not in ("model", "messages"):
        assert not _hidden(redactor, name, WORDS)["header"]


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_a_secret_inside_base64_wrapped_json_is_hidden(redactor: Redactor, encode) -> None:
    inner = {"auth": {"api_token": KEY}, "model": "gpt-4o"}
    wrapped = encode(json.dumps(inner).encode()).decode()
    out = redactor.redact_json({"payload": wrapped, "plain": "aGVsbG8gd29ybGQgaGVsbG8="})
    altchars = b"-_" if encode is base64.urlsafe_b64encode else None
    decoded = json.loads(base64.b64decode(out["payload"] + "=" * 3, altchars=altchars))
    assert KEY not in json.dumps(decoded) and decoded["model"] == "gpt-4o"
    assert decoded["auth"]["api_token"].startswith("[REDACTED:")
    assert out["plain"] == "aGVsbG8gd29ybGQgaGVsbG8="  # base64 of text, not JSON: untouched


GOOGLE_KEY = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"  # 39 characters, Google's API-key format


@pytest.mark.parametrize("cut", range(1, len(GOOGLE_KEY) + 2))
def test_a_key_straddling_the_cap_is_never_stored_as_a_prefix(redactor: Redactor, cut: int) -> None:
    body = b'{"model": "gemini-2.5-pro", "note": "' + GOOGLE_KEY.encode() + b'", "x": 1}'
    start = body.index(GOOGLE_KEY.encode())
    raw = _raw(request_body=body)
    rec = extract(raw, redactor=redactor, options=ExtractOptions(max_body=start + cut))
    stored = rec.request_body or ""
    assert rec.bodies_truncated
    for n in range(8, len(GOOGLE_KEY) + 1):
        assert GOOGLE_KEY[:n] not in stored, (cut, stored)
