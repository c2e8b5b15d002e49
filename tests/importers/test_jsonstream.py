"""The streaming JSON array reader agrees with json.load, chunk boundaries anywhere."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.importers.jsonstream import JsonStreamError, iter_array_items

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
TRICKY = ['q"]}', "\\", "[{", "entries", "\u2028", "é\ud7ff"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(values, max_size=8),
    st.dictionaries(st.text(max_size=5).filter(lambda k: k != "entries"), values, max_size=3),
    st.integers(min_value=1, max_value=40),
    st.booleans(),
)
def test_items_match_json_load(items: list, noise: dict, chunk: int, indent: bool) -> None:
    doc = {"log": {**noise, "pages": [{"entries": ["decoy"]}], "entries": items, "z": TRICKY}}
    data = json.dumps(doc, indent=2 if indent else None).encode()
    got = list(iter_array_items(io.BytesIO(data), ("log", "entries"), chunk_size=chunk))
    assert got == items


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=4), st.text(max_size=8)), min_size=1, max_size=6),
    st.data(),
)
def test_truncation_yields_a_prefix_then_fails(items: list, data: st.DataObject) -> None:
    raw = json.dumps({"log": {"entries": items}}).encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    got: list = []
    array_end = raw.rindex(b"]")
    try:
        for item in iter_array_items(io.BytesIO(raw[:cut]), ("log", "entries"), chunk_size=7):
            got.append(item)
    except JsonStreamError:
        assert cut <= array_end  # failed while the array was still open
    else:
        assert cut > array_end  # only a cut after the array's end may go unnoticed
    assert got == items[: len(got)]


def test_utf8_bom_and_multibyte_split_across_chunks() -> None:
    doc = {"log": {"entries": [{"t": "日本語 😀 " * 50}]}}
    data = b"\xef\xbb\xbf" + json.dumps(doc, ensure_ascii=False).encode()
    assert list(iter_array_items(io.BytesIO(data), ("log", "entries"), chunk_size=3)) == [
        doc["log"]["entries"][0]
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"x": 1}', "no log.entries array found"),
        (b'{"log": {"entries": [{"a":1} {"b":2}]}}', "missing ','"),
        (b'{"log": {"entries": [1,,2]}}', "unexpected ','"),
        (b'{"log": {"entries": ["\xff"]}}', "not UTF-8"),
    ],
)
def test_malformed_documents(data: bytes, message: str) -> None:
    with pytest.raises(JsonStreamError, match=message):
        list(iter_array_items(io.BytesIO(data), ("log", "entries")))


def _held_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The text the scanner holds at each read (filled as the test reads)."""
    from provenance.importers import jsonstream

    held: list[int] = []
    original = jsonstream._Buffer.more

    def spy(self: jsonstream._Buffer, at: int) -> bool:
        held.append(len(self.text))
        return original(self, at)

    monkeypatch.setattr(jsonstream._Buffer, "more", spy)
    return held


def test_memory_is_bounded_by_the_largest_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 200-entry file streamed in 4 KiB chunks never buffers more than ~one entry + a chunk."""
    entry = {"body": "x" * 20_000}
    data = json.dumps({"log": {"entries": [entry] * 200}}).encode()
    buffers = _held_sizes(monkeypatch)
    count = sum(1 for _ in iter_array_items(io.BytesIO(data), ("log", "entries"), chunk_size=4096))
    assert count == 200
    assert max(buffers) < 20_000 + 2 * 4096 + 100


def test_a_bad_item_is_skipped_and_the_rest_read() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    data = ('{"log": {"entries": [{"a": 1}, {"a":}, ' + deep + ', {"a": 2}]}}').encode()
    got = list(iter_array_items(io.BytesIO(data), ("log", "entries"), chunk_size=512))
    assert got[0] == {"a": 1} and got[-1] == {"a": 2}
    assert [g.reason for g in got[1:-1]] == [
        "array item is not valid JSON",
        "array item nested too deeply",
    ]


@pytest.mark.parametrize("chunk_size", [7, 4096])
def test_an_item_over_the_cap_is_skipped_without_being_kept(
    chunk_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = {"body": "x" * 50_000, "nested": [{"k": "y" * 1000}] * 20}
    data = json.dumps({"log": {"entries": [{"a": 1}, big, "s" * 30_000, {"a": 2}]}}).encode()
    held = _held_sizes(monkeypatch)
    got = list(
        iter_array_items(
            io.BytesIO(data), ("log", "entries"), chunk_size=chunk_size, max_item=10_000
        )
    )
    assert got[0] == {"a": 1} and got[-1] == {"a": 2}
    assert [g.reason for g in got[1:3]] == ["array item larger than 10000 characters"] * 2
    assert max(held) <= 10_000 + 2 * chunk_size
