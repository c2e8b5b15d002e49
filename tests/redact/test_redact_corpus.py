"""Every corpus secret, planted in every location, is gone after redaction and leaves a token."""

from __future__ import annotations

import json
import re

import pytest

from provenance.redact import TOKEN_RE, Redactor
from tests.secrets_corpus import (
    PATTERN_SECRETS,
    SECRETS,
    SecretSample,
    assert_no_secrets,
    cursor_model_details,
    find_secrets,
    plant_headers,
    plant_json,
    plant_protobuf,
    plant_query,
    plant_sse,
    plant_text,
    plant_url,
    protobuf_strings,
)

IDS = [s.name for s in SECRETS]
PATTERN_IDS = [s.name for s in PATTERN_SECRETS]


def test_corpus_is_large_and_well_formed() -> None:
    assert len(SECRETS) >= 25
    assert len({s.name for s in SECRETS}) == len(SECRETS)
    for s in SECRETS:
        assert s.needle and s.needle in s.value, s.name
        assert s.source, s.name
    assert "T3BlbkFJ" in next(s.value for s in SECRETS if s.name == "openai-project")
    assert len(next(s.value for s in SECRETS if s.name == "anthropic-oauth")) == 108


def test_corpus_is_deterministic() -> None:
    import importlib

    import tests.secrets_corpus as corpus

    before = [s.value for s in corpus.SECRETS]
    importlib.reload(corpus)
    assert [s.value for s in corpus.SECRETS] == before


@pytest.mark.parametrize("sample", PATTERN_SECRETS, ids=PATTERN_IDS)
def test_text_finds_each_pattern_secret_with_its_kind(
    redactor: Redactor, sample: SecretSample
) -> None:
    out = redactor.redact_text(f"before {sample.value} after")
    assert_no_secrets(out, [sample])
    assert f"[REDACTED:{sample.kind}:" in out
    assert out.startswith("before ") and out.endswith(" after")


@pytest.mark.parametrize("sample", SECRETS, ids=IDS)
def test_headers(redactor: Redactor, sample: SecretSample) -> None:
    headers = plant_headers([sample])
    out = redactor.redact_headers(headers)
    assert [n for n, _ in out] == [n for n, _ in headers]
    assert_no_secrets(json.dumps(out), [sample])
    assert TOKEN_RE.search(json.dumps(out))


@pytest.mark.parametrize("sample", SECRETS, ids=IDS)
def test_url_query(redactor: Redactor, sample: SecretSample) -> None:
    url = plant_url([sample])
    out = redactor.redact_url(url)
    assert_no_secrets(out, [sample])
    assert out.startswith("https://generativelanguage.googleapis.com/v1beta/models/")
    assert "model=gpt-4o-2024-08-06" in out and out.endswith("&alt=sse")
    path_only = redactor.redact_url("/v1/chat/completions?" + plant_query([sample]))
    assert_no_secrets(path_only, [sample])


@pytest.mark.parametrize("sample", SECRETS, ids=IDS)
def test_json_body(redactor: Redactor, sample: SecretSample) -> None:
    body = plant_json([sample])
    snapshot = json.dumps(body)
    out = redactor.redact_json(body)
    assert json.dumps(body) == snapshot, "redact_json must not modify its input"
    assert_no_secrets(json.dumps(out), [sample])
    assert out["model"] == "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"


@pytest.mark.parametrize("sample", SECRETS, ids=IDS)
def test_json_text_and_sse_text(redactor: Redactor, sample: SecretSample) -> None:
    """Bodies that could not be parsed are redacted as text: JSON and SSE stay secret-free."""
    assert_no_secrets(redactor.redact_text(json.dumps(plant_json([sample]))), [sample])
    sse = plant_sse([sample]).decode()
    assert_no_secrets(redactor.redact_text(sse), [sample])


@pytest.mark.parametrize("sample", SECRETS, ids=IDS)
def test_sse_frames_parsed(redactor: Redactor, sample: SecretSample) -> None:
    for frame in plant_sse([sample]).decode().split("\n\n"):
        if frame.startswith("data: {"):
            out = redactor.redact_json(json.loads(frame[6:]))
            assert_no_secrets(json.dumps(out), [sample])


@pytest.mark.parametrize("sample", SECRETS, ids=IDS)
def test_free_text(redactor: Redactor, sample: SecretSample) -> None:
    assert_no_secrets(redactor.redact_text(plant_text([sample])), [sample])


def test_everything_at_once(redactor: Redactor) -> None:
    blob = json.dumps(
        {
            "headers": redactor.redact_headers(plant_headers()),
            "url": redactor.redact_url(plant_url()),
            "body": redactor.redact_json(plant_json()),
            "sse": redactor.redact_text(plant_sse().decode()),
            "text": redactor.redact_text(plant_text()),
        }
    )
    assert_no_secrets(blob)
    # ... and the checker does see them before redaction.
    assert {s.name for s in find_secrets(plant_text())} == {s.name for s in SECRETS}


def test_protobuf_strings_are_found_by_text_redaction(redactor: Redactor) -> None:
    strings = protobuf_strings()
    assert len(strings) == len(PATTERN_SECRETS)
    for value in strings:
        assert redactor.redact_text(value) != value
    raw = plant_protobuf()
    assert find_secrets(raw), "the planted protobuf must carry the corpus"
    # What an extractor does: decode each string field, redact it.
    decoded = raw.decode("latin-1")
    assert_no_secrets(redactor.redact_text(decoded).encode("latin-1"), PATTERN_SECRETS)


def test_cursor_byok_field_redacted_by_path(redactor: Redactor) -> None:
    """A context-only key in protobuf is redacted by field path with redact_secret()."""
    mistral = next(s for s in SECRETS if s.name == "mistral")
    raw = cursor_model_details("mistral-large-latest", mistral.value)
    assert mistral.value.encode() in raw
    with redactor.collecting() as found:
        token = redactor.redact_secret(mistral.value, "field")
    assert re.fullmatch(r"\[REDACTED:field:[0-9a-f]{12}\]", token)
    assert found.hashes == [token[-13:-1]]


def test_assert_no_secrets_message_never_shows_the_secret() -> None:
    sample = next(s for s in SECRETS if s.name == "anthropic-api")
    with pytest.raises(AssertionError) as info:
        assert_no_secrets(b"leak: " + sample.value.encode())
    message = str(info.value)
    assert "anthropic-api" in message and f"({len(sample.value)} chars)" in message
    assert sample.value not in message and sample.value[:12] not in message


def test_checker_sees_escaped_and_encoded_forms() -> None:
    import base64
    from urllib.parse import quote

    sample = next(s for s in SECRETS if s.name == "aws-secret-key")
    assert find_secrets(quote(sample.value, safe=""), [sample])
    assert find_secrets(json.dumps(sample.value).replace("/", "\\/"), [sample])
    assert find_secrets(base64.b64encode(b"xx " + sample.value.encode()), [sample])


def test_planted_headers_are_valid_http() -> None:
    import httpx

    request = httpx.Request("POST", "http://127.0.0.1:1/v1", headers=plant_headers())
    for name, value in plant_headers():
        assert "\n" not in value and "\r" not in value, name
        assert request.headers.get_list(name)
