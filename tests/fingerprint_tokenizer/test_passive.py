"""`provenance fingerprint passive`: fits known tokenizers to counts captured in the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from provenance.cli.main import main
from provenance.fingerprint.tokenizer.passive import request_text
from provenance.records import ExchangeRecord, Observation, Source, Usage
from provenance.standins.tokencount import EndpointConfig, prompt_tokens
from provenance.store import open_store

PROMPTS = [
    "Fix the failing test in parser.py",
    "Explain this stack trace:\nTraceback (most recent call last): KeyError: 'id'",
    "把这个函数改写成异步的",
    "Write a SQL query that counts orders per user in 2025",
    "Refactor `def f(x): return x*2` into a lambda and add type hints 🙂",
    "Why does 1234567 * 89 overflow in int32?",
]


def exchange(product, model, body, tokens):
    return ExchangeRecord(
        started_at=datetime.now(UTC),
        method="POST",
        scheme="https",
        host="api.example.com",
        port=443,
        path="/v1/chat/completions",
        status=200,
        provider=None,
        product=product,
        api="openai.chat",
        content_type="application/json",
        latency_ms=1.0,
        ttfb_ms=1.0,
        streamed=False,
        request_size=len(body),
        response_size=10,
        request_headers=[],
        response_headers=[],
        request_body=body,
        response_body="{}",
        request_digest=None,
        response_digest=None,
        bodies_truncated=False,
        usage=Usage(input_tokens=tokens),
        observations=[Observation(model, Source.REQUEST_FIELD, "$.model")],
        parse_errors=[],
    )


def records(product, model, handle, config):
    out = []
    for text in PROMPTS:
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": text}]})
        count = prompt_tokens(lambda t, p: handle.count(t, specials=p), config, text)
        out.append(exchange(product, model, body, count))
    return out


def test_passive_names_known_and_rejects_trained(
    tmp_path, capsys, tokenizer_for, trained_tokenizers
):
    db = f"sqlite:///{tmp_path / 'p.sqlite'}"
    store = open_store(db, create=True)
    config = EndpointConfig("chatml", "segments", "You are Composer. " * 40, 3)
    store.write_exchanges(
        records("cursor", "composer-2", tokenizer_for("pkg:quicktok-v1:qwen3"), config)
    )
    store.write_exchanges(
        records("other", "mystery-1", trained_tokenizers["trained-bpe-600"], config)
    )
    store.close()
    assert main(["fingerprint", "passive", "--db", db, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_product = {r["product"]: r for r in doc["results"]}
    assert by_product["cursor"]["verdict"] == "qwen2"
    assert by_product["cursor"]["model"] == "composer-2"
    assert "qwen3" in by_product["cursor"]["families"]
    top = by_product["cursor"]["ranking"][0]
    assert top["fit"]["slope"] == 1.0 and top["fit"]["max_residual"] <= 0.5
    assert by_product["other"]["verdict"] is None
    store = open_store(db)
    from sqlalchemy import select

    from provenance.store.models import FingerprintRunRow

    with store.session() as s:
        kinds = s.execute(select(FingerprintRunRow.kind, FingerprintRunRow.verdict)).all()
    store.close()
    assert sorted(kinds, key=str) == sorted(
        [("tokenizer-passive", "qwen2"), ("tokenizer-passive", None)], key=str
    )


def test_too_few_samples_is_null(tmp_path, capsys, tokenizer_for):
    db = f"sqlite:///{tmp_path / 'p.sqlite'}"
    store = open_store(db, create=True)
    config = EndpointConfig("plain", "rendered-text", "", 0)
    store.write_exchanges(records("p", "m", tokenizer_for("pkg:quicktok-v1:llama3"), config)[:2])
    store.close()
    assert main(["fingerprint", "passive", "--db", db, "--json", "--no-store"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["verdict"] is None and "too few" in result["reason"]


def test_request_text_shapes():
    assert request_text(
        {"system": "s", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}
    ) == ("s\na", 1)
    assert request_text({"instructions": "i", "input": "x"}) == ("i\nx", 1)
    assert request_text({"model": "m"}) is None
    assert request_text([1, 2]) is None
