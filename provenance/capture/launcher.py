"""Run mitmproxy in-process (``DumpMaster``) with the capture addon: ``provenance capture``.

The caller opens the store first (a bad ``--db`` fails before anything listens) and hands it in.
SIGINT and SIGTERM stop the proxy; the addon's ``done`` then records flows still in flight and
flushes the writer, and :func:`run_proxy` returns the session's counters.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.capture.options import CaptureOptions, mode_name
from provenance.capture.stats import CaptureStats
from provenance.errors import ProvenanceError, UsageError
from provenance.paths import checkout_root
from provenance.records import ExchangeRecord


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """How mitmproxy listens and forwards (validated by the CLI)."""

    listen_host: str = "127.0.0.1"
    listen_port: int | None = 8080  # None: the mode listens on nothing (local)
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


@dataclass(frozen=True, slots=True)
class Ready:
    """What :func:`run_proxy` tells its caller once mitmproxy is serving."""

    addrs: list[tuple[str, int]]  # bound addresses (empty in local mode)
    wireguard_conf: Path | None = None  # the client configuration written for wireguard mode


WIREGUARD_CLIENT_FILE = "provenance-wireguard-client.conf"

# mitmproxy's local redirector (Linux) reports a failed start only in its log, then exits; the
# proxy would go on serving nothing. These phrases of mitmproxy_rs 0.12 mark that failure.
_REDIRECTOR_FAILED = (
    "eBPF initialization failed",
    "Failed to run sudo",
    "Failed to elevate privileges",
    "Failed to launch mitmproxy-linux-redirector",
    "redirect daemon exited prematurely",
    "[linux-redirector] exited",
)


class _RedirectorWatch(logging.Handler):
    """Stops the proxy, keeping the reason, when the local redirector fails to start."""

    def __init__(self, stop: Callable[[], None]) -> None:
        super().__init__(level=logging.DEBUG)
        self.stop = stop
        self.failure: str | None = None
        self.cause: str | None = None  # the first "Caused by" line after the failure

    @property
    def reason(self) -> str | None:
        if self.failure is None:
            return None
        return f"{self.failure}: {self.cause}" if self.cause else self.failure

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage().strip()
        except Exception:
            return
        if self.failure is None and any(p in message for p in _REDIRECTOR_FAILED):
            self.failure = message.splitlines()[0].removeprefix("Error: ")[:200]
            self.stop()
        elif self.failure is not None and self.cause is None and message.startswith("0: "):
            self.cause = message.removeprefix("0: ")[:200]


def _redirector_noise(record: logging.LogRecord) -> bool:
    """Keep mitmproxy's terminal log free of the redirector's warnings (a BTF dump, stacks)."""
    return record.levelno >= logging.ERROR or not record.name.startswith("mitmproxy.packet_sources")


def _write_wireguard_conf(instance: Any, confdir: Path) -> Path | None:
    """Write the WireGuard client configuration (it holds the client's private key) 0600."""
    conf = instance.client_conf()
    if not conf:
        return None
    bound = list(getattr(instance, "listen_addrs", ()))
    if bound:  # mitmproxy writes the configured port, which is 0 when the OS picked one
        port = int(bound[0][1])
        conf = re.sub(r"^(Endpoint = .*):\d+$", rf"\g<1>:{port}", conf, flags=re.M)
    path = confdir / WIREGUARD_CLIENT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(conf + "\n")
    os.chmod(path, 0o600)  # an older file may have had wider permissions
    return path


class _Ready:
    """Reports the bound addresses (and a WireGuard client file) once mitmproxy is serving."""

    def __init__(self, callback: Callable[[Ready], None] | None, confdir: Path) -> None:
        self.callback = callback
        self.confdir = confdir

    def running(self) -> None:
        from mitmproxy import ctx

        if self.callback is None:
            return
        server = ctx.master.addons.get("proxyserver")
        addrs = [(str(a[0]), int(a[1])) for a in server.listen_addrs()] if server else []
        wireguard: Path | None = None
        for instance in server.servers if server else ():
            if hasattr(instance, "client_conf"):
                wireguard = _write_wireguard_conf(instance, self.confdir)
        self.callback(Ready(addrs=addrs, wireguard_conf=wireguard))


def run_proxy(
    settings: ProxySettings,
    options: CaptureOptions,
    *,
    store: Any,
    on_ready: Callable[[Ready], None] | None = None,
    on_record: Callable[[ExchangeRecord], None] | None = None,
) -> CaptureStats:
    """Serve until SIGINT/SIGTERM; return the capture counters after the final flush.

    Raises :class:`ProvenanceError` if mitmproxy cannot start (e.g. the port is taken, or local
    mode's redirector is refused by the kernel).
    """
    capture_cls = capture_addon_class()

    async def main() -> CaptureStats:
        from mitmproxy import exceptions
        from mitmproxy import options as mitm_options
        from mitmproxy.tools.dump import DumpMaster

        opts = mitm_options.Options()
        # No ``stream_large_bodies``: the session's header hooks already tee every body above
        # the cap or of unknown length, and the option alone cost plain mitmdump about 0.17 ms
        # of CPU per request (mitmproxy re-checks every body's size against it).
        master = DumpMaster(opts, with_termlog=True, with_dumper=False)
        addon = capture_cls(store=store, on_record=on_record, print_summary=False)
        confdir = (settings.confdir or Path("~/.mitmproxy")).expanduser()
        master.addons.add(addon, _Ready(on_ready, confdir))
        updates: dict[str, Any] = {
            "listen_host": settings.listen_host,
            "listen_port": settings.listen_port,
            "mode": [settings.mode],
            "ssl_insecure": settings.ssl_insecure,
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
        watch = _RedirectorWatch(lambda: loop.call_soon_threadsafe(master.shutdown))
        if mode_name(settings.mode) == "local":
            logging.getLogger().addHandler(watch)
            termlog = master.addons.get("termlog")
            if termlog is not None and not settings.verbose:
                termlog.logger.addFilter(_redirector_noise)
        try:
            await master.run()
        except SystemExit:
            raise ProvenanceError(
                f"the proxy could not start on {settings.listen_host}:{settings.listen_port} "
                "(see the message above); is the port in use?"
            ) from None
        finally:
            logging.getLogger().removeHandler(watch)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            addon.done()  # no-op when mitmproxy already called it
        if watch.reason is not None:
            raise ProvenanceError(
                f"--mode local could not start mitmproxy's redirector on this machine "
                f"({watch.reason}); use --mode regular, socks5 or wireguard"
            )
        return addon.summary or CaptureStats()

    return asyncio.run(main())
