"""mitmproxy 12's capture modes through a real ``provenance capture`` process.

- ``socks5``: a client that speaks SOCKS5 itself (no proxy library in between) reaches the
  stand-in provider through the proxy; the exchange and its model id are stored.
- ``wireguard``: the proxy serves WireGuard on UDP and writes the client configuration 0600;
  the client's private key never appears in the proxy's output; a real WireGuard client
  (wireguard-go, in a network namespace of its own) reaches the stand-in only through the
  tunnel, and the exchange is stored.
- ``local``: where mitmproxy's redirector cannot start (no ``sudo``, or a kernel that refuses
  its eBPF program, as on the CI machines), the command ends with one error line; traffic
  capture in local mode is tested only where the redirector starts.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from provenance.capture.launcher import WIREGUARD_CLIENT_FILE
from provenance.standins.processes import BIN, ROOT, ProxyProcess, provenance_capture
from provenance.standins.provider import StandInProvider
from tests.capture.dbrows import exchanges

pytestmark = pytest.mark.e2e

MODEL = "kimi-k2p5-rl-0317-s515-fast"


def socks5_connect(proxy_port: int, host: str, port: int) -> socket.socket:
    """Open a TCP stream to ``host:port`` through a SOCKS5 proxy (RFC 1928, no auth)."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=30)
    sock.sendall(b"\x05\x01\x00")  # version 5, one method: no authentication
    assert sock.recv(2) == b"\x05\x00"
    name = host.encode()
    sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port))
    reply = sock.recv(4)
    assert reply[:2] == b"\x05\x00", f"SOCKS5 CONNECT refused: {reply!r}"
    rest = {1: 4, 4: 16}.get(reply[3])
    if rest is None:  # domain name
        rest = sock.recv(1)[0]
    sock.recv(rest + 2)
    return sock


def test_socks5_mode_stores_the_exchange(tmp_path: Path) -> None:
    db = tmp_path / "socks.sqlite"
    proxy = provenance_capture(f"sqlite:///{db}", tmp_path / "conf", "--mode", "socks5")
    port = proxy.wait_listening()
    assert "(socks5)" in proxy.output
    with StandInProvider() as upstream:
        host, upstream_port = upstream.base_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(upstream_port), timeout=30)
        conn.sock = socks5_connect(port, host, int(upstream_port))
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
        conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["model"] == MODEL
        conn.close()
        assert proxy.stop() == 0, proxy.output
    rows = exchanges(f"sqlite:///{db}")
    assert len(rows) == 1
    assert (MODEL, "response_field", "$.model", "response") in rows[0]["ids"], rows[0]["ids"]


def test_wireguard_mode_writes_a_private_client_configuration(tmp_path: Path) -> None:
    confdir = tmp_path / "conf"
    proxy = ProxyProcess(
        [*_capture_argv(tmp_path / "wg.sqlite", confdir, "wireguard"), "--listen-port", "0"]
    )
    port = proxy.wait_listening()
    try:
        conf_file = confdir / WIREGUARD_CLIENT_FILE
        deadline = time.monotonic() + 30
        while "WireGuard client configuration" not in proxy.output:
            assert time.monotonic() < deadline, proxy.output
            time.sleep(0.1)
        assert str(conf_file) in proxy.output
        assert stat.S_IMODE(conf_file.stat().st_mode) == 0o600
        conf = conf_file.read_text()
        private = re.search(r"^PrivateKey = (\S+)$", conf, re.M)
        assert private and re.search(r"^PublicKey = \S+$", conf, re.M)
        assert re.search(rf"^Endpoint = 127\.0\.0\.1:{port}$", conf, re.M)
        # mitmproxy listens on UDP: a datagram that is no WireGuard handshake is dropped, and
        # the proxy stays up
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"not a handshake", ("127.0.0.1", port))
        time.sleep(0.5)
        assert proxy.proc.poll() is None
    finally:
        code = proxy.stop()
    assert code == 0, proxy.output
    assert private.group(1) not in proxy.output


