"""Decode captured frames down to TCP segments and UDP datagrams, in pure Python.

libpcap may be absent, so there is no BPF: every frame is decoded here (Ethernet with VLAN tags,
Linux cooked v1/v2, BSD/OpenBSD loopback, raw IPv4/IPv6) and anything that is not TCP or UDP
over IP is reported as a skip reason. This is much faster than a full scapy dissection, which
matters on gigabyte captures.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_RAW_ALT = (12, 14)
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10


@dataclass(slots=True)
class Segment:
    """A TCP segment: addresses as text, flags as the TCP flag byte."""

    ts: float
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes


@dataclass(slots=True)
class Datagram:
    """A UDP datagram."""

    ts: float
    src: str
    dst: str
    sport: int
    dport: int
    payload: bytes


class Skip(Exception):
    """A frame that is not TCP/UDP over IP (or is broken); the message is the reason."""


def _ip_payload(linktype: int, frame: bytes) -> bytes:
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            raise Skip("truncated ethernet frame")
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        pos = 14
        while ethertype in (0x8100, 0x88A8, 0x9100):
            if len(frame) < pos + 4:
                raise Skip("truncated VLAN tag")
            ethertype = struct.unpack_from("!H", frame, pos + 2)[0]
            pos += 4
        if ethertype not in (0x0800, 0x86DD):
            raise Skip("not IP")
        return frame[pos:]
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, *LINKTYPE_RAW_ALT):
        return frame
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            raise Skip("truncated cooked header")
        if struct.unpack_from("!H", frame, 14)[0] not in (0x0800, 0x86DD):
            raise Skip("not IP")
        return frame[16:]
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            raise Skip("truncated cooked header")
        if struct.unpack_from("!H", frame, 0)[0] not in (0x0800, 0x86DD):
            raise Skip("not IP")
        return frame[20:]
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            raise Skip("truncated loopback header")
        return frame[4:]  # the IP version nibble tells v4 from v6 below
    raise Skip(f"unsupported link type {linktype}")


def decode_frame(linktype: int, frame: bytes, ts: float) -> Segment | Datagram:
    """Decode one captured frame. Raises :class:`Skip` with a reason for anything else."""
    packet = _ip_payload(linktype, frame)
    if not packet:
        raise Skip("empty IP packet")
    version = packet[0] >> 4
    if version == 4:
        if len(packet) < 20:
            raise Skip("truncated IPv4 header")
        ihl = (packet[0] & 0x0F) * 4
        total = struct.unpack_from("!H", packet, 2)[0]
        frag = struct.unpack_from("!H", packet, 6)[0]
        if frag & 0x3FFF:
            raise Skip("IP fragment")
        proto = packet[9]
        src = str(ipaddress.IPv4Address(packet[12:16]))
        dst = str(ipaddress.IPv4Address(packet[16:20]))
        end = min(total, len(packet)) if total >= ihl else len(packet)
        body = packet[ihl:end]
    elif version == 6:
        if len(packet) < 40:
            raise Skip("truncated IPv6 header")
        plen = struct.unpack_from("!H", packet, 4)[0]
        proto = packet[6]
        src = str(ipaddress.IPv6Address(packet[8:24]))
        dst = str(ipaddress.IPv6Address(packet[24:40]))
        body = packet[40 : 40 + plen] if plen else packet[40:]
        while proto in (0, 43, 60):  # hop-by-hop, routing, destination options
            if len(body) < 8:
                raise Skip("truncated IPv6 extension header")
            proto, hlen = body[0], (body[1] + 1) * 8
            body = body[hlen:]
        if proto == 44:
            raise Skip("IP fragment")
    else:
        raise Skip("not IP")
    if proto == 6:
        if len(body) < 20:
            raise Skip("truncated TCP header")
        sport, dport, seq, ack, off_flags = struct.unpack_from("!HHIIH", body, 0)
        offset = (off_flags >> 12) * 4
        if offset < 20 or offset > len(body):
            raise Skip("truncated TCP header")
        return Segment(ts, src, dst, sport, dport, seq, ack, off_flags & 0xFF, body[offset:])
    if proto == 17:
        if len(body) < 8:
            raise Skip("truncated UDP header")
        sport, dport, ulen = struct.unpack_from("!HHH", body, 0)
        end = ulen if 8 <= ulen <= len(body) else len(body)
        return Datagram(ts, src, dst, sport, dport, body[8:end])
    raise Skip("not TCP or UDP")
