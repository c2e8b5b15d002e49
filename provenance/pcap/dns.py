"""DNS answers seen in a capture, used to name TLS connections whose ClientHello has no SNI.

Only UDP DNS on port 53 (either side). For every A/AAAA answer the address is mapped to the
name the client asked for (the question), so CNAME chains name the address by what was
requested. The map is bounded (oldest entries evicted).
"""

from __future__ import annotations

import ipaddress
import struct
from collections import OrderedDict

_MAX_NAMES = 200_000


def _read_name(msg: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    end = -1
    jumps = 0
    while True:
        if pos >= len(msg):
            raise ValueError("truncated name")
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(msg) or jumps > 20:
                raise ValueError("bad compression pointer")
            if end < 0:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            jumps += 1
            continue
        if length == 0:
            pos += 1
            break
        labels.append(msg[pos + 1 : pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length
    return ".".join(labels).lower(), (end if end >= 0 else pos)


def parse_dns_answers(msg: bytes) -> list[tuple[str, str]]:
    """``(queried name, address)`` pairs from a DNS response; [] for queries or junk."""
    if len(msg) < 12:
        return []
    flags, qd, an = struct.unpack_from("!HHH", msg, 2)
    if not flags & 0x8000 or not an:
        return []
    try:
        pos = 12
        question = None
        for _ in range(qd):
            name, pos = _read_name(msg, pos)
            pos += 4
            question = question or name
        out = []
        for _ in range(an):
            owner, pos = _read_name(msg, pos)
            rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", msg, pos)
            pos += 10
            rdata = msg[pos : pos + rdlen]
            pos += rdlen
            if rtype == 1 and rdlen == 4:
                out.append((question or owner, str(ipaddress.IPv4Address(rdata))))
            elif rtype == 28 and rdlen == 16:
                out.append((question or owner, str(ipaddress.IPv6Address(rdata))))
        return out
    except (ValueError, struct.error):
        return []


class DnsNames:
    """Address → most recently resolved name."""

    def __init__(self, limit: int = _MAX_NAMES) -> None:
        self.limit = limit
        self.names: OrderedDict[str, str] = OrderedDict()

    def add_message(self, msg: bytes) -> int:
        """Learn from one DNS message; returns how many answers were used."""
        answers = parse_dns_answers(msg)
        for name, address in answers:
            self.names[address] = name
            self.names.move_to_end(address)
            if len(self.names) > self.limit:
                self.names.popitem(last=False)
        return len(answers)

    def name_for(self, address: str) -> str | None:
        return self.names.get(address)