def _wireguard_client_missing() -> str | None:
    """Why a WireGuard client cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "a WireGuard client in a network namespace needs root"
    missing = [tool for tool in ("ip", "wireguard-go", "wg") if shutil.which(tool) is None]
    if missing:
        return f"no {', '.join(missing)} (Debian: iproute2, wireguard-go, wireguard-tools)"
    if not Path("/dev/net/tun").exists():
        return "no /dev/net/tun for wireguard-go"
    return None


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


class WireGuardClient:
    """A WireGuard client in its own network namespace: wireguard-go (userspace) on ``wg0``.

    The namespace reaches the host over a veth pair (10.231.0.1 host side, where the proxy
    listens); ``TARGET`` (an extra loopback address of the host) is routed through the tunnel,
    so a request to it from inside the namespace can only arrive through the proxy.
    """

    HOST = "10.231.0.1"
    TARGET = "10.232.0.1"

    def __init__(self, tag: str) -> None:
        self.ns = f"pv{tag}"
        self.veth = f"pvh{tag}"

    def __enter__(self) -> WireGuardClient:
        self.close()  # a previous run's leftovers
        ns = ("ip", "netns", "exec", self.ns)
        _sh("ip", "netns", "add", self.ns)
        _sh("ip", "link", "add", self.veth, "type", "veth", "peer", "name", "pvc0")
        _sh("ip", "link", "set", "pvc0", "netns", self.ns)
        _sh("ip", "addr", "add", f"{self.HOST}/24", "dev", self.veth)
        _sh("ip", "link", "set", self.veth, "up")
        _sh(*ns, "ip", "addr", "add", "10.231.0.2/24", "dev", "pvc0")
        _sh(*ns, "ip", "link", "set", "pvc0", "up")
        _sh(*ns, "ip", "link", "set", "lo", "up")
        _sh("ip", "addr", "add", f"{self.TARGET}/32", "dev", "lo")
        return self

    def connect(self, client_conf: str, workdir: Path) -> None:
        """Bring ``wg0`` up with the proxy's client configuration (wg-quick lines dropped)."""
        ns = ("ip", "netns", "exec", self.ns)
        conf = workdir / "wg0.conf"
        conf.write_text(
            "\n".join(
                line for line in client_conf.splitlines() if not line.startswith(("Address", "DNS"))
            )
            + "\n"
        )
        conf.chmod(0o600)
        _sh(*ns, "wireguard-go", "wg0")
        _sh(*ns, "wg", "setconf", "wg0", str(conf))
        _sh(*ns, "ip", "addr", "add", "10.0.0.1/32", "dev", "wg0")
        _sh(*ns, "ip", "link", "set", "wg0", "up")
        _sh(*ns, "ip", "route", "add", f"{self.TARGET}/32", "dev", "wg0")

    def run_python(self, code: str) -> str:
        result = subprocess.run(
            ["ip", "netns", "exec", self.ns, sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout

    def close(self) -> None:
        for argv in (
            ("ip", "netns", "exec", self.ns, "ip", "link", "del", "wg0"),
            ("ip", "netns", "del", self.ns),
            ("ip", "link", "del", self.veth),
            ("ip", "addr", "del", f"{self.TARGET}/32", "dev", "lo"),
        ):
            subprocess.run(argv, capture_output=True, timeout=30, check=False)

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.mark.skipif(
    _wireguard_client_missing() is not None, reason=str(_wireguard_client_missing())
)
def test_wireguard_mode_captures_a_device_behind_the_tunnel(tmp_path: Path) -> None:
    confdir = tmp_path / "conf"
    db = tmp_path / "wg.sqlite"
    with WireGuardClient(f"{os.getpid() % 10000}") as client:
        proxy = ProxyProcess(
            [
                *_capture_argv(db, confdir, "wireguard"),
                "--listen-host",
                WireGuardClient.HOST,
                "--allow-remote",
                "--listen-port",
                "0",
            ]
        )
        try:
            deadline = time.monotonic() + 120
            while "WireGuard client configuration" not in proxy.output:
                assert proxy.proc.poll() is None and time.monotonic() < deadline, proxy.output
                time.sleep(0.1)
            client.connect((confdir / WIREGUARD_CLIENT_FILE).read_text(), tmp_path)
            with StandInProvider(host=WireGuardClient.TARGET) as upstream:
                body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
                answer = client.run_python(
                    "import http.client, json\n"
                    f"c = http.client.HTTPConnection({upstream.host!r}, {upstream.port}, 30)\n"
                    f"c.request('POST', '/v1/chat/completions', {body!r}, "
                    "{'content-type': 'application/json'})\n"
                    "print(json.loads(c.getresponse().read())['model'])\n"
                )
            assert answer.strip() == MODEL
        finally:
            code = proxy.stop()
    assert code == 0, proxy.output
    rows = exchanges(f"sqlite:///{db}")
    assert len(rows) == 1 and rows[0]["host"] == WireGuardClient.TARGET
    assert (MODEL, "response_field", "$.model", "response") in rows[0]["ids"]


def _capture_argv(db: Path, confdir: Path, mode: str) -> list[str]:
    return [
        str(BIN / "python"),
        "-m",
        "provenance.cli.main",
        "capture",
        "--mode",
        mode,
        "--db",
        f"sqlite:///{db}",
        "--confdir",
        str(confdir),
    ]


def test_local_mode_without_sudo_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no sudo anywhere on PATH
    result = subprocess.run(
        _capture_argv(tmp_path / "l.sqlite", tmp_path / "conf", "local:curl"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --mode local needs sudo")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def _start_local(tmp_path: Path) -> tuple[ProxyProcess, bool]:
    """Start ``--mode local:curl``; return the process and whether the redirector runs."""
    proxy = ProxyProcess(_capture_argv(tmp_path / "l.sqlite", tmp_path / "conf", "local:curl"))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proxy.proc.poll() is not None:
            proxy.stop()
            return proxy, False
        if "proxy listening" in proxy.output:
            time.sleep(10)  # the redirector reports a refused eBPF program just after starting
            if proxy.proc.poll() is None:
                return proxy, True
        time.sleep(0.2)
    proxy.stop()
    raise AssertionError(f"local mode neither started nor failed:\n{proxy.output[-3000:]}")


@pytest.mark.skipif(shutil.which("sudo") is None, reason="local mode needs sudo on PATH")
def test_local_mode_starts_or_fails_in_one_line(tmp_path: Path) -> None:
    proxy, running = _start_local(tmp_path)
    if running:
        try:
            _local_capture_round_trip(tmp_path)
        finally:
            proxy.stop()
        return
    assert proxy.proc.returncode == 1, proxy.output
    errors = [line for line in proxy.lines if line.startswith("error: ")]
    assert len(errors) == 1 and "--mode local could not start" in errors[0], proxy.output
    assert "Traceback" not in proxy.output


def _local_capture_round_trip(tmp_path: Path) -> None:
    """With a working redirector, ``curl``'s request is captured without proxy settings."""
    if shutil.which("curl") is None:
        pytest.skip("no curl to capture")
    with StandInProvider() as upstream:
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
        subprocess.run(
            [
                "curl",
                "-s",
                "-m",
                "30",
                "-H",
                "content-type: application/json",
                "-d",
                body,
                f"{upstream.base_url}/v1/chat/completions",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    deadline = time.monotonic() + 30
    while not exchanges(f"sqlite:///{tmp_path / 'l.sqlite'}"):
        assert time.monotonic() < deadline, "curl's exchange was not captured in local mode"
        time.sleep(0.5)


if sys.platform != "linux":  # pragma: no cover - the CI machines are Linux
    pytestmark = [pytestmark, pytest.mark.skip(reason="the mode tests are written for Linux")]
