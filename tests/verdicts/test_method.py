"""The report's method section and docs/verdicts.md state the weights the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from provenance.verdicts.fuse import MIXED_SHARE, WEIGHTS
from provenance.verdicts.method import limits, method

DOC = Path(__file__).resolve().parents[2] / "docs" / "verdicts.md"


def test_the_method_names_every_weight_the_code_uses() -> None:
    text = " ".join(method())
    for weight in WEIGHTS.values():
        assert f": {weight:g}" in text
    assert f"{MIXED_SHARE:.0%}" in text
    assert limits() and all(line.endswith(".") for line in method() + limits())


def test_docs_verdicts_states_the_same_weights() -> None:
    doc = DOC.read_text(encoding="utf-8")
    rows = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^\| `([a-z-]+)`[^|]*\|[^|]*\|[^|]*\| (0\.\d)", doc, re.M)
    }
    assert rows["logits"] == WEIGHTS["logits"]
    assert rows["tokenizer"] == WEIGHTS["tokenizer"]
    assert rows["tokenizer-passive"] == WEIGHTS["tokenizer-passive"]
    assert rows["tokenizer-boundary"] == WEIGHTS["tokenizer-boundary"]
    assert rows["provider"] == WEIGHTS["provider"]
    assert f"{WEIGHTS['id-response']} × share" in doc and f"{WEIGHTS['id-request']} × share" in doc
