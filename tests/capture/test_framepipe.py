"""FrameSender: whole frames, in order, never blocking the sender; a bounded backlog."""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time

from provenance.capture.framepipe import HEADER, FrameSender, read_available, split_frames


def payloads(count: int, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    sizes = [rng.choice([0, 1, 100, 5_000, 70_000, 300_000]) for _ in range(count)]
    return [bytes([i % 251]) * size + i.to_bytes(4, "big") for i, size in enumerate(sizes)]


def test_frames_arrive_whole_and_in_order_through_a_slow_reader() -> None:
    reader, writer = multiprocessing.Pipe(duplex=False)
    sender = FrameSender(writer.fileno(), max_backlog=1 << 30)
    sent = payloads(120)
    got: list[bytes] = []

    def read() -> None:
        for _ in sent:
            got.append(reader.recv_bytes())
            time.sleep(0.001)

    thread = threading.Thread(target=read)
    thread.start()
    started = time.monotonic()
    for payload in sent:
        assert sender.send(payload)
    send_time = time.monotonic() - started
    assert sender.close(timeout=30)
    thread.join(30)
    assert got == sent
    assert send_time < 2.0  # the sender never waited for the slow reader (120+ ms of sleeps)


def test_the_backlog_is_bounded_and_a_refused_frame_sends_nothing() -> None:
    reader, writer = multiprocessing.Pipe(duplex=False)
    sender = FrameSender(writer.fileno(), max_backlog=200_000)
    accepted = [p for p in payloads(60) if sender.send(p)]
    assert len(accepted) < 60  # nobody reads: the pipe and then the backlog fill up
    assert sender.backlog_bytes <= 200_000 + 300_004 + HEADER.size  # one partial frame at most
    backlog = sender.take_backlog()  # stops the sender's thread first
    pending = read_available(reader.fileno()) + backlog
    frames, used = split_frames(pending)
    assert frames == accepted and used == len(pending)


def test_a_vanished_reader_makes_send_return_false() -> None:
    reader, writer = multiprocessing.Pipe(duplex=False)
    sender = FrameSender(writer.fileno(), max_backlog=1 << 20)
    reader.close()
    assert sender.send(b"x") is False
    assert sender.broken


def test_split_frames_stops_at_a_partial_frame() -> None:
    data = b"".join(HEADER.pack(len(p)) + p for p in (b"one", b"", b"three"))
    frames, used = split_frames(data + HEADER.pack(10) + b"abc")
    assert frames == [b"one", b"", b"three"] and used == len(data)
    assert split_frames(b"\x00\x00") == ([], 0)


def test_the_sender_sets_its_fd_non_blocking() -> None:
    _, writer = multiprocessing.Pipe(duplex=False)
    FrameSender(writer.fileno(), max_backlog=1)
    assert os.get_blocking(writer.fileno()) is False
