"""
Tests for L{lin6twisted.resolvd.service} and, through it, the state machine
of L{lin6twisted.resolvd.core}: attach, register, refresh, MA failure, LS
failover, move and NOTIFY, driven with a L{Clock}, fake DNS/LS/MA peers on
a fake datagram network and the L{FakeDataplane}.
"""

from __future__ import annotations

import itertools
from ipaddress import IPv6Address
from typing import Any

from attrs import evolve
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import DEFAULT_SPACE, Locator, NodeID, Prefix
from lin6twisted.dataplane import FakeDataplane
from lin6twisted.dns.resolver import DNSTimeout
from lin6twisted.dns.txt import Endpoint
from lin6twisted.resolvd.core import NodeCore, NodeSettings, NodeState
from lin6twisted.resolvd.host import FakeHostConfig
from lin6twisted.resolvd.interfaces import AddressState, InterfaceAddress
from lin6twisted.resolvd.netmon import FakeAddressMonitor
from lin6twisted.resolvd.service import NodeService, PeerLookupError
from lin6twisted.resolvd.state import MemorySequenceStore
from lin6twisted.resolvd.test.fakes import FakeLS, FakeMA, FakeResolver, FakeUDPReactor
from lin6twisted.wire import (
    LSErrorCode,
    MapQuery,
    Notify,
    Register,
    RegisterFlags,
    decodeMappingMessage,
)

SPACE = DEFAULT_SPACE
MN = NodeID.fromString("201:4a00:0:2")
PEER = NodeID.fromString("201:4a00:0:3")
SERVICE_ID = NodeID.fromString("201:4a00:0:100")
SERVICE = SPACE.address(SERVICE_ID)
NAME = "stream.lin6.example"
KEY = bytes(range(32))
P1 = Prefix.fromString("2001:db8:a::/64")
P2 = Prefix.fromString("2001:db8:b::/64")
P9 = Prefix.fromString("2001:db8:9::/64")
GW1 = IPv6Address("2001:db8:a::1")
GW2 = IPv6Address("2001:db8:b::1")
LS1 = Endpoint(IPv6Address("2001:db8:1::53"), 7403)
LS2 = Endpoint(IPv6Address("2001:db8:2::53"), 7403)
MA1 = Endpoint(IPv6Address("2001:db8:1::10"), 7300)
MA2 = Endpoint(IPv6Address("2001:db8:2::10"), 7300)
LATENCY = 0.005


def attachedTo(prefix: Prefix, gateway: IPv6Address, dev: str = "eth0") -> AddressState:
    """
    A kernel snapshot: one SLAAC-style address in C{prefix} and a default
    route via C{gateway}.
    """
    slaac = IPv6Address((prefix.value << 64) | 0x0200_5EFF_FE00_0001)
    return AddressState(
        addresses=(InterfaceAddress(dev, slaac, 64),),
        defaultRoutes=((gateway, dev),),
    )


class Node:
    """
    One node daemon on a fake network, with its fakes.
    """

    def __init__(
        self,
        nodeID: NodeID = MN,
        state: AddressState | None = None,
        **overrides: Any,
    ) -> None:
        self.monitor = FakeAddressMonitor(attachedTo(P1, GW1) if state is None else state)
        self.dataplane = FakeDataplane()
        self.host = FakeHostConfig()
        self.sequences = MemorySequenceStore()
        self.resolver = FakeResolver()
        self.resolver.add(NAME, SERVICE, ls=(LS1, LS2))
        settings = NodeSettings(
            nodeID=nodeID,
            lin6=SPACE.address(nodeID),
            key=KEY,
            service=NAME,
            lifetime=60,
            reportInterval=0,
        )
        self.settings = evolve(settings, **overrides)
        ids = itertools.count(100)
        self.core = NodeCore(
            self.settings, SPACE, self.dataplane, self.host, self.sequences, ids.__next__
        )
        self.reactor = FakeUDPReactor(self.source, LATENCY)
        self.network = self.reactor.network
        self.service = NodeService(
            self.core,
            self.reactor,
            self.resolver,
            self.monitor,
            self.dataplane,
            SPACE,
            port=7420,
            peerTimeout=5.0,
        )

    def source(self) -> str:
        locator = self.core.locator
        return "::" if locator is None else str(locator.address)

    def advance(self, seconds: float, step: float = 0.001) -> None:
        """
        Let C{seconds} pass in small steps, so latency-delayed datagrams
        and timers interleave as they would.
        """
        end = self.reactor.seconds() + seconds
        while self.reactor.seconds() < end - 1e-9:
            self.reactor.advance(min(step, end - self.reactor.seconds()))

    def ls(self, endpoint: Endpoint, ma: Endpoint, **kw: Any) -> FakeLS:
        return FakeLS(self.network, endpoint, ma, **kw)

    def ma(self, endpoint: Endpoint, **kw: Any) -> FakeMA:
        return FakeMA(self.network, endpoint, {MN: KEY, PEER: KEY, SERVICE_ID: KEY}, **kw)


class ServiceTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)  # type: ignore[arg-type]

    def startNode(self, **kw: Any) -> Node:
        node = Node(**kw)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        return node

    def logged(self, text: str) -> list[str]:
        from twisted.logger import formatEvent

        return [m for m in (formatEvent(e) for e in self.events) if text in m]


class AttachTests(ServiceTestCase):
    """
    Attach: DNS -> LS (cookie exchange) -> MA -> REGISTERED.
    """

    def test_attachAndRegister(self) -> None:
        """
        The node resolves the service name, asks the first LS (answering its
        cookie challenge), registers its locator with the MA the LS names,
        configures the locator address and tells the dataplane.
        """
        node = Node()
        ls1 = node.ls(LS1, MA1)
        ma1 = node.ma(MA1)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        self.assertEqual(node.resolver.calls, [NAME])
        self.assertEqual(node.core.state, NodeState.ASKING_LS)
        node.advance(0.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(node.core.ma, MA1)
        self.assertEqual([bool(r.cookie) for r in ls1.requests], [False, True])
        locator = Locator(P1, MN)
        self.assertEqual(ma1.bindings[MN].locator, locator)
        self.assertTrue(ma1.registers[0].verify(KEY))
        self.assertEqual(ma1.registers[0].flags, RegisterFlags(0))
        self.assertIn(("eth0", locator.address, 64), node.host.addresses)
        self.assertEqual(node.host.deprecated, {locator.address})
        assert node.dataplane.own is not None
        self.assertEqual(node.dataplane.own.locator, locator)
        self.assertEqual(node.dataplane.own.gateway, GW1)
        self.assertEqual(node.dataplane.own.lin6, SPACE.address(MN))
        self.assertTrue(node.dataplane.running)
        self.assertAlmostEqual(node.core.rttToMA or 0, 2 * LATENCY, places=3)

    def test_detachedUntilAPrefixAppears(self) -> None:
        """
        Without a usable prefix the node waits (DETACHED, no datagrams); the
        first global address starts the attach.
        """
        node = Node(state=AddressState())
        node.ls(LS1, MA1)
        ma1 = node.ma(MA1)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(5)
        self.assertEqual(node.core.state, NodeState.DETACHED)
        self.assertEqual(node.network.log, [])
        node.monitor.setState(attachedTo(P1, GW1))
        node.advance(0.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertIn(MN, ma1.bindings)

    def test_dnsFailureBacksOff(self) -> None:
        """
        A DNS failure is logged and retried after a back-off; once DNS
        answers, the node attaches.
        """
        node = Node()
        node.ls(LS1, MA1)
        node.ma(MA1)
        node.resolver.failure = DNSTimeout(NAME, "no DNS server answered")
        node.service.startService()
        self.addCleanup(node.service.stopService)
        self.assertEqual(node.core.state, NodeState.BACKOFF)
        self.assertTrue(self.logged("no DNS server answered"))
        node.advance(0.9)
        self.assertEqual(len(node.resolver.calls), 1)
        node.advance(0.2)
        self.assertEqual(len(node.resolver.calls), 2)
        node.resolver.failure = None
        node.advance(2.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)

    def test_maFromTXT(self) -> None:
        """
        When the TXT record names an MA instead of LSs (a plain LIN6 node),
        the node registers with it directly.
        """
        node = Node()
        node.resolver.add(NAME, SERVICE, ma=(MA2,))
        ma2 = node.ma(MA2)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertIn(MN, ma2.bindings)

    def test_sequenceStoreFailureSendsNothing(self) -> None:
        """
        If the sequence number cannot be made durable, no REGISTER is sent.
        """
        node = Node()
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        node.sequences.failing = True
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(ma1.registers, [])
        self.assertEqual(node.core.state, NodeState.BACKOFF)
        node.sequences.failing = False
        node.advance(1.5)
        self.assertEqual(node.core.state, NodeState.REGISTERED)


class RegisterTests(ServiceTestCase):
    """
    Refresh and refusals.
    """

    def test_refreshBeforeLifetimeEnds(self) -> None:
        """
        The node registers again at half the granted lifetime, with a higher
        sequence number, and stays REGISTERED throughout.
        """
        node = Node()
        node.ls(LS1, MA1)
        ma1 = node.ma(MA1, lifetime=20)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(len(ma1.registers), 1)
        node.advance(9.8, step=0.1)
        self.assertEqual(len(ma1.registers), 1)
        node.advance(0.3)
        self.assertEqual(len(ma1.registers), 2)
        self.assertGreater(ma1.registers[1].sequence, ma1.registers[0].sequence)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        node.advance(60, step=0.01)
        self.assertEqual(len(ma1.registers), 8)
        sequences = [r.sequence for r in ma1.registers]
        self.assertEqual(sequences, sorted(set(sequences)))
        self.assertGreater(ma1.bindings[MN].expires, node.reactor.seconds())

    def test_replayRefusalSkipsAhead(self) -> None:
        """
        An MA that saw higher sequence numbers (state lost) answers REPLAY;
        the node jumps its counter ahead and registers.
        """
        node = Node()
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        ma1.lastSequence[MN] = 5000
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertGreater(ma1.bindings[MN].sequence, 5000)

    def test_badAuthBacksOff(self) -> None:
        """
        A refused registration (wrong key) is logged with its status and
        tried again after a back-off, not in a tight loop.
        """
        node = Node(key=b"wrong key")
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.5)
        self.assertEqual(len(ma1.registers), 1)
        self.assertEqual(node.core.state, NodeState.BACKOFF)
        self.assertTrue(self.logged("BAD_AUTH"))
        node.advance(30, step=0.01)
        self.assertLess(len(ma1.registers), 8)

    def test_contentServerIsPinned(self) -> None:
        """
        A content server registers with the PINNED flag and, when its MA
        goes silent, keeps retrying that MA instead of asking the LS.
        """
        node = Node(nodeID=SERVICE_ID, pinned=True)
        ls1 = node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1, lifetime=10)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(ma1.registers[0].flags, RegisterFlags.PINNED)
        asked = len(ls1.requests)
        ma1.mode = "silent"
        ls1.ma = MA2
        node.advance(40, step=0.01)
        self.assertEqual(len(ls1.requests), asked)
        self.assertEqual(node.core.ma, MA1)
        ma1.mode = "ok"
        node.advance(70, step=0.05)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(node.core.ma, MA1)
        self.assertEqual(len(ls1.requests), asked)


