"""What the HTTP/1.1 and HTTP/2 reassemblers hand back: one request/response pair with times."""

from __future__ import annotations

from dataclasses import dataclass, field

Headers = list[tuple[str, str]]

MAX_BODY = 32 << 20  # bytes kept per body; the rest is counted, not stored
MAX_HEAD = 256 << 10  # an HTTP/1 header block larger than this breaks the connection


@dataclass(slots=True)
class HttpExchange:
    """One HTTP exchange as seen on a decrypted stream. Times are capture seconds."""

    method: str
    target: str  # path (+ query) or absolute URL as sent
    http_version: str
    request_headers: Headers
    t_request: float
    authority: str | None = None  # Host header or :authority
    request_body: bytes | None = None
    t_request_end: float | None = None
    status: int | None = None
    response_headers: Headers = field(default_factory=list)
    response_body: bytes | None = None
    t_response_first: float | None = None
    t_response_end: float | None = None
    error: str | None = None


class BodyBuffer:
    """A body collected up to :data:`MAX_BODY`; ``size`` counts every byte seen."""

    __slots__ = ("data", "size")

    def __init__(self) -> None:
        self.data = bytearray()
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = MAX_BODY - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    @property
    def truncated(self) -> bool:
        return self.size > len(self.data)

    def value(self) -> bytes | None:
        return bytes(self.data) if self.size else None
