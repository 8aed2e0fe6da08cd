"""
Tests for L{lin6twisted.ls.server}, L{lin6twisted.ls.channel} and
L{lin6twisted.ls.web} with fake transports and a L{Clock}.
"""

from __future__ import annotations

import json
import struct
from ipaddress import IPv6Address
from typing import Any

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from lin6twisted._gcpause import CollectorPause
from lin6twisted.address import NodeID, Prefix
from lin6twisted.directory import FakeDirectory, ServiceLevel, Subscriber
from lin6twisted.ls.channel import IChannelController, LSChannel, Relay
from lin6twisted.ls.core import LSSettings
from lin6twisted.ls.server import GuardSettings, LSServer, PeerInfo, QueryDatagramProtocol
from lin6twisted.ls.web import StatusResource, metricsText
from lin6twisted.wire import (
    AnswerTableUpdate,
    Assignment,
    CookieChallenge,
    Heartbeat,
    LSError,
    LSErrorCode,
    LSMessage,
    MAReply,
    MARequest,
    MATableUpdate,
    RTTReply,
    RTTRequest,
    RTTStatus,
    StreamDecoder,
    SyncDone,
    SyncRequest,
    decodeLSMessage,
)

T0 = 1_700_000_000.0
MN = "2001:db8:5::1"
NODE = NodeID.fromString("201:4a00:0:2")
PREMIUM_NODE = NodeID.fromString("201:4a00:0:3")
OFF = NodeID.fromString("201:4a00:0:4")


def ma(n: int) -> IPv6Address:
    return IPv6Address(f"2001:db8:ffff::{n}")


def directory() -> FakeDirectory:
    return FakeDirectory(
        [
            Subscriber(NODE, ServiceLevel.NORMAL, 1, b"k" * 16, True),
            Subscriber(PREMIUM_NODE, ServiceLevel.PREMIUM, 2, b"k" * 16, True),
            Subscriber(OFF, ServiceLevel.NORMAL, 3, b"k" * 16, False),
        ]
    )


def rtt(probe: Any, status: RTTStatus, us: int, received: int) -> bytes:
    return RTTReply(probe.requestId, probe.target, status, us, received).encode()


def frames(transport: StringTransport) -> list[Any]:
    data = transport.value()
    transport.clear()
    out: list[Any] = []
    for f in StreamDecoder().feed(data):
        out.append(decodeLSMessage(f))
    return out


class Node:
    """
    An LSServer on a Clock, with helpers to connect fake MAs and peers.
    """

    def __init__(self, name: str = "ls1", peers: tuple[str, ...] = (), **kw: Any) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.directory = directory()
        self.server = LSServer(
            name,
            LSSettings(maTimeout=3, rttTimeout=1, historyLifetime=60, **kw),
            self.directory,
            self.clock,
            GuardSettings(
                sourceRate=100,
                sourceBurst=100,
                nodeRate=2,
                nodeBurst=3,
                prefixRate=150,
                prefixBurst=150,
            ),
            [PeerInfo(p, f"tcp:host=x:port={i}") for i, p in enumerate(peers)],
        )
        self.replies: list[bytes] = []
        # A stand-in for the garbage collector the server pauses during syncs.
        self.collectorOn = True
        self.server.collectorPause = CollectorPause(
            self.clock,
            isEnabled=lambda: self.collectorOn,
            enable=lambda: setattr(self, "collectorOn", True),
            disable=lambda: setattr(self, "collectorOn", False),
        )

    def connect(self, kind: str, name: str | None = None) -> tuple[LSChannel, StringTransport]:
        factory = {
            "MA": self.server.maFactory(tls=False),
            "peer-in": self.server.peerServerFactory(tls=False),
        }.get(kind)
        if factory is None:
            factory = self.server.peerClientFactory(
                PeerInfo(name or "", "tcp:host=x:port=1"), tls=False
            )
        channel = factory.buildProtocol(None)
        assert isinstance(channel, LSChannel)
        transport = StringTransport()
        channel.makeConnection(transport)
        return channel, transport

    def heartbeat(self, channel: LSChannel, n: int, seq: int, **kw: int) -> None:
        hb = Heartbeat(seq, ma(n), 7000 + n, 1, seq, kw.get("normal", 0), 0, 0, 1)
        channel.dataReceived(hb.encode())

    def ask(self, node: NodeID = NODE, cookie: bytes | None = None, rid: int = 1) -> Any:
        if cookie is None:
            first = self._ask(MARequest(rid, node))
            assert isinstance(first, CookieChallenge), first
            cookie = first.cookie
        return self._ask(MARequest(rid + 1, node, cookie))

    def _ask(self, request: MARequest) -> Any:
        before = len(self.replies)
        self.server.handleQuery(request.encode(), MN, self.replies.append)
        if len(self.replies) > before:
            return decodeLSMessage(self.replies[-1])
        return None


