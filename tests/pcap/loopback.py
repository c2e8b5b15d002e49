"""Real TLS servers on loopback (port 0) and a scapy sniffer on ``lo`` for the live tests.

``H1Server``: ``http.server`` over TLS (ALPN http/1.1). ``H2Server``: the ``h2`` state machine
over TLS sockets (ALPN h2), many concurrent streams. Both answer any POST with an OpenAI-style
chat completion naming the requested model. ``LoSniffer`` captures with scapy's
``L2ListenSocket`` (no libpcap: an ``lfilter`` on the port), so every packet shows up twice.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def completion(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "hi"},
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        payload = completion(json.loads(body)["model"])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


class H1Server:
    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class H2Server:
    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        import h2.config
        import h2.connection
        import h2.events

        with (
            contextlib.suppress(OSError, ssl.SSLError),
            self.ctx.wrap_socket(raw, server_side=True) as conn,
        ):
            h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            h2c.initiate_connection()
            conn.sendall(h2c.data_to_send())
            bodies: dict[int, bytearray] = {}
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for event in h2c.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        bodies[event.stream_id] = bytearray()
                    elif isinstance(event, h2.events.DataReceived):
                        bodies[event.stream_id] += event.data
                        h2c.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        payload = completion(json.loads(bodies.pop(event.stream_id))["model"])
                        h2c.send_headers(
                            event.stream_id,
                            [
                                (":status", "200"),
                                ("content-type", "application/json"),
                                ("content-length", str(len(payload))),
                            ],
                        )
                        h2c.send_data(event.stream_id, payload, end_stream=True)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        conn.sendall(h2c.data_to_send())
                        return
                conn.sendall(h2c.data_to_send())

    def close(self) -> None:
        self.stop = True
        self.sock.close()


class LoSniffer:
    """Capture TCP packets to/from ``ports`` on ``lo`` until :meth:`stop`."""

    def __init__(self, ports: set[int]) -> None:
        from scapy.layers.inet import TCP
        from scapy.sendrecv import AsyncSniffer

        def wanted(pkt) -> bool:
            return pkt.haslayer(TCP) and (pkt[TCP].sport in ports or pkt[TCP].dport in ports)

        # A large kernel buffer: Python dissects each packet, and under load a default-sized
        # buffer overflows and drops segments (seen as "TCP gap" on a busy CI machine).
        from scapy.config import conf

        sock = conf.L2listen(iface="lo")
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if option is None:
                continue
            try:
                sock.ins.setsockopt(socket.SOL_SOCKET, option, 64 * 1024 * 1024)
                break
            except OSError:
                continue
        self.sniffer = AsyncSniffer(opened_socket=sock, lfilter=wanted, store=True)
        self.sniffer.start()
        time.sleep(0.3)

    def stop(self, path: Path) -> Path:
        from scapy.utils import wrpcap

        time.sleep(0.3)
        packets = self.sniffer.stop()
        wrpcap(str(path), packets)
        return path
