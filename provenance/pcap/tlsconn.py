"""The TLS side of one TCP connection: records, handshake, fingerprints, decryption, HTTP.

:class:`TlsSession` is fed the reassembled bytes of each direction in order. It frames TLS
records, reassembles handshake messages, fingerprints every ClientHello, reads the ServerHello,
and — when the key log holds this connection's secrets — decrypts records and hands the
plaintext to an HTTP/1.1 or HTTP/2 reassembler chosen by ALPN or by the first client bytes.
Nothing raises: problems end processing of that connection and are counted with a reason.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from provenance.pcap.http1 import Http1Reassembler
from provenance.pcap.http2 import PREFACE, Http2Reassembler
from provenance.pcap.http_common import HttpExchange
from provenance.pcap.model import CaptureStats, TlsConnection
from provenance.tls.clienthello import MalformedHello, parse_client_hello
from provenance.tls.decrypt import (
    TLS13_SUITES,
    DecryptError,
    DirectionDecryptor,
    tls12_decryptors,
)
from provenance.tls.ja3 import ja3_hash, ja3_string
from provenance.tls.ja4 import ja4_for_hello
from provenance.tls.keylog import KeyLog
from provenance.tls.serverhello import (
    VERSION_NAMES,
    ServerHello,
    alpn_from_encrypted_extensions,
    parse_server_hello,
)

CLIENT, SERVER = 0, 1
_CCS, _ALERT, _HANDSHAKE, _APPDATA = 20, 21, 22, 23
_MAX_RECORD = (1 << 14) + 2048
_MAX_HANDSHAKE = 1 << 20
_MAX_PENDING_PLAIN = 1 << 20


def looks_like_client_hello(data: bytes) -> bool | None:
    """True/False once 6 bytes are there (TLS by content, on any port), None if too short."""
    if len(data) < 6:
        return None
    return (
        data[0] == _HANDSHAKE
        and data[1] == 3
        and data[2] <= 4
        and struct.unpack_from("!H", data, 3)[0] <= _MAX_RECORD
        and data[5] == 1
    )


class TlsSession:
    """State for one TLS connection; ``conn`` is filled in as the handshake is read."""

    def __init__(
        self,
        conn: TlsConnection,
        keylog: KeyLog | None,
        stats: CaptureStats,
        emit: Callable[[TlsSession, HttpExchange], None],
    ) -> None:
        self.conn = conn
        self.keylog = keylog
        self.stats = stats
        self.emit = emit
        self.buf = (bytearray(), bytearray())
        self.hs_buf = (bytearray(), bytearray())
        self.encrypted = [False, False]
        self.dec: list[DirectionDecryptor | None] = [None, None]
        self.next13: list[DirectionDecryptor | None] = [None, None]
        self.client_random: bytes | None = None
        self.version: int | None = None
        self.broken = False
        self.dead = [False, False]  # direction unreadable (decryption failed)
        self.app: Http1Reassembler | Http2Reassembler | None = None
        self.app_pending: list[tuple[int, bytes, float]] = []
        self.app_pending_bytes = 0
        self.counted_decrypted = False
        self.conn.decryption = "no key log" if not keylog else "handshake not seen"

    # -- public --------------------------------------------------------------------------
    @property
    def wants_data(self) -> bool:
        """False once nothing more can come out of this connection (stop buffering it)."""
        if self.broken:
            return False
        if self.version is None:
            return True
        return any(d is not None and not self.dead[i] for i, d in enumerate(self.dec))

    def feed(self, direction: int, data: bytes, ts: float) -> None:
        if self.broken:
            return
        buf = self.buf[direction]
        buf.extend(data)
        while len(buf) >= 5 and not self.broken:
            ctype = buf[0]
            length = struct.unpack_from("!H", buf, 3)[0]
            if (
                ctype not in (_CCS, _ALERT, _HANDSHAKE, _APPDATA, 24)
                or buf[1] != 3
                or (length > _MAX_RECORD)
            ):
                self._break("bad TLS record")
                return
            if len(buf) < 5 + length:
                return
            rversion = bytes(buf[1:3])
            fragment = bytes(buf[5 : 5 + length])
            del buf[: 5 + length]
            self._record(direction, ctype, rversion, fragment, ts)
        if not self.wants_data:
            buf.clear()

    def gap(self, direction: int) -> None:
        """A hole in the TCP stream: record framing is lost for this direction."""
        self.stats.skip("TCP gap (lost segments) in TLS stream")
        self.conn.errors.append("tcp gap")
        self.dead[direction] = True
        if self.version is None:
            self.broken = True

    def close(self, ts: float) -> None:
        """End of the connection or of the capture."""
        if self.app is not None:
            self.app.close(ts)
            if self.app.error:
                self.stats.skip(f"HTTP: {self.app.error}")
        elif self.app_pending:
            self.stats.skip("decrypted data is neither HTTP/1 nor HTTP/2")

    # -- records ---------------------------------------------------------------------------
    def _break(self, reason: str) -> None:
        self.broken = True
        self.stats.skip(reason)
        self.conn.errors.append(reason)

    def _record(self, d: int, ctype: int, rversion: bytes, fragment: bytes, ts: float) -> None:
        tls13 = self.version == 0x0304
        if ctype == _CCS:
            # TLS 1.2: what follows is encrypted. TLS 1.3 (and before the ServerHello, e.g.
            # around a HelloRetryRequest) it is a compatibility no-op.
            if self.version is not None and not tls13:
                self.encrypted[d] = True
            return
        is_encrypted = self.encrypted[d] or (tls13 and ctype == _APPDATA)
        if not is_encrypted:
            if ctype == _HANDSHAKE:
                self._handshake_bytes(d, fragment, ts)
            elif ctype == _APPDATA:
                self.stats.skip("TLS application data before the handshake (0-RTT)")
            return
        if self.dead[d] or self.dec[d] is None:
            return
        try:
            inner, plain = self._decrypt(d, ctype, rversion, fragment)
        except DecryptError:
            self.dead[d] = True
            self.conn.decryption = "decryption failed"
            self.stats.skip("TLS decryption failed (key log does not match)")
            return
        if not self.counted_decrypted:
            self.counted_decrypted = True
            self.stats.decrypted_connections += 1
            self.conn.decryption = "decrypted"
        if inner == _HANDSHAKE:
            self._handshake_bytes(d, plain, ts)
        elif inner == _APPDATA:
            self._app_data(d, plain, ts)

    def _decrypt(self, d: int, ctype: int, rversion: bytes, fragment: bytes) -> tuple[int, bytes]:
        dec = self.dec[d]
        assert dec is not None
        try:
            return dec.decrypt(ctype, rversion, fragment)
        except DecryptError:
            nxt = self.next13[d]
            if nxt is None:
                raise
            # Missed the switch to traffic keys (e.g. Finished lost): try them.
            result = nxt.decrypt(ctype, rversion, fragment)
            self.dec[d], self.next13[d] = nxt, None
            return result

    # -- handshake ------------------------------------------------------------------------
    def _handshake_bytes(self, d: int, data: bytes, ts: float) -> None:
        hs = self.hs_buf[d]
        hs.extend(data)
        while len(hs) >= 4:
            mtype = hs[0]
            length = int.from_bytes(hs[1:4], "big")
            if length > _MAX_HANDSHAKE:
                self._break("oversized TLS handshake message")
                return
            if len(hs) < 4 + length:
                return
            message = bytes(hs[: 4 + length])
            del hs[: 4 + length]
            self._handshake_message(d, mtype, message, ts)

    def _handshake_message(self, d: int, mtype: int, message: bytes, ts: float) -> None:
        if d == CLIENT and mtype == 1:
            self._client_hello(message)
        elif d == SERVER and mtype == 2:
            self._server_hello(message[4:])
        elif d == SERVER and mtype == 8:
            alpn = alpn_from_encrypted_extensions(message[4:])
            if alpn:
                self.conn.alpn_selected = alpn
        elif mtype == 20 and self.version == 0x0304 and self.next13[d] is not None:
            self.dec[d], self.next13[d] = self.next13[d], None
        elif mtype == 24 and self.version == 0x0304 and self.dec[d] is not None:
            self.dec[d] = self.dec[d].key_update()  # type: ignore[union-attr]

    def _client_hello(self, message: bytes) -> None:
        try:
            hello = parse_client_hello(message)
        except MalformedHello as exc:
            self.stats.skip(f"malformed ClientHello ({exc})")
            self.conn.errors.append("malformed ClientHello")
            return
        prints = ja4_for_hello(hello)
        entry = {
            "ja4": prints.ja4,
            "ja4_r": prints.ja4_r,
            "ja4_o": prints.ja4_o,
            "ja4_ro": prints.ja4_ro,
            "ja3": ja3_hash(hello),
        }
        self.conn.hellos.append(entry)
        if self.client_random is not None:
            return  # second ClientHello after a HelloRetryRequest: keep the first's identity
        self.client_random = hello.random
        c = self.conn
        c.sni = hello.sni
        c.alpn_offered = hello.alpn
        c.ja4, c.ja4_r, c.ja4_o, c.ja4_ro = prints.ja4, prints.ja4_r, prints.ja4_o, prints.ja4_ro
        c.ja3, c.ja3_string = entry["ja3"], ja3_string(hello)
        c.tls_version = VERSION_NAMES.get(hello.max_version)

    def _server_hello(self, body: bytes) -> None:
        try:
            hello = parse_server_hello(body)
        except MalformedHello as exc:
            self._break(f"malformed ServerHello ({exc})")
            return
        if hello.hello_retry:
            return
        self.version = hello.version
        c = self.conn
        c.tls_version = VERSION_NAMES.get(hello.version, f"0x{hello.version:04x}")
        c.cipher_suite = hello.cipher_suite
        if hello.alpn:
            c.alpn_selected = hello.alpn
        self._setup_keys(hello)

    def _setup_keys(self, hello: ServerHello) -> None:
        if self.keylog is None or not len(self.keylog):
            self.conn.decryption = "no key log"
            return
        secrets = self.keylog.lookup(self.client_random or b"")
        if secrets is None:
            self.conn.decryption = "no key for this connection"
            self.stats.skip("no key-log entry for connection")
            return
        try:
            if hello.version == 0x0304:
                suite = TLS13_SUITES.get(hello.cipher_suite)
                if suite is None:
                    raise DecryptError(f"unsupported cipher suite 0x{hello.cipher_suite:04x}")
                names = (
                    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                    "CLIENT_TRAFFIC_SECRET_0",
                    "SERVER_TRAFFIC_SECRET_0",
                )
                if any(n not in secrets for n in names):
                    raise DecryptError("key log lacks TLS 1.3 secrets for this connection")
                self.dec = [
                    DirectionDecryptor.tls13(suite, secrets[names[0]]),
                    DirectionDecryptor.tls13(suite, secrets[names[1]]),
                ]
                self.next13 = [
                    DirectionDecryptor.tls13(suite, secrets[names[2]]),
                    DirectionDecryptor.tls13(suite, secrets[names[3]]),
                ]
            elif hello.version in (0x0301, 0x0302, 0x0303):
                master = secrets.get("CLIENT_RANDOM")
                if master is None:
                    raise DecryptError("key log lacks CLIENT_RANDOM for this connection")
                if hello.version != 0x0303:
                    raise DecryptError("TLS 1.0/1.1 decryption not supported")
                client, server = tls12_decryptors(
                    hello.cipher_suite,
                    master,
                    self.client_random or b"",
                    hello.random,
                    encrypt_then_mac=hello.encrypt_then_mac,
                )
                self.dec = [client, server]
            else:
                raise DecryptError("unsupported TLS version")
        except DecryptError as exc:
            self.conn.decryption = str(exc)
            self.stats.skip(f"not decrypted: {exc}")
            self.dec = [None, None]

    # -- application data -----------------------------------------------------------------
    def _app_data(self, d: int, plain: bytes, ts: float) -> None:
        if not plain:
            return
        if self.app is None:
            proto = self._choose_protocol(d, plain)
            if proto is None:
                self.app_pending.append((d, plain, ts))
                self.app_pending_bytes += len(plain)
                if self.app_pending_bytes > _MAX_PENDING_PLAIN:
                    self.app_pending.clear()
                    self.dead = [True, True]
                    self.stats.skip("decrypted data is neither HTTP/1 nor HTTP/2")
                return
            emit = self._emit_exchange
            self.app = Http2Reassembler(emit) if proto == "h2" else Http1Reassembler(emit)
            for pd, pdata, pts in self.app_pending:
                self.app.feed(pd, pdata, pts)
            self.app_pending.clear()
        self.app.feed(d, plain, ts)

    def _choose_protocol(self, d: int, plain: bytes) -> str | None:
        if self.conn.alpn_selected == "h2":
            return "h2"
        if self.conn.alpn_selected == "http/1.1":
            return "http/1.1"
        if d != CLIENT:
            return None
        if plain.startswith(PREFACE[: min(len(plain), len(PREFACE))]):
            return "h2"
        return "http/1.1"

    def _emit_exchange(self, exchange: HttpExchange) -> None:
        self.conn.exchanges += 1
        self.emit(self, exchange)
