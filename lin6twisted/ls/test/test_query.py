"""
Tests for L{lin6twisted.ls.query}: the cookie round trip without I/O, and
L{MNQuery} against an in-memory L{LSServer} (the blocking L{askLS} is
exercised against a real LS in L{lin6twisted.ma.test.test_integration_cli}).
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

from twisted.internet.defer import TimeoutError as DeferredTimeoutError
from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.ls.query import CookieExchange, MNQuery, QueryError
from lin6twisted.ls.test.test_server import MN, NODE, Node, frames, ma
from lin6twisted.wire import (
    CookieChallenge,
    Heartbeat,
    LSError,
    LSErrorCode,
    MAReply,
    MARequest,
    RTTReply,
    RTTRequest,
    RTTStatus,
)

UNKNOWN = NodeID.fromString("201:4a00:0:99")


class CookieExchangeTests(SynchronousTestCase):
    """
    L{CookieExchange} decides what to send after each message.
    """

    def test_challengeThenAnswer(self) -> None:
        """
        A challenge makes the next request carry the cookie under the next
        request id; the answer to that request is final.
        """
        exchange = CookieExchange(NODE, 7)
        self.assertEqual(exchange.request, MARequest(7, NODE))
        retry = exchange.receive(CookieChallenge(7, b"c00kie"))
        self.assertEqual(retry, MARequest(8, NODE, b"c00kie"))
        self.assertIs(exchange.request, retry)
        reply = MAReply(8, NODE, IPv6Address("2001:db8::1"), 7300, 60, 1234)
        self.assertIs(exchange.receive(reply), reply)

    def test_errorIsFinal(self) -> None:
        """
        An L{LSError} for the current request is the answer, challenged or
        not.
        """
        error = LSError(3, LSErrorCode.UNKNOWN_NODE, "unknown Node ID")
        self.assertIs(CookieExchange(NODE, 3).receive(error), error)

    def test_staleIgnored(self) -> None:
        """
        A message for another request id (a late answer to the first
        request) is ignored.
        """
        exchange = CookieExchange(NODE, 1)
        exchange.receive(CookieChallenge(1, b"x"))
        self.assertIsNone(exchange.receive(CookieChallenge(1, b"x")))
        self.assertIsNone(exchange.receive(LSError(1, LSErrorCode.INTERNAL)))

    def test_secondChallengeRefused(self) -> None:
        """
        An LS that challenges its own cookie gets a L{QueryError}, not an
        endless loop.
        """
        exchange = CookieExchange(NODE, 1)
        exchange.receive(CookieChallenge(1, b"x"))
        self.assertRaises(QueryError, exchange.receive, CookieChallenge(2, b"y"))

    def test_unexpectedMessage(self) -> None:
        """
        A message that is not an answer to an MA request is a L{QueryError}.
        """
        heartbeat = Heartbeat(5, IPv6Address("::1"), 1, 1, 1, 0, 0, 0, 1)
        self.assertRaises(QueryError, CookieExchange(NODE, 5).receive, heartbeat)

    def test_requestIdWraps(self) -> None:
        """
        The retry after the largest request id uses 0.
        """
        exchange = CookieExchange(NODE, 0xFFFFFFFF)
        retry = exchange.receive(CookieChallenge(0xFFFFFFFF, b"x"))
        assert isinstance(retry, MARequest)
        self.assertEqual(retry.requestId, 0)


class _Loopback:
    """
    A datagram transport that hands what L{MNQuery} writes to an in-memory
    L{LSServer} as if it came from L{MN}, and its replies back.
    """

    def __init__(self, node: Node, proto: MNQuery, deliver: bool = True) -> None:
        self.node, self.proto, self.deliver = node, proto, deliver
        self.sent: list[bytes] = []

    def write(self, data: bytes, addr: Any) -> None:
        self.sent.append(data)
        if self.deliver:
            self.node.server.handleQuery(
                data, MN, lambda reply: self.proto.datagramReceived(reply, addr)
            )


class MNQueryTests(SynchronousTestCase):
    """
    L{MNQuery} over a datagram transport to an LS.
    """

    def setUp(self) -> None:
        self.node = Node()
        self.proto = MNQuery(self.node.clock)
        self.loop = _Loopback(self.node, self.proto)
        self.proto.transport = self.loop  # type: ignore[assignment]

    def test_cookieRoundTripToError(self) -> None:
        """
        The first request is challenged, the second carries the cookie and
        gets the LS's refusal.
        """
        d = ensureDeferred(self.proto.ask(UNKNOWN, "2001:db8:5::ff", 4000))
        answer = self.successResultOf(d)
        assert isinstance(answer, LSError)
        self.assertEqual(answer.code, LSErrorCode.UNKNOWN_NODE)
        first, second = (MARequest.decode(s) for s in self.loop.sent)
        self.assertEqual(first.cookie, b"")
        self.assertNotEqual(second.cookie, b"")

    def test_maReply(self) -> None:
        """
        With an MA heartbeating, the answer is that MA once it reports its
        RTT.
        """
        channel, transport = self.node.connect("MA")
        self.node.heartbeat(channel, 1, 1)
        d = ensureDeferred(self.proto.ask(NODE, "2001:db8:5::ff", 4000))
        self.assertNoResult(d)
        [probe] = [m for m in frames(transport) if isinstance(m, RTTRequest)]
        channel.dataReceived(
            RTTReply(probe.requestId, probe.target, RTTStatus.OK, 9_000, 4).encode()
        )
        answer = self.successResultOf(d)
        assert isinstance(answer, MAReply)
        self.assertEqual((answer.maAddress, answer.maPort, answer.rttUs), (ma(1), 7001, 9_000))

    def test_timeout(self) -> None:
        """
        No answer within the timeout fails the query and forgets it.
        """
        self.loop.deliver = False
        d = ensureDeferred(self.proto.ask(NODE, "2001:db8:5::ff", 4000, timeout=2.0))
        self.node.clock.advance(2.0)
        self.failureResultOf(d, DeferredTimeoutError)
        self.assertEqual(self.proto._waiting, {})
