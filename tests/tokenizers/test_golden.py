"""Golden tests over the signature files on disk: regenerating from the packages gives the same
records. Adding a file under fingerprints/tokenizers/ adds a test (it must be in the manifest)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from provenance.tokenizers import load_tokenizer
from provenance.tokenizers.manifest import load_manifest
from provenance.tokenizers.probes import load_probe_set
from provenance.tokenizers.signatures import build_signature, read_signature

SIG_DIR = Path(__file__).resolve().parents[2] / "fingerprints" / "tokenizers"
FILES = sorted(SIG_DIR.glob("*.jsonl"))
REQUIRED = {
    "qwen2",
    "qwen3.5",
    "deepseek-v4",
    "mistral-tekken",
    "mistral-spm",
    "cl100k",
    "o200k",
    "o200k-harmony",
    "llama3",
    "jurassic2",
    "kimi-k2",
    "glm4",
    "deepseek-v3",
    "llama4",
}


def test_required_ids_are_shipped():
    assert {p.stem for p in FILES} >= REQUIRED


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_signature_regenerates_identically(path):
    entries = {e.id: e for e in load_manifest()}
    assert path.stem in entries, f"{path.name} is not in manifest.json"
    entry = entries[path.stem]
    shipped = read_signature(path)
    base = read_signature(SIG_DIR / f"{entry.base}.jsonl") if entry.base else None
    rebuilt = build_signature(
        entry.id,
        [load_tokenizer(s) for s in entry.sources],
        load_probe_set(),
        families=list(entry.families),
        base=base,
        notes=entry.notes,
    )
    for probe, count in rebuilt.counts.items():
        assert shipped.counts[probe] == count, probe
    assert rebuilt.lines() == path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_family_has_a_source(path):
    sig = read_signature(path)
    assert sig.families
    for fam in sig.families:
        assert fam["family"] == fam["family"].lower() and fam["source"].strip()
    if "llama-4" in sig.family_keys:  # Llama 4's vocabulary is not Llama 3's
        assert sig.id == "llama4"


def test_probe_set_separates_every_pair_of_ids():
    """Ids differ on two of the first three probes as ordinary text, unless one names the other as
    its base; then they count every text probe alike and differ on the special spellings."""
    sigs = [read_signature(p) for p in FILES]
    probe_set = load_probe_set()
    probes = [p.id for p in probe_set.probes]
    text_probes = [p.id for p in probe_set.probes[:3] if p.kind != "specials"]
    for a, b in itertools.combinations(sigs, 2):

        def delta(sig, probe):
            return sig.counts[probe].tokens - sig.counts["baseline"].tokens

        text_gaps = [abs(delta(a, p) - delta(b, p)) for p in probes[:3]]
        if a.base == b.id or b.base == a.id:
            assert max(abs(delta(a, p) - delta(b, p)) for p in text_probes) == 0
            assert any(
                set(a.counts[p].tokens_parsed) != set(b.counts[p].tokens_parsed)
                or a.counts[p].tokens != b.counts[p].tokens
                for p in probes[:3]
            ), (a.id, b.id)
        else:
            assert sum(g > 0 for g in text_gaps) >= 2, (a.id, b.id, text_gaps)
