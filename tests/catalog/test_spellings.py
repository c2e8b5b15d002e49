# ruff: noqa: E501  (one case per line: a table reads better than wrapped calls)
"""Model-id spellings seen at each provider → family, vendor, provider hint and tags.

Every case cites where the spelling comes from (the provider's docs or model page, or a traffic
sample described in ``/work/shared/reference/capture-ecosystem.md``); the case id is the spelling.
``tags=None`` means the case does not pin the tags.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from provenance.catalog import resolve


@dataclass(frozen=True)
class Case:
    model_id: str
    family: str | None
    vendor: str | None
    hint: str | None
    tags: tuple[str, ...] | None
    cite: str


C = Case
FIREWORKS = "https://docs.fireworks.ai/api-reference/post-chatcompletions"
OPENROUTER = "https://openrouter.ai/docs/api-reference/overview"
TOGETHER = "https://docs.together.ai/docs/serverless-models"
BEDROCK_IDS = "https://docs.aws.amazon.com/bedrock/latest/userguide/model-ids.html"
BEDROCK_PROFILES = (
    "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html"
)
VERTEX_CLAUDE = "https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/use-claude"
GROQ = "https://console.groq.com/docs/models"
HF = "https://huggingface.co/docs/inference-providers/index"

# fmt: off
CASES = [
    C("accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast", "kimi-k2.5", "moonshot", "fireworks", ("rl", "0317", "s515", "fast"), "traffic: issue 2, Cursor custom OpenAI base URL"),
    C("kimi-k2.5", "kimi-k2.5", "moonshot", None, (), "https://docs.openclaw.ai/providers/moonshot"),
    C("kimi-k2-0905-preview", "kimi-k2", "moonshot", None, ("0905", "preview"), "https://platform.moonshot.ai/docs/guide/kimi-k2-quickstart"),
    C("kimi-k2-turbo-preview", "kimi-k2", "moonshot", None, ("turbo", "preview"), "https://platform.moonshot.ai/docs/guide/kimi-k2-quickstart"),
    C("kimi-k2-thinking-turbo", "kimi-k2", "moonshot", None, ("thinking", "turbo"), "https://docs.openclaw.ai/providers/moonshot"),
    C("moonshotai/Kimi-K2-Instruct-0905", "kimi-k2", "moonshot", None, ("instruct", "0905"), "https://huggingface.co/moonshotai/Kimi-K2-Instruct-0905"),
    C("accounts/fireworks/models/kimi-k2-instruct", "kimi-k2", "moonshot", "fireworks", ("instruct",), FIREWORKS),
    C("moonshotai/kimi-k2:free", "kimi-k2", "moonshot", "openrouter", ("free",), OPENROUTER),
    C("kimi-k2.6", "kimi-k2.6", "moonshot", None, (), "https://docs.openclaw.ai/providers/moonshot"),
    C("kimi-k2.7-code", "kimi-k2.7", "moonshot", None, ("code",), "https://docs.openclaw.ai/providers/moonshot"),
    C("kimi-k2-5", "kimi-k2.5", "moonshot", None, (), "https://github.com/dwgx/WindsurfAPI"),
    C("moonshot-v1-128k", "moonshot-v1", "moonshot", None, ("128k",), "https://platform.moonshot.ai/docs/pricing/chat"),
    C("moonshot.kimi-k2-thinking", "kimi-k2", "moonshot", "aws-bedrock", ("thinking",), BEDROCK_IDS),
    C("deepseek-chat", "deepseek-v3", "deepseek", None, ("chat",), "https://api-docs.deepseek.com/quick_start/pricing"),
    C("deepseek-reasoner", "deepseek-v3", "deepseek", None, ("reasoner",), "https://api-docs.deepseek.com/quick_start/pricing"),
    C("accounts/fireworks/models/deepseek-v3p1", "deepseek-v3", "deepseek", "fireworks", ("v3.1",), "https://fireworks.ai/models/fireworks/deepseek-v3p1"),
    C("deepseek-ai/DeepSeek-V3.1-Terminus", "deepseek-v3", "deepseek", None, ("v3.1", "terminus"), "https://huggingface.co/deepseek-ai/DeepSeek-V3.1-Terminus"),
    C("deepseek/deepseek-v3.2-exp", "deepseek-v3", "deepseek", None, ("v3.2", "exp"), OPENROUTER),
    C("deepseek/deepseek-chat-v3-0324", "deepseek-v3", "deepseek", None, ("chat", "v3", "0324"), OPENROUTER),
    C("deepseek-ai/DeepSeek-V3", "deepseek-v3", "deepseek", None, (), "https://huggingface.co/deepseek-ai/DeepSeek-V3"),
    C("deepseek-v4-pro", "deepseek-v4", "deepseek", None, ("pro",), "https://api-docs.deepseek.com/quick_start/pricing"),
    C("deepseek-ai/DeepSeek-R1-0528", "deepseek-r1", "deepseek", None, ("0528",), "https://huggingface.co/deepseek-ai/DeepSeek-R1-0528"),
    C("deepseek-ai/DeepSeek-R1-0528-tput", "deepseek-r1", "deepseek", None, ("0528", "tput"), TOGETHER),
    C("us.deepseek.r1-v1:0", "deepseek-r1", "deepseek", "aws-bedrock", ("v1:0",), BEDROCK_PROFILES),
    C("deepseek.v3-v1:0", "deepseek-v3", "deepseek", "aws-bedrock", ("v1:0",), BEDROCK_IDS),
    C("deepseek-r1-distill-llama-70b", "llama-3.3", "meta", None, ("deepseek-r1-distill", "70b"), GROQ),
    C("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "qwen2.5", "alibaba", None, ("deepseek-r1-distill", "32b"), "https://huggingface.co/deepseek-ai/DeepSeek-R1"),
    C("deepseek-ai/DeepSeek-R1-0528-Qwen3-8B", "qwen3", "alibaba", None, ("deepseek-r1-distill", "8b"), "https://huggingface.co/deepseek-ai/DeepSeek-R1-0528-Qwen3-8B"),
    C("Qwen/Qwen2.5-72B-Instruct-Turbo", "qwen2.5", "alibaba", None, ("72b", "instruct", "turbo"), TOGETHER),
    C("accounts/fireworks/models/qwen2p5-coder-32b-instruct", "qwen2.5", "alibaba", "fireworks", ("coder", "32b", "instruct"), FIREWORKS),
    C("qwen-2.5-coder-32b", "qwen2.5", "alibaba", None, ("coder", "32b"), GROQ),
    C("Qwen/QwQ-32B", "qwen2.5", "alibaba", None, ("qwq", "32b"), "https://huggingface.co/Qwen/QwQ-32B"),
    C("Qwen/Qwen3-235B-A22B-Instruct-2507-tput", "qwen3", "alibaba", None, ("235b", "a22b", "instruct", "2507", "tput"), TOGETHER),
    C("qwen3-30b-a3b", "qwen3", "alibaba", None, ("30b", "a3b"), "https://huggingface.co/Qwen/Qwen3-30B-A3B"),
    C("qwen3:30b-a3b", "qwen3", "alibaba", None, ("30b", "a3b"), "https://ollama.com/library/qwen3"),
    C("qwen/qwen3-32b", "qwen3", "alibaba", None, ("32b",), GROQ),
    C("qwen3-coder-plus", "qwen3-coder", "alibaba", None, ("plus",), "https://www.alibabacloud.com/help/en/model-studio/models"),
    C("Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen3-coder", "alibaba", None, ("480b", "a35b", "instruct"), "https://huggingface.co/Qwen/Qwen3-Coder-480B-A35B-Instruct"),
    C("qwen.qwen3-coder-480b-a35b-v1:0", "qwen3-coder", "alibaba", "aws-bedrock", ("480b", "a35b", "v1:0"), BEDROCK_IDS),
    C("qwen3.5-397b-a17b", "qwen3.5", "alibaba", None, ("397b", "a17b"), "https://www.alibabacloud.com/help/en/model-studio/models"),
    C("accounts/fireworks/models/qwen3p5-397b-a17b", "qwen3.5", "alibaba", "fireworks", ("397b", "a17b"), FIREWORKS),
    C("glm-4.5", "glm-4.5", "zhipu", None, (), "https://docs.z.ai/guides/llm/glm-4.5"),
    C("zai-org/GLM-4.5-Air-FP8", "glm-4.5", "zhipu", None, ("air", "fp8"), TOGETHER),
    C("accounts/fireworks/models/glm-4p5-air", "glm-4.5", "zhipu", "fireworks", ("air",), FIREWORKS),
    C("glm-4.6", "glm-4.6", "zhipu", None, (), "https://docs.z.ai/guides/llm/glm-4.6"),
    C("z-ai/glm-4.7", "glm-4.7", "zhipu", None, (), "https://github.com/Kilo-Org/kilocode/discussions/4819"),
    C("glm-4.7-maas", "glm-4.7", "zhipu", None, ("maas",), "https://docs.cloud.google.com/vertex-ai/generative-ai/docs/maas/zaiorg/glm-47"),
    C("gpt-oss-120b", "gpt-oss", "openai", None, ("120b",), "https://huggingface.co/openai/gpt-oss-120b"),
    C("openai/gpt-oss-20b", "gpt-oss", "openai", None, ("20b",), GROQ),
    C("gpt-oss:20b", "gpt-oss", "openai", None, ("20b",), "https://ollama.com/library/gpt-oss"),
    C("openai.gpt-oss-120b-1:0", "gpt-oss", "openai", "aws-bedrock", ("120b", "1:0"), BEDROCK_IDS),
    C("gpt-4o", "gpt-4o", "openai", None, (), "https://platform.openai.com/docs/models/gpt-4o"),
    C("gpt-4o-2024-08-06", "gpt-4o", "openai", None, ("2024-08-06",), "https://platform.openai.com/docs/models/gpt-4o"),
    C("gpt-4o-mini-2024-07-18", "gpt-4o", "openai", None, ("mini", "2024-07-18"), "https://platform.openai.com/docs/models/gpt-4o-mini"),
    C("chatgpt-4o-latest", "gpt-4o", "openai", None, ("chatgpt", "latest"), "https://platform.openai.com/docs/models/chatgpt-4o-latest"),
    C("gpt-4.1", "gpt-4.1", "openai", None, (), "https://docs.github.com/en/copilot/reference/ai-models"),
    C("gpt-4.1-nano-2025-04-14", "gpt-4.1", "openai", None, ("nano", "2025-04-14"), "https://platform.openai.com/docs/models/gpt-4.1-nano"),
    C("gpt-5", "gpt-5", "openai", None, (), "https://platform.openai.com/docs/models/gpt-5"),
    C("gpt-5-codex", "gpt-5", "openai", None, ("codex",), "https://github.com/openai/codex"),
    C("gpt-5.1-codex-max", "gpt-5", "openai", None, ("5.1", "codex", "max"), "https://platform.openai.com/docs/models"),
    C("o3", "openai-o-series", "openai", None, ("o3",), "https://platform.openai.com/docs/models/o3"),
    C("o4-mini-2025-04-16", "openai-o-series", "openai", None, ("o4", "mini", "2025-04-16"), "https://platform.openai.com/docs/models/o4-mini"),
    C("ft:gpt-4o-mini-2024-07-18:my-org:custom:abc123", "gpt-4o", "openai", "openai", ("ft", "mini", "2024-07-18"), "https://platform.openai.com/docs/guides/fine-tuning"),
    C("gpt-4o-mini-2024-07-18.ft-0123456789abcdef", "gpt-4o", "openai", "azure-openai", ("ft", "mini", "2024-07-18"), "https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/fine-tuning"),
    C("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", "llama-4", "meta", None, ("maverick", "17b", "128e", "instruct", "fp8"), TOGETHER),
    C("meta-llama/llama-4-scout-17b-16e-instruct", "llama-4", "meta", None, ("scout", "17b", "16e", "instruct"), GROQ),
    C("us.meta.llama4-scout-17b-instruct-v1:0", "llama-4", "meta", "aws-bedrock", ("scout", "17b", "instruct", "v1:0"), BEDROCK_PROFILES),
    C("llama-3.3-70b-versatile", "llama-3.3", "meta", None, ("70b", "versatile"), GROQ),
    C("accounts/fireworks/models/llama-v3p3-70b-instruct", "llama-3.3", "meta", "fireworks", ("70b", "instruct"), FIREWORKS),
    C("meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo", "llama-3.1", "meta", None, ("405b", "instruct", "turbo"), TOGETHER),
    C("llama3.1-8b", "llama-3.1", "meta", None, ("8b",), "https://inference-docs.cerebras.ai/models/overview"),
    C("meta.llama3-1-405b-instruct-v1:0", "llama-3.1", "meta", "aws-bedrock", ("405b", "instruct", "v1:0"), BEDROCK_IDS),
    C("meta-llama/Llama-3-70b-chat-hf", "llama-3", "meta", None, ("70b", "chat", "hf"), "https://docs.together.ai/reference/chat-completions-1"),
    C("meta.llama3-70b-instruct-v1:0", "llama-3", "meta", "aws-bedrock", ("70b", "instruct", "v1:0"), BEDROCK_IDS),
    C("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral", "mistral", None, ("8x7b", "instruct", "v0.1"), "https://huggingface.co/mistralai/Mixtral-8x7B-Instruct-v0.1"),
    C("open-mixtral-8x22b", "mixtral", "mistral", None, ("8x22b",), "https://docs.mistral.ai/getting-started/models/models_overview/"),
    C("mistral-large-latest", "mistral-large", "mistral", None, ("latest",), "https://docs.mistral.ai/getting-started/models/models_overview/"),
    C("mistral-large-2411", "mistral-large", "mistral", None, ("2411",), "https://docs.mistral.ai/getting-started/models/models_overview/"),
    C("mistral.mistral-large-2402-v1:0", "mistral-large", "mistral", "aws-bedrock", ("2402", "v1:0"), BEDROCK_IDS),
    C("codestral-latest", "codestral", "mistral", None, ("latest",), "https://docs.mistral.ai/capabilities/code_generation/"),
    C("mistral-small-2503", "mistral-small", "mistral", None, ("2503",), "https://docs.mistral.ai/getting-started/models/models_overview/"),
    C("MiniMax-M2", "minimax-m2", "minimax", None, (), "https://huggingface.co/MiniMaxAI/MiniMax-M2"),
    C("MiniMaxAI/MiniMax-M2", "minimax-m2", "minimax", None, (), HF),
    C("MiniMax-M2.5", "minimax-m2", "minimax", None, ("m2.5",), "https://platform.minimaxi.com/docs/api-reference/models/anthropic/list-models"),
    C("minimax-m2-maas", "minimax-m2", "minimax", None, ("maas",), "https://cloud.google.com/vertex-ai/generative-ai/docs/maas/minimax/minimax-m2"),
    C("claude-sonnet-4-5-20250929", "claude", "anthropic", None, ("sonnet", "4.5", "20250929"), "https://docs.anthropic.com/en/docs/about-claude/models/overview"),
    C("claude-3-5-sonnet-20241022", "claude", "anthropic", None, ("3.5", "sonnet", "20241022"), "https://docs.anthropic.com/en/docs/about-claude/models/overview"),
    C("claude-opus-4-1-20250805", "claude", "anthropic", None, ("opus", "4.1", "20250805"), "https://docs.anthropic.com/en/docs/about-claude/models/overview"),
    C("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude", "anthropic", "aws-bedrock", ("3.5", "sonnet", "20240620", "v1:0"), BEDROCK_IDS),
    C("us.anthropic.claude-sonnet-4-20250514-v1:0", "claude", "anthropic", "aws-bedrock", ("sonnet", "4", "20250514", "v1:0"), BEDROCK_PROFILES),
    C("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude", "anthropic", "aws-bedrock", ("3.7", "sonnet", "20250219", "v1:0"), BEDROCK_PROFILES),
    C("apac.anthropic.claude-3-haiku-20240307-v1:0", "claude", "anthropic", "aws-bedrock", ("3", "haiku", "20240307", "v1:0"), BEDROCK_PROFILES),
    C("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude", "anthropic", "aws-bedrock", ("sonnet", "4.5", "20250929", "v1:0"), BEDROCK_PROFILES),
    C("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "claude", "anthropic", "aws-bedrock", ("3", "haiku", "20240307", "v1:0"), "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-use.html"),
    C("arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude", "anthropic", "aws-bedrock", ("3.5", "haiku", "20241022", "v1:0"), "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-use.html"),
    C("arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0", "claude", "anthropic", "aws-bedrock", ("3.5", "haiku", "20241022", "v1:0"), "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html"),
    C("claude-3-5-sonnet-v2@20241022", "claude", "anthropic", "google-vertex", ("3.5", "sonnet", "v2", "20241022"), VERTEX_CLAUDE),
    C("projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929", "claude", "anthropic", "google-vertex", ("sonnet", "4.5", "20250929"), VERTEX_CLAUDE),
    C("publishers/anthropic/models/claude-3-5-haiku@20241022:streamRawPredict", "claude", "anthropic", "google-vertex", ("3.5", "haiku", "20241022"), VERTEX_CLAUDE),
    C("anthropic/claude-3.7-sonnet:thinking", "claude", "anthropic", "openrouter", ("3.7", "sonnet", "thinking"), "https://openrouter.ai/docs/faq"),
    C("claude-sonnet-4", "claude", "anthropic", None, ("sonnet", "4"), "https://docs.github.com/en/copilot/reference/ai-models"),
    C("models/gemini-2.5-pro", "gemini", "google", "google-gemini", ("2.5", "pro"), "https://ai.google.dev/api/models"),
    C("gemini-2.5-flash-preview-05-20", "gemini", "google", None, ("2.5", "flash", "preview", "05", "20"), "https://ai.google.dev/gemini-api/docs/models"),
    C("publishers/google/models/gemini-2.0-flash-001", "gemini", "google", "google-vertex", ("2.0", "flash", "001"), "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"),
    C("google/gemini-2.5-pro", "gemini", "google", None, ("2.5", "pro"), OPENROUTER),
    C("gemma2-9b-it", "gemma-2", "google", None, ("9b", "it"), GROQ),
    C("google/gemma-3-27b-it", "gemma-3", "google", None, ("27b", "it"), "https://huggingface.co/google/gemma-3-27b-it"),
    C("grok-4", "grok", "xai", None, ("4",), "https://docs.x.ai/docs/models"),
    C("grok-code-fast-1", "grok", "xai", None, ("code", "fast", "1"), "https://docs.github.com/en/copilot/reference/ai-models"),
    C("x-ai/grok-4", "grok", "xai", None, ("4",), OPENROUTER),
    C("MODEL_GROK_CODE_FAST_1", "grok", "xai", "codeium", ("code", "fast", "1"), "https://github.com/dwgx/WindsurfAPI"),
    C("us.amazon.nova-micro-v1:0", "amazon-nova", "amazon", "aws-bedrock", ("micro", "v1:0"), "traffic: capture-ecosystem.md 3.2, Bedrock inference-profile id"),
    C("amazon.nova-pro-v1:0", "amazon-nova", "amazon", "aws-bedrock", ("pro", "v1:0"), BEDROCK_IDS),
    C("cohere.command-r-plus-v1:0", "command-r", "cohere", "aws-bedrock", ("plus", "v1:0"), BEDROCK_IDS),
    C("command-a-03-2025", "command-a", "cohere", None, ("03", "2025"), "https://docs.cohere.com/docs/models"),
    C("microsoft/phi-4", "phi-4", "microsoft", None, (), "https://huggingface.co/microsoft/phi-4"),
    C("deepseek-ai/DeepSeek-V3-0324:fireworks-ai", "deepseek-v3", "deepseek", "huggingface", ("0324",), HF),
    C("openai/gpt-oss-120b:cerebras", "gpt-oss", "openai", "huggingface", ("120b",), HF),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c.model_id for c in CASES])
def test_spelling_resolves(case: Case) -> None:
    got = resolve(case.model_id)
    assert case.cite.startswith(("https://", "traffic: "))
    assert got.model_id == case.model_id
    assert (got.family, got.vendor, got.provider_hint) == (case.family, case.vendor, case.hint)
    if case.tags is not None:
        assert got.tags == case.tags


# Ids no pattern fits resolve to null: internal names, customer aliases, moving aliases.
# fmt: off
UNKNOWN = [
    ("my-custom-model", None, "an Azure deployment name is any customer alias"),
    ("composer-1", None, "Cursor's own model; base not published"),
    ("accounts/anysphere/models/bugbot-12-10", "fireworks", "traffic: capture-ecosystem.md 3.3, Cursor internal id"),
    ("accounts/anysphere/models/dsv3-agent-0723", "fireworks", "traffic: capture-ecosystem.md 3.3; dsv3 undocumented, so no guess"),
    ("MODEL_SWE_1_5", "codeium", "Windsurf's own SWE-1.5; base not published"),
    ("MODEL_PRIVATE_9", "codeium", "an opaque Windsurf enum"),
    ("qwen-max", None, "DashScope alias that moves between generations"),
    ("kimi-latest", None, "Moonshot alias that moves between generations"),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6", "aws-bedrock", "application inference profiles have opaque ids"),
    ("accounts/acme/deployments/x7k2p9", "fireworks", "dedicated deployment ids are opaque"),
    ("", None, "empty"),
    ("claude is great", None, "prose, not an id"),
    ("gpt", None, "no generation"),
    ("llama", None, "no generation"),
]
# fmt: on


@pytest.mark.parametrize(
    ("model_id", "hint", "why"), UNKNOWN, ids=[u[0] or "<empty>" for u in UNKNOWN]
)
def test_unknown_ids_resolve_to_null(model_id: str, hint: str | None, why: str) -> None:
    got = resolve(model_id)
    assert (got.family, got.vendor, got.tags) == (None, None, ()), why
    assert got.provider_hint == hint, why
