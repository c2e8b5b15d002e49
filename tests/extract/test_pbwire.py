"""The stored protobuf projection is lossless: encode_projection rebuilds the exact wire bytes;
get_path / set_path read and change it by field path."""

from __future__ import annotations

import base64
import json
import re
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.extract import protobuf
from provenance.extract.pbwire import encode_projection, get_path, set_path, string_value
from provenance.extract.protobuf import parse_fields, to_projection
from tests.extract.conftest import CI, pb_len, pb_varint


def _padded(n: int, extra: int = 0) -> bytes:
    """``n`` as a varint, ``extra`` bytes wider than minimal (written here, not by pbwire)."""
    groups = []
    while True:
        groups.append(n & 0x7F)
        n >>= 7
        if not n:
            break
    groups += [0] * extra
    return bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])


def _stored(buf: bytes, **kw) -> object:
    """The projection as it is stored and read back: JSON text in between."""
    return json.loads(json.dumps(to_projection(buf, **kw), ensure_ascii=False))


# --- the forms -------------------------------------------------------------------------------


def test_common_case_reads_as_before() -> None:
    msg = pb_len(1, "hello") + pb_len(5, pb_len(1, "gpt-4o")) + pb_varint(8, 150) * 2
    assert to_projection(msg) == {"1": "hello", "5": {"1": "gpt-4o"}, "8": [150, 150]}
    assert encode_projection(to_projection(msg)) == msg


def test_fixed_width_numbers_keep_their_width() -> None:
    msg = b"\x0d\x01\x00\x00\x00" + b"\x11" + (2).to_bytes(8, "little")
    assert to_projection(msg) == {"1": {"$fixed32": 1}, "2": {"$fixed64": 2}}
    assert encode_projection(to_projection(msg)) == msg


def test_text_that_starts_like_bytes_is_marked_as_text() -> None:
    msg = pb_len(1, "base64:AAAA") + pb_len(2, b"\xff\x00")
    assert to_projection(msg) == {"1": {"$string": "base64:AAAA"}, "2": "base64:/wA="}
    assert encode_projection(_stored(msg)) == msg


def test_interleaved_field_numbers_keep_their_order() -> None:
    msg = pb_varint(1, 1) + pb_len(2, "x") + pb_varint(1, 2)
    assert to_projection(msg) == {"$fields": [["1", 1], ["2", "x"], ["1", 2]]}
    assert encode_projection(_stored(msg)) == msg


def test_non_minimal_varints_keep_their_widths() -> None:
    # key of field 1 in two bytes, value 1 in three; a length reserved as five bytes
    msg = _padded(1 << 3, 1) + _padded(1, 2) + _padded(2 << 3 | 2) + _padded(2, 4) + b"hi"
    assert to_projection(msg) == {
        "1": {"$pad": [2, 3], "$value": 1},
        "2": {"$pad": [1, 5], "$value": "hi"},
    }
    assert encode_projection(_stored(msg)) == msg


def test_payloads_past_max_depth_are_their_bytes() -> None:
    msg = pb_len(1, pb_len(1, pb_len(2, "base64:QQ==")) + pb_len(3, b"\x08\xff"))
    shallow = to_projection(msg, max_depth=1)
    assert shallow == {"1": "base64:" + base64.b64encode(msg[2:]).decode()}
    for depth in (1, 2, 3, 16):
        assert encode_projection(_stored(msg, max_depth=depth)) == msg


def test_invalid_and_empty_messages() -> None:
    assert encode_projection({"$invalid": "base64:Dw=="}) == b"\x0f"
    assert encode_projection(to_projection(b"")) == b""


def test_a_redacted_placeholder_encodes_with_its_own_length(redactor) -> None:
    key = "sk-proj-" + "A1b2C3d4" * 6
    msg = pb_len(1, pb_len(1, "gpt-4o") + pb_len(2, key)) + pb_varint(3, 7)
    stored = json.loads(json.dumps(redactor.redact_json(to_projection(msg))))
    placeholder = get_path(stored, "1.2")
    assert isinstance(placeholder, str) and placeholder.startswith("[REDACTED:")
    wire = encode_projection(stored)
    assert to_projection(wire) == {"1": {"1": "gpt-4o", "2": placeholder}, "3": 7}
    assert parse_fields(wire) is not None


