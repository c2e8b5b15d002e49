"""One capture session: the store, recorder and hand-over of a proxy process, one method per hook.

The addon (``addons/capture.py``) is a thin shell that forwards mitmproxy's events here. Contract:

- No method raises into mitmproxy: each hook is guarded; a failure is counted, logged with its
  exception type only (never a message that might quote traffic) and the flow passes unchanged.
- Bodies that must not be buffered (streams, unknown length, above the cap) go through a
  :class:`~provenance.capture.tee.StreamTee` set in ``requestheaders``/``responseheaders``.
- ``response``/``error`` snapshot the exchange into a :class:`~provenance.ingest.Job` and give it
  to the session's :class:`~provenance.capture.handover.Handover` (to the extraction process
  when there is one): the event loop pays for a snapshot, not for extraction.
- WebSocket sessions (OpenAI Realtime, Gemini Live): each message is fed to a
  :class:`~provenance.extract.websocket.WebSocketTap` in ``websocket_message``; at
  ``websocket_end`` the finished tap goes into one job, extracted off the loop like the rest.
- :meth:`close` records flows still in flight (with an error), flushes and returns the counters.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from provenance.capture.convert import raw_exchange_from_flow
from provenance.capture.handover import Handover
from provenance.capture.options import CaptureOptions
from provenance.capture.stats import CaptureStats
from provenance.capture.tee import (
    LARGE,
    StreamTee,
    request_stream_reason,
    response_stream_reason,
)
from provenance.ingest import Job, Recorder, extract_options
from provenance.records import ExchangeRecord, Origin

if TYPE_CHECKING:
    from mitmproxy import connection, http, tls

logger = logging.getLogger("provenance.capture")


SHUTDOWN_ERROR = "proxy stopped before the exchange completed"


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
        redactor: Any,
        on_record: Callable[[ExchangeRecord], None] | None = None,
        worker: Any = None,
    ) -> None:
        self.options = options
        self.store = store
        self.redactor = redactor
        self.stats = CaptureStats()
        self.recorder = Recorder(redactor, extract_options(options))
        self.handover = Handover(
            store=store, recorder=self.recorder, stats=self.stats, worker=worker,
            on_record=on_record,
        )  # fmt: skip
        self._live: dict[str, http.HTTPFlow] = {}
        self._ja4: dict[str, str] = {}
        self._ws: dict[str, tuple[http.HTTPFlow, Any]] = {}  # flow id -> (flow, WebSocketTap)
        self._closed = False
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

        owns = store is None
        if store is None:
            store = open_capture_store(options.db_url)
            line = recover_unstored(store)
            if line:
                logger.warning("%s", line)
        try:
            redactor = Redactor.from_data_dir()
            session = cls(options, store=store, redactor=redactor, on_record=on_record)
            if worker and _shareable(store):
                from provenance.capture.worker import ExtractWorker

                if log_records is None:
                    log_records = logger.isEnabledFor(logging.INFO)
                wants_lines = on_record is not None or log_records
                session.handover.worker = ExtractWorker(
                    store.engine.url.render_as_string(hide_password=False),
                    redactor=redactor,
                    options=session.recorder.options,
                    on_seen=session.handover.seen if wants_lines else None,
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
        """Record flows still in flight, flush everything handed over, return the counters.

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
        self.handover.close(timeout)
        if self.owns_store:
            try:
                self.store.close()
            except Exception as exc:
                logger.warning("provenance: closing the store failed (%s)", type(exc).__name__)
        return self.stats

    # -- internals -----------------------------------------------------------------------------
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
        extra: list[str] = [t.failure for t in (req_tee, resp_tee) if t is not None and t.failure]
        if resp_tee is not None and not resp_tee.ended and error is None:
            extra.append("response stream ended without its final chunk")
        self.handover.submit(
            Job(
                raw,
                request_tap=req_tee.finish() if req_tee is not None else None,
                response_tap=resp_tee.finish() if resp_tee is not None else None,
                extra_errors=extra,
            )
        )

    def _record_websocket(self, flow: http.HTTPFlow, tap: Any, *, error: str | None) -> None:
        raw = raw_exchange_from_flow(
            flow,
            origin=Origin.LIVE,
            product=self.options.product,
            client_ja4=self._ja4.get(flow.client_conn.id),
            streamed=True,
            error=error,
        )
        self.handover.submit(Job(raw, websocket=tap.finish()))


def open_capture_store(db_url: str | None) -> Any:
    """Open (creating and migrating if new) the store a capture writes to; ``StoreError`` if not."""
    from provenance.store import open_store, resolve_db_url

    # mitmproxy shows every INFO log line; alembic's migration chatter is noise there.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return open_store(resolve_db_url(db_url), create=True)


def recover_unstored(store: Any) -> str | None:
    """Import into ``store`` what an earlier capture kept in its unstored journal (see
    :mod:`provenance.store.journal`); the line to show the user, or None. Never raises."""
    from provenance.store.journal import recover

    try:
        return recover(store).line()
    except Exception as exc:
        return f"provenance: could not import the unstored journal ({type(exc).__name__}: {exc})"


def client_ja4(client_hello: Any, *, transport: str = "t") -> str | None:
    """JA4 of a mitmproxy ``ClientHello`` (``transport``: ``t`` TCP, ``q`` QUIC); never raises."""
    from provenance.tls import ja4_from_client_hello

    try:
        raw = client_hello.raw_bytes()
    except Exception:
        return None
    return ja4_from_client_hello(raw, transport=transport)


def _shareable(store: Any) -> bool:
    """True if another process can open ``store`` (anything but an in-memory SQLite database)."""
    from provenance.store.engine import is_sqlite, sqlite_path

    url = store.engine.url
    return not is_sqlite(url) or sqlite_path(url) is not None
