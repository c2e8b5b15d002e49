"""The hostile-secrets corpus through the real extraction path: no placement stores its secret.

``tests/redact/hostile_placements.py`` rebuilds the red team's 104 placements (issue 25) with
our own values; the 21 marked ``broken`` were stored in clear before the value rule, the
name/value pairs, percent-decoded names, path parameters, base64-wrapped values and split values
(each of these tests failed on the code before them).
"""

from __future__ import annotations

import json
import re

import pytest

from provenance.extract import ExtractOptions, extract
from provenance.redact import Redactor

from .hostile_placements import (
    BASE_URL,
    PLACEMENTS,
    SESSION,
    SHORT_BEARER,
    Placement,
    _exchange,
    leaks,
    stored,
)

BROKEN = {
    "header:Authentication", "header:X-Sessionid", "header:X-Creds", "header:X-Access",
    "header:Api-Keys", "header:X-Signature", "header:X-Hub-Signature-256", "header:X-Api-Kee",
    "query:session", "query:sessionid", "query:creds", "query:k", "query:hash", "query:license",
    "query:apikey2", "json:key-value-pair", "json:name-value-pair", "form:api%5Fkey",
    "path:jsessionid", "json:base64-key", "json:split-over-two-fields",
}  # fmt: skip


def test_the_corpus_has_the_red_teams_shape() -> None:
    assert len(PLACEMENTS) == 104
    assert len({p.id for p in PLACEMENTS}) == 104
    assert {p.id for p in PLACEMENTS if p.broken} == BROKEN
    for p in PLACEMENTS:
        # the checker sees every needle in the exchange as sent (a streamed echo: once joined)
        response = (p.raw.response_body or b"").decode()
        if p.id == "sse:split-echo":
            response = "".join(re.findall(r'"content": "([^"]*)"', response))
        sent = json.dumps([p.raw.url, p.raw.request_headers, p.raw.response_headers,
                           (p.raw.request_body or b"").decode(), response])  # fmt: skip
        assert len(leaks(p, sent)) == len(p.needles), p.id


@pytest.mark.parametrize("placement", PLACEMENTS, ids=[p.id for p in PLACEMENTS])
def test_no_placement_stores_its_secret(redactor: Redactor, placement: Placement) -> None:
    record = extract(placement.raw, redactor=redactor, options=ExtractOptions())
    found = leaks(placement, stored(record))
    assert not found, found
    assert record.secret_hashes, "a redacted credential is listed among the exchange's hashes"


def test_smallest_reproduction(redactor: Redactor) -> None:
    """``curl -H 'Authentication: Bearer …' -d '{}' 'http://…/v1/x?sessionid=…'``."""
    raw = _exchange(
        url=f"{BASE_URL.rsplit('/', 2)[0]}/x?sessionid={SESSION}",
        headers=[("Authentication", f"Bearer {SHORT_BEARER}")],
        body=b"{}",
        content_type=("content-type", "application/x-www-form-urlencoded"),
    )
    record = extract(raw, redactor=redactor, options=ExtractOptions())
    blob = stored(record)
    assert SESSION not in blob and SHORT_BEARER not in blob
    assert re.search(r"\?sessionid=\[REDACTED:[a-z0-9-]+:[0-9a-f]{12}\]", record.path)
    [auth] = [v for n, v in record.request_headers if n == "Authentication"]
    assert re.fullmatch(r"Bearer \[REDACTED:[a-z0-9-]+:[0-9a-f]{12}\]", auth)
    assert record.request_body == "{}"
