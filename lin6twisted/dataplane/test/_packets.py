"""
Building and checking IPv6 packets for the program tests and the
benchmark (Ethernet + IPv6 + TCP/UDP/ICMPv6, checksums computed here
independently of the kernel).
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

ETH = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x86\xdd"
TCP, UDP, ICMP6, FRAG = 6, 17, 58, 44
HOPOPTS, ROUTING, DSTOPTS = 0, 43, 60


def checksum(data: bytes) -> int:
    """
    The Internet checksum (one's complement of the one's complement sum).
    """
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo(src: IPv6Address, dst: IPv6Address, length: int, proto: int) -> bytes:
    return src.packed + dst.packed + struct.pack("!IxxxB", length, proto)


def l4(proto: int, src: IPv6Address, dst: IPv6Address, payload: bytes = b"x" * 20) -> bytes:
    """
    A transport header + payload with a correct checksum over src/dst.
    """
    if proto == TCP:
        hdr = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 5 << 4, 0x18, 65535, 0, 0)
        off = 16
    elif proto == UDP:
        hdr = struct.pack("!HHHH", 40000, 53, 8 + len(payload), 0)
        off = 6
    else:
        hdr = struct.pack("!BBHHH", 128, 0, 0, 1, 1)
        off = 2
    seg = bytearray(hdr + payload)
    c = checksum(pseudo(src, dst, len(seg), proto) + bytes(seg))
    if proto == UDP and c == 0:
        c = 0xFFFF
    struct.pack_into("!H", seg, off, c)
    return bytes(seg)


def ipv6(src: IPv6Address, dst: IPv6Address, nexthdr: int, payload: bytes) -> bytes:
    return (
        struct.pack("!IHBB", 0x60000000, len(payload), nexthdr, 64)
        + src.packed
        + dst.packed
        + payload
    )


def packet(proto: int, src: IPv6Address, dst: IPv6Address, payload: bytes = b"x" * 20) -> bytes:
    """
    An Ethernet frame with a valid IPv6 + L4 packet.
    """
    return ETH + ipv6(src, dst, proto, l4(proto, src, dst, payload))


def addresses(frame: bytes) -> tuple[IPv6Address, IPv6Address]:
    ip = frame[14:]
    return IPv6Address(ip[8:24]), IPv6Address(ip[24:40])


def _l4(frame: bytes) -> tuple[int, bytes, IPv6Address, IPv6Address]:
    ip = frame[14:]
    nexthdr, body = ip[6], ip[40:]
    while nexthdr in (HOPOPTS, ROUTING, DSTOPTS, FRAG):
        size = 8 if nexthdr == FRAG else (body[1] + 1) * 8
        nexthdr, body = body[0], body[size:]
    return nexthdr, body, IPv6Address(ip[8:24]), IPv6Address(ip[24:40])


CSUM_OFFSET = {TCP: 16, UDP: 6, ICMP6: 2}


def l4Checksum(frame: bytes) -> int:
    """
    The L4 checksum field of an Ethernet + IPv6 frame (behind any
    hop-by-hop, routing, destination options or fragment headers).
    """
    nexthdr, body, _, _ = _l4(frame)
    return int.from_bytes(body[CSUM_OFFSET[nexthdr] : CSUM_OFFSET[nexthdr] + 2], "big")


def freshChecksum(frame: bytes) -> int:
    """
    The L4 checksum field a full computation over the frame's addresses and
    segment gives (UDP: 0 sent as 0xffff): the one value in 0..0xfffe (the
    pseudo-header's length and protocol keep the sum from being zero) that
    is right, which is also the one the kernel's incremental update
    (C{bpf_l4_csum_replace} on an skb that is not C{CHECKSUM_PARTIAL})
    leaves, so a program that fixes checksums incrementally must give
    exactly this, not its other representation 0xffff/0.
    """
    nexthdr, body, src, dst = _l4(frame)
    off = CSUM_OFFSET[nexthdr]
    seg = body[:off] + b"\x00\x00" + body[off + 2 :]
    c = checksum(pseudo(src, dst, len(seg), nexthdr) + seg)
    return 0xFFFF if nexthdr == UDP and c == 0 else c


def l4Valid(frame: bytes) -> bool:
    """
    Whether the L4 checksum of an Ethernet + IPv6 frame (behind any
    hop-by-hop, routing, destination options or fragment headers) is
    correct for its addresses.
    """
    nexthdr, body, src, dst = _l4(frame)
    return checksum(pseudo(src, dst, len(body), nexthdr) + body) == 0
