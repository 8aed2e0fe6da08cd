"""
Tests for L{lin6twisted.ma.lsclient}: the LS link with fakes and a clock.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from lin6twisted.address import Prefix
from lin6twisted.directory import FakeDirectory, ServiceLevel
from lin6twisted.ls.channel import IChannelController
from lin6twisted.ma.core import MappingTable
from lin6twisted.ma.lsclient import FailoverEndpoint, LSLink, NoReplica, buildLSClient
from lin6twisted.ma.rtt import RTTResult
from lin6twisted.ma.service import MappingAgent
from lin6twisted.ma.settings import LSClientSettings
from lin6twisted.ma.test.helpers import MN1, MN2, NET_A, SUBSCRIBERS, loc
from lin6twisted.wire.ls import (
    Assignment,
    Heartbeat,
    LSError,
    LSErrorCode,
    RTTReply,
    RTTRequest,
    RTTStatus,
)

MA_ADDR = ipaddress.IPv6Address("2001:db8::5")
TARGET = ipaddress.IPv6Address("2001:db8:1::2")


class FakeChannel:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)

    def peerText(self) -> str:
        return "[2001:db8::10]:7101"


class FakePinger:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, int, float]] = []
        self.pending: Deferred[RTTResult] = Deferred()

    def measure(self, target: Any, count: int = 4, timeout: float = 1.0) -> Deferred[RTTResult]:
        self.calls.append((target, count, timeout))
        if self.pending.called:
            return Deferred()
        return self.pending


class LSLinkTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = MemoryReactorClock()
        self.table = MappingTable()
        self.agent = MappingAgent(self.table, FakeDirectory(SUBSCRIBERS), self.clock)
        self.pinger = FakePinger()
        self.link = LSLink(
            self.agent,
            self.pinger,  # type: ignore[arg-type]
            self.clock,
            MA_ADDR,
            7300,
            50,
            2.0,
            bootID=0xB007,
        )
        self.channel = FakeChannel()

    def test_interface(self) -> None:
        self.assertTrue(verifyObject(IChannelController, self.link))

    def test_heartbeats(self) -> None:
        """
        A heartbeat goes out when the link opens and every interval after,
        with the current counts, capacity, boot id and a growing sequence;
        none after the link closes.
        """
        self.table.register(MN1, [loc(NET_A, MN1)], 100, 1, ServiceLevel.NORMAL, 0)
        self.link.channelOpen(self.channel)  # type: ignore[arg-type]
        self.table.register(MN2, [loc(NET_A, MN2)], 100, 1, ServiceLevel.PREMIUM, 0)
        self.clock.advance(2.0)
        first, second = self.channel.sent
        self.assertEqual(first, Heartbeat(1, MA_ADDR, 7300, 0xB007, 1, 1, 0, 50, 2))
        self.assertEqual((second.sequence, second.normal, second.premium), (2, 1, 1))
        self.assertTrue(self.link.linkStatus()["connected"])
        self.link.channelClosed(self.channel, Failure(ConnectionRefusedError()))  # type: ignore[arg-type]
        self.clock.advance(10)
        self.assertEqual(len(self.channel.sent), 2)
        self.assertFalse(self.link.linkStatus()["connected"])

    def test_rttRequest(self) -> None:
        """
        An RTT_REQUEST pings the target and is answered with the mean.
        """
        self.link.channelOpen(self.channel)  # type: ignore[arg-type]
        self.channel.sent.clear()
        self.link.messageReceived(self.channel, RTTRequest(42, TARGET, 4, 800))  # type: ignore[arg-type]
        self.assertEqual(self.pinger.calls, [(TARGET, 4, 0.8)])
        self.assertEqual(self.channel.sent, [])
        self.pinger.pending.callback(RTTResult(TARGET, RTTStatus.OK, 1234, 4, 4))
        self.assertEqual(self.channel.sent, [RTTReply(42, TARGET, RTTStatus.OK, 1234, 4)])
        self.link.messageReceived(self.channel, RTTRequest(43, TARGET, 4, 9000))  # type: ignore[arg-type]
        self.assertEqual(self.pinger.calls[-1], (TARGET, 4, 2.0))  # capped by probeTimeout

    def test_rttTimeout(self) -> None:
        self.link.channelOpen(self.channel)  # type: ignore[arg-type]
        self.channel.sent.clear()
        self.link.messageReceived(self.channel, RTTRequest(1, TARGET))  # type: ignore[arg-type]
        self.pinger.pending.callback(RTTResult(TARGET, RTTStatus.TIMEOUT, 0, 0, 4))
        self.assertEqual(self.channel.sent, [RTTReply(1, TARGET, RTTStatus.TIMEOUT, 0, 0)])

    def test_assignmentAndError(self) -> None:
        """
        Assignment notices are recorded; errors are logged.
        """
        self.link.channelOpen(self.channel)  # type: ignore[arg-type]
        prefix = Prefix.fromString("2001:db8:1::/64")
        self.link.messageReceived(self.channel, Assignment(5, MN2, 2, prefix))  # type: ignore[arg-type]
        self.assertEqual(self.link.assignments[MN2]["level"], "premium")
        self.assertTrue(self.link.isAssigned(MN2, 300))
        self.assertFalse(self.link.isAssigned(MN2, 301))
        self.assertFalse(self.link.isAssigned(MN1, 0))
        self.link.messageReceived(self.channel, LSError(6, LSErrorCode.MALFORMED, "x"))  # type: ignore[arg-type]
        self.assertEqual(self.link.linkStatus()["assignments"], 1)


class FakeEndpoint:
    def __init__(self, ok: bool) -> None:
        self.ok = ok
        self.attempts = 0

    def connect(self, factory: Any) -> Deferred[Any]:
        self.attempts += 1
        if self.ok:
            return succeed(factory.buildProtocol(None))
        return fail(ConnectionRefusedError())


class FailoverEndpointTests(SynchronousTestCase):
    def test_failover(self) -> None:
        """
        Replicas are tried in order; the one that worked is tried first
        next time; when none answers the attempt fails.
        """
        a, b, c = FakeEndpoint(False), FakeEndpoint(True), FakeEndpoint(True)
        endpoint = FailoverEndpoint(lambda: succeed([("a", a), ("b", b), ("c", c)]))  # type: ignore[list-item]
        factory = Factory.forProtocol(Protocol)
        self.successResultOf(endpoint.connect(factory))
        self.assertEqual((a.attempts, b.attempts, c.attempts), (1, 1, 0))
        self.assertEqual(endpoint.current, "b")
        self.successResultOf(endpoint.connect(factory))
        self.assertEqual((a.attempts, b.attempts), (1, 2))
        b.ok = c.ok = False
        self.failureResultOf(endpoint.connect(factory), NoReplica)
        self.assertEqual((a.attempts, b.attempts, c.attempts), (2, 3, 1))

    def test_noReplicas(self) -> None:
        endpoint = FailoverEndpoint(lambda: succeed([]))
        self.failureResultOf(endpoint.connect(Factory.forProtocol(Protocol)), NoReplica)


class FakeResolver:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.names: list[str] = []

    def lookupAddresses(self, name: str) -> Deferred[Any]:
        self.names.append(name)
        if isinstance(self.answer, Exception):
            return fail(self.answer)
        return succeed(self.answer)


class BuildLSClientTests(SynchronousTestCase):
    """
    L{buildLSClient} takes the replicas from the configuration or DNS.
    """

    def setUp(self) -> None:
        from pathlib import Path

        from lin6twisted.pki import Role, makeTestPKI

        pki = makeTestPKI(Path(self.mktemp()), {"ma1": Role.MA})
        self.tls = pki.settings("ma1")
        self.clock = MemoryReactorClock()
        self.agent = MappingAgent(MappingTable(), FakeDirectory(SUBSCRIBERS), self.clock)

    def names(self, settings: LSClientSettings, resolver: Any = None) -> list[str]:
        service = buildLSClient(
            settings, self.tls, 10, self.agent, self.clock, MA_ADDR, 7300, resolver
        )
        replicas = self.successResultOf(service.endpoint.replicas())
        return [name for name, _ in replicas]

    def test_configured(self) -> None:
        settings = LSClientSettings(
            servers=(ipaddress.IPv6Address("2001:db8::10"), ipaddress.IPv6Address("2001:db8::11"))
        )
        self.assertEqual(self.names(settings), ["[2001:db8::10]:7101", "[2001:db8::11]:7101"])

    def test_dns(self) -> None:
        """
        With C{dns_name}, the AAAA records are the replicas; if DNS fails,
        the configured servers are used.
        """
        settings = LSClientSettings(
            servers=(ipaddress.IPv6Address("2001:db8::10"),),
            dnsName="ls.lin6.example",
            lsPort=7101,
        )
        resolver = FakeResolver((ipaddress.IPv6Address("2001:db8::20"),))
        self.assertEqual(self.names(settings, resolver), ["[2001:db8::20]:7101"])
        self.assertEqual(resolver.names, ["ls.lin6.example"])
        broken = FakeResolver(RuntimeError("no DNS"))
        self.assertEqual(self.names(settings, broken), ["[2001:db8::10]:7101"])

    def test_dnsService(self) -> None:
        """
        With C{dns_service}, the LS hosts come from the TXT records at the
        service address's reverse name, at C{ls_port}.
        """
        from lin6twisted.address import DEFAULT_SPACE
        from lin6twisted.dns.resolver import Service
        from lin6twisted.dns.txt import Endpoint, Locations

        service = Service(
            "stream.lin6.example",
            DEFAULT_SPACE.address(MN1),
            Locations(
                ls=(
                    Endpoint(ipaddress.IPv6Address("2001:db8:1::53"), 7403),
                    Endpoint(ipaddress.IPv6Address("2001:db8:2::53"), 7403),
                )
            ),
        )

        class ServiceResolver:
            def resolveService(self, name: str) -> Deferred[Any]:
                return succeed(service)

        settings = LSClientSettings(dnsService="stream.lin6.example", lsPort=7101)
        self.assertEqual(
            self.names(settings, ServiceResolver()),
            ["[2001:db8:1::53]:7101", "[2001:db8:2::53]:7101"],
        )
