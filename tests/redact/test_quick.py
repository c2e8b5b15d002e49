"""The fast path of stream redaction gives exactly the full path's output.

``redact_frames`` skips the redacted copies when :func:`clean_frames` proves nothing changes;
these tests run generated streams (secrets planted whole, split across frames, under secret and
ambiguous field names, base64-wrapped) through both and compare, and check that the parsed
documents the tap hands over are never changed.
"""

from __future__ import annotations

import base64
import copy
import json
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.extract import tap_body
from provenance.redact import Redactor
from provenance.redact.bodies import _redact_frames_full, redact_body, redact_frames
from provenance.redact.quick import clean_frames, unchanged
from tests.secrets_corpus import SECRETS, find_secrets

from .conftest import KEY

R = Redactor(KEY)
BOUNDED = settings(max_examples=150, deadline=None)

KEYS = st.sampled_from(
    ["content", "text", "delta", "id", "model", "type", "index", "token", "api_key", "user",
     "metadata", "user_id", "choices", "data", "value", "authorization", "x", "key", "name",
     "signature", "digests", "request_id"]
)  # fmt: skip
SECRET_VALUES = st.sampled_from([s.value for s in SECRETS if not s.context_only])
OPAQUE_VALUES = st.sampled_from([s.value for s in SECRETS if s.context_only])  # by shape only
PAIR_NAMES = st.sampled_from(["x-api-key", "Authorization", "X-Auth-Token", "model", "password"])


def _halves(value: str, cut: int) -> list[str]:
    cut = max(1, min(cut, len(value) - 1))
    return [value[:cut], value[cut:]]


LEAF = (
    st.text(max_size=20)
    | SECRET_VALUES
    | OPAQUE_VALUES
    | SECRET_VALUES.map(lambda v: base64.b64encode(json.dumps({"api_key": v}).encode()).decode())
    | SECRET_VALUES.map(lambda v: base64.b64encode(v.encode()).decode())
    | st.integers()
    | st.none()
    | st.booleans()
)
HALVES = st.builds(_halves, SECRET_VALUES, st.integers(1, 40))  # a key split in two
SHAPES = (
    st.builds(lambda n, v: {"name": n, "value": v}, PAIR_NAMES, LEAF)  # name/value pairs
    | HALVES  # ... over two array items
    | HALVES.map(lambda h: {"a": h[0], "b": h[1]})  # ... over two fields
)
DOC = st.recursive(
    LEAF | SHAPES,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(KEYS, kids, max_size=4),
    max_leaves=12,
)


def _heads(lines: list[str]) -> list[str]:
    heads = []
    for line in lines:
        head = ""
        if line.startswith("data:"):
            head = "data: " if line.startswith("data: ") else "data:"
        heads.append(head)
    return heads


def _both(lines: list[str]) -> tuple[str, str, list[str], list[str]]:
    fast_errors: list[str] = []
    full_errors: list[str] = []
    fast = redact_frames(R, list(lines), fast_errors, "response")
    full = _redact_frames_full(R, list(lines), _heads(lines), full_errors, "response")
    return fast, full, fast_errors, full_errors


@st.composite
def split_stream(draw: st.DrawFn) -> list[str]:
    """An OpenAI-style chunk stream whose content deltas spell a secret in pieces."""
    secret = draw(SECRET_VALUES)
    text = draw(st.text(max_size=10)) + " " + secret + " " + draw(st.text(max_size=10))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    lines = []
    for piece in pieces:
        chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"content": piece}}]}
        lines += ["data: " + json.dumps(chunk), ""]
    return [*lines, "data: [DONE]", ""]


@BOUNDED
@given(st.lists(DOC, max_size=5))
def test_generated_frames_redact_as_the_full_path_does(docs: list[object]) -> None:
    lines = []
    for doc in docs:
        lines += ["data: " + json.dumps(doc), ""]
    fast, full, fast_errors, full_errors = _both(lines)
    assert fast == full
    assert fast_errors == full_errors


@BOUNDED
@given(split_stream())
def test_split_secrets_take_the_full_path_and_never_survive(lines: list[str]) -> None:
    fast, full, _, _ = _both(lines)
    assert fast == full
    assert not find_secrets(fast, SECRETS)


