"""`provenance signatures build/list` for a user's own tokenizer."""

from __future__ import annotations

import json

from provenance.cli.main import main
from provenance.tokenizers.signatures import read_signature, user_signature_dir


def test_build_user_signature_then_list(tmp_path, capsys):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(
        ["kimi style text " * 50, "代码 12345 ✨"] * 20,
        trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    folder = tmp_path / "kimi"
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    out = user_signature_dir()
    code = main(
        [
            "signatures",
            "build",
            str(folder),
            "--id",
            "kimi-k2-test",
            "--families",
            "kimi-k2",
            "--source",
            "my snapshot",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    sig = read_signature(out / "kimi-k2-test.jsonl")
    assert sig.family_keys == ["kimi-k2"] and sig.counts["baseline"].tokens > 0
    capsys.readouterr()
    assert main(["signatures", "list", "--json"]) == 0
    listed = {s["id"] for s in json.loads(capsys.readouterr().out)["signatures"]}
    assert {"kimi-k2-test", "qwen2", "o200k-harmony"} <= listed


def test_duplicate_of_shipped_id_is_refused(tmp_path, capsys):
    code = main(
        [
            "signatures",
            "build",
            "pkg:quicktok-v1:llama3",
            "--id",
            "llama3-copy",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "exactly like llama3" in capsys.readouterr().err


def test_families_need_a_source(tmp_path, capsys):
    code = main(
        [
            "signatures",
            "build",
            "pkg:quicktok-v1:llama3",
            "--id",
            "x",
            "--families",
            "llama-3",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "--source" in capsys.readouterr().err