def test_a_redaction_inside_base64_bytes_leaves_text() -> None:
    assert encode_projection({"1": "base64:AAAA[REDACTED:x]"}) == pb_len(
        1, "base64:AAAA[REDACTED:x]"
    )


def test_not_a_projection_is_a_one_line_value_error() -> None:
    for bad in (
        [],
        {"a": 1},
        {"1": 1.5},
        {"1": True},
        {"1": [[1]]},
        {"1": {"$fixed32": 1 << 32}},
        {"1": {"$pad": [11, 1], "$value": 1}},
        {"1": {"$bogus": 1}},
        {"$fields": [["1"]]},
        {"0": 1},
        {"$invalid": "AAAA"},
    ):
        with pytest.raises(ValueError) as err:
            encode_projection(bad)
        assert "\n" not in str(err.value)


def test_negative_numbers_encode_as_twos_complement() -> None:
    assert encode_projection({"1": -1}) == b"\x08" + b"\xff" * 9 + b"\x01"
    assert encode_projection({"1": {"$fixed32": -1}}) == b"\x0d\xff\xff\xff\xff"


# --- property: every message round-trips, through JSON ---------------------------------------

_TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", "base64:", "base64:AAAA", "base64:QQ==", "$fixed32", "$", "\tA", "\n\x01A"]
    ),
    st.text(max_size=8).map(lambda t: "base64:" + t),
    st.text(max_size=8).map(lambda t: "$" + t),
)
_PAD = st.sampled_from([0, 0, 0, 1, 3])  # mostly minimal varints


def _leaf():
    return st.one_of(
        st.tuples(st.just("varint"), st.integers(0, (1 << 64) - 1)),
        st.tuples(st.just("fixed32"), st.integers(0, (1 << 32) - 1)),
        st.tuples(st.just("fixed64"), st.integers(0, (1 << 64) - 1)),
        st.tuples(st.just("len"), _TEXTS.map(lambda t: t.encode("utf-8"))),
        st.tuples(st.just("len"), st.binary(max_size=12)),
    )


def _field(value):
    return st.tuples(st.integers(1, 4) | st.integers(1, (1 << 29) - 1), value, _PAD, _PAD)


_MESSAGES = st.recursive(
    st.lists(_field(_leaf()), max_size=4),
    lambda children: st.lists(
        _field(st.one_of(_leaf(), children.map(lambda fs: ("msg", fs)))), max_size=4
    ),
    max_leaves=12,
)


def _wire(fields: list) -> bytes:
    out = b""
    for number, (kind, value), key_pad, value_pad in fields:
        if kind == "varint":
            out += _padded(number << 3, key_pad) + _padded(value, value_pad)
        elif kind in ("fixed32", "fixed64"):
            wire, size = (5, 4) if kind == "fixed32" else (1, 8)
            out += _padded(number << 3 | wire, key_pad) + value.to_bytes(size, "little")
        else:
            payload = _wire(value) if kind == "msg" else value
            out += _padded(number << 3 | 2, key_pad) + _padded(len(payload), value_pad) + payload
    return out


@CI
@given(_MESSAGES)
def test_property_every_message_round_trips_through_json(fields: list) -> None:
    wire = _wire(fields)
    assert encode_projection(_stored(wire)) == wire
    assert encode_projection(_stored(wire, max_depth=2)) == wire


@CI
@given(st.binary(max_size=200))
def test_property_any_bytes_round_trip(data: bytes) -> None:
    assert encode_projection(_stored(data)) == data


@CI
@given(_MESSAGES)
def test_property_round_trip_past_the_field_budget(fields: list) -> None:
    wire = _wire(fields)
    with mock.patch.object(protobuf, "MAX_FIELDS", 3):
        assert encode_projection(_stored(wire)) == wire


@CI
@given(_MESSAGES, st.text(max_size=20))
def test_property_set_path_on_the_last_top_level_field(fields: list, text: str) -> None:
    wire = _wire(fields)
    stored = _stored(wire)
    top = parse_fields(wire)
    if top is None:
        return
    path = str(top[-1].number)
    changed = set_path(stored, path, string_value(text))
    assert get_path(changed, path) == string_value(text)
    assert encode_projection(stored) == wire  # the original is not changed
    after = parse_fields(encode_projection(changed))
    assert after is not None and after[-1].value == text.encode("utf-8")


