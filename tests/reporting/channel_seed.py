"""A store with fingerprint runs made through each probe channel, for reports and dashboards.

The run documents come from the real producer (:func:`run_active`) over scripted channels that
answer like the replay and guided channels do: the replay channel stores each probe it sends as
an exchange (origin ``probe``, the template's product) and names its template; the guided one
matches exchanges the capture stored. The rows are real exchange and ``fingerprint_runs`` rows.

- a **replay** of the product's template exchange whose replies carry no usage (decided from
  stream boundaries) and whose third request got an HTTP 429 (a partial run);
- a **guided** run whose matched exchanges report usage;
- an **API** run of an older version: no channel in its document, no product.

By default the product name and the template's path are hostile (HTML and Markdown links).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from provenance.fingerprint.channel import Budget, Probe, Reply
from provenance.fingerprint.tokenizer.active import run_active
from provenance.records import Origin
from provenance.store import FingerprintRunRecord, open_store
from provenance.tokenizers.probes import load_probe_set
from tests.reporting.seed import T0, record

HOSTILE_PRODUCT = "acme<script>alert(1)</script>[click](https://evil.example/p)"
HOSTILE_PATH = "/v1/<script>alert(2)</script>[win](https://evil.example/t)"
HOSTILE_FAILURE = (
    "HTTP 429 from api.acme.example: <script>alert(3)</script>[x](https://evil.example)"
)
HOST = "api.acme.example"
GUIDED_RUN = 43127


class ScriptedReplay:
    """A replay channel's behaviour over canned replies: each send stores a probe exchange."""

    kind = "replay"

    def __init__(self, store: Any, template: Any, template_id: int, replies: list[Reply]) -> None:
        self.store, self.template, self.template_id = store, template, template_id
        self.replies = replies
        self.budget = Budget(None)

    @property
    def requests_sent(self) -> int:
        return self.budget.sent

    def set_budget(self, max_requests: int | None) -> None:
        self.budget.max_requests = max_requests

    def send(self, probe: Probe) -> Reply:
        self.budget.take()
        at = self.template.started_at + timedelta(minutes=self.budget.sent)
        sent = dataclasses.replace(self.template, started_at=at, origin=Origin.PROBE)
        exchange_id = self.store.write_exchanges([sent])[0]
        self.budget.exchanges.append(exchange_id)
        reply = self.replies.pop(0)
        reply.exchange_id = exchange_id
        return reply

    def describe(self) -> dict[str, Any]:
        t = self.template
        return {
            "kind": self.kind,
            "target": f"{t.scheme}://{t.host}{t.path}",
            "model": None,
            "api": t.api,
            "product": t.product,
            "template_exchange": self.template_id,
            "exchanges": list(self.budget.exchanges),
            "prompt_at": "$.messages[-1].content",
            "format": "openai.chat",
            "history_trimmed": 2,
        }


class ScriptedGuided:
    """A guided channel's behaviour: each send matches the next captured exchange."""

    kind = "guided"

    def __init__(self, product: str, matched: list[int], replies: list[Reply]) -> None:
        self.product, self.matched, self.replies = product, list(matched), replies
        self.budget = Budget(None)

    @property
    def requests_sent(self) -> int:
        return self.budget.sent

    def set_budget(self, max_requests: int | None) -> None:
        self.budget.max_requests = max_requests

    def send(self, probe: Probe) -> Reply:
        self.budget.take()
        exchange_id = self.matched.pop(0)
        self.budget.exchanges.append(exchange_id)
        reply = self.replies.pop(0)
        reply.exchange_id = exchange_id
        return reply

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": f"{HOST}/v1/chat/completions",
            "model": None,
            "api": "openai.chat",
            "product": self.product,
            "exchanges": list(self.budget.exchanges),
            "run": GUIDED_RUN,
        }


def save(store: Any, doc: dict[str, Any], at_days: int, product: str | None = None) -> int:
    """``doc`` saved as the CLI saves it (the run's product: ``product``, else the document's)."""
    families = doc.get("families") or []
    return store.save_fingerprint_run(
        FingerprintRunRecord(
            kind="tokenizer",
            started_at=T0 + timedelta(days=at_days),
            target=str(doc.get("target") or ""),
            model=doc.get("model"),
            method=f"tokenizer-differential/{doc.get('method')}",
            requests=int(doc.get("requests") or 0),
            result=doc,
            product=product or doc.get("product"),
            verdict=doc.get("verdict"),
            family=families[0] if len(families) == 1 else None,
        )
    )


def replay_doc(store: Any, product: str, path: str = HOSTILE_PATH) -> tuple[dict[str, Any], int]:
    """A replay run's document over a new template exchange of ``product``, and its id."""
    template = dataclasses.replace(
        record(product, T0, asked="acme-large", served=None, host=HOST, provider=None), path=path
    )
    template_id = store.write_exchanges([template])[0]
    replies = [
        Reply(200, pieces=("He", "llo", " wor", "ld")),
        Reply(200, pieces=("A", "b", "c")),
        Reply(429, error=HOSTILE_FAILURE),
    ]
    channel = ScriptedReplay(store, template, template_id, replies)
    doc = run_active(channel, load_probe_set(None), [], max_requests=4, handles={})
    return doc, template_id


def guided_doc(store: Any, product: str) -> tuple[dict[str, Any], list[int]]:
    """A guided run's document over four newly captured exchanges of ``product``."""
    captured = [
        record(product, T0 + timedelta(hours=2, minutes=i), asked="acme-large", served=None,
               host=HOST, provider=None)
        for i in range(4)
    ]  # fmt: skip
    matched = store.write_exchanges(captured)
    replies = [Reply(200, prompt_tokens=n, pieces=("ok",)) for n in (3000, 3012, 3020, 3031)]
    channel = ScriptedGuided(product, matched, replies)
    return run_active(channel, load_probe_set(None), [], max_requests=4, handles={}), matched


OLD_API_DOC = {
    "schema": "provenance.tokenizer-fingerprint/1",
    "target": "https://api.example/v1",
    "model": "m-1",
    "method": "chat",
    "verdict": None,
    "reason": "no signature could be compared",
    "ranking": [],
    "requests": 3,
}


def seed_channel_runs(url: str, product: str = HOSTILE_PRODUCT) -> dict[str, Any]:
    """Create the store at ``url`` with the three runs; return their ids and the exchanges."""
    store = open_store(url, create=True)
    try:
        replay, template = replay_doc(store, product)
        guided, matched = guided_doc(store, product)
        ids = {
            "replay": save(store, replay, 1),
            "guided": save(store, guided, 2),
            "api": save(store, dict(OLD_API_DOC), 0),
        }
    finally:
        store.close()
    return {
        "runs": ids,
        "template": template,
        "probes": replay["channel"]["exchanges"],
        "matched": matched,
        "product": product,
    }
