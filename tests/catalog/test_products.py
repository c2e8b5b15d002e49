"""Product attribution from request headers (issue 2 §3, as catalog data)."""

from __future__ import annotations

import pytest

from provenance.catalog import match_product, product_for_headers

CASES = [
    # (headers, product, version, where the header set comes from)
    (
        [
            ("User-Agent", "connect-es/1.6.1"),
            ("x-cursor-client-version", "1.5.11"),
            ("x-cursor-client-type", "ide"),
            ("x-cursor-checksum", "abc"),
        ],
        "cursor",
        "1.5.11",
        "traffic: capture-ecosystem.md 3.3 (Cursor headers)",
    ),
    (
        [("user-agent", "Cursor/2.1.17")],
        "cursor",
        "2.1.17",
        "https://github.com/Distracted-E421/nixos-cursor",
    ),
    (
        [("x-cursor-client-type", "cli"), ("x-cursor-client-version", "cli-2025.10.1")],
        "cursor-cli",
        None,
        "https://github.com/Yukaii/opencode-cursor-auth",
    ),
    (
        [
            ("user-agent", "claude-cli/2.0.14 (external, cli)"),
            ("x-app", "cli"),
            ("x-stainless-lang", "js"),
            ("anthropic-beta", "claude-code-20250219,oauth-2025-04-20"),
        ],
        "claude-code",
        "2.0.14",
        "traffic: capture-ecosystem.md 3.3 (Claude Code headers)",
    ),
    (
        [("User-Agent", "claude-cli/1.0.3 (external, claude-vscode)")],
        "claude-code",
        "1.0.3",
        "traffic: capture-ecosystem.md 3.3",
    ),
    (
        [("anthropic-beta", "oauth-2025-04-20, claude-code-20250219")],
        "claude-code",
        None,
        "traffic: capture-ecosystem.md 3.3",
    ),
    (
        [
            ("Editor-Version", "vscode/1.107.0"),
            ("Editor-Plugin-Version", "copilot-chat/0.35.0"),
            ("User-Agent", "GitHubCopilotChat/0.35.0"),
            ("Copilot-Integration-Id", "vscode-chat"),
        ],
        "github-copilot",
        "0.35.0",
        "https://github.com/microsoft/vscode-copilot-chat",
    ),
    (
        [
            ("Editor-Version", "vscode/1.85.1"),
            ("Editor-Plugin-Version", "copilot/1.155.0"),
            ("User-Agent", "GithubCopilot/1.155.0"),
        ],
        "github-copilot",
        "1.155.0",
        "traffic: capture-ecosystem.md 3.3 (Roo-Code's Copilot headers)",
    ),
    (
        [("editor-plugin-version", "copilot-chat/0.24.1")],
        "github-copilot",
        "0.24.1",
        "https://github.com/microsoft/vscode-copilot-chat",
    ),
    (
        [
            ("originator", "codex_cli_rs"),
            ("User-Agent", "codex_cli_rs/0.46.0 (Mac OS 15.1; arm64)"),
        ],
        "codex-cli",
        "0.46.0",
        "https://github.com/openai/codex",
    ),
    ([("originator", "codex_cli_rs")], "codex-cli", None, "https://github.com/openai/codex"),
    ([("originator", "codex_vscode")], "codex-ide", None, "https://github.com/openai/codex"),
    (
        [
            ("HTTP-Referer", "https://cline.bot"),
            ("X-Title", "Cline"),
            ("User-Agent", "OpenAI/JS 4.96.0"),
        ],
        "cline",
        None,
        "https://github.com/cline/cline",
    ),
    ([("X-Cline-Version", "3.17.2")], "cline", "3.17.2", "https://github.com/cline/cline"),
    (
        [
            ("HTTP-Referer", "https://github.com/RooVetGit/Roo-Cline"),
            ("X-Title", "Roo Code"),
            ("User-Agent", "RooCode/3.25.0"),
        ],
        "roo-code",
        "3.25.0",
        "https://github.com/RooCodeInc/Roo-Code",
    ),
    (
        [
            ("HTTP-Referer", "https://kilocode.ai"),
            ("X-Title", "Kilo Code"),
            ("User-Agent", "Kilo-Code/4.80.0"),
        ],
        "kilo-code",
        "4.80.0",
        "https://github.com/Kilo-Org/kilocode",
    ),
    (
        [("user-agent", "Zed/0.209.6 (macos; aarch64)")],
        "zed",
        "0.209.6",
        "https://github.com/zed-industries/zed",
    ),
    (
        [("User-Agent", "GeminiCLI/0.24.0 (linux; x64)")],
        "gemini-cli",
        "0.24.0",
        "https://github.com/google-gemini/gemini-cli",
    ),
    ([("User-Agent", "litellm/1.81.3")], "litellm", "1.81.3", "https://github.com/BerriAI/litellm"),
    (
        [("User-Agent", "OpenAI/Python 1.109.1"), ("X-Stainless-Lang", "python")],
        "openai-python-sdk",
        "1.109.1",
        "https://github.com/openai/openai-python",
    ),
    (
        [("User-Agent", "AsyncOpenAI/Python 1.109.1")],
        "openai-python-sdk",
        "1.109.1",
        "https://github.com/openai/openai-python",
    ),
    (
        [("User-Agent", "OpenAI/JS 5.20.0")],
        "openai-node-sdk",
        "5.20.0",
        "https://github.com/openai/openai-node",
    ),
    (
        [("User-Agent", "Anthropic/Python 0.69.0")],
        "anthropic-python-sdk",
        "0.69.0",
        "https://github.com/anthropics/anthropic-sdk-python",
    ),
    (
        [("User-Agent", "Anthropic/JS 0.65.0")],
        "anthropic-typescript-sdk",
        "0.65.0",
        "https://github.com/anthropics/anthropic-sdk-typescript",
    ),
    (
        [("x-stainless-lang", "go"), ("x-stainless-package-version", "1.2.0")],
        "stainless-sdk",
        None,
        "https://github.com/openai/openai-python",
    ),
    # host-based rules (the Host header, as HTTP/1.1 carries it)
    (
        [("Host", "server.codeium.com"), ("User-Agent", "connect-go/1.18.1 (go1.23.4)")],
        "windsurf",
        None,
        "traffic: capture-ecosystem.md 3.3 (Windsurf)",
    ),
    (
        [(":authority", "api2.cursor.sh"), ("user-agent", "connect-es/1.4.0")],
        "cursor",
        None,
        "traffic: capture-ecosystem.md 3.3 (Cursor)",
    ),
]


