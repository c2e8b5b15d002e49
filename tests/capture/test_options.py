"""Capture option parsing: body caps, proxy modes, listen addresses (messages are the contract)."""

from __future__ import annotations

import re

import pytest

from provenance.capture.options import (
    DEFAULT_LISTEN_PORT,
    capture_options,
    check_listen_address,
    check_mode_supported,
    listen_port_for,
    parse_max_body,
    parse_mode,
)
from provenance.errors import UsageError
from provenance.netaddr import is_loopback


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (1000000, 1000000),
        ("2048", 2048),
        ("512k", 512 * 1024),
        ("1m", 1 << 20),
        ("1MB", 1 << 20),
        (" 3 ", 3),
    ],
)
def test_parse_max_body_accepts_sizes(value: object, expected: int) -> None:
    assert parse_max_body(value) == expected


@pytest.mark.parametrize("value", [0, -5, "0", "abc", "1.5m", "", True, "m"])
def test_parse_max_body_rejects_bad_values(value: object) -> None:
    with pytest.raises(UsageError, match="body cap"):
        parse_max_body(value)


def test_capture_options_normalises_empty_strings() -> None:
    opts = capture_options(db_url="  ", product="", keep_bodies=False, max_body="1k")
    assert opts.db_url is None and opts.product is None
    assert opts.keep_bodies is False and opts.max_body == 1024


@pytest.mark.parametrize(
    "spec",
    [
        "regular",
        "reverse:https://api.anthropic.com",
        "upstream:http://127.0.0.1:3128",
        "socks5",
        "wireguard",
        "wireguard:/tmp/keys.json",
        "local",
        "local:curl",
    ],
)
def test_parse_mode_accepts_the_capture_modes(spec: str) -> None:
    assert parse_mode(spec) == spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("transparent", "unsupported --mode"),
        ("dns", "unsupported --mode"),
        ("tun", "unsupported --mode"),
        ("reverse:", "invalid --mode"),
        ("regular@8081", "--listen-host/--listen-port"),
        ("socks5@1081", "--listen-host/--listen-port"),
    ],
)
def test_parse_mode_rejects_others(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_mode(spec)


@pytest.mark.parametrize(
    ("spec", "port", "expected"),
    [
        ("regular", None, DEFAULT_LISTEN_PORT),
        ("reverse:https://x.example", None, DEFAULT_LISTEN_PORT),
        ("socks5", None, 1080),
        ("wireguard", None, 51820),
        ("socks5", 0, 0),
        ("wireguard", 51999, 51999),
        ("regular", 9000, 9000),
        ("local", None, None),
        ("local:curl", None, None),
    ],
)
def test_listen_port_follows_the_mode(spec: str, port: int | None, expected: int | None) -> None:
    assert listen_port_for(spec, port) == expected


def test_local_mode_needs_sudo_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UsageError, match="--mode local needs sudo"):
        check_mode_supported("local:curl", platform="linux")
    check_mode_supported("socks5", platform="linux")  # other modes need nothing
    check_mode_supported("local", platform="darwin")  # mitmproxy's own checks apply there


def test_local_mode_is_refused_where_mitmproxy_has_none() -> None:
    with pytest.raises(UsageError, match="not available on freebsd14"):
        check_mode_supported("local", platform="freebsd14")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "10.0.0.1", "8.8.8.8"])
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback(host)


def test_non_loopback_listen_is_refused_without_allow_remote() -> None:
    with pytest.raises(
        UsageError, match=re.escape("refusing to listen on non-loopback address '0.0.0.0'")
    ):
        check_listen_address("0.0.0.0", 8080, allow_remote=False)
    check_listen_address("0.0.0.0", 8080, allow_remote=True)
    check_listen_address("127.0.0.1", 0, allow_remote=False)


def test_bad_port_is_refused() -> None:
    with pytest.raises(UsageError, match="invalid --listen-port 70000"):
        check_listen_address("127.0.0.1", 70000, allow_remote=False)
