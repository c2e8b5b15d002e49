"""The generic id shape: product/version tokens are not model ids, real ids beside them are."""

from __future__ import annotations

import pytest

from provenance.catalog import looks_like_model_id
from provenance.catalog.shape import has_generic_id_shape

# what clients send beside the model: their own name and version, User-Agent style
PRODUCT_VERSIONS = [
    "acme-agent/3.4.1",
    "acme-agent/v1.2",
    "acme@1.2.3",
    "acme-agent/1.2.3-beta.1",
    "acme-agent/1.2.3+build.7",
    "connect-es/1.4.0",
    "grpc-node-js/1.9.0",
    "claude-cli/1.0.44",
    "gemini-cli/0.1.5",
    "org/acme-agent/2.0",
    "acme-agent/3.4.1 (darwin; arm64)",  # the charset already rejects it
]

# ids that share the shape's ingredients (a slash or @, digits, dots) and must stay ids
NEAR_MISSES = [
    "accounts/fireworks/models/llama-v3p1-8b-instruct",
    "meta-llama/Llama-3.1-8B",
    "qwen/qwen3-235b-a22b-2507",
    "anthropic/claude-3.5-sonnet",
    "claude-3-5-sonnet@20240620",
    "mistral-large@2411-001",
    "mistralai/codestral-2@001",
    "acme/acme-coder-1.5",
    "my-org/my-model-v2.1",
    "swe-1.5",
]


@pytest.mark.parametrize("text", PRODUCT_VERSIONS)
def test_product_version_tokens_are_not_ids(text: str) -> None:
    assert not has_generic_id_shape(text)
    assert not looks_like_model_id(text)


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_ids_with_versions_in_them_stay_ids(text: str) -> None:
    assert looks_like_model_id(text)


@pytest.mark.parametrize("text", ["acme/acme-coder-1.5", "my-org/my-model-v2.1", "swe-1.5"])
def test_unknown_ids_with_dotted_versions_keep_the_generic_shape(text: str) -> None:
    assert has_generic_id_shape(text)
