"""
Tests for L{lin6twisted.ma.rtt}: echo bookkeeping and the pinger with a
fake socket and a L{Clock}.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.ma.rtt import (
    ECHO_REPLY,
    ICMPv6Pinger,
    ProbeBook,
    echoRequest,
    parseEchoReply,
)
from lin6twisted.wire.ls import RTTStatus

T1 = ipaddress.IPv6Address("2001:db8:1::2")
T2 = ipaddress.IPv6Address("2001:db8:2::2")


def reply(request: bytes) -> bytes:
    return bytes([ECHO_REPLY]) + request[1:]


class EchoTests(SynchronousTestCase):
    def test_format(self) -> None:
        """
        Echo requests carry type 128, the identifier and the sequence;
        only echo replies parse.
        """
        req = echoRequest(0x1234, 7)
        self.assertEqual(req[:8], bytes.fromhex("8000000012340007"))
        self.assertIsNone(parseEchoReply(req))
        self.assertEqual(parseEchoReply(reply(req)), (0x1234, 7))
        self.assertIsNone(parseEchoReply(b"\x81"))


class ProbeBookTests(SynchronousTestCase):
    def test_matchAndMean(self) -> None:
        """
        Replies are matched by identifier, sequence and source; the mean is
        in microseconds.
        """
        book = ProbeBook(9, minInterval=1.0)
        m, immediate, seqs = book.begin(T1, 2, 0.0)
        assert m is not None
        self.assertIsNone(immediate)
        for s in seqs:
            book.sent(m, s, 0.0)
        self.assertIsNone(book.received(T1, 8, seqs[0], 0.001))  # other identifier
        self.assertIsNone(book.received(T2, 9, seqs[0], 0.001))  # other source
        self.assertIsNone(book.received(T1, 9, seqs[0], 0.010))
        self.assertIsNone(book.received(T1, 9, seqs[0], 0.011))  # duplicate
        self.assertIs(book.received(T1, 9, seqs[1], 0.030), m)
        result = m.finish(0.03)
        self.assertEqual((result.status, result.meanUs, result.received), (RTTStatus.OK, 20000, 2))

    def test_rateLimit(self) -> None:
        """
        A target measured within C{minInterval} gets the cached result; one
        in flight is joined; beyond C{maxInFlight}, RATE_LIMITED.
        """
        book = ProbeBook(1, minInterval=5.0, maxInFlight=1)
        m, _, _ = book.begin(T1, 1, 0.0)
        assert m is not None
        joined, _, more = book.begin(T1, 1, 0.1)
        self.assertIs(joined, m)
        self.assertEqual(more, [])
        _, limited, _ = book.begin(T2, 1, 0.1)
        assert limited is not None
        self.assertEqual(limited.status, RTTStatus.RATE_LIMITED)
        book.timeout(m, 1.0)
        _, cached, _ = book.begin(T1, 1, 2.0)
        assert cached is not None
        self.assertEqual(cached.status, RTTStatus.TIMEOUT)
        book.forget(6.0)
        again, none, seqs2 = book.begin(T1, 1, 6.0)
        self.assertIsNotNone(again)
        self.assertIsNone(none)
        self.assertEqual(len(seqs2), 1)


class FakeRawSocket:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []
        self.inbox: list[tuple[bytes, Any]] = []
        self.closed = False

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append((data, addr))

    def recvfrom(self, size: int) -> tuple[bytes, Any]:
        if not self.inbox:
            raise BlockingIOError()
        return self.inbox.pop(0)

    def fileno(self) -> int:
        return 99

    def close(self) -> None:
        self.closed = True


class PingerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.sock = FakeRawSocket()
        self.pinger = ICMPv6Pinger(self.reactor, minInterval=0.0, sock=self.sock)

    def test_fourEchoes(self) -> None:
        """
        C{measure} sends 4 echo requests and fires with the mean RTT once
        the 4 replies are in.
        """
        d = self.pinger.measure(T1)
        self.assertEqual(len(self.sock.sent), 4)
        self.assertIn(self.pinger, self.reactor.getReaders())
        self.assertNoResult(d)
        for i, (data, addr) in enumerate(self.sock.sent):
            self.assertEqual(addr, (str(T1), 0))
            self.reactor.advance(0.001 * (i + 1))
            self.sock.inbox.append((reply(data), (str(T1), 0, 0, 0)))
            self.pinger.doRead()
        result = self.successResultOf(d)
        self.assertEqual(result.status, RTTStatus.OK)
        self.assertEqual(result.received, 4)
        # sent at t=0, replies at 1, 3, 6, 10 ms
        self.assertEqual(result.meanUs, 5000)

    def test_timeout(self) -> None:
        """
        Without all replies, the measurement ends at the timeout with the
        mean of what arrived, or TIMEOUT.
        """
        d = self.pinger.measure(T1, 4, timeout=1.0)
        data, _ = self.sock.sent[0]
        self.reactor.advance(0.002)
        self.sock.inbox.append((reply(data), (str(T1), 0)))
        self.sock.inbox.append((b"garbage", (str(T1), 0)))
        self.pinger.doRead()
        self.assertNoResult(d)
        self.reactor.advance(1.0)
        result = self.successResultOf(d)
        self.assertEqual((result.status, result.meanUs, result.received), (RTTStatus.OK, 2000, 1))
        d2 = self.pinger.measure(T2, 2, timeout=0.5)
        self.reactor.advance(0.5)
        self.assertEqual(self.successResultOf(d2).status, RTTStatus.TIMEOUT)

    def test_close(self) -> None:
        """
        Closing ends measurements and the socket.
        """
        d = self.pinger.measure(T1)
        self.pinger.close()
        self.assertEqual(self.successResultOf(d).status, RTTStatus.ERROR)
        self.assertTrue(self.sock.closed)
        self.assertNotIn(self.pinger, self.reactor.getReaders())


class _RecordingSocket:
    """
    Stands in for C{socket.socket}: records C{bind} calls.
    """

    bound: list[tuple[str, int]] = []

    def __init__(self, *args: object) -> None:
        pass

    def setblocking(self, flag: bool) -> None:
        pass

    def setsockopt(self, *args: object) -> None:
        pass

    def bind(self, address: tuple[str, int]) -> None:
        self.bound.append(address)

    def fileno(self) -> int:
        return -1


class SourceTests(SynchronousTestCase):
    """
    The pinger's raw socket leaves from the MA's advertised address.
    """

    def bound(self, source: ipaddress.IPv6Address | None) -> list[tuple[str, int]]:
        _RecordingSocket.bound = []
        self.patch(socket, "socket", _RecordingSocket)
        ICMPv6Pinger(MemoryReactorClock(), source=source)._socket()
        return _RecordingSocket.bound

    def test_boundToAdvertised(self) -> None:
        """
        A global advertised address is bound, so the kernel never picks a
        co-located content server's locator as the echo's source.
        """
        self.assertEqual(self.bound(ipaddress.IPv6Address("2001:db8::5")), [("2001:db8::5", 0)])

    def test_loopbackNotBound(self) -> None:
        """
        Loopback, unspecified or no address leaves the choice to the kernel.
        """
        self.assertEqual(self.bound(ipaddress.IPv6Address("::1")), [])
        self.assertEqual(self.bound(ipaddress.IPv6Address("::")), [])
        self.assertEqual(self.bound(None), [])
