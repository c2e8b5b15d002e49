"""Schema-less protobuf walk: wire types, nesting, the string/message/bytes heuristic."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from provenance.extract.protobuf import classify, iter_strings, parse_fields, render, to_projection
from tests.extract.conftest import CI, LEAK_ID, pb_len, pb_varint, varint


def test_documented_encoding_examples() -> None:
    # https://protobuf.dev/programming-guides/encoding/: "08 96 01" is field 1 = 150;
    # "12 07 74 65 73 74 69 6e 67" is field 2 = "testing"; "1a 03 08 96 01" nests the first.
    assert to_projection(bytes.fromhex("089601")) == {"1": 150}
    assert to_projection(bytes.fromhex("120774657374696e67")) == {"2": "testing"}
    assert to_projection(bytes.fromhex("1a03089601")) == {"3": {"1": 150}}


def test_fixed_width_and_repeated_fields() -> None:
    msg = b"\x0d\x01\x00\x00\x00" + b"\x11" + (2).to_bytes(8, "little") + pb_varint(4, 1) * 2
    assert to_projection(msg) == {"1": {"$fixed32": 1}, "2": {"$fixed64": 2}, "4": [1, 1]}


def test_groups_and_bad_wire_types_are_invalid() -> None:
    assert parse_fields(b"\x0b\x0c") is None  # start/end group
    assert parse_fields(b"\x0f") is None  # wire type 7
    assert parse_fields(b"\x0a\x05ab") is None  # length past the end
    assert parse_fields(b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff") is None
    assert to_projection(b"\x0f") == {"$invalid": "base64:Dw=="}


def test_model_id_three_levels_deep_has_its_field_path() -> None:
    # Cursor's StreamUnifiedChatRequest.model_details (5) -> ModelDetails.model_name (1),
    # wrapped once more in a request message (field 1): path 1.5.1.
    model_details = pb_len(1, LEAK_ID) + pb_len(2, "sk-not-a-real-key")
    request = pb_len(1, "hello") + pb_len(5, model_details)
    wrapped = pb_len(1, request) + pb_varint(2, 7)
    assert ("5.1", LEAK_ID) in list(iter_strings(request))
    assert ("1.5.1", LEAK_ID) in list(iter_strings(wrapped))
    assert json.loads(render(wrapped))["1"]["5"]["1"] == LEAK_ID


def test_heuristic_string_message_bytes() -> None:
    assert classify(b"gpt-4o") == ("string", "gpt-4o")
    assert classify(b"\x08\x01")[0] == "message"
    assert classify(b"\xff\xfe\x00") == ("bytes", b"\xff\xfe\x00")
    assert classify(b"") == ("string", "")
    # Printable but starting with "\n" and parsing as a message: a message (field 1, "A...").
    nested = pb_len(1, "A" * 65)
    assert nested[:2] == b"\nA" and classify(nested)[0] == "message"


def test_depth_is_bounded() -> None:
    msg = pb_len(1, "deep-model-1")
    for _ in range(40):
        msg = pb_len(1, msg)
    paths = [p for p, _ in iter_strings(msg)]
    assert all(p.count(".") < 16 for p in paths)
    render(msg)  # renders without recursion trouble


def test_non_utf8_and_truncation_at_every_position_never_raise() -> None:
    msg = pb_len(1, "caf\u00e9") + pb_len(5, pb_len(1, LEAK_ID)) + pb_len(3, b"\xff\x00")
    for cut in range(len(msg) + 1):
        list(iter_strings(msg[:cut]))
        render(msg[:cut])


_messages = st.recursive(
    st.lists(st.tuples(st.integers(1, 30), st.text(min_size=1, max_size=12)), max_size=3).map(
        lambda fs: [("s", n, v) for n, v in fs]
    ),
    lambda children: st.lists(st.tuples(st.integers(1, 30), children), min_size=1, max_size=3).map(
        lambda fs: [("m", n, v) for n, v in fs]
    ),
    max_leaves=8,
)


def _encode(fields: list) -> bytes:
    out = b""
    for kind, number, value in fields:
        out += pb_len(number, value if kind == "s" else _encode(value))
    return out


def _expected(fields: list, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for kind, number, value in fields:
        path = f"{prefix}{number}"
        if kind == "s":
            out.append((path, value))
        else:
            out.extend(_expected(value, path + "."))
    return out


@CI
@given(_messages)
def test_property_printable_leaves_are_found_at_their_paths(fields: list) -> None:
    wire = _encode(fields)
    found = set(iter_strings(wire))
    for path, text in _expected(fields):
        if text.isprintable() and text[0] not in "\t\n\r":
            assert (path, text) in found


@CI
@given(st.binary(max_size=400))
def test_property_arbitrary_bytes_never_raise(data: bytes) -> None:
    list(iter_strings(data))
    json.loads(render(data))


def test_varint_helper_matches_docs() -> None:
    assert varint(150) == bytes.fromhex("9601")
