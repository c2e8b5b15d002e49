"""The remote reference backend against fixture servers shaped like SGLang and vLLM
(``tests/logits/engines.py`` cites the upstream source of each shape)."""

from __future__ import annotations

import pytest

from provenance.errors import FingerprintError
from provenance.reference.remote_backend import RemoteReference, error_text
from provenance.reference.server import BackgroundServer
from tests.logits.engines import InFlight, sglang_app, vllm_app

TEXTS = [
    "Return a new list with the items in sorted order.",
    "The committee met on Tuesday to review the budget.",
    "def f(x):\n    return x * 2",
]


def _close(a, b, tol=1e-4):
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert [r.token_id for r in ra] == [r.token_id for r in rb]
        for x, y in zip(ra, rb, strict=True):
            assert abs(x.logprob - y.logprob) < tol
            assert [i for i, _ in x.top[:3]] == [i for i, _ in y.top[:3]]


@pytest.mark.parametrize("bos_always", [False, True])
def test_sglang_server_scores_like_the_in_process_model(base_reference, bos_always):
    with BackgroundServer(sglang_app(base_reference, "base-a", bos_always=bos_always)) as srv:
        remote = RemoteReference(srv.url, flavour="auto")
        try:
            assert remote.flavour == "sglang" and remote.model == "base-a"
            for text in TEXTS:  # a BOS the server adds anyway is detected and stripped
                assert remote.tokenize(text) == base_reference.tokenize(text)
            ids = base_reference.tokenize(TEXTS[0])
            assert remote.token_strings(ids) == base_reference.token_strings(ids)
            messages = [{"role": "user", "content": "hi"}]
            assert remote.apply_chat_template(messages) == base_reference.apply_chat_template(
                messages
            )
            seqs = [base_reference.tokenize(t) for t in TEXTS]
            _close(remote.score(seqs, top_k=5), base_reference.score(seqs, top_k=5))
        finally:
            remote.close()


def test_vllm_server_needs_its_key_caps_logprobs_and_is_scored_concurrently(base_reference):
    flight = InFlight()
    app = vllm_app(base_reference, "base-a", api_key="k-123", flight=flight)
    with BackgroundServer(app) as srv:
        with pytest.raises(FingerprintError, match="HTTP 401 Unauthorized"):
            RemoteReference(srv.url + "/v1", flavour="openai")
        remote = RemoteReference(srv.url + "/v1", flavour="auto", api_key="k-123")
        try:
            assert remote.flavour == "openai"
            seqs = [base_reference.tokenize(t) for t in TEXTS * 3]
            _close(remote.score(seqs, top_k=5), base_reference.score(seqs, top_k=5))
            assert flight.peak >= 2, "scoring requests went out one at a time"
            with pytest.raises(FingerprintError, match="greater than max allowed: 20"):
                remote.score(seqs[:1], top_k=25)
        finally:
            remote.close()


def test_error_bodies_of_every_engine_are_read():
    assert error_text({"error": {"message": "bad", "type": "BadRequestError"}}) == "bad"
    assert error_text({"object": "error", "message": "flat", "code": 400}) == "flat"
    assert error_text({"error": "unknown field `x`"}) == "unknown field `x`"
    assert error_text(None) == "" and error_text({"detail": 1}) == ""


def test_cli_selects_the_sglang_flavour_and_attributes_through_it(zoo, base_reference, capsys):
    """A derivative of base-a, with base-a served SGLang-style and the other bases local."""
    import json

    from provenance.cli.main import main
    from tests.logits.test_attribution import serve

    folder, parent = zoo.derivatives["deriv-a"]
    with (
        BackgroundServer(sglang_app(base_reference, "base-a", bos_always=True)) as sg,
        serve(folder, "product") as url,
    ):
        args = ["fingerprint", "logits", url, "--model", "product", "--json", "--no-store",
                "--no-cache", "--reference-server", f"base-a={sg.url}",
                "--reference-server-flavour", "sglang",
                "--reference", f"base-b={zoo.bases['base-b']}",
                "--reference", f"base-c={zoo.bases['base-c']}"]  # fmt: skip
        code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["outcome"], doc["verdict"]) == ("match", parent), doc["reason"]


def test_empty_reference_server_key_variable_is_one_line(capsys, monkeypatch):
    from provenance.cli.main import main

    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    code = main(["fingerprint", "logits", "http://127.0.0.1:9/v1", "--model", "m",
                 "--reference-server", "http://127.0.0.1:9/v1", "--reference-server-key-env",
                 "NO_SUCH_KEY_VAR", "--no-store"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--reference-server-key-env NO_SUCH_KEY_VAR" in err
