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
ALLOWED_MODES = ("regular", "reverse", "upstream")


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
    """Validate a ``--mode`` value: ``regular``, ``reverse:URL`` or ``upstream:URL``.

    Returns the spec unchanged (mitmproxy's syntax); raises :class:`UsageError` otherwise.
    """
    from mitmproxy.proxy import mode_specs

    spec = spec.strip()
    name = spec.split(":", 1)[0].split("@", 1)[0]
    if name not in ALLOWED_MODES:
        raise UsageError(f"unsupported --mode {spec!r}: use regular, reverse:URL or upstream:URL")
    if "@" in spec:
        raise UsageError("give the listen address with --listen-host/--listen-port, not in --mode")
    try:
        mode_specs.ProxyMode.parse(spec)
    except ValueError as exc:
        raise UsageError(f"invalid --mode {spec!r}: {exc}") from None
    return spec


def check_listen_address(host: str, port: int, *, allow_remote: bool) -> None:
    """Refuse a proxy listen address reachable from other machines unless ``allow_remote``."""
    if not 0 <= port <= 65535:
        raise UsageError(f"invalid --listen-port {port}: use 0-65535 (0 picks a free port)")
    netaddr.check_listen_address(host, port, allow_remote=allow_remote, what="this proxy")