class FailoverTests(ServiceTestCase):
    """
    MA failure and LS failover.
    """

    def test_maFailureAsksLSAgain(self) -> None:
        """
        When the MA stops acknowledging refreshes, the node asks the LS
        again and registers with the MA it names now.
        """
        node = Node()
        ls1 = node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1, lifetime=10)
        ma2 = node.ma(MA2)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(node.core.ma, MA1)
        ma1.mode = "silent"
        ls1.ma = MA2
        # refresh at 5s, then 1 + 2 + 4 seconds of retries
        node.advance(5 + 7 + 0.2, step=0.01)
        self.assertEqual(node.core.ma, MA2)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertIn(MN, ma2.bindings)
        self.assertEqual(node.core.stats.maFailures, 1)
        self.assertEqual(len(ls1.requests), 2)

    def test_lsNamesTheFailedMA(self) -> None:
        """
        If the LS still names the MA that just failed, the node asks the
        next LS.
        """
        node = Node()
        ls1 = node.ls(LS1, MA1, cookies=False)
        node.ls(LS2, MA2, cookies=False)
        ma1 = node.ma(MA1, lifetime=10)
        ma2 = node.ma(MA2)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        ma1.mode = "silent"
        node.advance(12.5, step=0.01)
        self.assertEqual(len(ls1.requests), 2)
        self.assertEqual(node.core.ma, MA2)
        self.assertIn(MN, ma2.bindings)

    def test_failedMAComesBack(self) -> None:
        """
        When the only LS keeps naming the MA that failed, the node backs off
        and then tries that MA again, which works once it is back.
        """
        node = Node()
        node.resolver.add(NAME, SERVICE, ls=(LS1,))
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1, lifetime=10)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        ma1.mode = "silent"
        node.advance(12.5, step=0.01)
        self.assertEqual(node.core.state, NodeState.BACKOFF)
        ma1.mode = "ok"
        node.advance(5, step=0.01)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(node.core.ma, MA1)

    def test_silentLSFailsOver(self) -> None:
        """
        A silent LS is retried with growing timeouts, then the next LS in
        the list is asked.
        """
        node = Node()
        ls1 = node.ls(LS1, MA1, mode="silent")
        ls2 = node.ls(LS2, MA2)
        ma2 = node.ma(MA2)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(6.9, step=0.01)
        self.assertEqual(len(ls1.requests), 3)
        self.assertEqual(ls2.requests, [])
        node.advance(0.2)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(node.core.ma, MA2)
        self.assertIn(MN, ma2.bindings)
        self.assertEqual(node.core.stats.lsFailovers, 1)

    def test_lsErrorFailsOverAtOnce(self) -> None:
        """
        An LS error reply moves on to the next LS without waiting.
        """
        node = Node()
        node.ls(LS1, MA1, mode="error", errorCode=LSErrorCode.NO_CAPACITY)
        node.ls(LS2, MA2)
        node.ma(MA2)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(node.core.ma, MA2)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertTrue(self.logged("NO_CAPACITY"))

    def test_garbageFromLS(self) -> None:
        """
        Garbage from an LS is logged and dropped; the node retries and then
        fails over, and never crashes.
        """
        node = Node()
        node.ls(LS1, MA1, mode="garbage")
        node.ls(LS2, MA2)
        node.ma(MA2)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(7.2, step=0.01)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(node.core.ma, MA2)
        self.assertEqual(node.core.stats.garbage, 3)
        self.assertTrue(self.logged("malformed datagram"))

    def test_wrongNodeFromLS(self) -> None:
        """
        An MA_REPLY for another Node ID is not believed.
        """
        node = Node()
        node.ls(LS1, MA1, mode="wrong-node")
        node.ls(LS2, MA2)
        node.ma(MA2)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(node.core.ma, MA2)

    def test_garbageFromMA(self) -> None:
        """
        An MA answering garbage counts as failed; the node asks the LS.
        """
        node = Node()
        ls1 = node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1, mode="garbage")
        node.ma(MA2)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        ls1.ma = MA1
        node.advance(0.05)
        ls1.ma = MA2
        node.advance(7.2, step=0.01)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(node.core.ma, MA2)
        self.assertEqual(ma1.bindings, {})
        self.assertGreaterEqual(node.core.stats.garbage, 3)

    def test_allLSFailThenRecover(self) -> None:
        """
        With every LS silent the node backs off and starts over from DNS;
        when an LS answers again, it attaches.
        """
        node = Node()
        ls1 = node.ls(LS1, MA1, mode="silent")
        ls2 = node.ls(LS2, MA1, mode="silent")
        node.ma(MA1)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(14.2, step=0.01)
        self.assertEqual(node.core.state, NodeState.BACKOFF)
        ls1.mode = ls2.mode = "ok"
        node.advance(1.2, step=0.01)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(len(node.resolver.calls), 2)


