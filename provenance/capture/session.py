"""One capture session: the store, writer and redactor of a proxy process, and one method per hook.

The addon (``addons/capture.py``) is a thin shell that forwards mitmproxy's events here. Contract:

- No method raises into mitmproxy: each hook is guarded; a failure is counted, logged with its
  exception type only (never a message that might quote traffic) and the flow passes unchanged.
- Bodies that must not be buffered (streams, unknown length, above the cap) go through a
  :class:`~provenance.capture.tee.StreamTee` set in ``requestheaders``/``responseheaders``.
- ``response``/``error`` build the :class:`~provenance.records.RawExchange` and, with a worker
  (:mod:`provenance.capture.worker`, the addon's default), hand it to the extraction process and
  return: the event loop pays for a snapshot, not for extraction. Without one (``worker=False``,
  an in-memory store, or after the worker died) they run ``extract`` in the hook and hand the
  record to the batched writer thread. Neither hand-over blocks; when a buffer is full the
  exchange is dropped and counted (``dropped``), so a stalled store never stalls the proxy.
- WebSocket sessions (OpenAI Realtime, Gemini Live): each message is fed to a
  :class:`~provenance.extract.websocket.WebSocketTap` in ``websocket_message``; at
  ``websocket_end`` the whole session becomes one record through ``extract_websocket``.
- :meth:`close` records flows still in flight (with an error), flushes the writer and returns
  the summary.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from provenance.capture.convert import raw_exchange_from_flow
from provenance.capture.options import CaptureOptions
from provenance.capture.tee import (
    LARGE,
    StreamTee,
    request_stream_reason,
    response_stream_reason,
)
from provenance.capture.worker import RAW, RECORD
from provenance.records import ExchangeRecord, Origin, RawExchange, Usage

if TYPE_CHECKING:
    from mitmproxy import connection, http, tls

logger = logging.getLogger("provenance.capture")


SHUTDOWN_ERROR = "proxy stopped before the exchange completed"


@dataclass(slots=True)
class CaptureStats:
    """Counters of one session; ``as_dict`` is the body of ``provenance.capture/1`` JSON."""

    exchanges: int = 0  # records built (completed, errored or cut off at shutdown)
    submitted: int = 0  # accepted by the writer's buffer
    dropped: int = 0  # refused by a full writer buffer
    connection_errors: int = 0  # flows that ended in flow.error
    incomplete: int = 0  # still in flight at shutdown, stored with an error
    parse_errors: int = 0  # records with at least one parse error
    hook_failures: int = 0  # exceptions caught in a hook (the flow passed unchanged)
    written: int | None = None  # rows the writer committed (known after close)
    write_failures: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


def _guarded[F: Callable[..., Any]](hook: F) -> F:
    """Run a hook; count and log any exception instead of raising into mitmproxy."""

    @functools.wraps(hook)
    def wrapper(self: CaptureSession, *args: Any) -> Any:
        try:
            return hook(self, *args)
        except Exception as exc:
            self.stats.hook_failures += 1
            logger.warning(
                "provenance: %s failed (%s); the traffic passed unchanged",
                hook.__name__,
                type(exc).__name__,
            )
            return None

    return wrapper  # type: ignore[return-value]


class CaptureSession:
    """Per-process capture state. Build with :meth:`open` (opens the store once)."""

    def __init__(
        self,
        options: CaptureOptions,
        *,
        store: Any,
        writer: Any,
        redactor: Any,
        on_record: Callable[[ExchangeRecord], None] | None = None,
        worker: Any = None,
    ) -> None:
        self.options = options
        self.store = store
        self.writer = writer  # None while a worker process does the writing
        self.redactor = redactor
        self.on_record = on_record
        self.worker = worker  # an ExtractWorker, or None: extract in the event loop
        self.stats = CaptureStats()
        self._live: dict[str, http.HTTPFlow] = {}
        self._ja4: dict[str, str] = {}
        self._ws: dict[str, tuple[http.HTTPFlow, Any]] = {}  # flow id -> (flow, WebSocketTap)
        self._closed = False
        self._worker_written = 0  # rows the worker process(es) committed
        self._worker_lost = 0  # records a worker gave up (failed or still pending at its end)
        self._worker_reported = False
        self.owns_store = False  # set by open() when it opened the store itself

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        options: CaptureOptions,
        *,
        store: Any = None,
        on_record: Callable[[ExchangeRecord], None] | None = None,
        worker: bool = False,
        log_records: bool | None = None,
    ) -> CaptureSession:
        """Open the store (unless given), load the redaction key, start the writing side.

        ``worker=True``: extraction and writes run in a child process (:mod:`.worker`), except
        for an in-memory SQLite store, which a child cannot share; else a batched writer thread
        in this process writes what the event loop extracted. ``log_records``: whether anyone
        reads the per-exchange INFO line (default: whether the logger is enabled for INFO); with
        neither that nor ``on_record``, a worker sends nothing back per exchange.
        Raises ``StoreError`` (exit 2) for a bad URL or an unwritable path.
        """
        from provenance.redact import Redactor
        from provenance.store import BatchWriter

        owns = store is None
        if store is None:
            store = open_capture_store(options.db_url)
        try:
            redactor = Redactor.from_data_dir()
            use_worker = worker and _shareable(store)
            session = cls(
                options,
                store=store,
                writer=None if use_worker else BatchWriter(store),
                redactor=redactor,
                on_record=on_record,
            )
            if use_worker:
                from provenance.capture.worker import ExtractWorker

                if log_records is None:
                    log_records = logger.isEnabledFor(logging.INFO)
                wants_lines = on_record is not None or log_records
                session.worker = ExtractWorker(
                    store.engine.url.render_as_string(hide_password=False),
                    redactor=redactor,
                    on_seen=session._seen if wants_lines else None,
                )
        except BaseException:
            if owns:
                store.close()
            raise
        session.owns_store = owns
        return session

    # -- hooks ---------------------------------------------------------------------------------
    @_guarded
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """Remember the flow; tee large or streamed uploads."""
        if flow.request.method == "CONNECT":
            return
        self._live[flow.id] = flow
        if flow.request.stream:  # another addon (or stream_large_bodies) decided already
            return
        reason = request_stream_reason(flow.request.headers, max_body=self.options.max_body)
        if reason is not None:
            flow.request.stream = StreamTee(
                self._new_tap(flow, flow.request.headers, "request"), reason=reason
            )

    @_guarded
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """Tee streams, bodies of unknown length and large bodies; buffer the rest."""
        resp = flow.response
        if resp is None or flow.request.method == "CONNECT":
            return
        if callable(resp.stream):  # another addon's tee: leave it alone
            return
        reason = response_stream_reason(resp.headers, max_body=self.options.max_body)
        if reason is None and resp.stream is True:  # mitmproxy's stream_large_bodies
            reason = LARGE
        if reason is not None:
            resp.stream = StreamTee(self._new_tap(flow, resp.headers, "response"), reason=reason)

    @_guarded
    def response(self, flow: http.HTTPFlow) -> None:
        """A completed exchange: extract and submit it."""
        if flow.request.method == "CONNECT" or flow.websocket is not None:
            self._live.pop(flow.id, None)
            return
        self._record(flow, error=None)

    @_guarded
    def error(self, flow: http.HTTPFlow) -> None:
        """A dropped connection or protocol error: stored too, with ``error`` set."""
        if flow.request.method == "CONNECT":
            self._live.pop(flow.id, None)
            return
        self.stats.connection_errors += 1
        self._record(flow, error=(flow.error.msg if flow.error else None) or "connection error")

    @_guarded
    def websocket_start(self, flow: http.HTTPFlow) -> None:
        """A WebSocket session opened: start its tap (the log is capped at ``max_body``)."""
        from provenance.extract.websocket import WebSocketTap

        self._live.pop(flow.id, None)
        self._ws[flow.id] = (
            flow,
            WebSocketTap(url=flow.request.url, max_log=self.options.max_body),
        )

    @_guarded
    def websocket_message(self, flow: http.HTTPFlow) -> None:
        """Feed the newest message to the session's tap (the tap never raises)."""
        entry = self._ws.get(flow.id)
        if entry is None or flow.websocket is None or not flow.websocket.messages:
            return
        message = flow.websocket.messages[-1]
        entry[1].feed(
            message.content, message.from_client, bool(getattr(message, "is_text", False))
        )

    @_guarded
    def websocket_end(self, flow: http.HTTPFlow) -> None:
        """The session closed: store it as one exchange."""
        entry = self._ws.pop(flow.id, None)
        if entry is not None:
            self._record_websocket(flow, entry[1], error=None)

    @_guarded
    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        """Fingerprint the client's TLS ClientHello (JA4), kept per client connection."""
        udp = getattr(data.context.client, "transport_protocol", "tcp") == "udp"
        ja4 = client_ja4(data.client_hello, transport="q" if udp else "t")
        if ja4:
            self._ja4[data.context.client.id] = ja4

    @_guarded
    def client_disconnected(self, client: connection.Client) -> None:
        self._ja4.pop(client.id, None)

    # -- shutdown ------------------------------------------------------------------------------
    def close(self, timeout: float | None = 30.0) -> CaptureStats:
        """Record flows still in flight, flush the writer (every submitted record), return stats.

        Safe to call twice; never raises.
        """
        if self._closed:
            return self.stats
        self._closed = True
        for flow in list(self._live.values()):
            self.stats.incomplete += 1
            try:
                self._record(flow, error=SHUTDOWN_ERROR)
            except Exception as exc:
                self.stats.hook_failures += 1
                logger.warning(
                    "provenance: recording an unfinished flow failed (%s)", type(exc).__name__
                )
        self._live.clear()
        for flow, tap in list(self._ws.values()):
            self.stats.incomplete += 1
            try:
                self._record_websocket(flow, tap, error=SHUTDOWN_ERROR)
            except Exception as exc:
                self.stats.hook_failures += 1
                logger.warning(
                    "provenance: recording an open WebSocket failed (%s)", type(exc).__name__
                )
        self._ws.clear()
        self._close_worker(timeout)
        wstats = None
        if self.writer is not None:
            try:
                wstats = self.writer.close(timeout)
            except Exception as exc:
                logger.warning(
                    "provenance: closing the store writer failed (%s)", type(exc).__name__
                )
        written, failed = self._worker_written, self._worker_lost
        if wstats is not None:
            written += _first_attr(wstats, "written") or 0
            failed += (_first_attr(wstats, "failed_records") or 0) + (
                _first_attr(wstats, "pending") or 0
            )
            dropped = _first_attr(wstats, "dropped")
            if dropped is not None:
                self.stats.dropped = max(self.stats.dropped, dropped)
        if wstats is not None or self._worker_reported:
            self.stats.written, self.stats.write_failures = written, failed
        if self.owns_store:
            try:
                self.store.close()
            except Exception as exc:
                logger.warning("provenance: closing the store failed (%s)", type(exc).__name__)
        return self.stats

    # -- internals -----------------------------------------------------------------------------
    def _close_worker(self, timeout: float | None) -> None:
        """Let the worker write everything handed to it; if it died, write its queue here."""
        worker = self.worker
        if worker is None:
            return
        try:
            report = worker.close(timeout)
        except Exception as exc:
            logger.warning(
                "provenance: closing the extraction process failed (%s)", type(exc).__name__
            )
            report = None
        if report is None or report.error:
            self._fall_back_at_close(worker)
        worker.release()
        self._merge_report(report)
        self.worker = None

    def _fall_back_at_close(self, worker: Any) -> None:
        for job in worker.take_back():
            self._run_job(job, counted=True)

    def _new_tap(self, flow: http.HTTPFlow, headers: Any, role: str) -> Any:
        from provenance.extract import BodyTap

        return BodyTap(
            content_type=headers.get("content-type"),
            content_encoding=headers.get("content-encoding"),
            role=role,
            max_body=self.options.max_body,
            url=flow.request.url,
            message_encoding=headers.get("connect-content-encoding")
            or headers.get("grpc-encoding"),
        )

    def _record(self, flow: http.HTTPFlow, *, error: str | None) -> None:
        self._live.pop(flow.id, None)
        req_tee = flow.request.stream if isinstance(flow.request.stream, StreamTee) else None
        resp = flow.response
        resp_tee = resp.stream if resp is not None and isinstance(resp.stream, StreamTee) else None
        raw = raw_exchange_from_flow(
            flow,
            origin=Origin.LIVE,
            product=self.options.product,
            client_ja4=self._ja4.get(flow.client_conn.id),
            request_teed=req_tee is not None,
            response_teed=resp_tee is not None,
            streamed=resp_tee is not None and resp_tee.reason != LARGE,
            error=error,
        )
        request_tap = req_tee.finish() if req_tee is not None else None
        response_tap = resp_tee.finish() if resp_tee is not None else None
        extra: list[str] = [t.failure for t in (req_tee, resp_tee) if t is not None and t.failure]
        if resp_tee is not None and not resp_tee.ended and error is None:
            extra.append("response stream ended without its final chunk")
        job = (RAW, raw, request_tap, response_tap, extra, self._extract_options())
        if not self._hand_over(job):
            self._run_job(job)

    def _record_websocket(self, flow: http.HTTPFlow, tap: Any, *, error: str | None) -> None:
        from provenance.extract import ExtractOptions
        from provenance.extract.websocket import extract_websocket

        raw = raw_exchange_from_flow(
            flow,
            origin=Origin.LIVE,
            product=self.options.product,
            client_ja4=self._ja4.get(flow.client_conn.id),
            streamed=True,
            error=error,
        )
        options = ExtractOptions(
            keep_bodies=self.options.keep_bodies, max_body=self.options.max_body
        )
        try:
            record = extract_websocket(raw, tap.finish(), redactor=self.redactor, options=options)
        except Exception as exc:  # extract_websocket promises not to raise; keep the row
            record = bare_record(raw, self.redactor, f"extraction failed: {type(exc).__name__}")
        if not self._hand_over((RECORD, record)):
            self.submit(record)

    def _hand_over(self, job: tuple[Any, ...]) -> bool:
        """Give a job to the worker process; False when there is none (the caller runs it).

        A full worker queue drops the exchange (counted), as a full writer buffer does: the
        proxy never waits for the store. A worker that has died is replaced by the in-loop path,
        which also takes back the jobs it left queued.
        """
        worker = self.worker
        if worker is None:
            return False
        if not worker.alive:
            self._fall_back()
            return False
        try:
            handed = worker.submit(job)
        except Exception:  # a job that does not pickle: extract it here instead
            return False
        self.stats.exchanges += 1
        if handed:
            self.stats.submitted += 1
        else:
            self._note_drop()
        return True

    def _fall_back(self) -> None:
        """The worker ended early: extract in the loop from now on, starting with its queue
        (``submit`` starts this process's writer when it first needs it)."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        logger.warning("provenance: extracting in the proxy process from now on")
        self._merge_report(worker.close(timeout=5.0))
        jobs = worker.take_back()
        worker.release()
        for job in jobs:
            self._run_job(job, counted=True)

    def _run_job(self, job: tuple[Any, ...], *, counted: bool = False) -> None:
        """Extract (if needed) and submit one job in this process (``counted``: a job taken
        back from a worker, already counted when it was handed over)."""
        if job[0] == RECORD:
            self.submit(job[1], counted=counted)
            return
        _, raw, request_tap, response_tap, extra, _options = job
        record = self.extract(raw, request_tap=request_tap, response_tap=response_tap)
        record.parse_errors.extend(extra)
        self.submit(record, counted=counted)

    def _extract_options(self) -> Any:
        from provenance.extract import ExtractOptions

        return ExtractOptions(keep_bodies=self.options.keep_bodies, max_body=self.options.max_body)

    def _seen(self, record: ExchangeRecord) -> None:
        """A record the worker stored (bodies removed): the live log line and ``on_record``."""
        logger.info("provenance: %s", describe(record))
        if self.on_record is not None:
            self.on_record(record)

    def _merge_report(self, report: Any) -> None:
        if report is None:
            return
        self._worker_reported = True
        self.stats.parse_errors += report.parse_errors
        self._worker_written += report.written
        self._worker_lost += report.failed_records + report.pending
        self.stats.dropped += report.dropped

    def _note_drop(self) -> None:
        self.stats.dropped += 1
        if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
            logger.warning(
                "provenance: the store is not keeping up; %d exchange(s) dropped so far",
                self.stats.dropped,
            )

    def extract(
        self, raw: RawExchange, *, request_tap: Any = None, response_tap: Any = None
    ) -> ExchangeRecord:
        """``provenance.extract.extract`` with this session's options; never raises."""
        from provenance.extract import ExtractOptions, extract

        try:
            return extract(
                raw,
                redactor=self.redactor,
                options=ExtractOptions(
                    keep_bodies=self.options.keep_bodies, max_body=self.options.max_body
                ),
                request_tap=request_tap,
                response_tap=response_tap,
            )
        except Exception as exc:  # extract() promises not to raise; keep the row if it does
            logger.warning(
                "provenance: extraction failed (%s); storing a bare row", type(exc).__name__
            )
            return bare_record(raw, self.redactor, f"extraction failed: {type(exc).__name__}")

    def submit(self, record: ExchangeRecord, *, counted: bool = False) -> None:
        """Hand a record to this process's writer (``counted``: already counted as handed to a
        worker that then ended)."""
        if not counted:
            self.stats.exchanges += 1
        if record.parse_errors:
            self.stats.parse_errors += 1
        if self.writer is None:  # a worker session running one job here: write it here too
            from provenance.store import BatchWriter

            self.writer = BatchWriter(self.store)
        if self.writer.submit(record):
            if not counted:
                self.stats.submitted += 1
        else:
            if counted:
                self.stats.submitted -= 1
            self._note_drop()
        logger.info("provenance: %s", describe(record))
        if self.on_record is not None:
            self.on_record(record)


