"""Set-up steps for routing a tool through the capture proxy, for the machine it runs on.

:func:`setup_steps` returns ordered (title, lines) sections; ``provenance setup`` prints them and
the README says the same. Nothing here touches the system: it only describes what to run.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    lines: tuple[str, ...]


def ca_path(confdir: Path | None = None) -> Path:
    """Where mitmproxy keeps its CA certificate (created on the proxy's first run)."""
    base = confdir if confdir is not None else Path("~/.mitmproxy").expanduser()
    return base / "mitmproxy-ca-cert.pem"


def _system_store(system: str, ca: Path) -> tuple[str, ...]:
    if system == "Darwin":
        return (
            "sudo security add-trusted-cert -d -r trustRoot "
            f"-k /Library/Keychains/System.keychain {ca}",
            "remove later: sudo security delete-certificate -c mitmproxy "
            "/Library/Keychains/System.keychain",
        )
    if system == "Windows":
        return (
            f"certutil -addstore root {ca.with_suffix('.cer')}   (in an elevated prompt)",
            "remove later: certutil -delstore root mitmproxy",
        )
    return (
        f"Debian/Ubuntu: sudo cp {ca} /usr/local/share/ca-certificates/mitmproxy.crt "
        "&& sudo update-ca-certificates",
        f"Fedora/RHEL:   sudo cp {ca} /etc/pki/ca-trust/source/anchors/mitmproxy.pem "
        "&& sudo update-ca-trust",
        "remove later: delete the copied file and run the same update command",
    )


def setup_steps(
    *,
    listen_host: str = "127.0.0.1",
    listen_port: int = 8080,
    confdir: Path | None = None,
    system: str | None = None,
) -> list[Section]:
    """The set-up guide for this machine (``system``: ``platform.system()`` unless given)."""
    system = system or platform.system()
    ca = ca_path(confdir)
    proxy = f"http://{listen_host}:{listen_port}"
    exists = "exists" if ca.is_file() else "is created the first time `provenance capture` runs"
    shell_set = "set" if system == "Windows" else "export"
    return [
        Section(
            "1. Start the proxy",
            (
                f"provenance capture --listen-port {listen_port}        (forward proxy at {proxy})",
                "Capture only traffic you are entitled to inspect: your own tools and accounts.",
            ),
        ),
        Section(
            "2. The proxy's CA certificate",
            (
                f"{ca} ({exists}).",
                "HTTPS clients must trust it, or they refuse the proxy's certificates. "
                "Trust it per tool (below) rather than system-wide where you can.",
            ),
        ),
        Section(
            "3. Node.js and Electron tools (Claude Code, Codex CLI, Copilot CLI, …)",
            (
                f"{shell_set} HTTPS_PROXY={proxy}",
                f"{shell_set} NODE_EXTRA_CA_CERTS={ca}",
                "then start the tool from this shell.",
            ),
        ),
        Section(
            "4. Python tools (openai, anthropic, httpx, requests)",
            (
                f"{shell_set} HTTPS_PROXY={proxy}",
                f"{shell_set} SSL_CERT_FILE={ca}        (httpx, the openai/anthropic SDKs)",
                f"{shell_set} REQUESTS_CA_BUNDLE={ca}   (requests)",
            ),
        ),
        Section(
            "5. VS Code-based editors (VS Code, Cursor, Windsurf)",
            (
                f'settings.json: "http.proxy": "{proxy}", "http.proxyStrictSSL": true',
                "and trust the CA in the system store (step 6), or launch the editor from a "
                f"shell with HTTPS_PROXY={proxy} and NODE_EXTRA_CA_CERTS={ca}.",
                'Last resort for a throw-away profile only: "http.proxyStrictSSL": false.',
            ),
        ),
        Section("6. System trust store (" + (system or "this OS") + ")", _system_store(system, ca)),
        Section(
            "7. Base-URL override instead of a proxy (reverse mode, no CA needed)",
            (
                "provenance capture --listen-port 8080 --mode reverse:https://api.anthropic.com",
                f"{shell_set} ANTHROPIC_BASE_URL=http://{listen_host}:8080",
                "provenance capture --listen-port 8081 --mode reverse:https://api.openai.com",
                f"{shell_set} OPENAI_BASE_URL=http://{listen_host}:8081/v1",
                "Cursor: Settings → Models → override the OpenAI base URL the same way.",
            ),
        ),
        Section(
            "8. Other capture modes (mitmproxy 12)",
            (
                "SOCKS5, for tools with a SOCKS setting but no HTTP proxy setting:",
                "  provenance capture --mode socks5                (127.0.0.1:1080)",
                f"  {shell_set} ALL_PROXY=socks5h://{listen_host}:1080   (curl, many CLIs); "
                "trust the CA as above",
                "WireGuard, for a phone or another machine (no proxy setting on the device):",
                "  provenance capture --mode wireguard --listen-host 0.0.0.0 --allow-remote",
                "  import the client configuration it writes "
                "(<confdir>/provenance-wireguard-client.conf, 0600: it holds the device's "
                "private key) into the device's WireGuard app, and install the CA there",
                "Local, one application on this machine without any proxy setting:",
                "  provenance capture --mode local:NAME            (NAME: process name or PID)",
                "  Linux: needs sudo and a kernel that accepts mitmproxy's eBPF redirector; "
                "macOS: mitmproxy's network extension; Windows: an elevated prompt. Where the "
                "redirector cannot start, the command says so in one line.",
            ),
        ),
        Section(
            "9. Check",
            (
                "provenance models      (what was captured: product, provider, model ids)",
                f"data directory: {os.environ.get('PROVENANCE_HOME') or 'platform default'}",
            ),
        ),
    ]
