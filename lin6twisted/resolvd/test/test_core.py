"""
Tests for L{lin6twisted.resolvd.core.NodeCore} fed directly (no service):
malformed input, dataplane refusals, and an invariant check over random
event sequences.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import Locator
from lin6twisted.dataplane import FakeDataplane
from lin6twisted.resolvd.core import NodeCore, NodeSettings, NodeState, PeerResult, Resolve, Send
from lin6twisted.resolvd.host import FakeHostConfig
from lin6twisted.resolvd.netmon import Attachment
from lin6twisted.resolvd.state import MemorySequenceStore
from lin6twisted.resolvd.test.test_service import (
    GW1,
    GW2,
    KEY,
    LS1,
    LS2,
    MA1,
    MA2,
    MN,
    P1,
    P2,
    P9,
    PEER,
    SPACE,
    Node,
    attachedTo,
)
from lin6twisted.wire import (
    MapQuery,
    MapReply,
    MapStatus,
    MAReply,
    MARequest,
    Notify,
    RegisterAck,
    RegisterStatus,
    decodeLSMessage,
)


def makeCore() -> tuple[NodeCore, FakeDataplane, FakeHostConfig]:
    settings = NodeSettings(
        nodeID=MN, lin6=SPACE.address(MN), key=KEY, lsServers=(LS1, LS2), reportInterval=0
    )
    dataplane, host = FakeDataplane(), FakeHostConfig()
    ids = iter(range(1, 1 << 20))
    core = NodeCore(settings, SPACE, dataplane, host, MemorySequenceStore(), lambda: next(ids))
    return core, dataplane, host


A1 = Attachment(P1, GW1, "eth0")


class MalformedInputTests(SynchronousTestCase):
    """
    Nothing a peer sends can crash the core or move its state.
    """

    def test_garbage(self) -> None:
        """
        Empty, short, wrong-version, unknown-type, oversized and truncated
        datagrams are counted and dropped; the LS request stays pending.
        """
        core, _, _ = makeCore()
        actions = core.start(A1, 0.0)
        self.assertEqual(core.state, NodeState.ASKING_LS)
        [send] = actions
        assert isinstance(send, Send)
        request = decodeLSMessage(send.payload)
        assert isinstance(request, MARequest)
        good = MAReply(request.requestId, MN, MA1.host, MA1.port, 60, 0).encode()
        bad = [
            b"",
            b"\x01",
            b"\x01\x05\x00",
            b"\x02" + good[1:],
            b"\x01\x7f" + good[2:],
            b"\x01\x05" + b"\xff\xff" + good[4:],
            good[:-1],
            good + b"\x00",
            b"\x01\x23\x00\x16" + bytes(18),
        ]
        for data in bad:
            self.assertEqual(core.datagramReceived(data, (str(LS1.host), LS1.port), 0.1), [])
        self.assertEqual(core.datagramReceived(good, ("not an address", 1), 0.1), [])
        self.assertEqual(core.stats.garbage, len(bad) + 1)
        self.assertEqual(core.state, NodeState.ASKING_LS)
        actions = core.datagramReceived(good, (str(LS1.host), LS1.port), 0.2)
        self.assertEqual(core.state, NodeState.REGISTERING)

    def test_replyFromWrongPortOrId(self) -> None:
        """
        An MA_REPLY with another request id, or from another port, is
        ignored.
        """
        core, _, _ = makeCore()
        [send] = core.start(A1, 0.0)
        assert isinstance(send, Send)
        request = decodeLSMessage(send.payload)
        reply = MAReply(request.requestId + 1, MN, MA1.host, MA1.port, 60, 0).encode()
        core.datagramReceived(reply, (str(LS1.host), LS1.port), 0.1)
        reply = MAReply(request.requestId, MN, MA1.host, MA1.port, 60, 0).encode()
        core.datagramReceived(reply, (str(LS1.host), LS1.port + 1), 0.1)
        self.assertEqual(core.state, NodeState.ASKING_LS)
        self.assertEqual(core.stats.unexpected, 2)

    def test_unusableMA(self) -> None:
        """
        An MA_REPLY naming the unspecified address fails over to the next LS.
        """
        core, _, _ = makeCore()
        [send] = core.start(A1, 0.0)
        assert isinstance(send, Send)
        request = decodeLSMessage(send.payload)
        reply = MAReply(request.requestId, MN, IPv6Address("::"), 7300, 60, 0).encode()
        [next_] = core.datagramReceived(reply, (str(LS1.host), LS1.port), 0.1)
        assert isinstance(next_, Send)
        self.assertEqual(next_.to, LS2)

    def test_peerLocatorOfAnotherNode(self) -> None:
        """
        A MAP_REPLY whose locator carries another Node ID is not installed.
        """
        core, dataplane, _ = self.registered()
        [query] = core.resolvePeer(PEER, 1.0)
        assert isinstance(query, Send)
        q = MapQuery.decode(query.payload)
        wrong = MapReply(q.requestId, PEER, MapStatus.FOUND, 30, (Locator(P9, MN).address,))
        [result] = core.datagramReceived(wrong.encode(), (str(MA1.host), MA1.port), 1.1)
        self.assertEqual(result, PeerResult(PEER, None, "MA answered a locator of another node"))
        self.assertEqual(dataplane.mappings(), {})

    def test_dataplaneRefusal(self) -> None:
        """
        A mapping the dataplane refuses (table full) is logged and counted;
        the node carries on.
        """
        core, dataplane, _ = self.registered()
        dataplane.capacity = 0
        [query] = core.resolvePeer(PEER, 1.0)
        assert isinstance(query, Send)
        q = MapQuery.decode(query.payload)
        reply = MapReply(q.requestId, PEER, MapStatus.FOUND, 30, (Locator(P9, PEER).address,))
        [result] = core.datagramReceived(reply.encode(), (str(MA1.host), MA1.port), 1.1)
        self.assertEqual(result, PeerResult(PEER, Locator(P9, PEER)))
        self.assertEqual(core.stats.dataplaneErrors, 1)
        self.assertEqual(dataplane.mappings(), {})
        dataplane.capacity = 10
        self.assertEqual(core.missReported(PEER, 1.2), [])
        self.assertEqual(dataplane.mappings(), {PEER: Locator(P9, PEER)})

    def registered(self) -> tuple[NodeCore, FakeDataplane, FakeHostConfig]:
        core, dataplane, host = makeCore()
        [send] = core.start(A1, 0.0)
        assert isinstance(send, Send)
        request = decodeLSMessage(send.payload)
        reply = MAReply(request.requestId, MN, MA1.host, MA1.port, 60, 0)
        [register] = core.datagramReceived(reply.encode(), (str(LS1.host), LS1.port), 0.1)
        assert isinstance(register, Send)
        from lin6twisted.wire import Register

        r = Register.decode(register.payload)
        ack = RegisterAck(r.requestId, MN, RegisterStatus.OK, 60, r.sequence)
        core.datagramReceived(ack.encode(), (str(MA1.host), MA1.port), 0.2)
        self.assertEqual(core.state, NodeState.REGISTERED)
        return core, dataplane, host

    def test_noServiceConfigured(self) -> None:
        """
        With nothing to ask, the node says so and backs off.
        """
        dataplane, host = FakeDataplane(), FakeHostConfig()
        settings = NodeSettings(nodeID=MN, lin6=SPACE.address(MN), key=KEY)
        core = NodeCore(settings, SPACE, dataplane, host, MemorySequenceStore())
        self.assertEqual(core.start(A1, 0.0), [])
        self.assertEqual(core.state, NodeState.BACKOFF)

    def test_resolveAction(self) -> None:
        """
        With a service name and no LS configured, the core asks for DNS.
        """
        dataplane, host = FakeDataplane(), FakeHostConfig()
        settings = NodeSettings(nodeID=MN, lin6=SPACE.address(MN), key=KEY, service="s.example")
        core = NodeCore(settings, SPACE, dataplane, host, MemorySequenceStore())
        self.assertEqual(core.start(A1, 0.0), [Resolve("s.example")])
        self.assertEqual(core.state, NodeState.DISCOVERING)


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "advance",
                "move",
                "detach",
                "ma1-silent",
                "ma1-ok",
                "ma1-garbage",
                "ls1-silent",
                "ls1-ok",
                "ls1-garbage",
                "ls1-error",
                "miss",
                "notify",
                "ls-names-ma2",
            ]
        ),
        st.floats(min_value=0.001, max_value=20.0),
    ),
    max_size=25,
)


class RandomWalkTests(SynchronousTestCase):
    """
    Whatever happens, the node keeps its invariants.
    """

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(EVENTS)
    def test_invariants(self, events: list[tuple[str, float]]) -> None:
        """
        Over random sequences of moves, peer failures, garbage, misses and
        notifies: nothing raises, the next deadline is never in the past
        after the clock has run, sequence numbers at the MAs only grow, and
        a node whose MAs and LSs work again ends up registered.
        """
        node = Node(reportInterval=7.0)
        ls1 = node.ls(LS1, MA1)
        node.ls(LS2, MA2, cookies=False)
        ma1, ma2 = node.ma(MA1, lifetime=15), node.ma(MA2, lifetime=15)
        ma1.static[PEER] = Locator(P9, PEER)
        node.service.startService()
        self.addCleanup(node.service.stopService)
        prefixes = [P1, P2]
        for name, value in events:
            if name == "advance":
                node.advance(value, step=0.05)
            elif name == "move":
                prefixes.reverse()
                node.monitor.setState(attachedTo(prefixes[0], GW1 if prefixes[0] == P1 else GW2))
            elif name == "detach":
                from lin6twisted.resolvd.interfaces import AddressState

                node.monitor.setState(AddressState())
            elif name.startswith("ma1-"):
                ma1.mode = name[4:]
            elif name.startswith("ls1-"):
                ls1.mode = name[4:]
            elif name == "ls-names-ma2":
                ls1.ma = MA2
            elif name == "miss":
                node.dataplane.simulateMiss(PEER)
            elif name == "notify":
                note = Notify(1, PEER, (Locator(P2, PEER).address,))
                node.network.send(note.encode(), ma1.address, node.reactor.nodeAddress())
            now = node.reactor.seconds()
            node.reactor.advance(0)
            deadline = node.core.nextDeadline()
            self.assertTrue(deadline is None or deadline > now - 1e-9, (name, deadline, now))
        for ma in (ma1, ma2):
            sequences = [r.sequence for r in ma.registers]
            self.assertEqual(sequences, sorted(set(sequences)))
        ma1.mode = "ok"
        ls1.mode = "ok"
        node.monitor.setState(attachedTo(P1, GW1))
        node.advance(130, step=0.1)
        self.assertIn(node.core.state, (NodeState.REGISTERED, NodeState.REFRESHING))
