"""Guided probes carry a marker; it must not move any probe's difference on any tokenizer."""

from __future__ import annotations

import random

import pytest

from provenance.fingerprint.channel.guided import marked, marker
from provenance.fingerprint.tokenizer.passive import candidate_handles
from provenance.tokenizers.probes import load_probe_set
from provenance.tokenizers.signatures import load_signatures, signature_dirs


@pytest.fixture(scope="module")
def handles():
    found = candidate_handles(load_signatures(signature_dirs()[:1]))
    assert len(found) >= 8, f"too few shipped tokenizers load here: {sorted(found)}"
    return found


def test_marker_shape():
    assert marker(12345, 0) == "[1 2 3 4 5 0]"
    assert marked(10000, 9, "x") == "[1 0 0 0 0 9] x"
    with pytest.raises(ValueError):
        marker(12345, 10)


def test_marker_cost_is_the_same_for_every_probe_and_run(handles):
    probes = list(load_probe_set().all())
    runs = random.Random(26).sample(range(10000, 100000), 8)
    for sig_id, handle in sorted(handles.items()):
        for specials in (False, True):
            for run in runs:  # within one run, every probe's marker costs the same
                costs = {
                    handle.count(marked(run, i, p.text), specials=specials)
                    - handle.count(p.text, specials=specials)
                    for i, p in enumerate(probes[:10])
                }
                assert len(costs) == 1, f"{sig_id} run {run}: marker costs {costs}"
