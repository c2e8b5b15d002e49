"""`provenance resolve MODEL_ID [--json]` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from provenance.cli import main as cli_main


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """main(argv) with only the resolve command registered (other commands are other issues)."""
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("provenance.cli.resolve_cmd",))

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli_main.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_json_for_the_issue_sample(run) -> None:
    code, out, err = run(
        "resolve", "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast", "--json"
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "schema": "provenance.resolve/1",
        "model_id": "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast",
        "family": "kimi-k2.5",
        "vendor": "moonshot",
        "provider_hint": "fireworks",
        "tags": ["rl", "0317", "s515", "fast"],
    }


def test_json_for_an_unknown_id(run) -> None:
    code, out, _ = run("resolve", "my-custom-model", "--json")
    assert code == 0
    assert json.loads(out) == {
        "schema": "provenance.resolve/1",
        "model_id": "my-custom-model",
        "family": None,
        "vendor": None,
        "provider_hint": None,
        "tags": [],
    }


def test_readable_table(run) -> None:
    code, out, _ = run("resolve", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert code == 0
    for text in ("claude", "anthropic", "aws-bedrock", "sonnet, 4.5, 20250929, v1:0"):
        assert text in out


def test_readable_table_says_unknown(run) -> None:
    code, out, _ = run("resolve", "composer-1")
    assert code == 0
    assert "unknown" in out


def test_empty_id_is_a_usage_error(run) -> None:
    code, out, err = run("resolve", "  ")
    assert (code, out) == (2, "")
    assert err.startswith("error: MODEL_ID is empty")


def test_missing_argument_is_a_usage_error(run) -> None:
    with pytest.raises(SystemExit) as info:
        run("resolve")
    assert info.value.code == 2


def test_broken_catalog_is_exit_1_with_one_line(run, monkeypatch, tmp_path) -> None:
    from provenance import paths
    from provenance.catalog import clear_cache

    (tmp_path / "hosts.json").write_text("{", encoding="utf-8")
    monkeypatch.setattr(paths, "fingerprints_dir", lambda: tmp_path)
    clear_cache()
    try:
        code, out, err = run("resolve", "gpt-4o", "--json")
    finally:
        clear_cache()
    assert (code, out) == (1, "")
    assert err.startswith("error: hosts.json: line 1: invalid JSON") and err.count("\n") == 1
