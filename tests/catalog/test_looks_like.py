"""looks_like_model_id: picks model ids out of schema-less protobuf strings, and little else."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest

from provenance.catalog import looks_like_model_id

IDS = [
    # catalogued families, any provider spelling
    "gpt-4o",
    "o3",
    "claude-sonnet-4-5-20250929",
    "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "deepseek-ai/DeepSeek-V3.1",
    "Qwen/Qwen3-32B",
    "claude-3-5-sonnet-v2@20241022",
    "MODEL_GROK_CODE_FAST_1",
    "gemini-2.5-pro",
    "grok-code-fast-1",
    "claude",
    "gemini",
    # a provider's id shape around an unknown model
    "accounts/anysphere/models/composer",
    "accounts/anysphere/models/bugbot-12-10",
    "accounts/anysphere/models/dsv3-agent-0723",
    "MODEL_SWE_1_5",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
    "models/learnlm-2.0-flash-experimental",
    # generic id shape
    "composer-1",
    "swe-1.5",
    "my-org/my-model-v2",
    "acme-coder-7b-instruct",
    "nova-3",
]

NOT_IDS = [
    "",
    " ",
    "hello",
    "Hello, world",
    "claude is great",
    "the gpt-4o model",
    "model_name",
    "typescript",
    "default",
    "utf-8",
    "x86_64",
    "sha-256",
    "http/1.1",
    "python3.11",
    "node-18",
    "v1.2.3",
    "1.2.3",
    "2025-01-01T00:00:00Z",
    "12:30",
    "v1:0",
    "api2.cursor.sh",
    "openai.com",
    "user@example.com",
    "src/main.rs",
    "src/utils2.ts",
    "/usr/lib/x86_64-linux-gnu",
    "README.md",
    "index.d.ts",
    "https://api.openai.com/v1",
    "file:///home/u/x.py",
    "C:\\Users\\x",
    "a",
    "ab",
    "x" * 300,
    "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig-4Ab9Xy",
    "sk-proj-abc123DEF456ghi789JKL0",
    # provider object ids (xAI gRPC responses carry them beside the model id)
    "fp_4616e76413",
    "call_28585237",
    "chatcmpl-9x8y7z6",
    "resp_68a1b2c3d4",
    "msg_01abc234",
    "toolu_01xyz9",
    "req_011CUzAbCdEf1234",
    "chatcmpl-AbC123xYz456QrS789",
    "text/event-stream",
    "application/connect+proto",
    "en-US",
    " gpt-4o",
    "gpt-4o\n",
]


@pytest.mark.parametrize("text", IDS)
def test_model_ids_are_recognised(text: str) -> None:
    assert looks_like_model_id(text)


@pytest.mark.parametrize("text", NOT_IDS)
def test_other_strings_are_not(text: str) -> None:
    assert not looks_like_model_id(text)


def test_generated_noise_is_not_an_id() -> None:
    """UUIDs, hex digests and base64 blobs, as protobuf fields carry them, are rejected."""
    noise = []
    for i in range(50):
        seed = str(i).encode()
        noise.append(str(uuid.UUID(bytes=hashlib.md5(seed).digest())))
        noise.append(hashlib.sha1(seed).hexdigest())
        noise.append(base64.b64encode(hashlib.sha256(seed).digest()).decode())
        noise.append(base64.urlsafe_b64encode(hashlib.sha256(seed).digest()).decode().rstrip("="))
    flagged = [n for n in noise if looks_like_model_id(n)]
    assert flagged == []


def test_non_strings_are_not_ids() -> None:
    assert not looks_like_model_id(None)  # type: ignore[arg-type]
    assert not looks_like_model_id(b"gpt-4o")  # type: ignore[arg-type]
