"""`signatures build PATH` on a Hugging Face snapshot folder that ships a tiktoken vocabulary
(``tiktoken.model`` + ``tokenization_*.py`` + ``tokenizer_config.json``), as Kimi K2's does."""

from __future__ import annotations

import base64
import json

import pytest

from provenance.cli.main import main
from provenance.tokenizers import load_tokenizer
from provenance.tokenizers.probes import load_probe_set
from provenance.tokenizers.snapshot import pattern_from_source


@pytest.fixture(scope="module")
def kimi_snapshot(tmp_path_factory):
    """A Kimi K2 snapshot folder written from the real vocabulary in splintr-rs."""
    import splintr

    kimi = load_tokenizer("pkg:splintr-rs:kimi_k2")
    tok = splintr.Tokenizer.from_pretrained("kimi_k2")
    specials = {s: tok.encode_with_special(s)[0] for s in kimi.special_tokens}
    first_special = min(specials.values())
    folder = tmp_path_factory.mktemp("Kimi-K2.5")
    with (folder / "tiktoken.model").open("w") as fh:
        for rank in range(first_special):
            fh.write(f"{base64.b64encode(tok.decode_token_bytes(rank)).decode()} {rank}\n")
    pattern = splintr.KIMI_PATTERN
    cut = pattern.index("|")
    (folder / "tokenization_kimi.py").write_text(
        "import tiktoken\n\nclass TikTokenTokenizer:\n    def __init__(self):\n"
        f"        pat_str = '|'.join(\n            [{pattern[:cut]!r}, {pattern[cut + 1 :]!r}]\n"
        "        )\n        self.model = tiktoken.Encoding(pat_str=pat_str)\n",
        encoding="utf-8",
    )
    decoder = {str(i): {"content": s, "special": True} for s, i in specials.items()}
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"added_tokens_decoder": decoder}), encoding="utf-8"
    )
    return folder


def test_pattern_is_read_without_running_the_file():
    src = "import os\nos.system('false')\npat_str = '|'.join([r'a+', r'\\d'])\n"
    assert pattern_from_source(src) == r"a+|\d"
    assert pattern_from_source("pat_str = compute()\n") is None


def test_snapshot_counts_like_the_packaged_kimi_vocabulary(kimi_snapshot):
    local = load_tokenizer(str(kimi_snapshot))
    packaged = load_tokenizer("pkg:splintr-rs:kimi_k2")
    assert local.encode("Hello world") == [19180, 2695]
    for probe in load_probe_set().all():
        assert local.count(probe.text) == packaged.count(probe.text), probe.id
        assert local.count(probe.text, specials=True) == packaged.count(
            probe.text, specials=True
        ), probe.id


def test_build_from_a_snapshot_is_recognised_as_the_shipped_id(kimi_snapshot, tmp_path, capsys):
    code = main(
        ["signatures", "build", str(kimi_snapshot), "--id", "my-kimi", "--out", str(tmp_path)]
    )
    assert code == 2
    assert "exactly like kimi-k2" in capsys.readouterr().err


def test_folder_without_a_tokenizer_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "README.md").write_text("weights elsewhere")
    code = main(["signatures", "build", str(tmp_path), "--id", "x", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "holds no tokenizer.json" in err


def test_tiktoken_folder_without_a_pattern_says_pass_pattern(kimi_snapshot, tmp_path, capsys):
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "tiktoken.model").write_bytes((kimi_snapshot / "tiktoken.model").read_bytes())
    code = main(["signatures", "build", str(folder), "--id", "x", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "pass --pattern" in err and err.count("\n") == 1
