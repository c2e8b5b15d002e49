"""Reference backends: the in-process transformers backend, the remote backend, the disk cache."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from provenance.errors import FingerprintError, UsageError
from provenance.reference.base import PositionLogprobs
from provenance.reference.cache import CachedReference
from provenance.reference.remote_backend import (
    RemoteReference,
    parse_openai_prompt_logprobs,
    parse_sglang_generate,
)

TEXTS = [
    "Return a new dictionary with the keys of the mapping.",
    "The logger writes messages to the handler.",
    "Parse the command line",
]


def _close(a: list[list[PositionLogprobs]], b: list[list[PositionLogprobs]], tol: float) -> None:
    assert [[r.position for r in rows] for rows in a] == [[r.position for r in rows] for rows in b]
    for ra, rb in zip(a, b, strict=True):
        for x, y in zip(ra, rb, strict=True):
            assert x.token_id == y.token_id
            assert x.logprob == pytest.approx(y.logprob, abs=tol)
            assert [i for i, _ in x.top[:3]] == [i for i, _ in y.top[:3]]
            for (_, u), (_, v) in zip(x.top, y.top, strict=True):
                assert u == pytest.approx(v, abs=tol)


@pytest.mark.slow
def test_score_contract_batched_equals_single(base_reference) -> None:
    ref = base_reference
    seqs = [ref.tokenize(t) for t in TEXTS]
    batched = ref.score(seqs, top_k=5)
    single = [ref.score([s], top_k=5)[0] for s in seqs]
    _close(batched, single, 1e-4)
    for seq, rows in zip(seqs, batched, strict=True):
        assert [r.position for r in rows] == list(range(1, len(seq)))
        for r in rows:
            assert r.token_id == seq[r.position]
            values = [v for _, v in r.top]
            assert values == sorted(values, reverse=True) and len(values) == 5
            assert r.logprob <= 0 and all(v <= 0 for v in values)
            assert sum(math.exp(v) for v in values) <= 1 + 1e-5
    picked = ref.score([seqs[0]], [[2, 4]], top_k=3)[0]
    assert [r.position for r in picked] == [2, 4]
    assert picked[0].logprob == pytest.approx(batched[0][1].logprob, abs=1e-5)
    with pytest.raises(ValueError, match="outside"):
        ref.score([seqs[0]], [[0]])


@pytest.mark.slow
def test_score_matches_a_direct_forward_pass(base_reference) -> None:
    import torch

    ref = base_reference
    ids = ref.tokenize(TEXTS[0])
    with torch.no_grad():
        lp = torch.log_softmax(ref.model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
    rows = ref.score([ids], top_k=4)[0]
    for r in rows:
        assert r.logprob == pytest.approx(lp[r.position - 1, r.token_id].item(), abs=1e-5)
        assert r.top[0][0] == int(lp[r.position - 1].argmax())


@pytest.mark.slow
def test_vocab_token_strings_and_template(base_reference) -> None:
    ref = base_reference
    ids = ref.tokenize("Return the value")
    strings = ref.token_strings(ids)
    assert "".join(strings) == "Return the value"
    assert ref.lookup_tokens(strings) == ids
    assert ref.lookup_tokens(["token_id:5", "\u2603\u2603 not a token"]) == [5, None]
    chat = ref.apply_chat_template([{"role": "user", "content": "hi"}])
    assert ref.token_strings(chat)[0] == "<|im_start|>"
    assert len(ref.identity) == 64 and ref.identity == ref.identity


@pytest.mark.slow
@pytest.mark.parametrize(
    "arch", ["deepseek_v3", "qwen3_moe", "mixtral", "gpt_oss", "glm4_moe", "olmoe"]
)
def test_moe_architectures_load_and_score(arch: str, tmp_path: Path, untrained_folder) -> None:
    """Each MoE layout loads from a saved folder through the backend and scores sanely."""
    from transformers import AutoTokenizer

    from provenance.fingerprint.logits.zoo import init_model
    from provenance.reference.transformers_backend import TransformersReference

    tok = AutoTokenizer.from_pretrained(untrained_folder)
    model = init_model(arch, len(tok), seed=5)
    assert any("expert" in n for n, _ in model.named_parameters()), arch
    model.save_pretrained(tmp_path, safe_serialization=True)
    tok.save_pretrained(tmp_path)
    ref = TransformersReference(tmp_path)
    assert ref.model.config.model_type == arch
    rows = ref.score([ref.tokenize(TEXTS[0]), ref.tokenize(TEXTS[2])], top_k=3)
    assert all(r.logprob <= 0 and math.isfinite(r.logprob) for seq in rows for r in seq)
    single = ref.score([ref.tokenize(TEXTS[2])], top_k=3)
    _close(rows[1:], single, 1e-4)


def test_not_a_causal_lm_missing_weights_and_memory(
    tmp_path: Path, untrained_folder: Path, monkeypatch
) -> None:
    from provenance.reference import transformers_backend as tb

    with pytest.raises(UsageError, match="not a directory"):
        tb.TransformersReference(tmp_path / "nope")
    enc = tmp_path / "encoder"
    enc.mkdir()
    (enc / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(UsageError, match=r"encoder: model_type 'vit' is not a causal language"):
        tb.TransformersReference(enc)
    bare = tmp_path / "bare"
    shutil.copytree(untrained_folder, bare)
    for f in bare.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(UsageError, match=r"bare: no \*\.safetensors weights"):
        tb.TransformersReference(bare)
    monkeypatch.setattr(tb, "available_memory", lambda device: 1000)
    with pytest.raises(FingerprintError, match=r"untrained-base: needs about .* GiB on cpu but"):
        tb.TransformersReference(untrained_folder)


def test_errors_reach_the_cli_as_one_line(tmp_path: Path, capsys) -> None:
    from provenance.cli.main import main

    code = main(["fingerprint", "logits", "http://127.0.0.1:9", "--model", "m",
                 "--reference", str(tmp_path / "missing"), "--no-store"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "missing: not a directory" in err


@pytest.mark.slow
def test_cache_computes_each_sequence_once(base_reference, tmp_path: Path) -> None:
    from provenance.paths import data_dir

    cached = CachedReference(base_reference, template="chatml")
    seqs = [base_reference.tokenize(t) for t in TEXTS]
    first = cached.score(seqs, top_k=5)
    assert (cached.hits, cached.misses) == (0, 3)
    files = list((data_dir() / "reference-cache").rglob("*.json"))
    assert len(files) == 3
    again = CachedReference(base_reference, template="chatml").score([*seqs[:2], seqs[2]], top_k=5)
    assert again == first
    other = CachedReference(base_reference, template="other")
    other.score(seqs[:1], top_k=5)
    assert other.misses == 1  # the template is part of the key
    more = CachedReference(base_reference, template="chatml")
    more.score(seqs, top_k=4)
    assert more.misses == 3  # so is top_k


@pytest.mark.slow
def test_remote_backend_equals_in_process(served_base: str, base_reference) -> None:
    ref = base_reference
    remote = RemoteReference(served_base + "/v1")
    try:
        assert remote.name == "base-a"
        seqs = [ref.tokenize(t) for t in TEXTS]
        _close(remote.score(seqs, top_k=5), ref.score(seqs, top_k=5), 1e-4)
        msgs = [{"role": "user", "content": "Return the value"}]
        assert remote.apply_chat_template(msgs) == ref.apply_chat_template(msgs)
        assert remote.tokenize(TEXTS[1]) == ref.tokenize(TEXTS[1])
        strings = ref.token_strings(seqs[1])
        assert remote.token_strings(seqs[1]) == strings
        assert remote.lookup_tokens([*strings, "\u2603\u2603\u2603"]) == [*seqs[1], None]
        assert len(remote.identity) == 64
    finally:
        remote.close()
    local_tok = RemoteReference(served_base, tokenizer=ref.folder)
    try:
        assert local_tok.lookup_tokens(strings) == seqs[1]
    finally:
        local_tok.close()


def test_parse_vllm_prompt_logprobs_and_echo() -> None:
    ids = [7, 3, 9]
    first = {"3": {"logprob": -0.5, "rank": 1}, "4": {"logprob": -1.25, "rank": 2},
             "8": {"logprob": -2.0, "rank": 3}}  # fmt: skip
    second = {"9": {"logprob": -3.5, "rank": 4}, "1": {"logprob": -0.25, "rank": 1},
              "2": {"logprob": -0.75, "rank": 2}}  # fmt: skip
    choice = {"prompt_logprobs": [None, first, second]}
    rows = parse_openai_prompt_logprobs(choice, ids, [1, 2], top_k=2)
    assert rows[0] == PositionLogprobs(1, 3, -0.5, ((3, -0.5), (4, -1.25)))
    assert rows[1] == PositionLogprobs(2, 9, -3.5, ((1, -0.25), (2, -0.75)))
    echo = {"logprobs": {"tokens": ["token_id:7", "token_id:3", "token_id:9"],
                         "token_logprobs": [None, -0.5, -3.5],
                         "top_logprobs": [None, {"token_id:3": -0.5, "token_id:4": -1.25},
                                          {"token_id:1": -0.25, "token_id:2": -0.75}]}}  # fmt: skip
    assert parse_openai_prompt_logprobs(echo, ids, [1, 2], top_k=2) == rows
    strings = {"logprobs": {**echo["logprobs"], "tokens": ["a", "b", "c"]}}
    with pytest.raises(FingerprintError, match="return_tokens_as_token_ids"):
        parse_openai_prompt_logprobs(strings, ids, [1], top_k=2)


def test_parse_sglang_generate() -> None:
    meta = {"input_token_logprobs": [[None, 7, None], [-0.5, 3, None], [-3.5, 9, None]],
            "input_top_logprobs": [None, [[-0.5, 3, None], [-1.25, 4, None]],
                                   [[-0.25, 1, None], [-0.75, 2, None]]]}  # fmt: skip
    rows = parse_sglang_generate(meta, [7, 3, 9], [1, 2], top_k=2)
    assert rows == [PositionLogprobs(1, 3, -0.5, ((3, -0.5), (4, -1.25))),
                    PositionLogprobs(2, 9, -3.5, ((1, -0.25), (2, -0.75)))]  # fmt: skip
    with pytest.raises(FingerprintError, match="do not match"):
        parse_sglang_generate(meta, [7, 4, 9], [1], top_k=2)