@pytest.mark.parametrize(
    ("headers", "product", "version", "cite"),
    CASES,
    ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)],
)
def test_headers_attribute_product(headers, product: str, version: str | None, cite: str) -> None:
    assert cite.startswith(("https://", "traffic: "))
    assert product_for_headers(headers) == product
    found = match_product(headers)
    assert found is not None and (found.product, found.version) == (product, version)
    assert found.source.startswith("https://")


def test_specific_product_wins_over_generic_sdk() -> None:
    """Claude Code is built on the Anthropic SDK; Cline on the OpenAI SDK: the product wins."""
    headers = [
        ("User-Agent", "claude-cli/2.0.0 (external, cli)"),
        ("x-stainless-lang", "js"),
        ("x-stainless-package-version", "0.60.0"),
    ]
    assert product_for_headers(headers) == "claude-code"


def test_header_names_are_case_insensitive_and_mapping_works() -> None:
    assert product_for_headers({"X-CURSOR-CLIENT-VERSION": "1.0.0"}) == "cursor"
    assert product_for_headers([(b"user-agent", b"Zed/0.1.0 (linux; x86_64)")]) == "zed"


def test_host_argument_enables_host_rules() -> None:
    headers = [("user-agent", "connect-go/1.18.1")]
    assert product_for_headers(headers) is None
    assert product_for_headers(headers, host="inference.codeium.com") == "windsurf"
    assert (
        product_for_headers(headers, host="https://server.self-serve.windsurf.com/x") == "windsurf"
    )


@pytest.mark.parametrize(
    "headers",
    [
        [],
        None,
        [("User-Agent", "python-httpx/0.28.1")],
        [("User-Agent", "curl/8.5.0")],
        [("User-Agent", "Mozilla/5.0 Cursorish/1.0")],
        [("x-title", "Cline Helper")],  # not Cline's exact title
        [("originator", "codex_cli_rs_fork")],
        [("Host", "api.openai.com")],
        [("bad",)],  # malformed pair: ignored
        "not headers",
        42,
    ],
)
def test_unattributed_headers_give_none(headers) -> None:
    assert product_for_headers(headers) is None
