"""serve-reference's request parsers (``provenance.reference.bodies``): pure, no model, fast."""

from __future__ import annotations

import pytest

from provenance.reference.bodies import (
    Limits,
    RequestError,
    check_text,
    parse_chat,
    parse_completion,
    parse_json,
    parse_tokenize,
)

LIMITS = Limits(max_prompt_tokens=8, max_new_tokens=32, vocab_size=100)  # 128 bytes of text


def test_text_is_bounded_in_utf8_bytes_not_characters() -> None:
    assert check_text("🙂" * 32, "prompt", LIMITS) == "🙂" * 32  # 128 bytes: fits
    with pytest.raises(RequestError, match=r"prompt is 129 bytes.*at most 128 bytes"):
        check_text("🙂" * 32 + "x", "prompt", LIMITS)
    with pytest.raises(RequestError, match=r"over 128 bytes.*send token ids"):
        check_text("x" * 10_000, "prompt", LIMITS)  # refused by its length, never encoded
    with pytest.raises(RequestError, match="lone surrogate"):
        check_text("a\ud800b", "prompt", LIMITS)


def test_json_errors_are_one_line() -> None:
    for raw, fragment in [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"\xff\xfe\xfd", "not UTF-8"),
        (b'{"a": 1,}', "not valid JSON"),
        (b"[]", "JSON object"),
    ]:
        with pytest.raises(RequestError, match=fragment) as caught:
            parse_json(raw)
        assert "\n" not in str(caught.value)
    assert parse_json(b'{"prompt": "x"}') == {"prompt": "x"}


def test_a_long_id_list_is_refused_by_its_length_before_its_items() -> None:
    with pytest.raises(RequestError, match="9 tokens; this server accepts 8"):
        parse_completion({"prompt": ["junk", None, {}, 1, 2, 3, 4, 5, 6]}, LIMITS)
    with pytest.raises(RequestError, match="integer token ids"):
        parse_completion({"prompt": [1, True]}, LIMITS)
    with pytest.raises(RequestError, match=r"out of range 0\.\.99"):
        parse_completion({"prompt": [1, 100]}, LIMITS)


def test_completion_defaults_and_batch_of_one() -> None:
    req = parse_completion({"prompt": [[1, 2]], "max_tokens": None, "logprobs": None}, LIMITS)
    assert req.prompt == (1, 2) and req.max_tokens == 16 and req.logprobs is None
    assert not req.echo and not req.as_ids
    small = Limits(max_prompt_tokens=8, max_new_tokens=4, vocab_size=100)
    assert parse_completion({"prompt": ["hi"]}, small).max_tokens == 4  # default capped
    with pytest.raises(RequestError, match="prompt is empty"):
        parse_completion({"prompt": [""]}, LIMITS)


def test_chat_keeps_only_what_the_template_reads_and_bounds_all_of_it() -> None:
    messages = [{"role": "user", "content": "hi", "name": None, "extra": {"x": 1}},
                {"role": "assistant", "content": "yo", "name": "bot"}]  # fmt: skip
    req = parse_chat({"messages": messages, "max_completion_tokens": 3, "max_tokens": 99}, LIMITS)
    assert req.messages == ({"role": "user", "content": "hi"},
                            {"role": "assistant", "content": "yo", "name": "bot"})  # fmt: skip
    assert req.max_tokens == 3  # max_completion_tokens wins, max_tokens is not looked at
    many = [{"role": "user", "content": "x" * 60}] * 3  # 3 × 64 bytes of text > 128
    with pytest.raises(RequestError, match="messages are over 128 bytes"):
        parse_chat({"messages": many}, LIMITS)
    with pytest.raises(RequestError, match="role must be a string"):
        parse_tokenize({"messages": [{"role": 5, "content": "x"}]}, LIMITS)
    assert parse_tokenize({"prompt": ""}, LIMITS).prompt == ""
