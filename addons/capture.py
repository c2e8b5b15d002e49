"""mitmproxy addon: capture AI API traffic into the provenance store.

    mitmdump -s addons/capture.py --set provenance_db=sqlite:///capture.sqlite

Options: ``provenance_db`` (URL or SQLite path; default ``$PROVENANCE_DB``, else the data dir),
``provenance_product`` (product name override), ``provenance_bodies`` (store redacted bodies),
``provenance_max_body`` (body cap in bytes: larger bodies are streamed, kept up to the cap plus a
digest), ``provenance_extract_process`` (default on: extraction and store writes run in a child
process, so the event loop only snapshots each exchange). The store is opened once, in
``configure``; a bad URL stops mitmproxy before it serves. Traffic is never altered and no hook
raises: the work is done by :class:`provenance.capture.session.CaptureSession`.
"""

from __future__ import annotations

import sys
from typing import Any

from mitmproxy import exceptions

from provenance.capture.options import DEFAULT_MAX_BODY, CaptureOptions, capture_options
from provenance.capture.session import CaptureSession
from provenance.capture.stats import CaptureStats, summary_line
from provenance.errors import ProvenanceError

_OPTIONS = (
    "provenance_db",
    "provenance_product",
    "provenance_bodies",
    "provenance_max_body",
    "provenance_extract_process",
)


class Capture:
    """Tees each exchange to the extractor and the batched store writer."""

    def __init__(
        self, store: Any = None, on_record: Any = None, *, print_summary: bool = True
    ) -> None:
        # ``store``: an already opened Store (``provenance capture`` opens it before starting
        # mitmproxy, to fail early); ``on_record``: called with each redacted record;
        # ``print_summary``: one line on stderr at shutdown (the CLI prints its own).
        self._store = store
        self._on_record = on_record
        self._print_summary = print_summary
        self.options: CaptureOptions | None = None
        self.session: CaptureSession | None = None
        self.summary: CaptureStats | None = None

    def load(self, loader: Any) -> None:
        loader.add_option(
            "provenance_db",
            str,
            "",
            "Database URL or SQLite file path for captured exchanges "
            "(default: $PROVENANCE_DB, else provenance.sqlite in the user data directory).",
        )
        loader.add_option(
            "provenance_product", str, "", "Product name for every captured exchange (override)."
        )
        loader.add_option(
            "provenance_bodies", bool, True, "Store redacted request and response bodies."
        )
        loader.add_option(
            "provenance_max_body",
            int,
            DEFAULT_MAX_BODY,
            "Body cap in bytes: larger bodies are streamed and kept up to the cap, with a digest.",
        )
        loader.add_option(
            "provenance_extract_process",
            bool,
            True,
            "Extract and write exchanges in a separate process, off mitmproxy's event loop "
            "(off: in the proxy process itself).",
        )

    def configure(self, updated: set[str]) -> None:
        if not updated & set(_OPTIONS):
            return
        from mitmproxy import ctx

        try:
            options = capture_options(
                db_url=ctx.options.provenance_db,
                product=ctx.options.provenance_product,
                keep_bodies=ctx.options.provenance_bodies,
                max_body=ctx.options.provenance_max_body,
                extract_process=ctx.options.provenance_extract_process,
            )
        except ProvenanceError as e:
            raise exceptions.OptionsError(str(e)) from e
        if self.session is not None and self.options is not None:
            same_store = self._store is not None or options.db_url == self.options.db_url
            if same_store and options.extract_process == self.options.extract_process:
                self.options = self.session.options = options  # same store: new settings only
                return
            self.session.close()  # another database or mode: flush this one, open the new one
            self.session = None
        try:
            self.session = CaptureSession.open(
                options,
                store=self._store,
                on_record=self._on_record,
                worker=options.extract_process,
                log_records=_info_lines_shown(),
            )
        except ProvenanceError as e:
            raise exceptions.OptionsError(f"provenance: {e}") from e
        self.options = options

    def requestheaders(self, flow: Any) -> None:
        if self.session is not None:
            self.session.requestheaders(flow)

    def responseheaders(self, flow: Any) -> None:
        if self.session is not None:
            self.session.responseheaders(flow)

    def response(self, flow: Any) -> None:
        if self.session is not None:
            self.session.response(flow)

    def error(self, flow: Any) -> None:
        if self.session is not None:
            self.session.error(flow)

    def websocket_start(self, flow: Any) -> None:
        if self.session is not None:
            self.session.websocket_start(flow)

    def websocket_message(self, flow: Any) -> None:
        if self.session is not None:
            self.session.websocket_message(flow)

    def websocket_end(self, flow: Any) -> None:
        if self.session is not None:
            self.session.websocket_end(flow)

    def tls_clienthello(self, data: Any) -> None:
        if self.session is not None:
            self.session.tls_clienthello(data)

    def client_disconnected(self, client: Any) -> None:
        if self.session is not None:
            self.session.client_disconnected(client)

    def done(self) -> None:
        if self.session is None:
            return
        self.summary = self.session.close()
        if self._print_summary:  # logging no longer works in done(): write the line directly
            sys.stderr.write(summary_line(self.summary, self.session.store) + "\n")
        self.session = None


def _info_lines_shown() -> bool:
    """Whether mitmproxy shows INFO log lines (the per-exchange line): mitmdump's terminal log
    only at verbosity info or debug; other front ends (mitmweb's event log) always."""
    from mitmproxy import ctx

    verbosity = getattr(ctx.options, "termlog_verbosity", None)
    return verbosity is None or str(verbosity).lower() in ("info", "debug")


addons = [Capture()]
