"""Properties over arbitrary text: the catalog never raises and always answers the same."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.catalog import (
    looks_like_model_id,
    product_for_headers,
    provider_for_host,
    resolve,
)

BOUNDED = settings(max_examples=150, deadline=None)
ID_ALPHABET = st.sampled_from(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:/@%"
)
id_like = st.text(ID_ALPHABET, max_size=80)
known_prefix = st.sampled_from(
    ["accounts/a/models/", "us.anthropic.", "publishers/google/models/", "models/", "ft:", "", "x/"]
)


@BOUNDED
@given(st.one_of(st.text(max_size=300), id_like, st.builds(str.__add__, known_prefix, id_like)))
def test_resolve_never_raises_and_is_deterministic(text: str) -> None:
    first = resolve(text)
    assert resolve(text) == first
    assert first.model_id == text
    doc = first.to_json()
    assert json.loads(json.dumps(doc)) == doc
    assert (first.family is None) == (first.vendor is None)
    if first.family is None:
        assert first.tags == ()
    assert all(isinstance(t, str) and t for t in first.tags)
    assert isinstance(looks_like_model_id(text), bool)


@BOUNDED
@given(st.text(max_size=120))
def test_host_lookup_never_raises(text: str) -> None:
    assert provider_for_host(text) in (None, provider_for_host(text))


@BOUNDED
@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=60)), max_size=8))
def test_product_attribution_never_raises(headers: list[tuple[str, str]]) -> None:
    assert product_for_headers(headers) == product_for_headers(list(headers))