def open_capture_store(db_url: str | None) -> Any:
    """Open (creating and migrating if new) the store a capture writes to; ``StoreError`` if not."""
    from provenance.store import open_store, resolve_db_url

    # mitmproxy shows every INFO log line; alembic's migration chatter is noise there.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return open_store(resolve_db_url(db_url), create=True)


def client_ja4(client_hello: Any, *, transport: str = "t") -> str | None:
    """JA4 of a mitmproxy ``ClientHello`` (``transport``: ``t`` TCP, ``q`` QUIC); never raises."""
    from provenance.tls import ja4_from_client_hello

    try:
        raw = client_hello.raw_bytes()
    except Exception:
        return None
    return ja4_from_client_hello(raw, transport=transport)


def describe(record: ExchangeRecord) -> str:
    """A one-line, already redacted summary of a stored exchange (for logs and the CLI)."""
    ids: list[str] = []
    for obs in record.observations:
        if obs.model_id not in ids:
            ids.append(obs.model_id)
    status = "ERR" if record.error else (str(record.status) if record.status is not None else "---")
    line = f"{status} {record.method} {record.host}{record.path}"
    if ids:
        line += "  model: " + ", ".join(ids[:4])
    if record.error:
        line += f"  ({record.error})"
    return line


def bare_record(raw: RawExchange, redactor: Any, reason: str) -> ExchangeRecord:
    """A minimal, redacted record for an exchange extraction could not handle."""
    from urllib.parse import urlsplit

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


