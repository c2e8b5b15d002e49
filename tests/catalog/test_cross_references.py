"""Data files that name catalog families must name families the catalog knows.

A tokenizer signature that claims a family key the catalog does not use would make a verdict see
a conflict between a literal id and a matching tokenizer (they would share no key).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provenance.catalog import family_vendors
from provenance.paths import fingerprints_dir

SIGNATURES = sorted((fingerprints_dir() / "tokenizers").glob("*.jsonl"))


@pytest.mark.parametrize("path", SIGNATURES, ids=[p.stem for p in SIGNATURES])
def test_signature_families_exist_in_the_catalog(path: Path) -> None:
    meta = json.loads(path.read_text().splitlines()[0])
    families = [f["family"] if isinstance(f, dict) else f for f in meta.get("families") or []]
    unknown = sorted(set(families) - set(family_vendors()))
    assert not unknown, f"{path.name} names families missing from models.json: {unknown}"


def test_there_are_signatures_to_check() -> None:
    assert len(SIGNATURES) >= 6
