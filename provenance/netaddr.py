"""Listen addresses: every server provenance starts is loopback-only unless the user says so."""

from __future__ import annotations

import ipaddress
import socket

from provenance.errors import UsageError


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine.

    An IP literal is checked directly; ``localhost`` and other names are resolved and every
    address they resolve to must be loopback. ``""``/``0.0.0.0``/``::`` (all interfaces) are not.
    """
    host = host.strip().strip("[]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addrs = {info[4][0] for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def check_listen_address(host: str, port: int, *, allow_remote: bool, what: str) -> None:
    """Refuse a listen address reachable from other machines unless ``allow_remote``.

    ``what`` names the server in the message ("this proxy", "the dashboard"). Raises
    :class:`UsageError` (exit 2) with a message that says how to proceed.
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"invalid port {port}: use 0-65535 (0 picks a free port)")
    if not allow_remote and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on non-loopback address {host or '*'!r}: other machines could "
            f"use {what}; pass --allow-remote if you mean it"
        )