# --- get_path / set_path ---------------------------------------------------------------------

PROJECTION = {
    "1": "hello",
    "5": {"1": "accounts/fireworks/models/llama-v3p1-8b-instruct", "2": {"$fixed32": 9}},
    "7": [{"1": "first"}, {"1": "last"}],
    "9": {"$pad": [1, 5], "$value": {"1": "padded"}},
    "10": {"$fields": [["1", "a"], ["2", 2], ["1", "b"]]},
}


def test_get_path() -> None:
    assert get_path(PROJECTION, "1") == "hello"
    assert get_path(PROJECTION, "5.1") == "accounts/fireworks/models/llama-v3p1-8b-instruct"
    assert get_path(PROJECTION, "5.2") == {"$fixed32": 9}
    assert get_path(PROJECTION, "7.1") == "last"  # a repeated field: its last occurrence
    assert get_path(PROJECTION, "9.1") == "padded"  # $pad is wire detail, not a level
    assert get_path(PROJECTION, "10.1") == "b"
    assert get_path(PROJECTION, "10.2") == 2


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("5.3", "no field 5.3: 5 has no field 3"),
        ("4", "no field 4: the top level has no field 4"),
        ("1.1", "no field 1.1: 1 is not a message"),
        ("5.2.1", "no field 5.2.1: 5.2 is not a message"),
        ("5.x", "not a field path"),
        ("", "not a field path"),
        ("05", "not a field path"),
    ],
)
def test_get_path_of_a_missing_field(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        get_path(PROJECTION, path)


def test_get_path_of_an_invalid_message() -> None:
    with pytest.raises(ValueError, match="the top level is not a message"):
        get_path({"$invalid": "base64:Dw=="}, "1")


def test_set_path_changes_a_copy() -> None:
    before = json.dumps(PROJECTION)
    changed = set_path(PROJECTION, "5.1", "[REDACTED:cursor-byok-key]")
    assert json.dumps(PROJECTION) == before
    assert get_path(changed, "5.1") == "[REDACTED:cursor-byok-key]"
    assert get_path(changed, "5.2") == {"$fixed32": 9}
    assert list(changed) == list(PROJECTION)  # field order kept


def test_set_path_in_repeated_interleaved_and_padded_fields() -> None:
    changed = set_path(PROJECTION, "7.1", "new")
    assert changed["7"] == [{"1": "first"}, {"1": "new"}]
    changed = set_path(PROJECTION, "10.1", "c")
    assert changed["10"] == {"$fields": [["1", "a"], ["2", 2], ["1", "c"]]}
    changed = set_path(PROJECTION, "9.1", "a longer padded string")
    assert changed["9"] == {"$pad": [1, 5], "$value": {"1": "a longer padded string"}}
    wire = encode_projection(changed)
    assert encode_projection(_stored(wire)) == wire
    assert get_path(_stored(wire), "9.1") == "a longer padded string"


def test_set_path_puts_a_string_where_a_message_was() -> None:
    changed = set_path(PROJECTION, "5", "plain text now")
    wire = encode_projection(changed)
    assert get_path(to_projection(wire), "5") == "plain text now"


def test_set_path_of_a_missing_field_or_a_bad_value() -> None:
    with pytest.raises(ValueError, match=r"no field 5\.3"):
        set_path(PROJECTION, "5.3", "x")
    with pytest.raises(ValueError, match="not a projection value"):
        set_path(PROJECTION, "1", [1, 2])
    with pytest.raises(ValueError, match="not a projection value"):
        set_path(PROJECTION, "1", 1.5)


def test_string_value_marks_only_what_would_read_as_bytes() -> None:
    assert string_value("hello") == "hello"
    assert string_value("$fixed32") == "$fixed32"
    assert string_value("base64:AAAA") == {"$string": "base64:AAAA"}
    assert encode_projection({"1": string_value("base64:AAAA")}) == pb_len(1, "base64:AAAA")
