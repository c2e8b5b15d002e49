"""A fingerprint run counts for the product in its ``product`` column, whatever else it names.

A run through a replay or guided channel is saved as the CLI saves it
(:func:`provenance.fingerprint.tokenizer.cli.save_run`): without ``--product`` its product is the
one of the template exchange (replay) or of the matched exchanges (guided), and the run then
counts for that product, not for the ``endpoint:<host>`` of its target. With ``--product`` the
auditor's product wins, even though the document still names the template's.
"""

from __future__ import annotations

import pytest

from provenance.fingerprint.tokenizer.cli import save_run
from provenance.store import open_store
from provenance.verdicts.collect import collect_evidence, verdicts
from tests.reporting.channel_seed import guided_doc, replay_doc


def _named_kimi(doc: dict) -> dict:
    """``doc`` as if its probes had matched the Kimi tokenizer."""
    return {**doc, "verdict": "kimi-k2", "families": ["kimi-k2", "kimi-k2.5"]}


@pytest.mark.parametrize("make", [replay_doc, guided_doc], ids=["replay", "guided"])
def test_a_channel_run_counts_for_the_product_of_its_exchanges(sqlite_url: str, make) -> None:
    with open_store(sqlite_url, create=True) as store:
        doc, _ = make(store, "cursor")
    assert doc["channel"]["product"] == "cursor" and doc["product"] == "cursor"
    run_id = save_run(sqlite_url, "tokenizer", _named_kimi(doc), product=None)
    with open_store(sqlite_url) as store:
        evidence = collect_evidence(store)
        found = {v.product: v for v in verdicts(store)}
    assert set(evidence) == {"cursor"}  # no endpoint:api.acme.example pseudo-product
    assert [f.run_id for f in evidence["cursor"].fingerprints] == [run_id]
    assert "tokenizer" in found["cursor"].evidence_kinds
    assert any(f"run {run_id}" in r and "kimi-k2" in r for r in found["cursor"].reasons)


def test_the_auditors_product_wins_over_the_template_exchanges(sqlite_url: str) -> None:
    with open_store(sqlite_url, create=True) as store:
        doc, template = replay_doc(store, "cursor")
    run_id = save_run(sqlite_url, "tokenizer", _named_kimi(doc), product="cursor-nightly")
    with open_store(sqlite_url) as store:
        evidence = collect_evidence(store)
        narrowed = collect_evidence(store, "cursor")
    assert [f.run_id for f in evidence["cursor-nightly"].fingerprints] == [run_id]
    assert evidence["cursor"].fingerprints == [] and evidence["cursor"].exchanges > 0
    assert narrowed["cursor"].fingerprints == []
    assert doc["channel"]["template_exchange"] == template