def test_clean_stream_is_judged_clean_and_dumped_without_a_copy() -> None:
    docs = [
        {"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": f"w{i} "}}]}
        for i in range(20)
    ]
    assert clean_frames(docs, R) == [True] * 20
    # a secret alone in its channel (choice 1): only its own frame needs the redacted copy
    docs.append({"choices": [{"index": 1, "delta": {"content": "sk-ant-api03-" + "A" * 93}}]})
    flags = clean_frames(docs, R)
    assert flags is not None and flags[-1] is False and all(flags[:-1])


def test_a_secret_spelled_across_frames_is_not_judged_clean() -> None:
    secret = next(s.value for s in SECRETS if s.value.startswith("sk-ant-"))
    docs = [{"delta": {"text": secret[i : i + 5]}, "index": 0} for i in range(0, len(secret), 5)]
    assert clean_frames(docs, R) is None


def test_deep_frames_fall_back_to_the_full_path() -> None:
    doc: object = "x"
    for _ in range(200):
        doc = {"a": doc}
    assert clean_frames([doc], R) is None
    line = "data: " + json.dumps(doc)
    fast, full, _, _ = _both([line])
    assert fast == full


def test_the_taps_parsed_documents_are_shared_and_left_unchanged() -> None:
    secret = next(s.value for s in SECRETS if s.value.startswith("sk-ant-"))
    chunks = [{"choices": [{"index": 0, "delta": {"content": secret[i : i + 4]}}]}
              for i in range(0, len(secret), 4)]  # fmt: skip
    chunks.append({"choices": [{"index": 0, "delta": {"content": "plain " + secret}}]})
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    tap = tap_body(
        body, content_type="text/event-stream", content_encoding=None, role="response",
        max_body=1 << 20,
    )  # fmt: skip
    assert tap.docs is not None and len(tap.docs) == len(chunks)
    before = copy.deepcopy(tap.docs)
    errors: list[str] = []
    out = redact_frames(R, (tap.text or "").split("\n"), errors, "response", tap.docs)
    assert tap.docs == before
    assert secret not in out and not find_secrets(out, SECRETS)
    assert out == _redact_frames_full(
        R, (tap.text or "").split("\n"), _heads((tap.text or "").split("\n")), [], "response"
    )


def test_docs_kept_only_within_the_kept_text() -> None:
    body = b"".join(b'data: {"n": %d, "pad": "%s"}\n\n' % (i, b"x" * 50) for i in range(100))
    tap = tap_body(
        body, content_type="text/event-stream", content_encoding=None, role="response",
        max_body=1000,
    )  # fmt: skip
    assert tap.docs is not None
    assert sum(len(k) for k in tap.docs) <= 1000
    assert 0 < len(tap.docs) < 100


@BOUNDED
@given(HALVES, st.booleans())
def test_a_key_split_over_two_fields_is_found_by_both_paths(halves: list[str], obj: bool) -> None:
    doc: object = {"a": halves[0], "b": halves[1]} if obj else halves
    assert not unchanged(doc, R)
    out = json.dumps(R.redact_json(doc))
    assert not find_secrets(out.replace('", "', ""), SECRETS), out[:80]  # not even rejoined
    fast, full, _, _ = _both(["data: " + json.dumps(doc)])
    assert fast == full


@BOUNDED
@given(DOC)
def test_whole_documents_judged_unchanged_redact_to_themselves(doc: object) -> None:
    if unchanged(doc, R):
        assert R.redact_json(doc) == doc


@BOUNDED
@given(st.dictionaries(KEYS, DOC, max_size=5))
def test_a_whole_json_body_stores_what_a_fresh_parse_would(doc: dict) -> None:
    body = json.dumps(doc).encode()
    tap = tap_body(
        body, content_type="application/json", content_encoding=None, role="request",
        max_body=1 << 20,
    )  # fmt: skip
    assert tap.document is not None and tap.document[0] == doc
    expected = json.dumps(
        R.redact_json(json.loads(body)), ensure_ascii=False, separators=(",", ":")
    )
    assert redact_body(R, tap, []) == expected
    assert tap.document[0] == doc  # read, never changed
    assert pickle.loads(pickle.dumps(tap)).document is None
