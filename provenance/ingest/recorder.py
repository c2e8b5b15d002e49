"""``Recorder.record(job)``: extraction with the fallback to a bare row, counted once.

Every source calls this (live capture in either process, imports, pcaps), so a record looks the
same whichever way its exchange arrived. The recorder holds the redactor and the extraction
options; it is safe to share across threads (the redactor collects secret hashes per exchange).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from provenance.extract import ExtractOptions
from provenance.ingest.job import Job
from provenance.records import ExchangeRecord, RawExchange, Usage

logger = logging.getLogger("provenance.ingest")


class _BodyOptions(Protocol):
    keep_bodies: bool
    max_body: int


def extract_options(source: _BodyOptions | None = None) -> ExtractOptions:
    """The extraction options for a capture's or an import's body settings (defaults if None)."""
    if source is None:
        return ExtractOptions()
    return ExtractOptions(keep_bodies=bool(source.keep_bodies), max_body=int(source.max_body))


@dataclass(slots=True)
class RecorderStats:
    """``records`` built; ``parse_errors``: records with at least one; ``failures``: jobs whose
    extraction raised (a bare row was stored instead)."""

    records: int = 0
    parse_errors: int = 0
    failures: int = 0

    def add(self, other: RecorderStats) -> None:
        self.records += other.records
        self.parse_errors += other.parse_errors
        self.failures += other.failures


class Recorder:
    """Turns jobs into redacted records with one redactor and one set of options."""

    def __init__(self, redactor: Any, options: ExtractOptions | None = None) -> None:
        self.redactor = redactor
        self.options = options or ExtractOptions()
        self.stats = RecorderStats()

    def record(self, job: Job) -> ExchangeRecord:
        """The redacted record for ``job``; never raises."""
        try:
            record = self._extract(job)
        except Exception as exc:  # extract() promises not to raise; keep the row if it does
            self.stats.failures += 1
            logger.warning(
                "provenance: extraction failed (%s); storing a bare row", type(exc).__name__
            )
            record = bare_record(job.raw, self.redactor, f"extraction failed: {type(exc).__name__}")
        if job.extra_errors:
            record.parse_errors.extend(job.extra_errors)
        self.stats.records += 1
        if record.parse_errors:
            self.stats.parse_errors += 1
        return record

    def _extract(self, job: Job) -> ExchangeRecord:
        from provenance.extract import extract
        from provenance.extract.websocket import WebSocketTap, extract_websocket

        if not job.is_websocket:
            return extract(
                job.raw,
                redactor=self.redactor,
                options=self.options,
                request_tap=job.request_tap,
                response_tap=job.response_tap,
            )
        result = job.websocket
        if result is None:
            tap = WebSocketTap(url=job.raw.url, max_log=self.options.max_body)
            for content, from_client, is_text in job.messages or ():
                tap.feed(content, from_client, is_text)
            result = tap.finish()
        return extract_websocket(job.raw, result, redactor=self.redactor, options=self.options)


def bare_record(raw: RawExchange, redactor: Any, reason: str) -> ExchangeRecord:
    """A minimal, redacted record for an exchange extraction could not handle."""
    try:
        parts = urlsplit(raw.url)
        host, port, scheme = parts.hostname or "", parts.port, parts.scheme
        path = redactor.redact_url(parts.path + (f"?{parts.query}" if parts.query else ""))
    except Exception:
        host, port, scheme, path = "", None, "", "/"
    return ExchangeRecord(
        started_at=raw.started_at,
        method=raw.method,
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        status=raw.status,
        provider=None,
        product=raw.product,
        api=None,
        content_type=None,
        latency_ms=raw.latency_ms,
        ttfb_ms=raw.ttfb_ms,
        streamed=raw.streamed,
        request_size=None,
        response_size=None,
        request_headers=[],
        response_headers=[],
        request_body=None,
        response_body=None,
        request_digest=None,
        response_digest=None,
        bodies_truncated=False,
        usage=Usage(),
        observations=[],
        parse_errors=[reason],
        origin=raw.origin,
        http_version=raw.http_version,
        client_ja4=raw.client_ja4,
        error=raw.error,
    )
