"""``provenance capture``: run the capture proxy until SIGINT/SIGTERM, then flush and summarise.

Everything the user can get wrong (listen address, mode, body cap, ``--db``) is checked before
mitmproxy starts: one ``error:`` line, exit 2. Each stored exchange prints one redacted line;
``--json`` prints only a ``provenance.capture/1`` summary document at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provenance.capture.options import (
    DEFAULT_LISTEN_HOST,
    DEFAULT_LISTEN_PORT,
    DEFAULT_MAX_BODY,
    capture_options,
    check_listen_address,
    check_mode_supported,
    listen_port_for,
    mode_name,
    parse_mode,
)
from provenance.cli.common import add_db_option, add_json_option, emit_json
from provenance.errors import UsageError

if TYPE_CHECKING:
    from provenance.capture.launcher import Ready


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "capture",
        help="run the capture proxy (mitmproxy) and store AI API traffic",
        description="Run a mitmproxy-based capture proxy. Route a tool through it (see "
        "`provenance setup`); every exchange is extracted, redacted and stored. "
        "Stop with Ctrl-C (SIGINT) or SIGTERM: everything captured is flushed first.",
    )
    parser.add_argument("--listen-host", default=DEFAULT_LISTEN_HOST, metavar="HOST")
    parser.add_argument(
        "--listen-port",
        type=int,
        default=None,
        metavar="PORT",
        help=f"default {DEFAULT_LISTEN_PORT} (socks5: 1080, wireguard: UDP 51820); "
        "0 picks a free port",
    )
    add_db_option(parser)
    parser.add_argument(
        "--mode",
        default="regular",
        metavar="MODE",
        help="regular (default: an HTTP(S) proxy), reverse:URL (base-URL override), "
        "upstream:URL, socks5, wireguard[:KEYFILE] (a WireGuard server for other devices; "
        "writes a client configuration) or local[:APP] (one application's traffic without "
        "proxy settings, where mitmproxy's redirector runs); `provenance setup` explains each",
    )
    parser.add_argument(
        "--product",
        default=None,
        metavar="NAME",
        help="product name for every exchange (default: from client headers)",
    )
    parser.add_argument("--no-bodies", action="store_true", help="store no bodies at all")
    parser.add_argument(
        "--max-body",
        default=str(DEFAULT_MAX_BODY),
        metavar="BYTES",
        help="body cap (e.g. 1000000 or 1m): larger bodies keep only a digest "
        "beyond the cap and are streamed, never buffered",
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow listening on a non-loopback address"
    )
    parser.add_argument(
        "--confdir",
        type=Path,
        default=None,
        metavar="DIR",
        help="mitmproxy's configuration/CA directory (default ~/.mitmproxy)",
    )
    parser.add_argument(
        "--ssl-insecure",
        action="store_true",
        help="do not verify upstream TLS certificates (local test servers only)",
    )
    parser.add_argument(
        "--extract-in-proxy",
        action="store_true",
        help="extract and write in the proxy process itself instead of a separate process "
        "(slower under load; for debugging)",
    )
    parser.add_argument("--verbose", action="store_true", help="show mitmproxy's own log lines")
    parser.add_argument("--quiet", action="store_true", help="no line per exchange")
    add_json_option(parser)
    parser.set_defaults(func=run)


def _print_ready(args: argparse.Namespace, store_url: str, ready: Ready) -> None:
    mode = args.mode
    if mode_name(mode) == "local":
        where = "no port: mitmproxy's redirector"
    else:
        where = ", ".join(f"{h}:{p}" for h, p in ready.addrs) or f"{args.listen_host}"
    confdir = args.confdir or Path("~/.mitmproxy")
    lines = [f"provenance: proxy listening on {where} ({mode}); storing into {store_url}"]
    if ready.wireguard_conf is not None:
        lines.append(
            f"provenance: WireGuard client configuration in {ready.wireguard_conf} (it holds "
            "the client's private key; import it into the device's WireGuard app)"
        )
    lines.append(
        f"provenance: HTTPS clients must trust {confdir}/mitmproxy-ca-cert.pem "
        "(see `provenance setup`); stop with Ctrl-C"
    )
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from provenance.capture.launcher import ProxySettings, run_proxy
    from provenance.capture.session import open_capture_store, recover_unstored
    from provenance.capture.stats import describe, summary_line

    mode = parse_mode(args.mode)
    listen_port = listen_port_for(mode, args.listen_port)
    if listen_port is not None:
        check_listen_address(args.listen_host, listen_port, allow_remote=args.allow_remote)
    elif args.listen_port is not None:
        raise UsageError("--mode local listens on no port: drop --listen-port")
    check_mode_supported(mode)
    options = capture_options(
        db_url=args.db,
        product=args.product,
        keep_bodies=not args.no_bodies,
        max_body=args.max_body,
        extract_process=not args.extract_in_proxy,
    )
    store = open_capture_store(options.db_url)  # StoreError (exit 2) before anything listens
    recovered = recover_unstored(store)
    if recovered:
        sys.stderr.write(recovered + "\n")
    settings = ProxySettings(
        listen_host=args.listen_host,
        listen_port=listen_port,
        mode=mode,
        confdir=args.confdir,
        ssl_insecure=args.ssl_insecure,
        verbose=args.verbose,
    )

    def on_record(record: Any) -> None:
        sys.stdout.write(describe(record) + "\n")
        sys.stdout.flush()

    try:
        stats = run_proxy(
            settings,
            options,
            store=store,
            on_ready=lambda ready: _print_ready(args, store.url, ready),
            on_record=None if (args.json or args.quiet) else on_record,
        )
    finally:
        store.close()
    if args.json:
        emit_json({"schema": "provenance.capture/1", "store": store.url, **stats.as_dict()})
    else:
        sys.stdout.write(summary_line(stats, store) + "\n")
    # Non-zero when anything acknowledged is not in the database (journaled ones included:
    # they are safe, but a script reading the store now would not find them).
    return 1 if stats.dropped or stats.write_failures else 0
