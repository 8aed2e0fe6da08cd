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


def l4Valid(frame: bytes) -> bool:
    """
    Whether the L4 checksum of an Ethernet + IPv6 frame (no extension
    headers, or one fragment header) is correct for its addresses.
    """
    ip = frame[14:]
    src, dst = IPv6Address(ip[8:24]), IPv6Address(ip[24:40])
    nexthdr, body = ip[6], ip[40:]
    if nexthdr == FRAG:
        nexthdr, body = body[0], body[8:]
    return checksum(pseudo(src, dst, len(body), nexthdr) + body) == 0
