"""``provenance dashboard``: serve the Streamlit audit dashboard over a store (read-only)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from provenance.cli.common import add_allow_host_option, add_db_option, port_number
from provenance.errors import UsageError
from provenance.netaddr import check_listen_address
from provenance.netguard import ALLOW_HOSTS_ENV, PASSWORD_HASH_ENV, hash_password

MIN_PASSWORD = 12


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="serve the audit dashboard (Streamlit, headless)")
    add_db_option(p)
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=port_number, default=8501, help="listen port (default 8501)")
    p.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback listen address"
    )
    add_allow_host_option(p)
    p.add_argument(
        "--password-env",
        metavar="VAR",
        help="require this environment variable's value as the password (HTTP Basic; needed "
        "with --allow-remote; serve over TLS or an SSH tunnel, Basic sends it in clear)",
    )
    p.set_defaults(func=run)


def app_path() -> Path:
    """The dashboard's server entry (in a checkout or inside the installed package): the
    Streamlit app behind the request guard (see ``dashboards/serve.py``)."""
    import provenance.dashboards as pkg

    return Path(pkg.__file__).resolve().parent / "serve.py"


def streamlit_command(app: Path, host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line: headless, no file watcher, no usage statistics."""
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
    ]  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from provenance.store import open_store, resolve_db_url

    check_listen_address(args.host, args.port, allow_remote=args.allow_remote, what="the dashboard")
    password_hash = _password_hash(args)
    url = resolve_db_url(args.db)
    store = open_store(url)  # fails here, with one clear line, if the store cannot be read
    sys.stderr.write(f"dashboard for {store.url} at http://{args.host}:{args.port}/\n")
    store.close()
    env = {**os.environ, "PROVENANCE_DB": url, ALLOW_HOSTS_ENV: ",".join(args.allow_host)}
    env[PASSWORD_HASH_ENV] = password_hash or ""
    if args.password_env:
        env.pop(args.password_env, None)  # the server process gets the hash, never the password
    sys.stderr.flush()
    # Become the Streamlit server (exec, not a child process): a signal sent to this command
    # then stops the server itself, and no orphan keeps the port.
    os.execve(sys.executable, streamlit_command(app_path(), args.host, args.port), env)
    return 0  # not reached


def _password_hash(args: argparse.Namespace) -> str | None:
    """The scrypt hash of the password named by ``--password-env`` (None without it); beyond
    loopback a password is required."""
    from provenance.netaddr import is_loopback

    if not args.password_env:
        if not is_loopback(args.host):
            raise UsageError(
                "a dashboard served beyond loopback needs authentication: pass "
                "--password-env VAR with the password in $VAR"
            )
        return None
    password = os.environ.get(args.password_env, "")
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            f"--password-env {args.password_env}: set it to a password of at least "
            f"{MIN_PASSWORD} characters"
        )
    return hash_password(password)
