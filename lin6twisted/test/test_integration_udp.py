"""
Tests for L{lin6twisted._udp}: replies from the address the client wrote
to, on real sockets in two network namespaces (root only).
"""

from __future__ import annotations

import socket
from collections.abc import Generator
from typing import Any

from twisted.internet import defer, reactor, threads, udp
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import TestCase

from lin6twisted._udp import ReplySourcePort, _replyCmsg
from lin6twisted.dataplane.kernel import inNetns
from lin6twisted.netns import Topology, isRoot

SERVICE = "2001:db8:5::1"
DEPRECATED = "2001:db8:5::2"  # valid, but not chosen as a source by the kernel
CLIENT = "2001:db8:5::100"
SERVICE4, SECOND4, CLIENT4 = "10.55.0.1", "10.55.0.2", "10.55.0.100"


class Echo(DatagramProtocol):
    """
    Sends every datagram back, at once or after C{delay} seconds.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        assert self.transport is not None
        if self.delay:
            reactor.callLater(self.delay, self.transport.write, datagram, addr)
        else:
            self.transport.write(datagram, addr)


class ReplySourceTests(TestCase):
    """
    A wildcard-bound L{ReplySourcePort} answers from the address the client
    wrote to, where a plain port answers from the one the kernel prefers.
    """

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("network namespaces need root")
        self.topo = Topology("l6udp")
        self.addCleanup(self.topo.destroy)
        self.srv = self.topo.addNamespace("srv")
        self.cli = self.topo.addNamespace("cli")
        self.topo.link(self.srv, "eth0", self.cli, "eth0")
        self.srv.ip(
            f"address add {SERVICE}/64 dev eth0 nodad",
            f"address add {DEPRECATED}/64 dev eth0 nodad preferred_lft 0",
            f"address add {SERVICE4}/24 dev eth0",
            f"address add {SECOND4}/24 dev eth0",
        )
        self.cli.ip(
            f"address add {CLIENT}/64 dev eth0 nodad", f"address add {CLIENT4}/24 dev eth0"
        )

    def listen(self, portType: type[udp.Port], protocol: DatagramProtocol) -> int:
        """
        Listen on C{::} (all addresses, both families) in the server's
        namespace; the port number.
        """
        with inNetns(self.srv.name):
            port = portType(0, protocol, interface="::", reactor=reactor)
            port.startListening()
        self.addCleanup(port.stopListening)
        number: int = port.getHost().port
        return number

    @defer.inlineCallbacks
    def ask(
        self, target: str, port: int, family: int = socket.AF_INET6
    ) -> Generator[defer.Deferred[Any], Any, str]:
        """
        Send a datagram from the client's namespace to C{target}; the
        source address of the answer.
        """
        with inNetns(self.cli.name):
            sock = socket.socket(family, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.settimeout(5)
        sock.sendto(b"ping", (target, port))
        data, addr = yield threads.deferToThread(sock.recvfrom, 100)
        self.assertEqual(data, b"ping")
        source: str = addr[0]
        return source

    @defer.inlineCallbacks
    def test_plainPortAnswersFromPreferred(self) -> Generator[defer.Deferred[Any], Any, None]:
        """
        The setting the fix is for: a plain wildcard port answers a client
        that wrote to the deprecated address from the preferred one.
        """
        port = self.listen(udp.Port, Echo())
        source = yield self.ask(DEPRECATED, port)
        self.assertEqual(source, SERVICE)

    @defer.inlineCallbacks
    def test_answersFromAddressAsked(self) -> Generator[defer.Deferred[Any], Any, None]:
        """
        L{ReplySourcePort} answers from the address the client wrote to,
        also when the answer is written later, and for both addresses.
        """
        port = self.listen(ReplySourcePort, Echo())
        self.assertEqual((yield self.ask(DEPRECATED, port)), DEPRECATED)
        self.assertEqual((yield self.ask(SERVICE, port)), SERVICE)
        later = self.listen(ReplySourcePort, Echo(delay=0.2))
        self.assertEqual((yield self.ask(DEPRECATED, later)), DEPRECATED)

    @defer.inlineCallbacks
    def test_ipv4OnDualStack(self) -> Generator[defer.Deferred[Any], Any, None]:
        """
        An IPv4 client of the dual-stack wildcard port is answered from the
        IPv4 address it wrote to (a secondary one here).
        """
        port = self.listen(ReplySourcePort, Echo())
        self.assertEqual((yield self.ask(SECOND4, port, socket.AF_INET)), SECOND4)
        plain = self.listen(udp.Port, Echo())
        self.assertEqual((yield self.ask(SECOND4, plain, socket.AF_INET)), SERVICE4)


class ReplyCmsgTests(TestCase):
    """
    L{_replyCmsg} builds the reply's control message from what the kernel
    said about a datagram.
    """

    def test_ipv6(self) -> None:
        """
        The destination becomes the source; the interface is kept only for
        link-local addresses; other control messages are ignored.
        """
        glob = socket.inet_pton(socket.AF_INET6, DEPRECATED)
        link = socket.inet_pton(socket.AF_INET6, "fe80::1")
        info = socket.IPPROTO_IPV6, socket.IPV6_PKTINFO
        self.assertEqual(
            _replyCmsg(socket.AF_INET6, [(*info, glob + (7).to_bytes(4, "little"))]),
            (*info, glob + bytes(4)),
        )
        self.assertEqual(
            _replyCmsg(socket.AF_INET6, [(*info, link + (7).to_bytes(4, "little"))]),
            (*info, link + (7).to_bytes(4, "little")),
        )
        self.assertIsNone(_replyCmsg(socket.AF_INET6, [(socket.IPPROTO_IPV6, 99, b"x" * 20)]))
        self.assertIsNone(_replyCmsg(socket.AF_INET6, [(*info, b"short")]))
        self.assertIsNone(_replyCmsg(socket.AF_INET6, []))

    def test_ipv4(self) -> None:
        """
        On an IPv4 socket the local address the datagram came to
        (C{ipi_spec_dst}; C{ipi_addr} is the header's destination, which
        for a broadcast is no source address) becomes the source.
        """
        dst = socket.inet_aton(SECOND4)
        data = (3).to_bytes(4, "little") + dst + socket.inet_aton("10.55.0.255")
        self.assertEqual(
            _replyCmsg(socket.AF_INET, [(socket.IPPROTO_IP, 8, data)]),
            (socket.IPPROTO_IP, 8, bytes(4) + dst + bytes(4)),
        )
