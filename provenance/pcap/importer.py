"""Import a capture into the store: decrypted exchanges through the one extraction path,
TLS connections into ``connections``. Called by ``provenance import CAPTURE.pcap``.

Exchanges go through the same funnel as live capture (:class:`~provenance.ingest.Recorder`, with
the caller's redactor, so nothing secret is stored; an exchange extraction cannot handle keeps a
bare row) and are written by a :class:`~provenance.ingest.RecordBatcher`; each TLS connection
becomes one
:class:`~provenance.store.records.ConnectionRecord` (the store merges repeats).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.ingest import Job, RecordBatcher, Recorder
from provenance.pcap.capture import iter_capture
from provenance.pcap.model import CaptureStats, TlsConnection
from provenance.records import RawExchange
from provenance.tls.client_table import client_for_ja4
from provenance.tls.keylog import KeyLog


@dataclass(slots=True)
class ImportSummary:
    """What an import did. ``skipped`` maps each reason to a count."""

    path: str
    packets: int = 0
    duplicates: int = 0
    tcp_connections: int = 0
    tls_connections: int = 0
    decrypted_connections: int = 0
    exchanges: int = 0
    exchange_ids: list[int] = field(default_factory=list)
    connections_saved: int = 0
    dns_answers: int = 0
    keylog_entries: int = 0
    extract_failures: int = 0  # exchanges stored as bare rows (extraction failed)
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (for ``--json`` output)."""
        doc = {k: getattr(self, k) for k in self.__slots__ if k != "exchange_ids"}
        return doc


def connection_record(conn: TlsConnection) -> Any:
    """The store's ``ConnectionRecord`` for one TLS connection (provider from the catalog)."""
    from provenance.store.records import ConnectionRecord

    provider = None
    if conn.host:
        try:
            from provenance.catalog import provider_for_host

            provider = provider_for_host(conn.host)
        except Exception:  # a broken catalog must not stop an import
            provider = None
    return ConnectionRecord(
        first_seen=conn.first_seen_at,
        last_seen=conn.last_seen_at,
        src_ip=conn.client_ip,
        src_port=conn.client_port,
        dst_ip=conn.server_ip,
        dst_port=conn.server_port,
        sni=conn.host,
        alpn=conn.alpn,
        tls_version=conn.tls_version,
        ja4=conn.ja4,
        ja3=conn.ja3,
        client=client_for_ja4(conn.ja4),
        provider=provider,
        count=1,
        origin="pcap",
    )


def import_capture(
    path: str | Path,
    *,
    keylog: str | Path | KeyLog | None,
    store: Any,
    redactor: Any,
    progress: bool = False,
    options: Any = None,
) -> ImportSummary:
    """Read ``path`` (pcap/pcapng, optional key log), store exchanges and connections.

    ``store`` is an open :class:`provenance.store.Store`; ``redactor`` a
    :class:`provenance.redact.Redactor`; ``progress`` shows a rich progress bar (bytes read) on
    stderr; ``options`` an ``ExtractOptions`` (default options if None). Raises
    :class:`~provenance.errors.UsageError` for a missing/unreadable capture or key log; bad
    traffic inside the file is counted in ``skipped``, never raised.
    """
    recorder = Recorder(redactor, options)
    started = time.monotonic()
    if keylog is not None and not isinstance(keylog, KeyLog):
        from provenance.errors import UsageError

        if not Path(keylog).is_file():
            raise UsageError(f"key log file not found: {keylog}")
        keylog = KeyLog.from_file(keylog)
    keylog = keylog if keylog is not None else KeyLog()
    summary = ImportSummary(path=str(path))
    stats_box: list[CaptureStats] = []
    batcher = RecordBatcher(store)
    conns: list[Any] = []

    with _progress_bar(progress, Path(path).name) as on_progress:
        for event in iter_capture(path, keylog, progress=on_progress, stats_out=stats_box):
            if isinstance(event, RawExchange):
                batcher.add(recorder.record(Job(event)))
            else:
                conns.append(connection_record(event))
                if len(conns) >= 5000:
                    store.save_connections(conns)
                    summary.connections_saved += len(conns)
                    conns.clear()
        batcher.flush()
        summary.exchange_ids = batcher.ids
        if conns:
            store.save_connections(conns)
            summary.connections_saved += len(conns)
    stats = stats_box[0]
    summary.packets = stats.packets
    summary.duplicates = stats.duplicates
    summary.tcp_connections = stats.tcp_connections
    summary.tls_connections = stats.tls_connections
    summary.decrypted_connections = stats.decrypted_connections
    summary.exchanges = stats.exchanges
    summary.dns_answers = stats.dns_answers
    summary.keylog_entries = len(keylog)
    summary.extract_failures = recorder.stats.failures
    skipped = dict(stats.skipped)
    if batcher.rejected:
        skipped["rejected by the store"] = batcher.rejected
    summary.skipped = dict(sorted(skipped.items()))
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


class _progress_bar:
    """A rich progress bar by bytes read (stderr), or a no-op callback."""

    def __init__(self, enabled: bool, name: str) -> None:
        self.enabled = enabled
        self.name = name
        self.bar: Any = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task(f"reading {self.name}", total=None)

        def update(done: int, total: int) -> None:
            self.bar.update(task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
