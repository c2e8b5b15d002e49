"""serve-reference: the OpenAI-compatible server, driven by the real openai SDK and raw HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest


@pytest.mark.slow
def test_chat_completions_with_logprobs(served_base: str, base_reference) -> None:
    import openai

    client = openai.OpenAI(base_url=served_base + "/v1", api_key="unused")
    msgs = [{"role": "user", "content": "Return the value of the key"}]
    reply = client.chat.completions.create(
        model="base-a", messages=msgs, logprobs=True, top_logprobs=3, max_tokens=6, temperature=0
    )
    choice = reply.choices[0]
    items = choice.logprobs.content
    assert reply.usage.prompt_tokens == len(base_reference.apply_chat_template(msgs))
    assert reply.usage.completion_tokens == len(items) <= 6
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    for item in items:
        assert len(item.top_logprobs) == 3
        assert item.top_logprobs[0].token == item.token  # greedy: the chosen token is the argmax
        assert item.top_logprobs[0].logprob == pytest.approx(item.logprob)
        assert bytes(item.bytes).decode() == item.token
    again = client.chat.completions.create(model="base-a", messages=msgs, max_tokens=6)
    assert again.choices[0].message.content == choice.message.content  # deterministic
    assert again.choices[0].logprobs is None


@pytest.mark.slow
def test_completions_echo_prompt_logprobs(served_base: str, base_reference) -> None:
    import openai

    client = openai.OpenAI(base_url=served_base + "/v1", api_key="unused")
    prompt = "Parse the command line and return"
    reply = client.completions.create(
        model="base-a", prompt=prompt, echo=True, logprobs=4, max_tokens=0
    )
    lp = reply.choices[0].logprobs
    ids = base_reference.tokenize(prompt)
    assert lp.tokens == base_reference.token_strings(ids)
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    rows = base_reference.score([ids], top_k=4)[0]
    for n, row in enumerate(rows, start=1):
        assert lp.token_logprobs[n] == pytest.approx(row.logprob, abs=1e-5)
        assert len(lp.top_logprobs[n]) == 4
    assert reply.choices[0].text == prompt
    assert reply.usage.prompt_tokens == len(ids) and reply.usage.completion_tokens == 0
    gen = client.completions.create(model="base-a", prompt=prompt, max_tokens=3, logprobs=2)
    assert len(gen.choices[0].logprobs.tokens) == gen.usage.completion_tokens == 3


@pytest.mark.slow
def test_models_tokenize_and_errors(served_base: str) -> None:
    with httpx.Client(base_url=served_base) as http:
        models = http.get("/v1/models").json()
        assert [m["id"] for m in models["data"]] == ["base-a"]
        bad = http.post(
            "/v1/chat/completions",
            json={
                "model": "base-a",
                "messages": [{"role": "user", "content": "x"}],
                "top_logprobs": 2,
            },
        )
        assert bad.status_code == 400 and "logprobs" in bad.json()["error"]["message"]
        other = http.post("/v1/completions", json={"model": "gpt-9", "prompt": "x"})
        assert other.status_code == 404
        zero = http.post("/v1/completions", json={"prompt": "x", "max_tokens": 0})
        assert zero.status_code == 400
        tok = http.post("/tokenize", json={"prompt": "Return", "return_token_strs": True}).json()
        assert "".join(tok["token_strs"]) == "Return" and tok["count"] == len(tok["tokens"])
        back = http.post("/detokenize", json={"tokens": tok["tokens"]}).json()
        assert back["prompt"] == "Return"
        assert http.post("/v1/completions", content=b"not json").status_code == 415
        json_type = {"content-type": "application/json"}
        bad_json = http.post("/v1/completions", content=b"not json", headers=json_type)
        assert bad_json.status_code == 400
        # the request guard: rebinding, cross-site and oversized requests get nothing
        assert http.get("/v1/models", headers={"host": "attacker.test"}).status_code == 421
        cross = http.post(
            "/v1/completions",
            json={"prompt": "x", "max_tokens": 1},
            headers={"origin": "http://attacker.test"},
        )
        assert cross.status_code == 403
        simple = http.post(
            "/v1/completions",
            content=b'{"prompt": "x", "max_tokens": 1}',
            headers={"content-type": "text/plain"},
        )
        assert simple.status_code == 415
        huge = http.post("/v1/completions", json={"prompt": "x" * (3 << 20), "max_tokens": 1})
        assert huge.status_code == 413
        greedy = http.post("/v1/completions", json={"prompt": "x", "max_tokens": 5000})
        assert greedy.status_code == 400 and "max_tokens" in greedy.json()["error"]["message"]


def test_refuses_a_non_loopback_host_without_allow_remote(capsys) -> None:
    from provenance.cli.main import main

    assert main(["serve-reference", "/nonexistent", "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_reference_command_in_a_subprocess(zoo) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "provenance.cli.main", "serve-reference", str(zoo.bases["base-b"]),
         "--port", "0", "--name", "b"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "serving" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "serve-reference exited early"
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        models = httpx.get(url + "/models", timeout=30).json()
        assert models["data"][0]["id"] == "b"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_gpu_script_runs_on_cpu_without_provenance(tmp_path) -> None:
    """bench/gpu.sh: self-contained (no provenance import), CPU path, table printed last."""
    import os
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bench" / "gpu.sh"
    env = {**os.environ, "GPU_SH_QUICK": "1", "GPU_SH_FORCE_CPU": "1", "PYTHON": sys.executable,
           "PYTHONPATH": ""}  # fmt: skip
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=400)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("wall time")
    table = "\n".join(lines)
    for row in ("scoring throughput", "single-token forward", "vs cpu float32", "agree"):
        assert row in table


def test_prompt_and_generation_caps_refuse_before_the_model_runs(base_reference) -> None:
    from provenance.reference.server import ReferenceService, RequestError

    service = ReferenceService(base_reference, "base-a", max_prompt_tokens=4, max_new_tokens=8)
    text = "the quick brown fox jumps over"  # 30 bytes: under the text bound, over 4 tokens
    long_text = "the quick brown fox jumps over the lazy dog " * 4  # 176 bytes: over 4 × 16
    with pytest.raises(RequestError, match="accepts 4"):
        service.completions({"prompt": text, "max_tokens": 1})
    with pytest.raises(RequestError, match="at most 64 bytes"):  # never tokenized
        service.completions({"prompt": long_text, "max_tokens": 1})
    with pytest.raises(RequestError, match="accepts 4"):
        service.completions({"prompt": list(range(1, 10)), "max_tokens": 1})
    with pytest.raises(RequestError, match="accepts 4"):  # 53 bytes rendered, 9 tokens
        service.chat({"messages": [{"role": "user", "content": "fox"}]})
    with pytest.raises(RequestError, match="over 64 bytes"):
        service.chat({"messages": [{"role": "user", "content": long_text}]})
    with pytest.raises(RequestError, match="max_tokens"):
        service.completions({"prompt": [1, 2], "max_tokens": 9})
    assert service.completions({"prompt": [1, 2], "max_tokens": 8})["usage"]["prompt_tokens"] == 2
