"""JSON redaction: secret-named fields, ambiguous names, personal ids, deep copy."""

from __future__ import annotations

import json
import re

from provenance.redact import Redactor
from tests.secrets_corpus import BY_NAME


def is_token(value: object, kind: str | None = None) -> bool:
    kind_re = re.escape(kind) if kind else "[a-z0-9-]+"
    return (
        isinstance(value, str)
        and re.fullmatch(rf"\[REDACTED:{kind_re}:[0-9a-f]{{12}}\]", value) is not None
    )


def test_secret_named_fields_replaced_whole(redactor: Redactor) -> None:
    body = {
        "api_key": "x",
        "apiKey": "short",
        "OPENAI_API_KEY": "whatever value 1",
        "client_secret": "s3cr3t",
        "password": "hunter2",
        "refresh_token": "r",
        "private_key": "p",
        "aws_secret_access_key": BY_NAME["aws-secret-key"].value,
        "anthropicApiKey": BY_NAME["anthropic-api"].value,
        "pin": 1234,
    }
    out = redactor.redact_json(body)
    for k in body:
        if k != "pin":
            assert is_token(out[k]), k
    assert is_token(out["anthropicApiKey"], "anthropic")
    assert is_token(out["aws_secret_access_key"], "field")
    assert out["pin"] == 1234


def test_container_under_secret_name(redactor: Redactor) -> None:
    out = redactor.redact_json({"credentials": {"type": "x", "value": "abc", "n": 7, "ok": True}})
    creds = out["credentials"]
    assert is_token(creds["type"]) and is_token(creds["value"]) and is_token(creds["n"])
    assert creds["ok"] is True


def test_ambiguous_names_need_a_credential_shape(redactor: Redactor) -> None:
    logprobs = {
        "choices": [
            {
                "logprobs": {
                    "content": [
                        {"token": "Hello", "logprob": -0.25, "bytes": [72, 101, 108, 108, 111]},
                        {"token": " world", "logprob": -0.5, "top_logprobs": []},
                    ]
                }
            }
        ]
    }
    assert redactor.redact_json(logprobs) == logprobs
    out = redactor.redact_json({"key": "a1b2c3d4e5f6g7h8i9j0k1", "token": "Zm9vYmFyYmF6cXV4MTIz"})
    assert is_token(out["key"], "field") and is_token(out["token"], "field")
    assert redactor.redact_json({"key": "model", "code": "invalid_api_key"}) == {
        "key": "model",
        "code": "invalid_api_key",
    }


def test_anthropic_thinking_signature_is_kept(redactor: Redactor) -> None:
    block = {
        "type": "thinking",
        "thinking": "Let me see.",
        "signature": "EqQBCkgIARABGAIiQL" + "x" * 80,
    }
    assert redactor.redact_json(block) == block


def test_personal_ids(redactor: Redactor) -> None:
    uid = BY_NAME["claude-code-user-id"].value
    out = redactor.redact_json(
        {
            "model": "claude-sonnet-4-20250514",
            "metadata": {"user_id": "plain-42"},
            "user": "alice@example.test",
        }
    )
    assert is_token(out["metadata"]["user_id"], "user-id")
    assert is_token(out["user"], "user-id")
    # Only the top-level OpenAI "user", and only metadata.user_id.
    nested = {"messages": [{"role": "user", "user": "bob"}], "user_id": "u1"}
    assert redactor.redact_json(nested) == nested
    # The Claude Code shape is found anywhere, even in text.
    assert "[REDACTED:user-id:" in redactor.redact_text(f"id={uid}")
    with redactor.collecting() as found:
        redactor.redact_text(f"id={uid}")
        redactor.redact_json({"user": "alice@example.test"})
    assert found.hashes == []  # personal ids are not credentials


def test_deep_copy_and_types(redactor: Redactor) -> None:
    body = {"a": [1, 2.5, None, True, ("t", "u")], "b": {"c": {"d": "e"}}, 3: "int key"}
    out = redactor.redact_json(body)
    assert out == {"a": [1, 2.5, None, True, ["t", "u"]], "b": {"c": {"d": "e"}}, 3: "int key"}
    assert out["b"] is not body["b"] and out["b"]["c"] is not body["b"]["c"]
    assert redactor.redact_json("plain") == "plain"
    assert redactor.redact_json(None) is None


def test_secret_in_key_and_in_nested_strings(redactor: Redactor) -> None:
    key = BY_NAME["groq"].value
    out = redactor.redact_json({key: 1, "deep": [[[{"x": f"use {key} now"}]]]})
    dumped = json.dumps(out)
    assert key not in dumped and dumped.count("[REDACTED:groq:") == 2


def test_very_deep_nesting_does_not_recurse(redactor: Redactor) -> None:
    value: object = "sk-ant-api03-" + "a1" * 50
    for _ in range(5000):
        value = {"k": [value]}
    out = redactor.redact_json(value)
    for _ in range(5000):
        out = out["k"][0]  # type: ignore[index]
    assert is_token(out, "anthropic")


def test_large_values_with_secrets_after_a_long_string(redactor: Redactor) -> None:
    """A long string narrows the search to triggers present in the whole value: still exact."""
    samples = [BY_NAME[n] for n in ("groq", "anthropic-oauth", "aws-access-key-akia", "jwt")]
    body = {
        "messages": [{"role": "user", "content": "lorem ipsum " * 500}]
        + [{"role": "user", "content": f"key {s.value}"} for s in samples],
        "metadata": {"user_id": "u-1"},
        "extra": [{"Authorization": f"Bearer {BY_NAME['bearer-opaque'].needle}"}],
        7: "non-string key",
        "password": "hunter2",
    }
    out = json.dumps(redactor.redact_json(body))
    for s in [*samples, BY_NAME["bearer-opaque"]]:
        assert s.needle not in out, s.name
    assert out.count("[REDACTED:") == 7
    assert '"Authorization": "Bearer [REDACTED:bearer:' in out
