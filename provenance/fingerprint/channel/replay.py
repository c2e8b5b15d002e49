"""The replay channel: a stored exchange of the product, re-sent with the probe as its prompt.

Each :meth:`ReplayChannel.send` builds the request from the template
(:mod:`.template`), waits until ``min_interval`` seconds have passed since the previous request
(the product's rate limits and terms are the auditor's to respect), sends it, and reads the raw
answer with the capture's own extraction (:func:`provenance.extract.extract`): the exchange is
stored like any captured one (origin ``probe``, the template's product), with every value the
auditor re-supplied replaced by a redaction token first. The reply is then read from that
stored form (:mod:`.reading`), so replay and guided probing read replies alike.

No retries: a 429 or 5xx is a reply with an error, and the stage decides. Re-supplied values
never appear in a message, a stored row or the run document.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from provenance.fingerprint.channel import Budget, ChannelError, Probe, Reply
from provenance.fingerprint.channel.reading import ReplyPaths, StoredReply, read_reply
from provenance.fingerprint.channel.template import Request, Secrets, Template
from provenance.records import ExchangeRecord, Origin, RawExchange

STREAMED_TYPES = ("text/event-stream", "application/connect+", "application/grpc",
                  "application/vnd.amazon.eventstream", "application/x-ndjson")  # fmt: skip


class ReplayChannel:
    """Probes through a stored exchange (see the module docstring)."""

    kind = "replay"

    def __init__(
        self,
        template: Template,
        store: Any,
        *,
        secrets: Secrets | None = None,
        paths: ReplyPaths | None = None,
        min_interval: float = 1.0,
        timeout: float = 120.0,
        max_requests: int | None = None,
        redactor: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.template = template
        self.store = store
        self.secrets = secrets or Secrets()
        self.paths = paths or ReplyPaths()
        self.min_interval = max(0.0, min_interval)
        self.timeout = timeout
        self.budget = Budget(max_requests)
        self._redactor = redactor
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None
        self._client: Any = None
        self.store_failures = 0

    # ------------------------------------------------------------------ Channel

    @property
    def requests_sent(self) -> int:
        return self.budget.sent

    def set_budget(self, max_requests: int | None) -> None:
        self.budget.max_requests = max_requests

    def describe(self) -> dict[str, Any]:
        ex = self.template.exchange
        loc = self.template.location
        return {
            "kind": self.kind,
            "target": ex.target,
            "model": ex.model,
            "api": ex.api or self.template.framing,
            "product": ex.product,
            "template_exchange": ex.id,
            "exchanges": list(self.budget.exchanges),
            "prompt_at": loc.shown() if loc else None,
            "format": self.template.fmt.name if self.template.fmt else None,
            "history_trimmed": self.template.trimmed,
            "min_interval": self.min_interval,
            "store_failures": self.store_failures,
        }

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ReplayChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, probe: Probe) -> Reply:
        request = self.template.build(
            probe.text, self.secrets, max_tokens=probe.max_tokens, temperature=probe.temperature
        )
        self.budget.take()
        self._pace()
        raw = self._exchange(request)
        record = self._extract(raw)
        exchange_id = self._save(record)
        if exchange_id is not None:
            self.budget.exchanges.append(exchange_id)
        stored = StoredReply(
            exchange_id=exchange_id,
            status=record.status,
            content_type=record.content_type,
            response_body=record.response_body,
            input_tokens=record.usage.input_tokens,
            output_tokens=record.usage.output_tokens,
            model=next((o.model_id for o in record.observations if o.role == "response"), None),
            streamed=record.streamed,
            where=self.template.exchange.where,
        )
        return read_reply(stored, self.template.fmt, self.paths)

    # ------------------------------------------------------------------ steps

    def _pace(self) -> None:
        now = self._clock()
        if self._last is not None:
            wait = self.min_interval - (now - self._last)
            if wait > 0:
                self._sleep(wait)
        self._last = self._clock()

    def _exchange(self, request: Request) -> RawExchange:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        where = self.template.exchange.where
        try:
            with self._client.stream(
                request.method, request.url, headers=request.headers, content=request.body
            ) as resp:
                ttfb = (time.perf_counter() - t0) * 1000
                chunks = list(resp.iter_raw())
                status = resp.status_code
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.headers.raw]
                version = resp.http_version
        except httpx.HTTPError as exc:
            raise ChannelError(
                f"cannot reach {where}: {type(exc).__name__}; check that the product's host is "
                "reachable from here"
            ) from None
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        return RawExchange(
            started_at=started,
            method=request.method,
            url=request.url,
            request_headers=list(request.headers),
            request_body=request.body,
            status=status,
            response_headers=headers,
            response_body=b"".join(chunks),
            latency_ms=(time.perf_counter() - t0) * 1000,
            ttfb_ms=ttfb,
            streamed=content_type.lower().startswith(STREAMED_TYPES),
            http_version=version,
            origin=Origin.PROBE,
            product=self.template.exchange.product,
        )

    def _extract(self, raw: RawExchange) -> ExchangeRecord:
        from provenance.extract import extract
        from provenance.redact import Redactor

        if self._redactor is None:
            self._redactor = Redactor.from_data_dir()
        record = extract(raw, redactor=self._redactor)
        return scrub(record, self.secrets.values(), self._redactor)

    def _save(self, record: ExchangeRecord) -> int | None:
        try:
            return self.store.write_exchanges([record])[0]
        except Exception:
            self.store_failures += 1
            return None


def scrub(record: ExchangeRecord, values: list[str], redactor: Any) -> ExchangeRecord:
    """``record`` with every re-supplied value (and its ``Bearer`` remainder) replaced by a
    redaction token, wherever extraction left it."""
    needles: list[str] = []
    for value in values:
        needles.append(value)
        head, _, rest = value.partition(" ")
        if rest and head.lower() in ("bearer", "basic", "token"):
            needles.append(rest)
    needles = sorted({n for n in needles if len(n) >= 4}, key=len, reverse=True)
    if not needles:
        return record

    def clean(text: str | None) -> str | None:
        if not text:
            return text
        for needle in needles:
            if needle in text:
                text = text.replace(needle, redactor.redact_secret(needle, "resupplied"))
        return text

    record.path = clean(record.path) or record.path
    record.request_headers = [(k, clean(v) or v) for k, v in record.request_headers]
    record.response_headers = [(k, clean(v) or v) for k, v in record.response_headers]
    record.request_body = clean(record.request_body)
    record.response_body = clean(record.response_body)
    record.error = clean(record.error)
    return record
