"""Things that look a little like keys but are evidence: they must come out unchanged."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid

import pytest

from provenance.redact import Redactor

_rng = random.Random(20250101)

MODEL_IDS = [
    "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast",
    "accounts/fireworks/models/deepseek-v3p1",
    "accounts/fireworks/models/qwen3-coder-480b-a35b-instruct",
    "gpt-4o-2024-08-06",
    "gpt-4.1-mini-2025-04-14",
    "gpt-5-codex",
    "o3-mini-2025-01-31",
    "chatgpt-4o-latest",
    "claude-3-5-sonnet-20241022",
    "claude-sonnet-4-20250514",
    "claude-opus-4-1-20250805",
    "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-micro-v1:0",
    "models/gemini-2.5-pro",
    "gemini-2.0-flash-001",
    "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo",
    "Qwen/Qwen2.5-72B-Instruct-Turbo",
    "Qwen/Qwen3-235B-A22B-Instruct-2507-tput",
    "deepseek-ai/DeepSeek-V3.1",
    "moonshotai/kimi-k2-0905",
    "openrouter/anthropic/claude-3.7-sonnet:thinking",
    "mistral-large-2411",
    "mixtral-8x22b-instruct-v0.1",
    "grok-code-fast-1",
    "xai/grok-4-0709",
    "pplx-70b-online",
    "zai-org/GLM-4.6",
    "MiniMaxAI/MiniMax-M2",
    "openai/gpt-oss-120b",
    "MODEL_SWE_1_5",
    "kimi-k2-5",
]

IDS = [
    str(uuid.UUID(int=_rng.getrandbits(128))),
    str(uuid.UUID(int=_rng.getrandbits(128))).upper(),
    uuid.UUID(int=_rng.getrandbits(128)).hex,
    "req_011CVxQmPfU8jLkJ4a5b6c7dE8",
    "msg_01XFDUDYJgAACzvnptvVoYEL",
    "toolu_01A09q90qw90lq917835lq9",
    "chatcmpl-B9MHDbslfOnRHhnIYYcYhtWm0iY1b",
    "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    "call_Gx7VqJw2y8KzR4pL3mN5bT9c",
    "fp_44709d6fcb",
    "file-BK7bzQj3FfZFXr7DbL6xJwfo",
    "asst_abc123XYZ789defGHI456jkl",
    "org-2kQ9xYz1AbCdEfGh3456IjKl",
    "gen-1754326545-u3o2dZ4MQ0yT9EMHbYgd",
    "01JD8ZQ4X7RPM2V6K3N9B5T1CW",  # ULID
    "2b4d8f16-3e5a-4c7b-9d1e-0f2a4c6e8b0d",
    "x-request-id: 7f3c2a1b-9e8d-4c6b-a5f4-3e2d1c0b9a87",
]

DIGESTS = [
    hashlib.sha256(b"provenance").hexdigest(),
    hashlib.sha1(b"provenance").hexdigest(),
    hashlib.md5(b"provenance").hexdigest(),
    "sha256:" + hashlib.sha256(b"layer").hexdigest(),
    hashlib.sha512(b"x").hexdigest(),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    base64.b64encode(hashlib.sha256(b"etag").digest()).decode(),
]

ENGLISH = [
    "The key insight is that tokens are counted per request, not per session.",
    "Use the API key from your dashboard; never paste the secret into chat.",
    "Bearer tokens expire after an hour. Password: see the vault.",
    "task-runner and disk-usage are sk- prefixed words in this sentence: risk-free, flask-app.",
    "Set max_tokens: 1024 and temperature: 0.2 for the eval; the token budget is 8k.",
    "The authorization flow redirects to /oauth/callback?state=xyz.",
    "Cache key: model+prompt. Primary key: id. Keyboard shortcuts: ctrl+k.",
    "An fw_version of 12 and the hf_hub cache live in ~/.cache.",
    "Emoji 🔑 and CJK 鍵 and RTL مفتاح survive untouched.",
]


def _b64_image(n: int, seed: int) -> str:
    data = b"\x89PNG\r\n\x1a\n" + random.Random(seed).randbytes(n)
    return "data:image/png;base64," + base64.b64encode(data).decode()


BLOBS = [_b64_image(12_000, 1), _b64_image(30_000, 2)]
# Bedrock event-stream chunk: base64 of the model's own JSON ("eyJ…" without dots).
BLOBS.append(
    json.dumps(
        {
            "bytes": base64.b64encode(
                json.dumps({"type": "content_block_delta", "delta": {"text": "hi " * 200}}).encode()
            ).decode()
        }
    )
)

ALL = MODEL_IDS + IDS + DIGESTS + ENGLISH


def test_list_is_big_enough() -> None:
    assert len(MODEL_IDS) >= 30 and len(ALL) >= 60


@pytest.mark.parametrize("text", ALL)
def test_text_unchanged(redactor: Redactor, text: str) -> None:
    assert redactor.redact_text(text) == text
    assert (
        redactor.redact_text(f'{{"model": "{text}", "id": "{text}"}}')
        == f'{{"model": "{text}", "id": "{text}"}}'
    )


@pytest.mark.parametrize("index", range(len(BLOBS)))
def test_base64_blobs_unchanged(redactor: Redactor, index: int) -> None:
    assert redactor.redact_text(BLOBS[index]) == BLOBS[index]


def test_json_body_of_evidence_unchanged(redactor: Redactor) -> None:
    body = {
        "model": MODEL_IDS[0],
        "id": IDS[0],
        "messages": [{"role": "user", "content": [{"type": "text", "text": t} for t in ENGLISH]}],
        "image": {"type": "base64", "media_type": "image/png", "data": BLOBS[0][22:]},
        "digests": DIGESTS,
        "models": MODEL_IDS,
        "ids": IDS,
        "max_tokens": 1024,
        "key": "cache-key-model-v1",
        "metadata": {"trace": "t-1"},
    }
    with redactor.collecting() as found:
        assert redactor.redact_json(body) == body
    assert found.hashes == []


@pytest.mark.parametrize("model", MODEL_IDS)
def test_model_ids_in_urls_unchanged(redactor: Redactor, model: str) -> None:
    from urllib.parse import quote

    host = "https://bedrock-runtime.us-east-1.amazonaws.com"
    url = f"{host}/model/{quote(model, safe='')}/invoke?model={quote(model)}"
    assert redactor.redact_url(url) == url
    assert redactor.redact_headers([("x-model", model)]) == [("x-model", model)]
