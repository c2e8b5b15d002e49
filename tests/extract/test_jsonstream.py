"""JSON array streams (Gemini without alt=sse) and NDJSON."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from provenance.extract.jsonstream import JsonArrayFramer, NdjsonFramer
from tests.extract.conftest import CI

# Shape of Gemini's streamGenerateContent response without alt=sse: a JSON array whose
# elements are GenerateContentResponse objects separated by "\r\n,\r\n"
# (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent).
GEMINI_ARRAY = (
    b'[{"candidates": [{"content": {"parts": [{"text": "Hel"}],"role": "model"}}],'
    b'"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},'
    b'"modelVersion": "gemini-2.0-flash"}\r\n,\r\n'
    b'{"candidates": [{"content": {"parts": [{"text": "lo ] } \\" ["}],"role": "model"},'
    b'"finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 9,'
    b'"candidatesTokenCount": 3,"totalTokenCount": 12},"modelVersion": "gemini-2.0-flash"}\r\n]'
)


def test_gemini_array_elements_at_every_split_and_byte_by_byte() -> None:
    expected = [json.dumps(e) for e in json.loads(GEMINI_ARRAY)]
    for cut in range(len(GEMINI_ARRAY) + 1):
        framer = JsonArrayFramer()
        got = framer.feed(GEMINI_ARRAY[:cut]) + framer.feed(GEMINI_ARRAY[cut:]) + framer.finish()
        assert [json.dumps(json.loads(g)) for g in got] == expected, cut
        assert framer.errors == []
    framer = JsonArrayFramer()
    got = [e for i in range(len(GEMINI_ARRAY)) for e in framer.feed(GEMINI_ARRAY[i : i + 1])]
    assert len(got) == 2


def test_elements_are_returned_before_the_closing_bracket() -> None:
    framer = JsonArrayFramer()
    assert len(framer.feed(b'[{"a": 1}, {"b": ')) == 1


def test_truncated_and_non_array_inputs() -> None:
    for cut in range(len(GEMINI_ARRAY)):
        framer = JsonArrayFramer()
        framer.feed(GEMINI_ARRAY[:cut])
        framer.finish()
        if cut:
            assert framer.errors == ["JSON array stream ended before its closing bracket"], cut
    framer = JsonArrayFramer()
    framer.feed(b'{"not": "an array"}')
    assert framer.errors == ["JSON array stream does not start with '['"]


def test_oversize_element_dropped() -> None:
    framer = JsonArrayFramer(max_element=50)
    got = framer.feed(b'[{"x": "' + b"a" * 200) + framer.feed(b'"}, {"ok": 1}]')
    assert got == [b'{"ok": 1}']
    assert framer.errors == ["JSON array element larger than 50 bytes dropped"]


def test_ndjson_lines() -> None:
    framer = NdjsonFramer()
    got = framer.feed(b'{"model":"llama3.2","done":false}\n\n{"do') + framer.feed(b'ne":true}')
    assert got + framer.finish() == [b'{"model":"llama3.2","done":false}', b'{"done":true}']


_json_objects = st.dictionaries(
    st.text(max_size=5),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=6,
    ),
    max_size=4,
)


@CI
@given(items=st.lists(_json_objects, max_size=5), step=st.integers(min_value=1, max_value=40))
def test_property_array_elements_round_trip(items: list[dict], step: int) -> None:
    wire = ("[" + ",\r\n".join(json.dumps(i) for i in items) + "]").encode()
    framer = JsonArrayFramer()
    got = []
    for i in range(0, len(wire), step):
        got += framer.feed(wire[i : i + step])
    got += framer.finish()
    assert [json.loads(g) for g in got] == items
    assert framer.errors == []


@CI
@given(data=st.binary(max_size=300))
def test_property_arbitrary_bytes_never_raise(data: bytes) -> None:
    framer = JsonArrayFramer(max_element=64)
    framer.feed(data)
    framer.finish()
