"""Incremental HTTP/1.x reassembly over the two decrypted byte streams of one connection.

Requests and responses are paired in order (pipelining works). Bodies are framed by
``Content-Length``, ``Transfer-Encoding: chunked`` (de-chunked here; Content-Encoding is left
as on the wire) or, for responses, the end of the connection. ``1xx`` responses are skipped;
``101 Switching Protocols`` ends parsing (what follows is not HTTP).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from provenance.pcap.http_common import MAX_HEAD, BodyBuffer, Headers, HttpExchange


class _Broken(Exception):
    pass


def _parse_head(head: bytes) -> tuple[str, Headers]:
    lines = head.decode("iso-8859-1").split("\r\n")
    headers: Headers = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise _Broken("bad header line")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class _Body:
    """Body framing state: fixed length, chunked, or until close."""

    def __init__(self, headers: Headers, *, until_close: bool) -> None:
        self.buf = BodyBuffer()
        self.chunked = "chunked" in (_header(headers, "transfer-encoding") or "").lower()
        length = _header(headers, "content-length")
        self.remaining: int | None = None
        if not self.chunked:
            if length is not None:
                try:
                    self.remaining = int(length.split(",")[0].strip())
                except ValueError:
                    raise _Broken("bad Content-Length") from None
            elif not until_close:
                self.remaining = 0
        self.chunk_left = -1  # -1: expecting a size line; -2: in trailers
        self.done = self.remaining == 0

    def feed(self, data: bytearray) -> None:
        """Consume from ``data`` (in place) what belongs to this body."""
        if self.done:
            return
        if not self.chunked:
            if self.remaining is None:  # until close
                self.buf.add(bytes(data))
                del data[:]
                return
            take = min(self.remaining, len(data))
            self.buf.add(bytes(data[:take]))
            del data[:take]
            self.remaining -= take
            self.done = self.remaining == 0
            return
        while data and not self.done:
            if self.chunk_left > 0:
                take = min(self.chunk_left, len(data))
                self.buf.add(bytes(data[:take]))
                del data[:take]
                self.chunk_left -= take
                continue
            end = data.find(b"\r\n")
            if end < 0:
                if len(data) > MAX_HEAD:
                    raise _Broken("bad chunk framing")
                return
            line = bytes(data[:end])
            del data[: end + 2]
            if self.chunk_left == 0:  # the CRLF after a chunk's data
                if line:
                    raise _Broken("bad chunk framing")
                self.chunk_left = -1
            elif self.chunk_left == -1:
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _Broken("bad chunk size") from None
                self.chunk_left = size if size else -2
            elif not line:  # end of trailers
                self.done = True


class Http1Reassembler:
    """Feed each direction's bytes in order; completed exchanges go to ``emit``."""

    def __init__(self, emit: Callable[[HttpExchange], None]) -> None:
        self.emit = emit
        self.buf = (bytearray(), bytearray())
        self.waiting: deque[HttpExchange] = deque()  # requests awaiting responses
        self.req: HttpExchange | None = None
        self.req_body: _Body | None = None
        self.resp: HttpExchange | None = None
        self.resp_body: _Body | None = None
        self.error: str | None = None
        self.upgraded = False

    def feed(self, direction: int, data: bytes, ts: float) -> None:
        """``direction`` 0 = client to server, 1 = server to client."""
        if self.error or self.upgraded:
            return
        self.buf[direction].extend(data)
        try:
            if direction == 0:
                self._requests(ts)
            else:
                self._responses(ts)
        except _Broken as exc:
            self.error = str(exc)

    def _requests(self, ts: float) -> None:
        data = self.buf[0]
        while data:
            if self.req is None:
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    if len(data) > MAX_HEAD:
                        raise _Broken("HTTP/1 request head too large")
                    return
                start_line, headers = _parse_head(bytes(data[:end]))
                del data[: end + 4]
                parts = start_line.split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                    raise _Broken("not an HTTP/1 request")
                self.req = HttpExchange(
                    method=parts[0],
                    target=parts[1],
                    http_version=parts[2],
                    request_headers=headers,
                    authority=_header(headers, "host"),
                    t_request=ts,
                )
                self.req_body = _Body(headers, until_close=False)
            assert self.req_body is not None
            self.req_body.feed(data)
            if not self.req_body.done:
                return
            self.req.request_body = self.req_body.buf.value()
            self.req.t_request_end = ts
            self.waiting.append(self.req)
            self.req, self.req_body = None, None

    def _responses(self, ts: float) -> None:
        data = self.buf[1]
        while data:
            if self.resp is None:
                if not self.waiting:
                    if self.req is not None:  # response before the request body finished
                        self.req.t_request_end = self.req.t_request_end or ts
                        self.waiting.append(self.req)
                        self.req, self.req_body = None, None
                    else:
                        raise _Broken("HTTP/1 response without a request")
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    if len(data) > MAX_HEAD:
                        raise _Broken("HTTP/1 response head too large")
                    return
                status_line, headers = _parse_head(bytes(data[:end]))
                del data[: end + 4]
                parts = status_line.split(" ", 2)
                if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                    raise _Broken("not an HTTP/1 response")
                status = int(parts[1])
                exchange = self.waiting[0]
                if exchange.t_response_first is None:
                    exchange.t_response_first = ts
                if 100 <= status < 200 and status != 101:
                    continue
                exchange.status = status
                exchange.response_headers = headers
                self.resp = self.waiting.popleft()
                no_body = exchange.method == "HEAD" or status in (101, 204, 304)
                self.resp_body = _Body([] if no_body else headers, until_close=not no_body)
                if status == 101:
                    self._finish_response(ts)
                    self.upgraded = True
                    return
            assert self.resp_body is not None
            self.resp_body.feed(data)
            if not self.resp_body.done:
                return
            self._finish_response(ts)

    def _finish_response(self, ts: float) -> None:
        assert self.resp is not None and self.resp_body is not None
        self.resp.response_body = self.resp_body.buf.value()
        self.resp.t_response_end = ts
        self.emit(self.resp)
        self.resp, self.resp_body = None, None

    def close(self, ts: float) -> None:
        """End of connection: finish a body framed by close, report the incomplete rest."""
        if self.resp is not None and self.resp_body is not None:
            if self.resp_body.remaining is None and not self.resp_body.chunked:
                self._finish_response(ts)
            else:
                self.resp.error = "response incomplete at end of capture"
                self._finish_response(ts)
        for exchange in self.waiting:
            exchange.error = exchange.error or "no response in capture"
            self.emit(exchange)
        self.waiting.clear()
        if self.req is not None:
            self.req.error = "request incomplete at end of capture"
            if self.req_body is not None:
                self.req.request_body = self.req_body.buf.value()
            self.emit(self.req)
            self.req = None
