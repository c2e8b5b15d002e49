"""The guided channel: the auditor sends each probe through the product's own client.

For products replay cannot reach (signed requests, device attestation, a desktop client), the
auditor runs ``provenance capture`` on the same store and types each probe the command prints
into the product. :meth:`GuidedChannel.send` prints the probe (through ``announce``), then polls
the store until an exchange stored *after the run began* carries the probe's **marker** in its
request body, and reads that exchange's reply as replay does (:mod:`.reading`).

The marker is ``[N N N N N K] `` in front of the probe: ``NNNNN`` a random run number, ``K`` the
probe's index (0–9), the digits spaced. Every marker of a run has the same shape and differs in
one digit only, and a space-led digit is one token everywhere, so its token count is the same for
every probe on every tokenizer we ship signatures for (tests check all of them; unspaced digits
are not: GLM-4 merges digit runs unevenly), and differences between probes are untouched.
A request that carries an *earlier* probe's marker too is a conversation that went on: that
reply is refused with a reason (each probe needs a new chat), never counted.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from provenance.fingerprint.channel import Budget, ChannelError, Probe, Reply
from provenance.fingerprint.channel.formats import format_for
from provenance.fingerprint.channel.reading import ReplyPaths, StoredReply, read_reply

MAX_PROBES = 10


def marker(run: int, index: int) -> str:
    """The marker of probe ``index`` (0–9) of run ``run`` (10000–99999)."""
    if not 0 <= index < MAX_PROBES:
        raise ValueError("a guided run sends at most 10 probes")
    return "[" + " ".join(f"{run:05d}{index}") + "]"


def marked(run: int, index: int, text: str) -> str:
    """What the auditor sends for probe ``index``: the marker, a space, the probe text."""
    return f"{marker(run, index)} {text}"


class GuidedChannel:
    """Probes typed by the auditor into the product (see the module docstring)."""

    kind = "guided"

    def __init__(
        self,
        store: Any,
        *,
        announce: Callable[[str, str], None],
        wait: float = 300.0,
        paths: ReplyPaths | None = None,
        poll: float = 0.5,
        max_requests: int | None = None,
        run: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.announce = announce
        self.wait = wait
        self.paths = paths or ReplyPaths()
        self.poll = poll
        self.budget = Budget(max_requests)
        self.run = run if run is not None else random.SystemRandom().randint(10000, 99999)
        self._sleep = sleep
        self._clock = clock
        self._markers: list[str] = []
        self._after = _last_id(store)
        self.products: list[str] = []
        self.models: list[str] = []
        self.api: str | None = None
        self.target: str | None = None

    @property
    def requests_sent(self) -> int:
        return self.budget.sent

    def set_budget(self, max_requests: int | None) -> None:
        if max_requests is not None and max_requests > MAX_PROBES:
            max_requests = MAX_PROBES
        self.budget.max_requests = max_requests

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target or "the product's own client",
            "model": self.models[0] if self.models else None,
            "api": self.api,
            "product": self.products[0] if self.products else None,
            "exchanges": list(self.budget.exchanges),
            "run": self.run,
        }

    def close(self) -> None:
        return None

    def send(self, probe: Probe) -> Reply:
        index = len(self._markers)
        if index >= MAX_PROBES:
            raise ChannelError("a guided run sends at most 10 probes")
        self.budget.take()
        mark = marker(self.run, index)
        self._markers.append(mark)
        self.announce(probe.id or f"probe {index}", marked(self.run, index, probe.text))
        row = self._await(mark, probe.id or f"probe {index}")
        self.budget.exchanges.append(row["id"])
        self._after = max(self._after, row["id"])
        for key, seen in (("product", self.products), ("model", self.models)):
            if row[key] and row[key] not in seen:
                seen.append(row[key])
        self.api = self.api or row["api"]
        self.target = self.target or row["where"]
        stored = StoredReply(
            exchange_id=row["id"],
            status=row["status"],
            content_type=row["content_type"],
            response_body=row["response_body"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            model=row["response_model"],
            streamed=row["streamed"],
            where=row["where"],
        )
        earlier = [m for m in self._markers[:-1] if m in (row["request_body"] or "")]
        if earlier:
            return Reply(
                row["status"],
                exchange_id=row["id"],
                error=f"exchange {row['id']} also carries an earlier probe ({earlier[0]}): the "
                "conversation went on; send every probe in a new chat",
            )
        return read_reply(stored, format_for(row["api"], _rpc(row["path"])), self.paths)

    def _await(self, mark: str, label: str) -> dict[str, Any]:
        deadline = self._clock() + self.wait
        while True:
            row = _find(self.store, mark, self._after)
            if row is not None:
                return row
            if self._clock() >= deadline:
                raise ChannelError(
                    f"{label} did not arrive within {self.wait:g} s: send it through the product "
                    "while `provenance capture` records into the same --db (raise --wait if the "
                    "product is slow)"
                )
            self._sleep(self.poll)


def _rpc(path: str | None) -> str | None:
    from provenance.extract.rpcmaps import rpc_path

    return rpc_path(path)


def _last_id(store: Any) -> int:
    from sqlalchemy import func, select

    from provenance.store.models import ExchangeRow

    with store.session() as s:
        return int(s.scalar(select(func.max(ExchangeRow.id))) or 0)


def _find(store: Any, mark: str, after: int) -> dict[str, Any] | None:
    """The first exchange stored after id ``after`` whose request body holds ``mark``."""
    from sqlalchemy import select

    from provenance.store.models import ExchangeRow, ObservationRow, ProductRow

    with store.session() as s:
        row = s.execute(
            select(ExchangeRow, ProductRow.name)
            .outerjoin(ProductRow, ProductRow.id == ExchangeRow.product_id)
            .where(ExchangeRow.id > after, ExchangeRow.request_body.contains(mark, autoescape=True))
            .order_by(ExchangeRow.id)
            .limit(1)
        ).first()
        if row is None:
            return None
        ex, product = row
        ids = s.execute(
            select(ObservationRow.model_id, ObservationRow.role)
            .where(ObservationRow.exchange_id == ex.id)
            .order_by(ObservationRow.id)
        ).all()
    return {
        "id": ex.id,
        "status": ex.status,
        "content_type": ex.content_type,
        "request_body": ex.request_body,
        "response_body": ex.response_body,
        "input_tokens": ex.input_tokens,
        "output_tokens": ex.output_tokens,
        "streamed": bool(ex.streamed),
        "api": ex.api,
        "path": ex.path,
        "where": f"{ex.host}{(ex.path or '').split('?', 1)[0]}",
        "product": product,
        "model": next((m for m, role in ids if role == "request"), None),
        "response_model": next((m for m, role in ids if role == "response"), None),
    }