class MoveTests(ServiceTestCase):
    """
    Movement: a new prefix from netlink.
    """

    def test_moveReregistersAtOnce(self) -> None:
        """
        A new prefix switches the dataplane to the new locator and
        re-registers at once; the handover is counted and timed; the old
        locator address is removed after the move grace.
        """
        node = Node()
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        old, new = Locator(P1, MN), Locator(P2, MN)
        node.monitor.setState(attachedTo(P2, GW2, "wlan0"))
        assert node.dataplane.own is not None
        self.assertEqual(node.dataplane.own.locator, new)
        self.assertEqual(node.dataplane.own.gateway, GW2)
        self.assertEqual(node.dataplane.own.interface, "wlan0")
        self.assertEqual(node.core.state, NodeState.REGISTERING)
        node.advance(0.02)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(ma1.bindings[MN].locator, new)
        self.assertEqual(node.core.stats.handovers, 1)
        self.assertEqual(node.core.stats.lastHandoverMs, 10)
        self.assertIn(("eth0", old.address, 64), node.host.addresses)
        self.assertIn(("wlan0", new.address, 64), node.host.addresses)
        node.advance(2.0)
        self.assertNotIn(("eth0", old.address, 64), node.host.addresses)

    def test_gatewayChangeIsNotAMove(self) -> None:
        """
        A new default router on the same prefix updates the dataplane only.
        """
        node = Node()
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        node.monitor.setState(attachedTo(P1, IPv6Address("2001:db8:a::2")))
        node.advance(0.1)
        self.assertEqual(len(ma1.registers), 1)
        assert node.dataplane.own is not None
        self.assertEqual(node.dataplane.own.gateway, IPv6Address("2001:db8:a::2"))
        self.assertEqual(node.core.stats.handovers, 0)

    def test_moveDuringRegistration(self) -> None:
        """
        A move while a REGISTER is in flight registers the new locator; the
        stale acknowledgement does not confuse the node.
        """
        node = Node()
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.011)
        self.assertEqual(node.core.state, NodeState.REGISTERING)
        node.monitor.setState(attachedTo(P2, GW2))
        node.advance(0.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(ma1.bindings[MN].locator, Locator(P2, MN))
        self.assertEqual(node.core.boundLocator, Locator(P2, MN))

    def test_losingThePrefixDetaches(self) -> None:
        """
        When the last usable address goes, the node is DETACHED; a new
        prefix re-registers with the same MA.
        """
        node = Node()
        ls1 = node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        node.monitor.setState(AddressState())
        self.assertEqual(node.core.state, NodeState.DETACHED)
        node.advance(3)
        node.monitor.setState(attachedTo(P2, GW2))
        node.advance(0.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertEqual(ma1.bindings[MN].locator, Locator(P2, MN))
        self.assertEqual(len(ls1.requests), 1)


class PeerTests(ServiceTestCase):
    """
    Peer resolution, the cache and NOTIFY.
    """

    def registeredNode(self, **kw: Any) -> tuple[Node, FakeMA]:
        node = Node(**kw)
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        return node, ma1

    def test_missInstallsMapping(self) -> None:
        """
        A dataplane miss makes the node ask its MA; the answer is installed
        and the held packet released.
        """
        node, ma1 = self.registeredNode()
        peerLocator = Locator(P9, PEER)
        ma1.static[PEER] = peerLocator
        node.dataplane.simulateMiss(PEER)
        node.advance(0.02)
        self.assertEqual(node.dataplane.mappings(), {PEER: peerLocator})
        self.assertEqual(node.dataplane.released, {PEER: 1})
        self.assertEqual(len(ma1.queries), 1)

    def test_resolvePeerOnDemand(self) -> None:
        """
        L{NodeService.resolvePeer} answers from the MA, then from the cache
        until the TTL runs out.
        """
        node, ma1 = self.registeredNode()
        ma1.static[PEER] = Locator(P9, PEER)
        d = node.service.resolvePeer(PEER)
        self.assertNoResult(d)
        node.advance(0.02)
        self.assertEqual(self.successResultOf(d), Locator(P9, PEER))
        again = node.service.resolvePeer(PEER)
        self.assertEqual(self.successResultOf(again), Locator(P9, PEER))
        self.assertEqual(len(ma1.queries), 1)

    def test_negativeAnswerCached(self) -> None:
        """
        A NOT_FOUND answer is cached for its TTL: misses within it do not
        ask again; after it they do.
        """
        node, ma1 = self.registeredNode()
        d = node.service.resolvePeer(PEER)
        node.advance(0.02)
        self.assertIsNone(self.successResultOf(d))
        node.dataplane.simulateMiss(PEER)
        node.advance(4.9, step=0.01)
        self.assertEqual(len(ma1.queries), 1)
        node.advance(0.2)
        node.dataplane.simulateMiss(PEER)
        node.advance(0.02)
        self.assertEqual(len(ma1.queries), 2)

    def test_mappingExpiresWhenIdle(self) -> None:
        """
        A mapping no one asks for again is removed at the end of its TTL.
        """
        node, ma1 = self.registeredNode(peerIdle=10.0)
        ma1.static[PEER] = Locator(P9, PEER)
        node.service.resolvePeer(PEER)
        node.advance(0.02)
        self.assertIn(PEER, node.dataplane.mappings())
        node.advance(30, step=0.01)
        self.assertEqual(len(ma1.queries), 1)
        self.assertNotIn(PEER, node.dataplane.mappings())

    def test_mappingRefreshedWhileUsed(self) -> None:
        """
        A mapping in use is asked for again before its TTL runs out, so it
        never disappears from the dataplane.
        """
        node, ma1 = self.registeredNode(peerIdle=600.0)
        ma1.static[PEER] = Locator(P9, PEER)
        node.service.resolvePeer(PEER)
        node.advance(0.02)
        for _ in range(90):
            node.advance(1, step=0.01)
            self.assertIn(PEER, node.dataplane.mappings())
        self.assertEqual(len(ma1.queries), 4)

    def test_notifyVerifiedWithMA(self) -> None:
        """
        A NOTIFY about a peer is acknowledged and verified with a fresh
        MAP_QUERY; the MA's answer (not the NOTIFY's locators) is installed,
        keeping the previous locator for the move grace.
        """
        node, ma1 = self.registeredNode()
        old, new = Locator(P9, PEER), Locator(P2, PEER)
        ma1.static[PEER] = old
        node.service.resolvePeer(PEER)
        node.advance(0.02)
        ma1.static[PEER] = new
        bogus = Locator(Prefix.fromString("2001:db8:666::/64"), PEER)
        notify = Notify(55, PEER, (bogus.address,))
        node.network.send(notify.encode(), ma1.address, node.reactor.nodeAddress())
        node.advance(0.02)
        self.assertEqual(node.dataplane.mappings(), {PEER: new})
        self.assertEqual(node.dataplane.previous, {PEER: old})
        self.assertEqual(len(ma1.queries), 2)
        self.assertEqual([a.requestId for a in ma1.notifyAcks], [55])

    def test_notifyAboutStrangerOnlyAcked(self) -> None:
        """
        A NOTIFY for a Node ID the node does not talk to is acknowledged and
        otherwise ignored.
        """
        node, ma1 = self.registeredNode()
        notify = Notify(9, PEER, (Locator(P9, PEER).address,))
        node.network.send(notify.encode(), ma1.address, node.reactor.nodeAddress())
        node.advance(0.05)
        self.assertEqual(len(ma1.notifyAcks), 1)
        self.assertEqual(ma1.queries, [])
        self.assertEqual(node.dataplane.mappings(), {})

    def test_peerMovesAndMANotifies(self) -> None:
        """
        When a peer re-registers a new locator at the MA, the MA's NOTIFY
        reaches the node, which installs the new locator without waiting
        for the TTL.
        """
        node, ma1 = self.registeredNode()
        peerKey = KEY
        ma1.static.clear()
        first = Register(1, PEER, (Locator(P9, PEER).address,), 60, 1, 1).sign(peerKey)
        ma1.handle(first.encode(), ("2001:db8:9::3", 7420))
        node.service.resolvePeer(PEER)
        node.advance(0.02)
        self.assertEqual(node.dataplane.mappings(), {PEER: Locator(P9, PEER)})
        second = Register(2, PEER, (Locator(P2, PEER).address,), 60, 1, 2).sign(peerKey)
        ma1.handle(second.encode(), ("2001:db8:b::3", 7420))
        node.advance(0.03)
        self.assertEqual(node.dataplane.mappings(), {PEER: Locator(P2, PEER)})

    def test_queriesWaitForAnMA(self) -> None:
        """
        Peer queries made before the node has an MA are sent once it is
        registered.
        """
        node = Node()
        node.ls(LS1, MA1, mode="silent")
        ls2 = node.ls(LS2, MA1, cookies=False)
        ma1 = node.ma(MA1)
        ma1.static[PEER] = Locator(P9, PEER)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.service.peerTimeout = 30.0
        d = node.service.resolvePeer(PEER)
        node.advance(4.0, step=0.01)
        self.assertEqual(ma1.queries, [])
        self.assertEqual(ls2.requests, [])
        node.advance(3.2, step=0.01)
        self.assertEqual(self.successResultOf(d), Locator(P9, PEER))

    def test_silentMAFailsPeerLookup(self) -> None:
        """
        If the MA does not answer a query, the lookup fails with
        L{PeerLookupError} and nothing is installed.
        """
        node, ma1 = self.registeredNode()
        ma1.mode = "silent"
        d = node.service.resolvePeer(PEER)
        node.advance(7.2, step=0.01)
        self.failureResultOf(d, PeerLookupError)
        self.assertEqual(node.dataplane.mappings(), {})

    def test_answerFromStrangerIgnored(self) -> None:
        """
        A MAP_REPLY from an address that is not the MA is ignored.
        """
        from lin6twisted.wire import MapReply, MapStatus

        node, ma1 = self.registeredNode()
        ma1.mode = "silent"
        d = node.service.resolvePeer(PEER)
        node.advance(0.002)
        query = decodeMappingMessage(node.network.sentTo(ma1.address)[-1])
        assert isinstance(query, MapQuery)
        forged = MapReply(query.requestId, PEER, MapStatus.FOUND, 60, (Locator(P9, PEER).address,))
        node.network.send(forged.encode(), ("2001:db8:666::1", 7300), node.reactor.nodeAddress())
        node.advance(0.02)
        self.assertNoResult(d)
        self.assertEqual(node.dataplane.mappings(), {})
        self.assertEqual(node.core.stats.unexpected, 1)
        node.advance(7.2, step=0.01)
        self.failureResultOf(d, PeerLookupError)


class ReportTests(ServiceTestCase):
    """
    Periodic REPORTs to the MA.
    """

    def test_periodicReport(self) -> None:
        """
        Every report interval the node sends an authenticated REPORT with
        its RTT to the MA, interface bytes and handover figures.
        """
        node = Node(reportInterval=10.0)
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        node.host.bytes["eth0"] = (1000, 2000)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        node.monitor.setState(attachedTo(P2, GW2, "eth0"))
        node.advance(0.1)
        node.advance(9.9, step=0.01)
        self.assertEqual(len(ma1.reports), 1)
        report = ma1.reports[0]
        self.assertEqual(report.nodeID, MN)
        self.assertEqual(report.bytesIn, 1000)
        self.assertEqual(report.bytesOut, 2000)
        self.assertEqual(report.handovers, 1)
        self.assertEqual(report.lastHandoverMs, 10)
        self.assertAlmostEqual(report.rttToMAus, 10000, delta=1500)
        self.assertGreater(report.sequence, ma1.registers[-1].sequence)


class StatusTests(ServiceTestCase):
    """
    The status summary the status socket serves.
    """

    def test_status(self) -> None:
        node = Node()
        node.ls(LS1, MA1, cookies=False)
        ma1 = node.ma(MA1)
        ma1.static[PEER] = Locator(P9, PEER)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        node.service.resolvePeer(PEER)
        node.advance(0.02)
        status = node.service.status()
        self.assertEqual(status["state"], "registered")
        self.assertEqual(status["ma"], str(MA1))
        self.assertEqual(status["locator"], str(Locator(P1, MN)))
        self.assertEqual(status["dataplane"]["mappings"], 1)
        rows = node.service.cache()
        self.assertEqual(
            [(r["node_id"], r["locator"], r["installed"]) for r in rows],
            [(str(PEER), str(Locator(P9, PEER)), str(Locator(P9, PEER)))],
        )
        self.assertEqual(rows[0]["lin6_address"], str(SPACE.address(PEER).address))


class DataplaneFailureTests(ServiceTestCase):
    """
    A dataplane that cannot start does not stop the node from registering.
    """

    def test_dataplaneStartFails(self) -> None:
        from lin6twisted.dataplane import DataplaneError

        node = Node()
        node.ls(LS1, MA1, cookies=False)
        node.ma(MA1)

        class Refusing(FakeDataplane):
            def start(self) -> None:
                raise DataplaneError("no BPF here")

        node.dataplane = node.core.dataplane = node.service.dataplane = Refusing()
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.1)
        self.assertEqual(node.core.state, NodeState.REGISTERED)
        self.assertTrue(self.logged("no BPF here"))
        self.assertFalse(node.service.status()["dataplane"]["running"])
