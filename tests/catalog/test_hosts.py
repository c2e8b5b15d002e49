"""Host → provider slug (issue 2 §4, and the hosts issue 3 needs)."""

from __future__ import annotations

import pytest

from provenance.catalog import provider_for_host, provider_vendor

HOSTS = [
    # host as seen, provider, where the host comes from
    ("api.openai.com", "openai", "https://platform.openai.com/docs/api-reference/introduction"),
    ("chatgpt.com", "openai-chatgpt", "https://github.com/openai/codex"),
    ("api.anthropic.com", "anthropic", "https://docs.anthropic.com/en/api/overview"),
    ("generativelanguage.googleapis.com", "google-gemini", "https://ai.google.dev/api"),
    (
        "us-east5-aiplatform.googleapis.com",
        "google-vertex",
        "https://cloud.google.com/vertex-ai/docs/reference/rest",
    ),
    (
        "europe-west4-aiplatform.googleapis.com",
        "google-vertex",
        "https://cloud.google.com/vertex-ai/docs/reference/rest",
    ),
    (
        "aiplatform.googleapis.com",
        "google-vertex",
        "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/locations",
    ),
    (
        "bedrock-runtime.us-east-1.amazonaws.com",
        "aws-bedrock",
        "https://docs.aws.amazon.com/general/latest/gr/bedrock.html",
    ),
    (
        "bedrock-runtime.eu-central-1.amazonaws.com",
        "aws-bedrock",
        "https://docs.aws.amazon.com/general/latest/gr/bedrock.html",
    ),
    (
        "bedrock-runtime-fips.us-gov-west-1.amazonaws.com",
        "aws-bedrock",
        "https://docs.aws.amazon.com/general/latest/gr/bedrock.html",
    ),
    (
        "my-resource.openai.azure.com",
        "azure-openai",
        "https://learn.microsoft.com/en-us/azure/ai-services/openai/reference",
    ),
    (
        "my-resource.cognitiveservices.azure.com",
        "azure-ai-foundry",
        "https://learn.microsoft.com/en-us/azure/ai-foundry/foundry-models/concepts/endpoints",
    ),
    (
        "my-project.services.ai.azure.com",
        "azure-ai-foundry",
        "https://learn.microsoft.com/en-us/azure/ai-foundry/foundry-models/concepts/endpoints",
    ),
    (
        "Meta-Llama-3-70B-xyz.eastus2.models.ai.azure.com",
        "azure-ai-foundry",
        "https://learn.microsoft.com/en-us/azure/ai-foundry/how-to/deploy-models-serverless",
    ),
    ("openrouter.ai", "openrouter", "https://openrouter.ai/docs/api-reference/overview"),
    ("api.fireworks.ai", "fireworks", "https://docs.fireworks.ai/api-reference/introduction"),
    ("api.together.xyz", "together", "https://docs.together.ai/reference/chat-completions-1"),
    ("api.together.ai", "together", "https://docs.together.ai/reference/chat-completions-1"),
    ("api.groq.com", "groq", "https://console.groq.com/docs/openai"),
    ("api.deepseek.com", "deepseek", "https://api-docs.deepseek.com/"),
    ("api.moonshot.ai", "moonshot", "https://platform.moonshot.ai/docs/guide/kimi-k2-quickstart"),
    ("api.moonshot.cn", "moonshot", "https://platform.moonshot.cn/docs/guide/start-using-kimi-api"),
    ("api.mistral.ai", "mistral", "https://docs.mistral.ai/api/"),
    ("api.x.ai", "xai", "https://docs.x.ai/docs/api-reference"),
    (
        "api.githubcopilot.com",
        "github-copilot",
        "https://docs.github.com/en/copilot/reference/copilot-allowlist-reference",
    ),
    (
        "api.business.githubcopilot.com",
        "github-copilot",
        "https://docs.github.com/en/copilot/reference/copilot-allowlist-reference",
    ),
    (
        "api.individual.githubcopilot.com",
        "github-copilot",
        "https://docs.github.com/en/copilot/reference/copilot-allowlist-reference",
    ),
    ("api2.cursor.sh", "cursor", "traffic: capture-ecosystem.md 3.3"),
    ("agent.api5.cursor.sh", "cursor", "traffic: capture-ecosystem.md 3.3"),
    ("agentn.api5.cursor.sh", "cursor", "traffic: capture-ecosystem.md 3.3"),
    ("server.codeium.com", "codeium", "traffic: capture-ecosystem.md 3.3"),
    ("inference.codeium.com", "codeium", "traffic: capture-ecosystem.md 3.3"),
    ("server.self-serve.windsurf.com", "codeium", "traffic: capture-ecosystem.md 3.3"),
    (
        "api.cerebras.ai",
        "cerebras",
        "https://inference-docs.cerebras.ai/api-reference/chat-completions",
    ),
    (
        "router.huggingface.co",
        "huggingface",
        "https://huggingface.co/docs/inference-providers/index",
    ),
    ("api.z.ai", "zhipu", "https://docs.z.ai/guides/overview/quick-start"),
    ("open.bigmodel.cn", "zhipu", "https://docs.bigmodel.cn/cn/guide/start/quick-start"),
    (
        "dashscope-intl.aliyuncs.com",
        "alibaba-dashscope",
        "https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope",
    ),
    ("ark.cn-beijing.volces.com", "volcengine-ark", "https://www.volcengine.com/docs/82379"),
    (
        "model-abc123.api.baseten.co",
        "baseten",
        "https://docs.baseten.co/reference/inference-api/overview",
    ),
]


@pytest.mark.parametrize(("host", "provider", "cite"), HOSTS, ids=[h[0] for h in HOSTS])
def test_host_maps_to_provider(host: str, provider: str, cite: str) -> None:
    assert cite.startswith(("https://", "traffic: "))
    assert provider_for_host(host) == provider


@pytest.mark.parametrize(
    ("given", "provider"),
    [
        ("API.OpenAI.com", "openai"),
        ("api.openai.com:443", "openai"),
        ("api.openai.com.", "openai"),
        ("https://api.anthropic.com/v1/messages?beta=true", "anthropic"),
        ("  my-res.openai.azure.com  ", "azure-openai"),
        ("a.b.openai.azure.com", "azure-openai"),  # a leading "*." spans labels
    ],
)
def test_host_forms_are_normalised(given: str, provider: str) -> None:
    assert provider_for_host(given) == provider


@pytest.mark.parametrize(
    "host",
    [
        "",
        "example.com",
        "openai.com",
        "openai.azure.com",  # the wildcard needs a resource label
        "evil-api.openai.com",
        "api.openai.com.evil.example",
        "bedrock-runtime.amazonaws.com",  # region label missing
        "bedrock-runtime.us-east-1.amazonaws.com.evil.example",
        "localhost",
        "127.0.0.1",
        "[::1]:8080",
        "http://",
    ],
)
def test_unknown_hosts_give_none(host: str) -> None:
    assert provider_for_host(host) is None


def test_non_string_host_gives_none() -> None:
    assert provider_for_host(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("provider", "vendor"),
    [
        ("anthropic", "anthropic"),
        ("openai", "openai"),
        ("google-gemini", "google"),
        ("deepseek", "deepseek"),
        ("moonshot", "moonshot"),
        ("openrouter", None),
        ("aws-bedrock", None),
        ("fireworks", None),
        ("google-vertex", None),
        ("nope", None),
    ],
)
def test_provider_vendor_only_for_first_party_apis(provider: str, vendor: str | None) -> None:
    assert provider_vendor(provider) == vendor