class ChannelTests(SynchronousTestCase):
    """
    L{LSChannel}: framing, bad frames, controller calls.
    """

    def setUp(self) -> None:
        self.events: list[Any] = []
        test = self

        @implementer(IChannelController)
        class Controller:
            def channelOpen(self, channel: LSChannel) -> None:
                test.events.append("open")

            def messageReceived(self, channel: LSChannel, message: LSMessage) -> None:
                test.events.append(message)

            def channelClosed(self, channel: LSChannel, reason: object) -> None:
                test.events.append("closed")

        self.channel = LSChannel(Controller(), "MA", tls=True, maxFrame=1024)
        self.transport = StringTransport()
        self.channel.makeConnection(self.transport)

    def test_opensAfterHandshake(self) -> None:
        """
        A TLS channel is reported open only when the handshake completes.
        """
        self.assertEqual(self.events, [])
        self.channel.handshakeCompleted()
        self.assertEqual(self.events, ["open"])

    def test_splitFrames(self) -> None:
        """
        Frames split across reads and several per read are delivered whole.
        """
        self.channel.handshakeCompleted()
        data = RTTRequest(1, ma(1)).encode() + RTTRequest(2, ma(2)).encode()
        for i in range(len(data)):
            self.channel.dataReceived(data[i : i + 1])
        self.assertEqual([m.requestId for m in self.events[1:]], [1, 2])

    def test_badFrameAnsweredChannelLives(self) -> None:
        """
        A delimited frame of unknown type is answered with MALFORMED and
        its request id; the next frame is handled.
        """
        self.channel.handshakeCompleted()
        self.channel.dataReceived(struct.pack("!BBHI", 1, 0x7F, 8, 42))
        [error] = frames(self.transport)
        self.assertEqual((error.code, error.requestId), (LSErrorCode.MALFORMED, 42))
        self.channel.dataReceived(RTTRequest(3, ma(1)).encode())
        self.assertEqual(self.events[-1].requestId, 3)
        self.assertEqual(self.channel.badFrames, 1)

    def test_brokenFramingDrops(self) -> None:
        """
        An oversized length or a wrong version drops the connection.
        """
        self.channel.handshakeCompleted()
        self.channel.dataReceived(struct.pack("!BBHI", 1, 1, 5000, 1))
        self.assertTrue(self.transport.disconnecting or self.channel.closed)

    def test_relayRoundTrip(self) -> None:
        """
        A relay envelope carries an RTT request with the MA's address.
        """
        relay = Relay(0, ma(3), RTTRequest(9, IPv6Address(MN)))
        self.assertEqual(Relay.decode(relay.encode()), relay)

    def test_relayRejectsOtherInner(self) -> None:
        """
        A relay carrying something other than RTT or assignment messages
        is a bad frame.
        """
        bad = Relay(0, ma(3), RTTRequest(9, IPv6Address(MN))).encode()
        bad = bad[:24] + SyncDone(1, 0, 0).encode()
        bad = bad[:2] + struct.pack("!H", len(bad)) + bad[4:]
        self.channel.handshakeCompleted()
        self.channel.dataReceived(bad)
        [error] = frames(self.transport)
        self.assertEqual(error.code, LSErrorCode.MALFORMED)


