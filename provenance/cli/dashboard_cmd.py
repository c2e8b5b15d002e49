"""``provenance dashboard``: serve the Streamlit audit dashboard over a store (read-only)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import socket
import sys
from pathlib import Path

from provenance.cli.common import add_allow_host_option, add_db_option, port_number
from provenance.errors import UsageError
from provenance.netaddr import check_listen_address
from provenance.netguard import ALLOW_HOSTS_ENV
from provenance.passwords import (
    AUTH_FD_ENV,
    MIN_PASSWORD,
    hand_over_secret,
    hash_password,
    password_weakness,
)

DB_ENV = "PROVENANCE_DB"
FORWARDED_ENV = "FORWARDED_ALLOW_IPS"  # uvicorn's proxies trusted to name the client
# Variables this command sets for the server itself: a password under one of these names would
# be overwritten, or would overwrite the server's settings, so they are refused as --password-env.
RESERVED_ENV = (DB_ENV, ALLOW_HOSTS_ENV, AUTH_FD_ENV)
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="serve the audit dashboard (Streamlit, headless)")
    add_db_option(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="listen address: an IP address or a host name (default 127.0.0.1; '' or 0.0.0.0 "
        "for every interface, with --allow-remote)",
    )
    p.add_argument("--port", type=port_number, default=8501, help="listen port (default 8501)")
    p.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback listen address"
    )
    add_allow_host_option(p)
    p.add_argument(
        "--password-env",
        metavar="VAR",
        help="require this environment variable's value as the password (HTTP Basic; needed "
        f"with --allow-remote; at least {MIN_PASSWORD} characters, not a common one; wrong "
        "guesses make their address wait longer and longer; serve over TLS or an SSH tunnel, "
        "Basic sends it in clear)",
    )
    p.set_defaults(func=run)


def app_path() -> Path:
    """The dashboard's server entry (in a checkout or inside the installed package): the
    Streamlit app behind the request guard (see ``dashboards/serve.py``)."""
    import provenance.dashboards as pkg

    return Path(pkg.__file__).resolve().parent / "serve.py"


def streamlit_command(app: Path, host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line: headless, no file watcher, no usage statistics, and
    no exception details in the page (a bug shows a generic notice; the details go to the
    server's log, never a traceback or a server path to the browser)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--server.address", host,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--theme.base", "light",
        "--client.toolbarMode", "viewer",
        "--client.showErrorDetails", "none",
    ]  # fmt: skip


def listen_host(value: str) -> str:
    """``--host`` unchanged when it is ``""`` (every interface), an IP address, or a host name
    that resolves; otherwise a :class:`UsageError` naming the value as typed (quoted, so a
    stray space shows). Nothing is stripped or guessed: ``"127.0.0.1 "`` is refused."""
    if value == "":
        return value
    shown = repr(value) if len(value) <= 40 else repr(value[:40]) + "…"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return value
    if len(value) > 253 or not _HOST_NAME.fullmatch(value):
        raise UsageError(
            f"--host {shown}: not an IP address or host name; give one without spaces, "
            "brackets, port or scheme (e.g. 127.0.0.1, ::1 or localhost)"
        )
    try:
        socket.getaddrinfo(value, None)
    except OSError:
        raise UsageError(
            f"--host {shown}: the name does not resolve; give an IP address (e.g. 127.0.0.1)"
        ) from None
    return value


def run(args: argparse.Namespace) -> int:
    from provenance.store import open_store, resolve_db_url

    host = listen_host(args.host)
    check_listen_address(host, args.port, allow_remote=args.allow_remote, what="the dashboard")
    env = dict(os.environ)
    password_hash = _password_hash(args, host, env)
    url = resolve_db_url(args.db)
    store = open_store(url)  # fails here, with one clear line, if the store cannot be read
    sys.stderr.write(f"dashboard for {store.url} at {_shown_url(host, args.port)}\n")
    store.close()
    env[DB_ENV] = url
    env[ALLOW_HOSTS_ENV] = ",".join(args.allow_host)
    env.pop(AUTH_FD_ENV, None)  # a stale one from our own environment never reaches the server
    # uvicorn believes X-Forwarded-For from loopback peers by default (and from anyone with
    # FORWARDED_ALLOW_IPS=*): a client could then claim a new address per guess and escape the
    # password gate's per-address throttle. The peer's own address is what counts.
    env[FORWARDED_ENV] = ""
    if password_hash is not None:
        hand_over_secret(password_hash, env)  # the server reads it once, from a pipe
    sys.stderr.flush()
    # Become the Streamlit server (exec, not a child process): a signal sent to this command
    # then stops the server itself, and no orphan keeps the port.
    os.execve(sys.executable, streamlit_command(app_path(), host, args.port), env)
    return 0  # not reached


def _password_hash(args: argparse.Namespace, host: str, env: dict[str, str]) -> str | None:
    """The scrypt hash of the password in the variable named by ``--password-env`` (None
    without it; beyond loopback a password is required). The variable is read once, here, by
    taking it out of ``env``, the server's environment-to-be: the server never sees it."""
    from provenance.netaddr import is_loopback

    name = args.password_env
    if not name:
        if not is_loopback(host):
            raise UsageError(
                "a dashboard served beyond loopback needs authentication: pass "
                "--password-env VAR with the password in $VAR"
            )
        return None
    if name in RESERVED_ENV:
        raise UsageError(
            f"--password-env {name}: the dashboard sets ${name} for itself; keep the password "
            "in a variable of your own (e.g. PROVENANCE_PW)"
        )
    password = env.pop(name, None)
    if password is None:
        raise UsageError(f"--password-env {name}: ${name} is not set; put the password in it")
    weakness = password_weakness(password)
    if weakness is not None:
        raise UsageError(
            f"--password-env {name}: the password {weakness}; choose a passphrase of "
            f"{MIN_PASSWORD} or more characters, e.g. a few unrelated words"
        )
    return hash_password(password)


def _shown_url(host: str, port: int) -> str:
    """The address to open, for the start-up line (IPv6 in brackets)."""
    if host in ("", "0.0.0.0", "::"):
        return f"http://localhost:{port}/ (listening on every interface)"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
