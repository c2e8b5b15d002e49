"""Redaction by what a secret is (issue 25): the value rule, base64-wrapped keys, name/value
pairs, fuzzy and percent-encoded names, path parameters, keys split over two fields; and what
must survive them (ids, digests, media, model names)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import string
import uuid

import pytest

from provenance.redact import Redactor
from provenance.redact.names import is_evidence_name, is_secret_header, is_secret_query
from provenance.redact.values import base64_text, is_opaque
from tests.secrets_corpus import BY_NAME

from .test_redact_false_positives import IDS, MODEL_IDS

TOKEN = r"\[REDACTED:[a-z0-9-]+:[0-9a-f]{12}\]"
MISTRAL = BY_NAME["mistral"].value  # 32 alphanumerics, no prefix
COHERE = BY_NAME["cohere"].value
AWS_SECRET = BY_NAME["aws-secret-key"].value
ALNUM = string.ascii_letters + string.digits


def _random_keys(n: int, alphabet: str, count: int = 1000) -> list[str]:
    rng = random.Random(f"value-rule:{n}:{alphabet}")
    return ["".join(rng.choice(alphabet) for _ in range(n)) for _ in range(count)]


# --------------------------------------------------------------------------- the value rule


@pytest.mark.parametrize(
    ("length", "alphabet", "floor"),
    [(24, ALNUM, 0.95), (32, ALNUM, 0.97), (40, ALNUM, 0.99), (40, ALNUM + "+/", 0.99),
     (64, ALNUM + "-_", 0.99), (128, ALNUM, 0.99)],
)  # fmt: skip
def test_random_keys_are_opaque(length: int, alphabet: str, floor: float) -> None:
    """Measured recall of the value rule on random keys (1,000 each, seeded)."""
    keys = _random_keys(length, alphabet)
    caught = sum(is_opaque(k) for k in keys) / len(keys)
    assert caught >= floor, f"{caught:.1%} of random {length}-character keys"


@pytest.mark.parametrize("value", [MISTRAL, COHERE, AWS_SECRET, "tvly-dev-" + MISTRAL])
def test_corpus_keys_without_a_format_are_opaque(value: str) -> None:
    assert is_opaque(value)


NOT_OPAQUE = [
    *MODEL_IDS,
    *IDS,
    "proj_8sDf7Gh6Jk5Lm4Nb3Vc2Xz1Q",  # typed ids: provider object prefixes
    "org-2kQ9xYz1AbCdEfGh3456IjKl",
    "event_E6U11oE4PwyJSvJ9e3mzM",
    hashlib.sha256(b"x").hexdigest(),  # hex: digests, HMACs, hex ids need a name
    hashlib.sha1(b"x").hexdigest().upper(),
    str(uuid.UUID(int=7)),
    "01JD8ZQ4X7RPM2V6K3N9B5T1CW",  # ULID: no lower case
    "PROGRAMMATIC_ACCESS_TOKEN",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "response.reasoning_summary_text.delta",
    "Qwen/Qwen3-235B-A22B-Instruct-2507-tput",
    "aGVsbG8gd29ybGQsIHRoaXMgaXMgcGxhaW4gdGV4dA==",  # base64 of readable text
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123",  # Bedrock's "p" padding
    "A" * 40,
    base64.b64encode(random.Random(3).randbytes(600)).decode(),  # too long: a blob
]


@pytest.mark.parametrize("value", NOT_OPAQUE, ids=range(len(NOT_OPAQUE)))
def test_ids_hashes_model_names_and_blobs_are_not_opaque(value: str) -> None:
    assert not is_opaque(value)


def test_base64_text() -> None:
    key = BY_NAME["openai-project"].value
    assert base64_text(base64.b64encode(key.encode()).decode()) == key
    assert base64_text(base64.urlsafe_b64encode(f"svc:{key}".encode()).decode()) == f"svc:{key}"
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256))).decode()
    assert base64_text(png) is None
    assert base64_text(AWS_SECRET) is None  # random bytes, not text
    assert base64_text("not base64 at all!") is None


# -------------------------------------------------------------- the value rule, everywhere


def test_an_opaque_value_is_hidden_wherever_it_travels(redactor: Redactor) -> None:
    [(_, header)] = redactor.redact_headers([("X-Whatever", MISTRAL)])
    assert re.fullmatch(r"\[REDACTED:opaque:[0-9a-f]{12}\]", header)
    assert MISTRAL not in redactor.redact_url(f"/v1/x?k={MISTRAL}&model=gpt-4o")
    assert MISTRAL not in redactor.redact_query(f"grant=x&k={MISTRAL}")
    assert MISTRAL not in redactor.redact_url(f"/app;p={MISTRAL}/v1")
    out = redactor.redact_json({"config": {"k": MISTRAL}, "list": [COHERE]})
    assert out["config"]["k"] == header and re.fullmatch(TOKEN, out["list"][0])
    assert redactor.redact_text(f"k {MISTRAL} k") == f"k {MISTRAL} k"  # never in free text


@pytest.mark.parametrize(
    ("name", "value"),
    [("Sec-WebSocket-Accept", "DjbXMEas0wqrD50E1woyjplA+R4="),
     ("x-request-id", "Xk9vT3mLpX9wR2nK7yB4aF6cH1jD5sG0"),
     ("etag", 'W/"' + base64.b64encode(hashlib.sha256(b"e").digest()).decode() + '"'),
     ("x-goog-hash", "md5=" + base64.b64encode(hashlib.md5(b"m").digest()).decode())],
)  # fmt: skip
def test_evidence_headers_are_kept(redactor: Redactor, name: str, value: str) -> None:
    assert redactor.redact_headers([(name, value)]) == [(name, value)]


def test_evidence_fields_are_kept(redactor: Redactor) -> None:
    audio = base64.b64encode(random.Random(5).randbytes(33)).decode()  # short audio chunk
    digest = base64.b64encode(hashlib.sha256(b"d").digest()).decode()
    body = {
        "id": "Xk9vT3mLpX9wR2nK7yB4aF6cH1jD5sG0",
        "responseId": "UB5DaMfEN7jFnvgPocrJaA1x",
        "type": "response.output_audio.delta",
        "delta": audio,
        "source": {"type": "base64", "media_type": "audio/pcm", "data": audio},
        "sha256": digest,
        "digests": [digest, hashlib.sha256(b"e").hexdigest()],
        "ids": ["call_3rqTYrA6H21AYUaRGP4F66oq", "Zq8vT3mLpX9wR2nK7yB4aF6cH1jD5sG0"],
        "thoughtSignature": "CiQBjz1rX+z7CAOCNB0aLI7ypObFNPY+MRlb",
        "b64_json": base64.b64encode(b"\x89PNG" + random.Random(1).randbytes(40)).decode(),
        "model": "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast",
    }
    with redactor.collecting() as found:
        assert redactor.redact_json(body) == body
    assert found.hashes == []


def test_bearer_and_basic_in_any_header(redactor: Redactor) -> None:
    out = redactor.redact_headers(
        [("X-Upstream-Auth", "Basic dXNlcjpwYXNzd29yZA=="), ("X-Forward", "Token a1b2c3d4e5"),
         ("X-Note", "Bearer required"), ("WWW-Authenticate", 'Bearer realm="api"')]
    )  # fmt: skip
    assert re.fullmatch(r"Basic \[REDACTED:basic:[0-9a-f]{12}\]", out[0][1])
    assert re.fullmatch(r"Token \[REDACTED:bearer:[0-9a-f]{12}\]", out[1][1])
    assert out[2:] == [("X-Note", "Bearer required"), ("WWW-Authenticate", 'Bearer realm="api"')]


def test_a_secret_header_keeps_its_scheme_word(redactor: Redactor) -> None:
    [(_, out)] = redactor.redact_headers([("Authentication", "Bearer 9fK2xQ7mLp4Tz8Wb")])
    assert re.fullmatch(r"Bearer \[REDACTED:bearer:[0-9a-f]{12}\]", out)


# ---------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    ["Authentication", "X-Sessionid", "X-Creds", "X-Access", "Api-Keys", "X-Signature",
     "X-Hub-Signature-256", "X-Api-Kee", "X-Api-Kye", "Stripe-Signature", "X-Hmac", "apikey2",
     "X-Session", "api%5Fkey"],
)  # fmt: skip
def test_credential_header_names(name: str) -> None:
    assert is_secret_header(name)


@pytest.mark.parametrize(
    "name",
    ["WWW-Authenticate", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
     "Sec-WebSocket-Key", "Sec-WebSocket-Accept", ":authority", "Keep-Alive", "x-request-id",
     "anthropic-ratelimit-tokens-remaining", "x-snowflake-authorization-token-type",
     "X-Author", "monkey"],
)  # fmt: skip
def test_not_credential_header_names(name: str) -> None:
    assert not is_secret_header(name)


@pytest.mark.parametrize(
    "name", ["session", "sessionid", "creds", "hash", "license", "apikey2", "jsessionid", "sig",
             "hmac", "api_kee", "PHPSESSID", "authentication"],
)  # fmt: skip
def test_credential_query_names(name: str) -> None:
    assert is_secret_query(name)


@pytest.mark.parametrize("name", ["k", "model", "alt", "api-version", "authuser", "beta", "q"])
def test_not_credential_query_names(name: str) -> None:
    assert not is_secret_query(name)


def test_evidence_names() -> None:
    evidence = ["id", "request_id", "responseId", "toolUseId", "x-request-id", "etag",
                "sha256", "x-goog-hash", "data", "delta", "b64_json", "signature",
                "thoughtSignature", "encrypted_content", "model", "Sec-WebSocket-Key",
                "bytesBase64Encoded", "x-amz-id-2"]  # fmt: skip
    for name in evidence:
        assert is_evidence_name(name), name
    for name in ("content", "text", "value", "key", "config", "sessionid", "X-Sessionid"):
        assert not is_evidence_name(name), name


def test_percent_encoded_names(redactor: Redactor) -> None:
    assert MISTRAL not in redactor.redact_query(f"api%5Fkey={MISTRAL}&x=1")
    out = redactor.redact_json({"api%5Fkey": "hunter2"})
    assert re.fullmatch(TOKEN, out["api%5Fkey"])


# ------------------------------------------------------------------------- name/value pairs


def test_name_value_pairs(redactor: Redactor) -> None:
    doc = {
        "headers": [
            {"key": "x-api-key", "value": MISTRAL},
            {"name": "Authorization", "value": "Bearer short-1"},
            {"Name": "password", "Value": "hunter2"},
            {"header": "X-Creds", "value": "svc:pw"},
        ],
        "env": [{"name": "OPENAI_API_KEY", "value": "not-a-key-format"}],
    }
    out = redactor.redact_json(doc)
    h = out["headers"]
    assert re.fullmatch(TOKEN, h[0]["value"]) and h[0]["key"] == "x-api-key"
    assert re.fullmatch("Bearer " + TOKEN, h[1]["value"])
    assert re.fullmatch(TOKEN, h[2]["Value"]) and re.fullmatch(TOKEN, h[3]["value"])
    assert re.fullmatch(TOKEN, out["env"][0]["value"])


def test_pairs_with_ordinary_names_are_kept(redactor: Redactor) -> None:
    doc = [
        {"name": "temperature", "value": "0.7"},
        {"key": "model", "value": "gpt-4o"},
        {"name": "get_weather", "value": {"city": "Paris"}},
        {"name": "x", "value": "y"},
    ]
    assert redactor.redact_json(doc) == doc


# ------------------------------------------------------------------ keys split in two


@pytest.mark.parametrize("sample", ["openai-project", "anthropic-api", "groq", "google-api-key"])
@pytest.mark.parametrize("cut", [2, 5, 9, 16])
def test_a_key_split_over_two_fields(redactor: Redactor, sample: str, cut: int) -> None:
    key = BY_NAME[sample].value
    a, b = key[:cut], key[cut:]
    for doc in ({"part1": a, "part2": b}, [a, b]):
        dumped = json.dumps(redactor.redact_json(doc))
        assert b not in dumped and b[-12:] not in dumped, (sample, cut)
    query = redactor.redact_query(f"p1={a}&p2={b}&alt=sse")
    assert b[-12:] not in query and query.endswith("&alt=sse")


def test_neighbours_holding_whole_secrets_are_not_merged(redactor: Redactor) -> None:
    groq, xai = BY_NAME["groq"].value, BY_NAME["xai"].value
    out = redactor.redact_json({"a": groq, "b": "sse", "c": xai, "d": "plain"})
    assert out["b"] == "sse" and out["d"] == "plain"
    assert re.fullmatch(r"\[REDACTED:groq:[0-9a-f]{12}\]", out["a"])
    assert redactor.redact_query(f"note={groq}&alt=sse").endswith("&alt=sse")


def test_split_keys_collect_one_hash_and_no_spurious_ones(redactor: Redactor) -> None:
    key = BY_NAME["openai-project"].value
    with redactor.collecting() as found:
        redactor.redact_json({"a": key[:12], "b": key[12:]})
        redactor.redact_json({"api_key": key, "text": f"key {key}"})
    assert found.hashes == [redactor.digest(key)]


def test_the_rest_of_a_pem_key_is_hidden(redactor: Redactor) -> None:
    pem = BY_NAME["private-key"]
    half = len(pem.value) // 2
    out = json.dumps(redactor.redact_json({"a": pem.value[:half], "b": pem.value[half:]}))
    assert pem.needle not in out and "-----END PRIVATE KEY-----" in out
    lines = pem.value.split("\n")
    assert not any(line in out for line in lines if len(line) > 16 and "KEY-----" not in line)
