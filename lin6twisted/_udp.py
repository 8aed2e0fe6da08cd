"""
UDP servers that answer each client from the address it wrote to.

A UDP socket bound to the wildcard address (C{::}, the default of the LS
query port, the MA mapping port and the DNS responder) receives datagrams
for every address of the host, but a plain C{sendto} lets the kernel pick
the reply's source address by its own rules (RFC 6724).  On a host with
several addresses (a service address beside the SLAAC one, a deprecated
address, a second prefix during a renumbering) the reply can then come from
another address than the one the client asked, and a client with a
connected socket, a resolver checking the answer's source, or a firewall
tracking the flow drops it.

L{ReplySourcePort} asks the kernel for each datagram's destination
(C{IPV6_RECVPKTINFO}, or C{IP_PKTINFO} on an IPv4 socket) and sends what is
written to that client with the same address as its source
(C{IPV6_PKTINFO} / C{IP_PKTINFO} on C{sendmsg}).  Protocols see the usual
C{(host, port)} addresses and need no change: the port remembers, per
client address, where that client last wrote to (a bounded table), which
also covers replies sent later (the LS answers after its RTT probes).
"""

from __future__ import annotations

import socket
import struct
from errno import ECONNREFUSED, EINTR, EMSGSIZE
from typing import Any, Final

from twisted.application import internet
from twisted.internet import error, udp
from twisted.logger import Logger

from lin6twisted._listen import RequiredPort

__all__ = ["ReplySourcePort", "UDPServer"]

_IP_PKTINFO: Final = getattr(socket, "IP_PKTINFO", 8)  # Linux; Python names it in 3.12+
_IN6_PKTINFO: Final = struct.Struct("=16sI")  # struct in6_pktinfo
_IN_PKTINFO: Final = struct.Struct("=I4s4s")  # struct in_pktinfo
_ANCILLARY: Final = socket.CMSG_SPACE(_IN6_PKTINFO.size)

MAX_CLIENTS: Final = 65536
"""How many clients' destination addresses a port remembers (it starts again
from empty when full)."""

_Cmsg = tuple[int, int, bytes]

_log = Logger()


def _replyCmsg(family: int, ancillary: list[tuple[int, int, bytes]]) -> _Cmsg | None:
    """
    The control message that makes a reply leave from the address a
    datagram was sent to, from that datagram's ancillary data.
    """
    for level, kind, data in ancillary:
        if family == socket.AF_INET6 and level == socket.IPPROTO_IPV6:
            if kind == socket.IPV6_PKTINFO and len(data) >= _IN6_PKTINFO.size:
                address, ifindex = _IN6_PKTINFO.unpack_from(data)
                # The interface only matters for link-local addresses; for
                # the others the routing table decides, as for any reply.
                scoped = address[0] == 0xFE and address[1] & 0xC0 == 0x80
                return (
                    socket.IPPROTO_IPV6,
                    socket.IPV6_PKTINFO,
                    _IN6_PKTINFO.pack(address, ifindex if scoped else 0),
                )
        elif (
            family == socket.AF_INET
            and level == socket.IPPROTO_IP
            and kind == _IP_PKTINFO
            and len(data) >= _IN_PKTINFO.size
        ):
            _, destination, _ = _IN_PKTINFO.unpack_from(data)
            return (socket.IPPROTO_IP, _IP_PKTINFO, _IN_PKTINFO.pack(0, destination, bytes(4)))
    return None


class ReplySourcePort(udp.Port):
    """
    A L{udp.Port} whose replies leave from the address each client wrote to.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._sources: dict[tuple[str, int], _Cmsg] = {}

    def createInternetSocket(self) -> socket.socket:
        skt: socket.socket = super().createInternetSocket()
        if self.addressFamily == socket.AF_INET6:
            skt.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        else:
            skt.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
        return skt

    def doRead(self) -> None:
        """
        Read datagrams (like L{udp.Port.doRead}) with their destination.
        """
        read = 0
        while read < self.maxThroughput:
            try:
                data, ancillary, _, addr = self.socket.recvmsg(self.maxPacketSize, _ANCILLARY)
            except OSError as se:
                no = se.args[0]
                if no in udp._sockErrReadIgnore:
                    return
                if no in udp._sockErrReadRefuse:
                    if self._connectedAddr:
                        self.protocol.connectionRefused()
                    return
                raise
            read += len(data)
            client = (addr[0], addr[1])
            cmsg = _replyCmsg(self.addressFamily, ancillary)
            if cmsg is not None:
                sources = self._sources
                if client not in sources and len(sources) >= MAX_CLIENTS:
                    sources.clear()
                sources[client] = cmsg
            try:
                self.protocol.datagramReceived(data, client)
            except BaseException:
                _log.failure(
                    "Unhandled error in {protocol}.datagramReceived from {client}",
                    protocol=type(self.protocol).__name__,
                    client=client,
                )

    def write(self, datagram: bytes, addr: tuple[str, int] | None = None) -> None:
        """
        Write a datagram (like L{udp.Port.write}); to a client we have
        heard from, from the address it wrote to.
        """
        cmsg = None if addr is None or self._connectedAddr else self._sources.get(addr[:2])
        if cmsg is None or addr is None:
            return super().write(datagram, addr)
        try:
            self.socket.sendmsg([datagram], [cmsg], 0, addr)
        except OSError as se:
            no = se.args[0]
            if no == EINTR:
                return self.write(datagram, addr)
            if no == EMSGSIZE:
                raise error.MessageLengthError("message too long") from None
            if no == ECONNREFUSED:
                return None
            raise
        return None


class UDPServer(RequiredPort, internet.UDPServer):
    """
    L{internet.UDPServer} listening with a L{ReplySourcePort}: the same
    arguments (C{port, protocol, interface=..., maxPacketSize=...,
    reactor=...}), and C{what=} naming it: a failure to listen stops the
    start (L{RequiredPort}).
    """

    def __init__(self, *args: Any, what: str = "a UDP port", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.what = what

    def _getPort(self) -> ReplySourcePort:
        reactor = self.reactor
        if reactor is None:
            from twisted.internet import reactor
        port = ReplySourcePort(*self.args, reactor=reactor, **self.kwargs)
        port.startListening()  # type: ignore[no-untyped-call]
        return port