class QueryTests(SynchronousTestCase):
    """
    The MN query path: cookies, rate limits, directory refusals.
    """

    def setUp(self) -> None:
        self.node = Node()
        self.ma, self.maT = self.node.connect("MA")
        self.node.heartbeat(self.ma, 1, 1)

    def test_verifyController(self) -> None:
        """
        The server provides L{IChannelController}.
        """
        self.assertTrue(verifyObject(IChannelController, self.node.server))

    def test_noCookieNoProbe(self) -> None:
        """
        A request without a valid cookie gets a challenge no larger than the
        request and triggers no RTT request.
        """
        request = MARequest(1, NODE).encode()
        self.node.server.handleQuery(request, MN, self.node.replies.append)
        [challenge] = self.node.replies
        self.assertLessEqual(len(challenge), len(request))
        self.assertIsInstance(decodeLSMessage(challenge), CookieChallenge)
        forged = self.node._ask(MARequest(2, NODE, b"\0" * 8))
        self.assertIsInstance(forged, CookieChallenge)
        self.assertEqual(frames(self.maT), [])

    def test_cookieBoundToAddress(self) -> None:
        """
        A cookie made for one address is not accepted from another.
        """
        first = self.node._ask(MARequest(1, NODE))
        replies: list[bytes] = []
        self.node.server.handleQuery(
            MARequest(2, NODE, first.cookie).encode(), "2001:db8:6::1", replies.append
        )
        self.assertIsInstance(decodeLSMessage(replies[0]), CookieChallenge)

    def test_fullExchange(self) -> None:
        """
        With the cookie, a miss probes the MA; its reply makes the answer,
        and the MA gets the assignment notice.
        """
        self.assertIsNone(self.node.ask())
        [probe] = [m for m in frames(self.maT) if isinstance(m, RTTRequest)]
        self.assertEqual(probe.target, IPv6Address(MN))
        self.ma.dataReceived(
            RTTReply(probe.requestId, probe.target, RTTStatus.OK, 12_000, 4).encode()
        )
        reply = decodeLSMessage(self.node.replies[-1])
        assert isinstance(reply, MAReply)
        self.assertEqual((reply.maAddress, reply.maPort, reply.rttUs), (ma(1), 7001, 12_000))
        [notice] = frames(self.maT)
        assert isinstance(notice, Assignment)
        self.assertEqual((notice.nodeID, notice.level), (NODE, 1))
        self.assertEqual(notice.prefix, Prefix.ofAddress(IPv6Address(MN)))

    def test_timeoutReplyIsRefusal(self) -> None:
        """
        If the only MA reports a timeout, the MN gets NO_MA_ANSWERED.
        """
        self.node.ask()
        [probe] = frames(self.maT)
        self.ma.dataReceived(
            RTTReply(probe.requestId, probe.target, RTTStatus.TIMEOUT, 0, 0).encode()
        )
        error = decodeLSMessage(self.node.replies[-1])
        self.assertEqual(error.code, LSErrorCode.NO_MA_ANSWERED)  # type: ignore[union-attr]

    def test_deadline(self) -> None:
        """
        No RTT reply: the deadline (a reactor timer) refuses the query.
        """
        self.node.ask()
        self.node.clock.advance(1)
        error = decodeLSMessage(self.node.replies[-1])
        self.assertEqual(error.code, LSErrorCode.NO_MA_ANSWERED)  # type: ignore[union-attr]

    def test_unknownAndDisabled(self) -> None:
        """
        Unknown and disabled Node IDs are refused with their codes.
        """
        unknown = self.node.ask(NodeID.fromString("201:4a00:0:77"))
        self.assertEqual(unknown.code, LSErrorCode.UNKNOWN_NODE)
        disabled = self.node.ask(OFF)
        self.assertEqual(disabled.code, LSErrorCode.DISABLED_NODE)

    def test_directoryDown(self) -> None:
        """
        A directory outage gives DIRECTORY_UNAVAILABLE.
        """
        self.node.directory.down = True
        self.assertEqual(self.node.ask().code, LSErrorCode.DIRECTORY_UNAVAILABLE)

    def test_perNodeRateLimit(self) -> None:
        """
        Past its burst, a Node ID is refused with RATE_LIMITED until tokens
        come back.
        """
        challenge = self.node._ask(MARequest(1, NODE))
        answers = [self.node.ask(NODE, challenge.cookie, rid=10 + i) for i in range(4)]
        self.assertEqual(answers[3].code, LSErrorCode.RATE_LIMITED)
        self.node.clock.advance(1)
        self.assertIsNone(self.node.ask(NODE, challenge.cookie, rid=20))

    def test_perSourceRateLimitSilent(self) -> None:
        """
        Past the per-source burst, requests are dropped without a reply.
        """
        for i in range(100):
            self.node._ask(MARequest(i + 1, NODE))
        self.assertIsNone(self.node._ask(MARequest(999, NODE)))

    def test_perPrefixRateLimit(self) -> None:
        """
        Rotating source addresses inside one /64 does not escape the
        per-/64 limit; another /64 is unaffected.
        """
        replies: list[bytes] = []
        request = MARequest(1, NODE).encode()
        for i in range(200):
            self.node.server.handleQuery(request, f"2001:db8:5::{i + 1:x}", replies.append)
        self.assertEqual(len(replies), 150)
        self.node.server.handleQuery(request, "2001:db8:6::1", replies.append)
        self.assertEqual(len(replies), 151)

    def test_garbageDatagramDropped(self) -> None:
        """
        Garbage on the UDP port is logged and dropped; a valid request then
        works.
        """
        proto = QueryDatagramProtocol(self.node.server)
        sent: list[tuple[bytes, Any]] = []

        class T:
            def write(self, data: bytes, addr: Any) -> None:
                sent.append((data, addr))

        proto.transport = T()  # type: ignore[assignment]
        for blob in (b"", b"\xff" * 40, MARequest(1, NODE).encode()[:10]):
            proto.datagramReceived(blob, (MN, 5000))
        self.assertEqual(sent, [])
        self.assertEqual(self.node.server.counters["query_bad"], 3)
        proto.datagramReceived(MARequest(1, NODE).encode(), (MN, 5000))
        self.assertIsInstance(decodeLSMessage(sent[0][0]), CookieChallenge)
        self.assertEqual(len(self.flushLoggedErrors()), 0)

    def test_cachedAnswer(self) -> None:
        """
        After one decision, a query from the same /64 is answered at once
        from the history table.
        """
        self.node.ask()
        [probe] = frames(self.maT)
        self.ma.dataReceived(
            RTTReply(probe.requestId, probe.target, RTTStatus.OK, 1000, 4).encode()
        )
        frames(self.maT)
        cached = self.node.ask(PREMIUM_NODE, rid=50)
        assert isinstance(cached, MAReply)
        self.assertEqual((cached.maAddress, cached.rttUs), (ma(1), 0))
        [notice] = frames(self.maT)
        self.assertEqual(notice.level, 2)

    def test_maReconnectAfterDrop(self) -> None:
        """
        An MA whose channel dropped and came back is probed on the new
        channel, and its heartbeats count again.
        """
        self.ma.connectionLost()
        ma2, t2 = self.node.connect("MA")
        self.node.heartbeat(ma2, 1, 2)
        self.node.ask()
        [probe] = frames(t2)
        ma2.dataReceived(rtt(probe, RTTStatus.OK, 3000, 4))
        self.assertIsInstance(decodeLSMessage(self.node.replies[-1]), MAReply)

    def test_maTimer(self) -> None:
        """
        Without heartbeats the MA goes inactive on the server's clock and
        is never answered.
        """
        self.node.clock.advance(3)
        state = self.node.server.core.ma(ma(1))
        assert state is not None
        self.assertFalse(state.active)
        self.assertEqual(self.node.ask().code, LSErrorCode.NO_CAPACITY)

    def test_status(self) -> None:
        """
        The status JSON, metrics and HTML page show the tables.
        """
        resource = StatusResource(self.node.server)
        request = DummyRequest([b"status.json"])
        request.postpath = []  # as after the site's traversal
        child = resource.getChildWithDefault(b"status.json", request)
        doc = json.loads(child.render(request))
        self.assertEqual(doc["mas"][0]["address"], str(ma(1)))
        self.assertIn("lin6_ls_heartbeats_total 1", metricsText(self.node.server))
        self.assertRegex(doc["mas"][0]["boot_id"], "^[0-9a-f]{16}$")
        page = resource.render(DummyRequest([b""]))
        self.assertIn(b"2001:db8:ffff::1", page)

    def test_metricsExposition(self) -> None:
        """
        Every metric family has a HELP and a TYPE line before its samples,
        once, with a valid name.
        """
        text = metricsText(self.node.server)
        helps: set[str] = set()
        types: set[str] = set()
        samples: set[str] = set()
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name = line.split()[2]
                self.assertNotIn(name, helps)
                self.assertNotIn(name, types)  # HELP comes first
                helps.add(name)
            elif line.startswith("# TYPE "):
                name = line.split()[2]
                self.assertIn(name, helps)
                self.assertNotIn(name, types)
                types.add(name)
            else:
                name = line.split("{")[0].split()[0]
                self.assertRegex(name, "^[a-zA-Z_:][a-zA-Z0-9_:]*$")
                self.assertIn(name, types)
                samples.add(line.rsplit(" ", 1)[0])
        self.assertEqual(helps, types)
        self.assertGreater(len(types), 10)

    def test_noPagesBelowPages(self) -> None:
        """
        A path below a page (C{/metrics/x}) is 404, not the page again.
        """
        resource = StatusResource(self.node.server)
        for name in (b"metrics", b"status.json", b"counters.json"):
            request = DummyRequest([name, b"x"])
            request.postpath = [b"x"]
            child = resource.getChildWithDefault(name, request)
            child.render(request)
            self.assertEqual(request.responseCode, 404, name)
            request = DummyRequest([name])
            request.postpath = []
            child.render(request)
            self.assertNotEqual(request.responseCode, 404, name)


