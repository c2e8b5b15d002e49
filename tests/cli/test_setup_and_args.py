"""``provenance setup`` text, and capture/import argument errors (exit 2, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provenance.capture.guide import setup_steps
from provenance.cli.main import main as cli


def test_setup_prints_every_routing_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["setup", "--confdir", str(tmp_path), "--listen-port", "9090"]) == 0
    out = capsys.readouterr().out
    ca = f"{tmp_path}/mitmproxy-ca-cert.pem"
    for needle in [
        f"NODE_EXTRA_CA_CERTS={ca}",
        f"SSL_CERT_FILE={ca}",
        f"REQUESTS_CA_BUNDLE={ca}",
        "HTTPS_PROXY=http://127.0.0.1:9090",
        '"http.proxy": "http://127.0.0.1:9090"',
        "http.proxyStrictSSL",
        "--mode reverse:https://api.anthropic.com",
        "ANTHROPIC_BASE_URL=",
        "OPENAI_BASE_URL=",
        "Cursor",
        "Windsurf",
        "entitled to inspect",
        "is created the first time",
        "--mode socks5",
        "ALL_PROXY=socks5h://127.0.0.1:1080",
        "--mode wireguard",
        "provenance-wireguard-client.conf",
        "--mode local:NAME",
        "eBPF redirector",
    ]:
        assert needle in out, needle
    (tmp_path / "mitmproxy-ca-cert.pem").write_text("x")
    assert cli(["setup", "--confdir", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "provenance.setup/1" and doc["ca_cert"] == ca
    assert any(f"{ca} (exists)" in line for s in doc["sections"] for line in s["lines"])


@pytest.mark.parametrize(
    ("system", "needle"),
    [
        ("Darwin", "security add-trusted-cert"),
        ("Windows", "certutil -addstore root"),
        ("Linux", "update-ca-certificates"),
    ],
)
def test_system_store_step_per_os(system: str, needle: str) -> None:
    lines = [line for s in setup_steps(system=system) for line in s.lines]
    assert any(needle in line for line in lines)
    assert any("set HTTPS_PROXY" in line for line in lines) == (system == "Windows")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen-host", "0.0.0.0"], "pass --allow-remote"),
        (["--listen-port", "99999"], "invalid --listen-port"),
        (["--mode", "transparent"], "unsupported --mode"),
        (["--mode", "reverse:"], "invalid --mode"),
        (["--mode", "local", "--listen-port", "8080"], "drop --listen-port"),
        (["--max-body", "0"], "body cap"),
        (["--db", "nosuch://x"], "unsupported database URL scheme"),
    ],
)
def test_capture_argument_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli(
            ["capture", "--listen-port", "0", *args]
            if "--listen-port" not in args
            else ["capture", *args]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