def _first_attr(obj: Any, *names: str) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def summary_line(stats: CaptureStats, store: Any) -> str:
    """One line saying what a finished session stored, e.g. for stderr at shutdown."""
    stored = stats.written if stats.written is not None else stats.submitted
    parts = [f"provenance: {stored} exchange(s) stored in {getattr(store, 'url', store)}"]
    if stats.dropped:
        parts.append(f"{stats.dropped} dropped (store too slow)")
    if stats.write_failures:
        parts.append(f"{stats.write_failures} failed to write")
    if stats.connection_errors:
        parts.append(f"{stats.connection_errors} with connection errors")
    if stats.incomplete:
        parts.append(f"{stats.incomplete} cut off at shutdown")
    if stats.hook_failures:
        parts.append(f"{stats.hook_failures} hook failure(s)")
    return "; ".join(parts)


def light_record(record: ExchangeRecord) -> ExchangeRecord:
    """``record`` without its bodies: what a worker process sends back for the live log line."""
    return replace(record, request_body=None, response_body=None)


def _shareable(store: Any) -> bool:
    """True if another process can open ``store`` (anything but an in-memory SQLite database)."""
    from provenance.store.engine import is_sqlite, sqlite_path

    url = store.engine.url
    return not is_sqlite(url) or sqlite_path(url) is not None
