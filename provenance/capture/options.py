"""Capture options: parsed and validated once, kept as a frozen dataclass.

Used by the addon's ``configure`` (errors become mitmproxy ``OptionsError``) and by
``provenance capture`` (errors become :class:`~provenance.errors.UsageError`, exit 2). The messages
are part of the contract: tests assert them.
"""

from __future__ import annotations

from dataclasses import dataclass

from provenance import netaddr
from provenance.errors import UsageError

DEFAULT_MAX_BODY = 1_000_000
DEFAULT_LISTEN_HOST = "127.0.0.1"
DEFAULT_LISTEN_PORT = 8080
ALLOWED_MODES = ("regular", "reverse", "upstream", "socks5", "wireguard", "local")
MODE_CHOICES = "regular, reverse:URL, upstream:URL, socks5, wireguard[:KEYFILE] or local[:APP]"


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    """What the capture session needs to know; built by :func:`capture_options`."""

    db_url: str | None = None  # None: resolve_db_url's default ($PROVENANCE_DB, else data dir)
    product: str | None = None  # explicit product override
    keep_bodies: bool = True
    max_body: int = DEFAULT_MAX_BODY
    extract_process: bool = True  # extract and write in a child process, off the event loop


def parse_max_body(value: object) -> int:
    """A body cap in bytes: a positive int, or a size string such as ``"512k"``, ``"2m"``.

    Raises :class:`UsageError` for anything else.
    """
    if isinstance(value, bool):
        raise UsageError(f"invalid body cap {value!r}: give a number of bytes, e.g. 1000000 or 1m")
    if isinstance(value, int):
        size = value
    else:
        text = str(value).strip().lower()
        units = {"k": 1024, "m": 1024**2, "g": 1024**3}
        mult = 1
        if text.endswith("b"):
            text = text[:-1]
        if text and text[-1] in units:
            mult = units[text[-1]]
            text = text[:-1]
        try:
            size = int(text) * mult
        except ValueError:
            raise UsageError(
                f"invalid body cap {value!r}: give a number of bytes, e.g. 1000000 or 1m"
            ) from None
    if size <= 0:
        raise UsageError(f"invalid body cap {value!r}: it must be a positive number of bytes")
    return size


def capture_options(
    *,
    db_url: str | None,
    product: str | None,
    keep_bodies: bool,
    max_body: object,
    extract_process: bool = True,
) -> CaptureOptions:
    """Validate raw option values (from the CLI or mitmproxy's option store)."""
    product = (product or "").strip() or None
    db_url = (db_url or "").strip() or None
    return CaptureOptions(
        db_url=db_url,
        product=product,
        keep_bodies=bool(keep_bodies),
        max_body=parse_max_body(max_body),
        extract_process=bool(extract_process),
    )


def parse_mode(spec: str) -> str:
    """Validate a ``--mode`` value (one of :data:`MODE_CHOICES`).

    Returns the spec unchanged (mitmproxy's syntax); raises :class:`UsageError` otherwise.
    ``local`` is checked further by :func:`check_mode_supported` before anything starts.
    """
    from mitmproxy.proxy import mode_specs

    spec = spec.strip()
    name = mode_name(spec)
    if name not in ALLOWED_MODES:
        raise UsageError(f"unsupported --mode {spec!r}: use {MODE_CHOICES}")
    if "@" in spec:
        raise UsageError("give the listen address with --listen-host/--listen-port, not in --mode")
    try:
        mode_specs.ProxyMode.parse(spec)
    except ValueError as exc:
        raise UsageError(f"invalid --mode {spec!r}: {exc}") from None
    return spec


def mode_name(spec: str) -> str:
    """The mode's name without its data: ``"reverse:https://x"`` → ``"reverse"``."""
    return spec.strip().split(":", 1)[0].split("@", 1)[0]


def listen_port_for(spec: str, port: int | None) -> int | None:
    """The port a mode listens on: the user's ``--listen-port``, else the mode's own default.

    HTTP-proxy modes default to :data:`DEFAULT_LISTEN_PORT`; ``socks5`` and ``wireguard`` to
    mitmproxy's (1080 and UDP 51820); ``local`` listens on nothing (``None``).
    """
    from mitmproxy.proxy import mode_specs

    name = mode_name(spec)
    if name == "local":
        return None
    if port is not None:
        return port
    if name in ("socks5", "wireguard"):
        return mode_specs.ProxyMode.parse(spec).default_port
    return DEFAULT_LISTEN_PORT


def check_mode_supported(spec: str, *, platform: str | None = None) -> None:
    """Refuse, in one line, a mode this machine cannot run before mitmproxy tries it.

    Only ``local`` has prerequisites mitmproxy does not check up front: on Linux it starts its
    eBPF redirector through ``sudo`` (without ``sudo`` on ``PATH`` mitmproxy crashes), and it
    exists on Linux, macOS and Windows only. Whether the kernel then accepts the eBPF program is
    only known once it runs (see :mod:`provenance.capture.launcher`).
    """
    import shutil
    import sys

    if mode_name(spec) != "local":
        return
    platform = platform or sys.platform
    if platform.startswith("linux"):
        if shutil.which("sudo") is None:
            raise UsageError(
                "--mode local needs sudo: mitmproxy starts its eBPF redirector through sudo "
                "(install sudo, or use --mode regular, socks5 or wireguard)"
            )
    elif platform not in ("darwin", "win32"):
        raise UsageError(
            f"--mode local is not available on {platform}: mitmproxy has it on Linux, macOS "
            "and Windows only (use --mode regular, socks5 or wireguard)"
        )


def check_listen_address(host: str, port: int, *, allow_remote: bool) -> None:
    """Refuse a proxy listen address reachable from other machines unless ``allow_remote``."""
    if not 0 <= port <= 65535:
        raise UsageError(f"invalid --listen-port {port}: use 0-65535 (0 picks a free port)")
    netaddr.check_listen_address(host, port, allow_remote=allow_remote, what="this proxy")
