"""Frames written into a pipe from the caller's own thread, without blocking it.

The capture hook hands every exchange to the extraction process. ``multiprocessing.Queue`` does
that through a feeder thread that wakes once per item; on a proxy serving one request at a time
that wake-up (and the GIL hand-over it forces) cost more CPU than the pickling itself. A
:class:`FrameSender` writes the frame into the pipe directly from the calling thread with a
non-blocking ``write``. Only when the pipe is full (the reader is behind) does the rest wait in
a bounded backlog, which a helper thread writes out as the pipe drains.

Frames use :class:`multiprocessing.connection.Connection`'s framing (a 4-byte big-endian length,
then the payload), so the reading end is a plain ``Connection`` and reads them with
``recv_bytes()``. :func:`split_frames` parses a raw byte string of such frames.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import struct
import threading

HEADER = struct.Struct("!i")
MAX_FRAME = 0x7FFFFFFF
PIPE_SIZE = 1 << 20  # asked for (Linux F_SETPIPE_SZ); the kernel may grant less
_F_SETPIPE_SZ = 1031


class FrameSender:
    """Write length-prefixed frames to the pipe ``fd`` (which it sets non-blocking).

    :meth:`send` never blocks: it returns False, sending nothing, when the reader has gone or
    when the backlog (bytes the pipe could not take yet) would pass ``max_backlog``. Frames are
    written in order, each whole. Thread-safe.
    """

    def __init__(self, fd: int, *, max_backlog: int) -> None:
        self._fd = fd
        self._max_backlog = max_backlog
        os.set_blocking(fd, False)
        with contextlib.suppress(OSError, ImportError):
            import fcntl

            fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
        self._backlog: collections.deque[memoryview] = collections.deque()
        self._backlog_bytes = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self.broken = False  # the reader went away: nothing more is sent
        self._thread: threading.Thread | None = None

    @property
    def backlog_bytes(self) -> int:
        return self._backlog_bytes

    def send(self, payload: bytes) -> bool:
        """Queue one frame; True if it will be delivered (unless the reader goes away)."""
        if len(payload) > MAX_FRAME:
            return False
        frame = HEADER.pack(len(payload)) + payload
        with self._lock:
            if self._closed or self.broken:
                return False
            if self._backlog:  # keep the order: behind what is already waiting
                if self._backlog_bytes + len(frame) > self._max_backlog:
                    return False
                self._push(memoryview(frame))
                return True
            try:
                written = os.write(self._fd, frame)
            except BlockingIOError:
                written = 0
            except OSError:  # EPIPE: the reader is gone
                self.broken = True
                return False
            if written < len(frame):  # the pipe is full: the rest goes out from the thread
                self._push(memoryview(frame)[written:])
            return True

    def close(self, timeout: float | None) -> bool:
        """Stop accepting frames and write out the backlog; True if it all went out in time."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self._backlog

    def take_backlog(self) -> bytes:
        """Stop sending; remove and return the bytes still waiting (after the reader died),
        partial frame included, in order: they continue whatever the pipe holds once this
        returns, so read the pipe after calling it."""
        with self._lock:
            data = b"".join(bytes(part) for part in self._backlog)
            self._backlog.clear()
            self._backlog_bytes = 0
            self._closed = True
            self._wake.notify_all()
            return data

    def _push(self, part: memoryview) -> None:
        # Called with the lock held.
        self._backlog.append(part)
        self._backlog_bytes += len(part)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._drain, name="provenance-frame-sender", daemon=True
            )
            self._thread.start()
        self._wake.notify()

    def _drain(self) -> None:
        while True:
            with self._lock:
                while not self._backlog and not self._closed:
                    self._wake.wait()
                if not self._backlog:
                    return  # closed and empty
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self._fd], [], 0.5)
            with self._lock:
                while self._backlog:
                    head = self._backlog[0]
                    try:
                        written = os.write(self._fd, head)
                    except BlockingIOError:
                        break
                    except OSError:  # the reader is gone: nothing can be delivered
                        self.broken = True
                        self._backlog.clear()
                        self._backlog_bytes = 0
                        break
                    self._backlog_bytes -= written
                    if written == len(head):
                        self._backlog.popleft()
                    else:
                        self._backlog[0] = head[written:]
                        break


def read_available(fd: int) -> bytes:
    """Everything a pipe holds right now, without waiting (``fd`` is left non-blocking)."""
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            break
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def split_frames(data: bytes) -> tuple[list[bytes], int]:
    """The whole frames at the start of ``data`` and how many bytes they used."""
    frames: list[bytes] = []
    pos = 0
    while len(data) - pos >= HEADER.size:
        (size,) = HEADER.unpack_from(data, pos)
        if size < 0 or len(data) - pos - HEADER.size < size:
            break
        start = pos + HEADER.size
        frames.append(data[start : start + size])
        pos = start + size
    return frames, pos
