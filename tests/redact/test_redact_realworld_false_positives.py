"""False redactions on real traffic: how many values of the real-world corpus that are *not*
planted secrets the redactor replaces (issue 25: the value rule must not eat model ids, request
ids, content hashes or media).

Every string value of the 87 recorded exchanges in ``../shared/data/realworld/realworld.har`` is
judged where the capture judges it: each header value (``redact_headers``), each query parameter
(``redact_query`` over the whole query), each string in each JSON document of the request and
response bodies and WebSocket messages (``redact_json`` over the whole document; SSE ``data:``
lines and NDJSON lines are documents). Values holding a planted fake key (``fake_secrets.tsv``)
are secrets and left out; a redacted value among the rest is a false redaction.

The figures are printed (``pytest -s``) and asserted against a ceiling: see
:data:`MAX_FALSE_REDACTIONS`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit

import pytest

from provenance.redact import Redactor
from provenance.redact.values import is_opaque

from .conftest import KEY

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "realworld"

# Measured (docs/security.md): 1 of 23,071 values, ``azureml-model-session:
# v20250225-1-161802030``, hidden by its ``session`` name (as before issue 25, whose code hid 6:
# that one, ``Access-Control-Allow-Credentials: true`` twice, three ``Sec-WebSocket-Key``
# nonces). The ceiling leaves room for a few such names; a change that lets the value rule judge
# ids, digests or media shows up as hundreds (1,001 more values match the rule without the
# evidence names: 956 ids, 41 base64 audio chunks, 3 WebSocket digests, a thinking signature).
MAX_FALSE_REDACTIONS = 5


@dataclass
class Tally:
    """Values judged and values redacted, per place (``header``, ``query``, ``json``)."""

    values: Counter[str] = field(default_factory=Counter)
    redacted: Counter[str] = field(default_factory=Counter)
    hits: list[tuple[str, str, str]] = field(default_factory=list)  # (place, name, value)

    def judge(self, place: str, name: str, before: str, after: object) -> None:
        self.values[place] += 1
        if after != before:
            self.redacted[place] += 1
            self.hits.append((place, name, before))

    def report(self) -> str:
        total, red = sum(self.values.values()), sum(self.redacted.values())
        lines = [f"false redactions: {red} of {total} non-secret values ({red / total:.4%})"]
        for place in sorted(self.values):
            lines.append(f"  {place}: {self.redacted[place]} of {self.values[place]}")
        for place, name, value in self.hits:
            lines.append(f"  - {place} {name}: {value[:60]!r} ({len(value)} chars)")
        return "\n".join(lines)


def _require_corpus() -> None:
    if (CORPUS / "realworld.har").is_file():
        return
    if os.environ.get("PROVENANCE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"real-world corpus missing: {CORPUS}")
    pytest.skip(f"real-world corpus not present at {CORPUS}")


def _needles() -> list[str]:
    rows = (CORPUS / "fake_secrets.tsv").read_text(encoding="utf-8").splitlines()
    return [r.split("\t")[2] for r in rows if r.strip() and not r.startswith("#")]


def _documents(text: str) -> Iterator[object]:
    """The JSON documents of a body: the whole text, else its JSON lines (SSE ``data:``)."""
    try:
        yield json.loads(text)
        return
    except ValueError:
        pass
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith("data:"):
            line = line[5:].strip()
        if line[:1] in ("{", "["):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def _strings(before: object, after: object, name: str) -> Iterator[tuple[str, str, object]]:
    """``(name, value, redacted value)`` for every string of a document and its redaction."""
    if isinstance(before, dict) and isinstance(after, dict):
        for (key, value), redacted in zip(before.items(), after.values(), strict=True):
            yield from _strings(value, redacted, str(key))
    elif isinstance(before, list) and isinstance(after, list):
        for value, redacted in zip(before, after, strict=True):
            yield from _strings(value, redacted, name)
    elif isinstance(before, str):
        yield name, before, after


def measure(redactor: Redactor) -> Tally:
    """Judge every value of the corpus (module docstring)."""
    needles = _needles()

    def planted(value: str) -> bool:
        return any(n in value for n in needles)

    tally = Tally()
    har = json.loads((CORPUS / "realworld.har").read_text(encoding="utf-8"))
    for entry in har["log"]["entries"]:
        for side in ("request", "response"):
            for header in entry[side]["headers"]:
                name, value = header["name"], header["value"]
                if not planted(value):
                    [(_, out)] = redactor.redact_headers([(name, value)])
                    tally.judge("header", name, value, out)
        query = urlsplit(entry["request"]["url"]).query
        if query:
            for part, out in zip(
                query.split("&"), redactor.redact_query(query).split("&"), strict=True
            ):
                if not planted(unquote_plus(part)):
                    tally.judge("query", part.partition("=")[0], part, out)
        bodies = [entry["request"].get("postData", {}), entry["response"].get("content", {})]
        texts = [b["text"] for b in bodies if b.get("text") and not b.get("encoding")]
        texts += [m["data"] for m in entry.get("_webSocketMessages", []) if m.get("opcode") == 1]
        for text in texts:
            for doc in _documents(text):
                for name, value, out in _strings(doc, redactor.redact_json(doc), "$"):
                    if not planted(value):
                        tally.judge("json", name, value, out)
    return tally


def test_false_redaction_rate_on_the_real_corpus() -> None:
    _require_corpus()
    tally = measure(Redactor(KEY))
    print(tally.report())
    assert sum(tally.values.values()) > 20_000, "the corpus must be read in full"
    assert sum(tally.redacted.values()) <= MAX_FALSE_REDACTIONS, tally.report()
    # what must never be eaten: model names, ids, digests, media
    eaten = [h for h in tally.hits if h[1] in ("model", "id", "modelVersion", "data", "etag")]
    assert not eaten, tally.report()


def test_no_real_model_id_is_an_opaque_token() -> None:
    _require_corpus()
    lines = (CORPUS / "model_ids.tsv").read_text(encoding="utf-8").splitlines()
    ids = [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]
    assert len(ids) >= 600
    assert [i for i in ids if is_opaque(i)] == []
