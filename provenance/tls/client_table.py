"""The JA4 → client table (``fingerprints/ja4_clients.json``) and the command that regenerates it.

Every entry is computed on this machine from a real client's ClientHello, caught by a loopback
listener, and says so in its ``source`` (date and version). Regenerate with
``python -m provenance.tls.client_table --write``; never edit the file by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from provenance.tls.ja4 import ja4_from_client_hello

SCHEMA = "provenance.ja4_clients/1"
FILENAME = "ja4_clients.json"


def table_path() -> Path:
    from provenance.paths import fingerprints_dir

    return fingerprints_dir() / FILENAME


@lru_cache(maxsize=1)
def load_client_table() -> dict[str, dict[str, str]]:
    """``{ja4: entry}``; an absent or unreadable file gives an empty table (never raises)."""
    try:
        doc = json.loads(table_path().read_text())
    except (OSError, ValueError):
        return {}
    if doc.get("schema") != SCHEMA:
        return {}
    return {e["ja4"]: e for e in doc.get("entries", []) if "ja4" in e and "client" in e}


def client_for_ja4(ja4: str | None) -> str | None:
    """The client name for an exact JA4 match, else None."""
    if not ja4:
        return None
    entry = load_client_table().get(ja4)
    return entry["client"] if entry else None


def catch_client_hello(connect: Callable[[int], None], timeout: float = 10.0) -> bytes | None:
    """Run ``connect(port)`` against a loopback listener that records the first TLS record
    (the ClientHello) and closes; returns that record."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(timeout)
    port = server.getsockname()[1]
    caught: list[bytes] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            conn.settimeout(timeout)
            data = b""
            while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            caught.append(data)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with contextlib.suppress(Exception):
        connect(port)
    thread.join(timeout)
    server.close()
    return caught[0] if caught else None


def _python_ssl(alpn: list[str] | None) -> Callable[[int], None]:
    def connect(port: int) -> None:
        ctx = ssl.create_default_context()
        if alpn:
            ctx.set_alpn_protocols(alpn)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            ctx.wrap_socket(sock, server_hostname="localhost")

    return connect


def _command(argv: list[str]) -> Callable[[int], None]:
    def connect(port: int) -> None:
        subprocess.run(
            [a.replace("{port}", str(port)) for a in argv],
            capture_output=True,
            timeout=20,
            check=False,
        )

    return connect


def local_clients() -> list[tuple[str, str, Callable[[int], None]]]:
    """(client name, version text, connect function) for each client installed here."""
    py = f"Python {sys.version.split()[0]} ssl, {ssl.OPENSSL_VERSION}"
    out: list[tuple[str, str, Callable[[int], None]]] = [
        ("python-ssl", f"{py}, default context, no ALPN", _python_ssl(None)),
        (
            "python-ssl-h2",
            f"{py}, default context, ALPN h2+http/1.1 (httpx http2)",
            _python_ssl(["h2", "http/1.1"]),
        ),
        (
            "python-ssl-http1",
            f"{py}, default context, ALPN http/1.1 (httpx default)",
            _python_ssl(["http/1.1"]),
        ),
    ]
    curl = shutil.which("curl")
    if curl:
        version = subprocess.run(
            [curl, "--version"], capture_output=True, text=True, check=False
        ).stdout.split()
        version = " ".join(v for v in version[:4] if not v.startswith("(")) or "curl"
        out.append(("curl", version, _command([curl, "-sk", "https://localhost:{port}/"])))
    node = shutil.which("node")
    if node:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        script = (
            "require('https').get({host:'localhost',port:process.argv[1],"
            "rejectUnauthorized:false}).on('error',()=>{})"
        )
        out.append(
            (
                "node-https",
                f"Node.js {version} https module",
                _command([node, "-e", script, "{port}"]),
            )
        )
    return out


def compute_entries() -> list[dict[str, str]]:
    """Fingerprint every local client now; one entry per distinct JA4."""
    today = dt.date.today().isoformat()
    entries: dict[str, dict[str, str]] = {}
    for name, version, connect in local_clients():
        ja4 = ja4_from_client_hello(catch_client_hello(connect) or b"")
        if ja4 is None or ja4 in entries:
            continue
        entries[ja4] = {
            "ja4": ja4,
            "client": name,
            "source": f"computed here on {today} with {version} "
            "(python -m provenance.tls.client_table --write)",
        }
    return sorted(entries.values(), key=lambda e: e["client"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite fingerprints/{FILENAME}")
    args = parser.parse_args(argv)
    doc = {
        "schema": SCHEMA,
        "about": "JA4 (TLS client) -> client stack. Generated by `python -m "
        "provenance.tls.client_table --write` from ClientHellos of clients installed on the "
        "generating machine; exact-match lookup. Every entry names its source.",
        "entries": compute_entries(),
    }
    text = json.dumps(doc, indent=2) + "\n"
    if args.write:
        table_path().write_text(text)
        load_client_table.cache_clear()
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