class MeshTests(SynchronousTestCase):
    """
    Two servers wired through fake transports: sync, relays, updates.
    """

    def setUp(self) -> None:
        self.a = Node("ls1", peers=("ls2",))
        self.b = Node("ls2", peers=("ls1",))

    def pipe(self) -> tuple[LSChannel, StringTransport, LSChannel, StringTransport]:
        """
        b dials a: b's outbound channel and a's inbound one.
        """
        out, outT = self.b.connect("peer-out", "ls1")
        inn, innT = self.a.connect("peer-in")
        return out, outT, inn, innT

    def shuttle(self, *pairs: tuple[StringTransport, LSChannel]) -> None:
        for _ in range(5):
            for transport, receiver in pairs:
                data = transport.value()
                transport.clear()
                if data:
                    receiver.dataReceived(data)
            self.a.clock.advance(0)
            self.b.clock.advance(0)

    def test_syncOnConnect(self) -> None:
        """
        The dialling LS sends SYNC_REQUEST and receives the full tables and
        SYNC_DONE; an unknown LS identity is refused.
        """
        for n in range(1, 4):
            self.a.heartbeat(self.a.connect("MA")[0], n, 1)
        self.a.clock.advance(0)
        out, outT, inn, innT = self.pipe()
        # The replica that asked for the tables collects no garbage cycles
        # until they are in; the one that sends them is not paused.
        self.assertEqual((self.b.collectorOn, self.a.collectorOn), (False, True))
        self.shuttle((outT, inn), (innT, out))
        self.assertEqual((self.b.collectorOn, self.a.collectorOn), (True, True))
        self.assertEqual(
            sorted(s.address for s in self.b.server.core.mas()), [ma(1), ma(2), ma(3)]
        )
        self.assertEqual(self.b.server.peers["ls1"].syncs, 1)
        state = self.b.server.core.ma(ma(1))
        assert state is not None
        self.assertEqual((state.via, state.active, state.record.port), ("ls1", True, 7001))

        rogue, rogueT = self.a.connect("peer-in")
        rogue.dataReceived(SyncRequest(5, b"\1" * 16, 1).encode())
        [error] = frames(rogueT)
        self.assertEqual(error.code, LSErrorCode.NOT_AUTHORIZED)
        self.assertTrue(rogueT.disconnecting)

    def test_syncCutShort(self) -> None:
        """
        A sync whose connection closes before SYNC_DONE lets the garbage
        collector run again, and so does the pause's time limit when a peer
        never finishes.
        """
        out = self.pipe()[0]
        self.assertFalse(self.b.collectorOn)
        out.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(self.b.collectorOn)

        self.pipe()
        self.assertFalse(self.b.collectorOn)
        self.b.clock.advance(self.b.server.collectorPause.limit)
        self.assertTrue(self.b.collectorOn)

    def test_heartbeatRelayedAndProbeRelayed(self) -> None:
        """
        A heartbeat to one LS reaches the other as MATBL_UPDATE; a query to
        the other LS probes the MA through the relay and is answered; the
        answer propagates back as ANSTBL_UPDATE.
        """
        out, outT, inn, innT = self.pipe()
        aOut, aOutT = self.a.connect("peer-out", "ls2")
        bIn, bInT = self.b.connect("peer-in")
        pairs = ((outT, inn), (innT, out), (aOutT, bIn), (bInT, aOut))
        self.shuttle(*pairs)
        maCh, maT = self.a.connect("MA")
        self.a.heartbeat(maCh, 1, 1)
        self.a.clock.advance(0)
        self.shuttle(*pairs)
        self.assertIsNotNone(self.b.server.core.ma(ma(1)))

        self.b.ask()
        self.shuttle(*pairs)
        [probe] = frames(maT)
        assert isinstance(probe, RTTRequest)
        maCh.dataReceived(rtt(probe, RTTStatus.OK, 7000, 4))
        self.shuttle(*pairs)
        reply = decodeLSMessage(self.b.replies[-1])
        assert isinstance(reply, MAReply)
        self.assertEqual((reply.maAddress, reply.rttUs), (ma(1), 7000))
        [notice] = frames(maT)
        self.assertIsInstance(notice, Assignment)
        self.assertIsNotNone(self.a.server.core.historyFor(Prefix.ofAddress(IPv6Address(MN))))

    def test_levelReplicated(self) -> None:
        """
        A premium user's answer reaches the peer with its level, so the
        peer's load index for the MA grows by the premium weight (and its
        history entry says premium), on ANSTBL_UPDATE and on a later sync.
        """
        out, outT, inn, innT = self.pipe()
        pairs = ((outT, inn), (innT, out))
        self.shuttle(*pairs)
        maCh, maT = self.a.connect("MA")
        self.a.heartbeat(maCh, 1, 1)
        self.a.clock.advance(0)
        self.shuttle(*pairs)
        self.a.ask(PREMIUM_NODE)
        [probe] = frames(maT)
        maCh.dataReceived(rtt(probe, RTTStatus.OK, 7000, 4))
        self.shuttle(*pairs)
        prefix = Prefix.ofAddress(IPv6Address(MN))
        for node in (self.a, self.b):
            state = node.server.core.ma(ma(1))
            entry = node.server.core.historyFor(prefix)
            assert state is not None and entry is not None
            self.assertEqual((state.assignedPremium, state.assignedNormal), (1, 0))
            self.assertEqual(entry.level, ServiceLevel.PREMIUM)

        fresh = Node("ls2", ("ls1",))
        syncOut, syncOutT = fresh.connect("peer-out", "ls1")
        syncIn, syncInT = self.a.connect("peer-in")
        for _ in range(5):
            for transport, receiver in ((syncOutT, syncIn), (syncInT, syncOut)):
                data = transport.value()
                transport.clear()
                if data:
                    receiver.dataReceived(data)
            self.a.clock.advance(0)
            fresh.clock.advance(0)
        entry = fresh.server.core.historyFor(prefix)
        assert entry is not None
        self.assertEqual(entry.level, ServiceLevel.PREMIUM)

    def test_updatesBatched(self) -> None:
        """
        Heartbeats of one reactor turn go to peers in one MATBL_UPDATE.
        """
        out, outT, inn, innT = self.pipe()
        self.shuttle((outT, inn), (innT, out))
        maCh, _ = self.a.connect("MA")
        for n in range(1, 6):
            self.a.heartbeat(maCh if n == 1 else self.a.connect("MA")[0], n, 1)
        self.a.clock.advance(0)
        updates = [m for m in frames(innT) if isinstance(m, MATableUpdate)]
        self.assertEqual(len(updates), 1)
        self.assertEqual(len(updates[0].entries), 5)
        self.assertEqual([m for m in frames(outT) if isinstance(m, AnswerTableUpdate)], [])

    def test_partitionHeals(self) -> None:
        """
        Two replicas that changed apart converge when they reconnect: each
        dialling side asks for a sync, and the merged tables are equal.
        """
        maA, maAT = self.a.connect("MA")
        self.a.heartbeat(maA, 1, 1)
        maB, _ = self.b.connect("MA")
        self.b.heartbeat(maB, 2, 1)
        self.b.heartbeat(maB, 2, 2)
        self.a.ask()
        [probe] = frames(maAT)
        maA.dataReceived(rtt(probe, RTTStatus.OK, 4000, 4))
        self.a.clock.advance(0)
        self.b.clock.advance(0)
        self.assertIsNone(self.b.server.core.ma(ma(1)))

        out, outT, inn, innT = self.pipe()
        aOut, aOutT = self.a.connect("peer-out", "ls2")
        bIn, bInT = self.b.connect("peer-in")
        self.shuttle((outT, inn), (innT, out), (aOutT, bIn), (bInT, aOut))

        def view(node: Node) -> object:
            core = node.server.core
            return (
                sorted((s.address, s.record.sequence, s.active) for s in core.mas()),
                sorted(a.order() for a in core.history()),
            )

        self.assertEqual(view(self.a), view(self.b))
        self.assertEqual(len(list(self.b.server.core.history())), 1)
        self.assertEqual(self.a.server.peers["ls2"].syncs, 1)
        self.assertEqual(self.b.server.peers["ls1"].syncs, 1)

    def test_relayRetriesOtherPeer(self) -> None:
        """
        When the peer a probe was relayed through has no channel to the MA
        (ERROR), the probe is tried through the next peer, which has; the
        route is remembered.
        """
        a = Node("ls1", peers=("ls2", "ls3"))
        b = Node("ls2", peers=("ls1", "ls3"))
        c = Node("ls3", peers=("ls1", "ls2"))
        maC, maCT = c.connect("MA")
        c.heartbeat(maC, 1, 1)
        record = c.server.core.ma(ma(1))
        assert record is not None
        a.server.core.mergeMA(a.clock.seconds(), record.record, "ls2")
        ab, abT = a.connect("peer-out", "ls2")
        ba, baT = b.connect("peer-in")
        ac, acT = a.connect("peer-out", "ls3")
        ca, caT = c.connect("peer-in")

        def pump() -> None:
            for _ in range(6):
                for transport, receiver in ((abT, ba), (baT, ab), (acT, ca), (caT, ac)):
                    data = transport.value()
                    transport.clear()
                    if data:
                        receiver.dataReceived(data)
                for n in (a, b, c):
                    n.clock.advance(0)

        pump()
        a.ask()
        pump()
        [probe] = [m for m in frames(maCT) if isinstance(m, RTTRequest)]
        maC.dataReceived(rtt(probe, RTTStatus.OK, 9000, 4))
        pump()
        reply = decodeLSMessage(a.replies[-1])
        assert isinstance(reply, MAReply)
        self.assertEqual((reply.maAddress, reply.rttUs), (ma(1), 9000))
        self.assertEqual(a.server._routes[ma(1)], "ls3")
        self.assertEqual(b.server.counters["relays_received"], 1)

    def test_peerDown(self) -> None:
        """
        Losing every connection to a peer marks it down.
        """
        out, outT, inn, innT = self.pipe()
        self.shuttle((outT, inn), (innT, out))
        self.assertTrue(self.b.server.peers["ls1"].up)
        out.connectionLost()
        self.assertFalse(self.b.server.peers["ls1"].up)

    def test_relayToUnknownMA(self) -> None:
        """
        A relayed RTT request for an MA not connected here is answered with
        an ERROR status.
        """
        out, outT, inn, innT = self.pipe()
        self.shuttle((outT, inn), (innT, out))
        inn.dataReceived(Relay(611, ma(9), RTTRequest(4, IPv6Address(MN))).encode())
        [relay] = frames(innT)
        self.assertEqual(relay.inner.status, RTTStatus.ERROR)
        self.assertEqual((relay.requestId, relay.inner.requestId), (611, 4))

    def test_relayedReplyCarriesRelayId(self) -> None:
        """
        The RELAY that carries an MA's RTT reply back to the peer copies
        the request id of the peer's RELAY (and the inner reply the id of
        the inner request), as every reply does.
        """
        out, outT, inn, innT = self.pipe()
        self.shuttle((outT, inn), (innT, out))
        maCh, maT = self.a.connect("MA")
        self.a.heartbeat(maCh, 1, 1)
        self.a.clock.advance(0)
        innT.clear()
        inn.dataReceived(Relay(610, ma(1), RTTRequest(4, IPv6Address(MN))).encode())
        [probe] = frames(maT)
        assert isinstance(probe, RTTRequest)
        maCh.dataReceived(rtt(probe, RTTStatus.OK, 7000, 4))
        [relay] = [f for f in frames(innT) if isinstance(f, Relay)]
        self.assertEqual((relay.requestId, relay.inner.requestId), (610, 4))
        assert isinstance(relay.inner, RTTReply)
        self.assertEqual(relay.inner.meanRTTus, 7000)

    def test_unusableServiceAddress(self) -> None:
        """
        A heartbeat naming port 0, the unspecified or a multicast address
        as the MA's service is refused with MALFORMED: MNs would be sent
        to register there.
        """
        maCh, maT = self.a.connect("MA")
        for address, port in (
            (ma(1), 0),
            (IPv6Address("::"), 7001),
            (IPv6Address("ff02::1"), 7001),
        ):
            maCh.dataReceived(Heartbeat(5, address, port, 1, 1, 0, 0, 10, 1).encode())
            [error] = frames(maT)
            assert isinstance(error, LSError)
            self.assertEqual((error.code, error.requestId), (LSErrorCode.MALFORMED, 5))
        self.assertEqual(self.a.server.maChannels, {})
        self.assertIsNone(self.a.server.core.ma(ma(1)))
        self.a.heartbeat(maCh, 1, 1)
        self.assertIsNotNone(self.a.server.core.ma(ma(1)))

    def test_oneAddressPerMAChannel(self) -> None:
        """
        A channel that heartbeated for one MA cannot speak for another.
        """
        maCh, maT = self.a.connect("MA")
        self.a.heartbeat(maCh, 1, 1)
        self.a.heartbeat(maCh, 2, 1)
        [error] = frames(maT)
        self.assertEqual(error.code, LSErrorCode.NOT_AUTHORIZED)
        self.assertIsNone(self.a.server.core.ma(ma(2)))

    def test_errorOnMAChannelForPeerMessage(self) -> None:
        """
        An MA channel may not send LS-to-LS messages.
        """
        maCh, maT = self.a.connect("MA")
        maCh.dataReceived(SyncRequest(3, b"\0" * 16, 1).encode())
        [error] = frames(maT)
        assert isinstance(error, LSError)
        self.assertEqual(error.code, LSErrorCode.NOT_AUTHORIZED)
        self.assertEqual(self.a.server.counters["syncs_served"], 0)
