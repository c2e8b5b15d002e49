"""Targeted text cases: context words, escaped JSON, PEM shapes, protobuf length prefixes."""

from __future__ import annotations

import json
import re

from provenance.redact import PATTERNS, Redactor, classify
from tests.secrets_corpus import BY_NAME, assert_no_secrets, pb_field


def test_every_pattern_entry_names_its_source() -> None:
    for p in PATTERNS:
        assert p.kind and p.source and p.triggers, p
    assert len({p.kind for p in PATTERNS}) >= 30


def test_aws_secret_key_needs_its_context_word(redactor: Redactor) -> None:
    secret = BY_NAME["aws-secret-key"].value
    assert redactor.redact_text(f"value {secret} here") == f"value {secret} here"
    for line in (
        f"AWS_SECRET_ACCESS_KEY={secret}",
        f'aws_secret_access_key = "{secret}"',
        f'{{"SecretAccessKey": "{secret}"}}',
        f"export AWS_SECRET_ACCESS_KEY='{secret}'",
    ):
        out = redactor.redact_text(line)
        assert secret not in out and "[REDACTED:aws-secret-key:" in out, line


def test_env_file_and_form_body(redactor: Redactor) -> None:
    mistral = BY_NAME["mistral"].value
    text = (
        f"MISTRAL_API_KEY={mistral}\nDEBUG=1\nPASSWORD=correct-horse-battery\nMODEL=mistral-large"
    )
    lines = redactor.redact_text(text).split("\n")
    assert re.fullmatch(r"MISTRAL_API_KEY=\[REDACTED:field:[0-9a-f]{12}\]", lines[0])
    assert re.fullmatch(r"PASSWORD=\[REDACTED:field:[0-9a-f]{12}\]", lines[2])
    assert lines[1] == "DEBUG=1" and lines[3] == "MODEL=mistral-large"
    assert redactor.redact_query(f"grant_type=x&client_secret={mistral}&scope=a") == (
        f"grant_type=x&client_secret={redactor.redact_secret(mistral, 'query')}&scope=a"
    )


def test_json_escaped_inside_json(redactor: Redactor) -> None:
    together = BY_NAME["together"].value
    inner = json.dumps({"apiKey": together, "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo"})
    outer = json.dumps({"arguments": inner})
    out = redactor.redact_text(outer)
    assert together not in out and "meta-llama/Llama-3.3-70B-Instruct-Turbo" in out
    assert json.loads(json.loads(out)["arguments"])["apiKey"].startswith("[REDACTED:field:")


def test_pem_in_json_string_and_truncated(redactor: Redactor) -> None:
    pem = BY_NAME["private-key"]
    as_json = json.dumps({"private_key": pem.value})
    out = redactor.redact_text(as_json)
    assert_no_secrets(out, [pem])
    assert out.startswith('{"private_key": "[REDACTED:private-key:') and out.endswith('"}')
    truncated = pem.value[:300]
    assert_no_secrets(redactor.redact_text("body: " + truncated), [pem])


def test_protobuf_length_prefix_does_not_hide_a_key(redactor: Redactor) -> None:
    groq = BY_NAME["groq"].value  # 56 characters: length byte 0x38 is the digit "8"
    raw = pb_field(2, groq).decode("latin-1")
    assert raw[1] == "8"
    assert groq not in redactor.redact_text("\x0a\x05hello" + raw)
    # ...but an ordinary word before "sk-" still rules a generic key out.
    text = "task-" + "a1b2c3d4" * 5
    assert redactor.redact_text(text) == text


def test_idempotent_on_tokens_that_look_like_fields(redactor: Redactor) -> None:
    text = "Credential=[REDACTED:aws-access-key:0123456789ab] key: [REDACTED:field:0123456789ab]"
    assert redactor.redact_text(text) == text


def test_classify() -> None:
    assert classify(BY_NAME["openai-project"].value) == "openai-project"
    assert classify("  " + BY_NAME["jwt"].value + " ") == "jwt"
    assert classify("gpt-4o-2024-08-06") is None
    assert classify(BY_NAME["mistral"].value) is None


def test_token_shape(redactor: Redactor) -> None:
    out = redactor.redact_text("xoxb-" + "1234567890-" * 2 + "abcdefABCDEF123456")
    assert re.fullmatch(r"\[REDACTED:slack:[0-9a-f]{12}\]", out)
