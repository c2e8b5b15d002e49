"""Property tests: never raises, idempotent, and no planted secret survives."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.redact import Redactor
from tests.secrets_corpus import SECRETS, SecretSample, find_secrets

from .conftest import KEY

BOUNDED = settings(max_examples=60, deadline=None)
R = Redactor(KEY)  # hypothesis and function-scoped fixtures do not mix; the redactor is stateless

DELIMITERS = st.sampled_from(
    [" ", "\n", "\t", ", ", "; ", '"', "'", "(", ")", "<", ">", " | ", "\x00"]
)
FRAGMENT = st.text(max_size=30)
json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON = st.recursive(
    json_leaves,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4)
    ),
    max_leaves=25,
)


def planted(sample: SecretSample) -> str:
    return f"api_key={sample.value}" if sample.context_only else sample.value


@st.composite
def text_with_secrets(draw: st.DrawFn) -> tuple[str, list[SecretSample]]:
    samples = draw(st.lists(st.sampled_from(SECRETS), min_size=1, max_size=4))
    parts: list[str] = [draw(FRAGMENT)]
    for s in samples:
        parts += [draw(DELIMITERS), planted(s), draw(DELIMITERS), draw(FRAGMENT)]
    return "".join(parts), samples


@BOUNDED
@given(st.text())
def test_text_never_raises_and_is_idempotent(text: str) -> None:
    once = R.redact_text(text)
    assert R.redact_text(once) == once


@BOUNDED
@given(text_with_secrets())
def test_planted_text_secrets_never_survive(case: tuple[str, list[SecretSample]]) -> None:
    text, samples = case
    once = R.redact_text(text)
    assert not find_secrets(once, samples)
    assert R.redact_text(once) == once


@BOUNDED
@given(JSON)
def test_json_never_raises_and_is_idempotent(value: object) -> None:
    once = R.redact_json(value)
    assert R.redact_json(once) == once


@BOUNDED
@given(JSON, st.lists(st.sampled_from(SECRETS), min_size=1, max_size=3))
def test_planted_json_secrets_never_survive(value: object, samples: list[SecretSample]) -> None:
    doc = {"data": value, "items": []}
    for s in samples:
        if s.context_only:
            doc["items"].append({"client_secret": s.value})  # type: ignore[union-attr]
        else:
            doc["items"].append([{"text": f"see {s.value}"}, s.value])  # type: ignore[union-attr]
    out = R.redact_json(doc)
    assert not find_secrets(json.dumps(out), samples)
    assert R.redact_json(out) == out


@BOUNDED
@given(st.text(), st.lists(st.tuples(st.text(max_size=20), st.text()), max_size=5))
def test_urls_and_headers_never_raise_and_are_idempotent(
    url: str, headers: list[tuple[str, str]]
) -> None:
    once = R.redact_url(url)
    assert R.redact_url(once) == once
    red = R.redact_headers(headers)
    assert R.redact_headers(red) == red
    assert [n for n, _ in red] == [n for n, _ in headers]


@BOUNDED
@given(st.sampled_from(SECRETS), st.sampled_from(["key", "token", "q", "api_key", "note"]))
def test_url_secrets_never_survive(sample: SecretSample, name: str) -> None:
    from urllib.parse import quote

    value = sample.value
    param = "api_key" if sample.context_only else name
    for encoded in (quote(value, safe=""), value):
        out = R.redact_url(f"https://h.test/p?{param}={encoded}&model=gpt-4o")
        assert not find_secrets(out, [sample]), out[:60]
        assert out.endswith("&model=gpt-4o")
