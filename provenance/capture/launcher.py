"""Run mitmproxy in-process (``DumpMaster``) with the capture addon: ``provenance capture``.

The caller opens the store first (a bad ``--db`` fails before anything listens) and hands it in.
SIGINT and SIGTERM stop the proxy; the addon's ``done`` then records flows still in flight and
flushes the writer, and :func:`run_proxy` returns the session's counters.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.capture.options import CaptureOptions
from provenance.capture.session import CaptureStats
from provenance.errors import ProvenanceError, UsageError
from provenance.paths import checkout_root
from provenance.records import ExchangeRecord


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """How mitmproxy listens and forwards (validated by the CLI)."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    mode: str = "regular"
    confdir: Path | None = None  # mitmproxy's CA directory (default ~/.mitmproxy)
    ssl_insecure: bool = False  # don't verify upstream certificates
    verbose: bool = False  # mitmproxy's own info log lines


def capture_addon_class() -> type:
    """The ``Capture`` class of ``addons/capture.py`` (installed as ``provenance.addons``)."""
    try:
        return importlib.import_module("provenance.addons.capture").Capture  # type: ignore[no-any-return]
    except ImportError:
        root = checkout_root()
        if root is None:
            raise
        spec = importlib.util.spec_from_file_location(
            "provenance_addons_capture", root / "addons" / "capture.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.Capture  # type: ignore[no-any-return]


class _Ready:
    """Reports the bound addresses once mitmproxy is serving."""

    def __init__(self, callback: Callable[[list[tuple[str, int]]], None] | None) -> None:
        self.callback = callback

    def running(self) -> None:
        from mitmproxy import ctx

        if self.callback is None:
            return
        server = ctx.master.addons.get("proxyserver")
        addrs = [(str(a[0]), int(a[1])) for a in server.listen_addrs()] if server else []
        self.callback(addrs)


def run_proxy(
    settings: ProxySettings,
    options: CaptureOptions,
    *,
    store: Any,
    on_ready: Callable[[list[tuple[str, int]]], None] | None = None,
    on_record: Callable[[ExchangeRecord], None] | None = None,
) -> CaptureStats:
    """Serve until SIGINT/SIGTERM; return the capture counters after the final flush.

    Raises :class:`ProvenanceError` if mitmproxy cannot start (e.g. the port is taken).
    """
    capture_cls = capture_addon_class()

    async def main() -> CaptureStats:
        from mitmproxy import exceptions
        from mitmproxy import options as mitm_options
        from mitmproxy.tools.dump import DumpMaster

        opts = mitm_options.Options()
        master = DumpMaster(opts, with_termlog=True, with_dumper=False)
        addon = capture_cls(store=store, on_record=on_record, print_summary=False)
        master.addons.add(addon, _Ready(on_ready))
        updates: dict[str, Any] = {
            "listen_host": settings.listen_host,
            "listen_port": settings.listen_port,
            "mode": [settings.mode],
            "ssl_insecure": settings.ssl_insecure,
            "stream_large_bodies": str(options.max_body),
            "termlog_verbosity": "info" if settings.verbose else "warn",
            "provenance_db": options.db_url or "",
            "provenance_product": options.product or "",
            "provenance_bodies": options.keep_bodies,
            "provenance_max_body": options.max_body,
            "provenance_extract_process": options.extract_process,
        }
        if settings.confdir is not None:
            updates["confdir"] = str(settings.confdir)
        try:
            opts.update(**updates)
        except exceptions.OptionsError as exc:
            raise UsageError(str(exc).removeprefix("provenance: ")) from None

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, master.shutdown)
        try:
            await master.run()
        except SystemExit:
            raise ProvenanceError(
                f"the proxy could not start on {settings.listen_host}:{settings.listen_port} "
                "(see the message above); is the port in use?"
            ) from None
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            addon.done()  # no-op when mitmproxy already called it
        return addon.summary or CaptureStats()

    return asyncio.run(main())
