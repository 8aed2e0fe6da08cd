"""
Tests for L{lin6twisted.ma.service}: the mapping service with a fake
directory, a L{Clock} and a fake UDP transport.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.testing import EventLoggingObserver, MemoryReactorClock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.directory import FakeDirectory, ServiceLevel
from lin6twisted.ls.guard import RateLimiter
from lin6twisted.ma.bandwidth import NullShaper
from lin6twisted.ma.core import MappingTable, TableSettings
from lin6twisted.ma.journal import Journal
from lin6twisted.ma.service import MappingAgent, MappingProtocol
from lin6twisted.ma.test.helpers import (
    KEY1,
    KEY2,
    KEYS,
    MN1,
    MN2,
    MN3,
    NET_A,
    NET_B,
    SERVER,
    SUBSCRIBERS,
    loc,
)
from lin6twisted.wire.mapping import (
    MapQuery,
    MapReply,
    MapStatus,
    Notify,
    NotifyAck,
    Register,
    RegisterAck,
    RegisterFlags,
    RegisterStatus,
    Report,
    decodeMappingMessage,
)

NODE_ADDR = ("2001:db8:a::99", 4242)
PEER = ("2001:db8:c::1", 5353)
NO_FLAGS = RegisterFlags(0)


class FakeUDP:
    """
    Records datagrams written.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def write(self, data: bytes, addr: Any) -> None:
        self.sent.append((data, addr))

    def messages(self, addr: Any = None) -> list[Any]:
        out = [decodeMappingMessage(d) for d, a in self.sent if addr is None or a == addr]
        self.sent.clear()
        return out


def register(
    nodeID: NodeID,
    seq: int,
    prefix: Any = NET_A,
    lifetime: int = 100,
    key: bytes | None = None,
    keyID: int | None = None,
    flags: RegisterFlags = NO_FLAGS,
) -> bytes:
    sub = {s.nodeID: s for s in SUBSCRIBERS}[nodeID]
    message = Register(
        seq,
        nodeID,
        (loc(prefix, nodeID).address,),
        lifetime,
        sub.keyID if keyID is None else keyID,
        seq,
        flags,
    )
    return message.sign(KEYS[nodeID] if key is None else key).encode()


class MappingAgentTests(SynchronousTestCase):
    """
    L{MappingAgent} authenticates registrations, answers queries, expires
    bindings and notifies correspondents.
    """

    def setUp(self) -> None:
        self.clock = MemoryReactorClock()
        self.directory = FakeDirectory(SUBSCRIBERS)
        self.shaper = NullShaper()
        self.table = MappingTable(TableSettings(maxLifetime=300, replyTTL=60, negativeTTL=7))
        self.journalPath = os.path.join(self.mktemp(), "j")
        self.journal = Journal(self.journalPath)
        self.journal.load(self.table, 0)
        self.addCleanup(self.journal.close)
        self.agent = MappingAgent(
            self.table, self.directory, self.clock, self.journal, self.shaper
        )
        self.udp = FakeUDP()
        self.protocol = MappingProtocol(self.agent)
        self.protocol.transport = self.udp  # type: ignore[assignment]
        self.protocol.startProtocol()
        self.events = EventLoggingObserver.createWithCleanup(
            self,  # type: ignore[arg-type]
            globalLogPublisher,
        )

    def send(self, data: bytes, addr: tuple[str, int] = NODE_ADDR) -> list[Any]:
        self.protocol.datagramReceived(data, addr)
        return self.udp.messages()

    def ack(self, data: bytes) -> RegisterAck:
        [reply] = self.send(data)
        assert isinstance(reply, RegisterAck)
        return reply

    def logged(self, text: str) -> bool:
        from twisted.logger import formatEvent

        return any(text in formatEvent(e) for e in self.events)

    def test_registerAndQuery(self) -> None:
        """
        An authenticated REGISTER is acknowledged with the granted (capped)
        lifetime, logged, shaped, and answered to MAP_QUERYs.
        """
        reply = self.ack(register(MN1, 1, lifetime=1000))
        self.assertEqual(reply.status, RegisterStatus.OK)
        self.assertEqual(reply.lifetime, 300)
        self.assertEqual(reply.sequence, 1)
        self.assertTrue(self.logged("Registered 201:4a00:0:1"))
        self.assertEqual(self.shaper.classes()[MN1][1], ServiceLevel.NORMAL)
        [answer] = self.send(MapQuery(9, MN1).encode(), PEER)
        self.assertEqual(answer, MapReply(9, MN1, MapStatus.FOUND, 60, (loc(NET_A, MN1).address,)))

    def test_negativeReply(self) -> None:
        """
        A query for an unbound Node ID gets NOT_FOUND with the negative TTL.
        """
        [answer] = self.send(MapQuery(3, MN2).encode(), PEER)
        self.assertEqual(answer, MapReply(3, MN2, MapStatus.NOT_FOUND, 7))

    def refused(self, data: bytes, status: RegisterStatus, reason: str) -> None:
        reply = self.ack(data)
        self.assertEqual(reply.status, status)
        self.assertEqual(reply.lifetime, 0)
        self.assertTrue(self.logged(reason), reason)

    def test_wrongKey(self) -> None:
        """
        A REGISTER signed with another key is refused with BAD_AUTH.
        """
        self.refused(register(MN1, 1, key=KEY2), RegisterStatus.BAD_AUTH, "HMAC does not verify")
        self.assertFalse(self.table.query(MN1, 0).found)
        self.assertEqual(self.agent.stats["refused_bad_hmac"], 1)

    def test_wrongKeyID(self) -> None:
        """
        A REGISTER naming another key id is refused with BAD_AUTH.
        """
        self.refused(register(MN1, 1, keyID=5), RegisterStatus.BAD_AUTH, "wrong key id")

    def test_unknownNode(self) -> None:
        """
        A Node ID missing from the directory is refused with UNKNOWN_NODE.
        """
        del self.directory.subscribers[MN1]
        self.refused(register(MN1, 1), RegisterStatus.UNKNOWN_NODE, "unknown node")

    def test_disabledNode(self) -> None:
        """
        A disabled subscriber is refused with DISABLED.
        """
        self.refused(register(MN3, 1), RegisterStatus.DISABLED, "node disabled")

    def test_otherNodeID(self) -> None:
        """
        A node cannot register another Node ID: signed with its own key it
        fails the HMAC check, and locators of another Node ID are refused.
        """
        self.refused(register(MN2, 1, key=KEY1, keyID=7), RegisterStatus.BAD_AUTH, "HMAC")
        msg = Register(1, MN1, (loc(NET_A, MN2).address,), 100, 1, 1).sign(KEY1)
        self.refused(msg.encode(), RegisterStatus.BAD_AUTH, "does not carry the registering")

    def test_replay(self) -> None:
        """
        Replayed and stale sequence numbers are refused with REPLAY.
        """
        first = register(MN1, 5)
        self.assertEqual(self.ack(first).status, RegisterStatus.OK)
        self.refused(first, RegisterStatus.REPLAY, "sequence number not greater")
        self.refused(register(MN1, 4, NET_B), RegisterStatus.REPLAY, "last accepted 5")
        self.assertEqual(self.table.query(MN1, 0).locators, (loc(NET_A, MN1),))

    def test_directoryDown(self) -> None:
        """
        With the directory down new registrations fail with
        DIRECTORY_UNAVAILABLE, while existing bindings keep answering.
        """
        self.ack(register(MN2, 1))
        self.directory.down = True
        self.refused(
            register(MN1, 1), RegisterStatus.DIRECTORY_UNAVAILABLE, "directory unavailable"
        )
        [answer] = self.send(MapQuery(1, MN2).encode(), PEER)
        self.assertEqual(answer.status, MapStatus.FOUND)

    def test_badEntry(self) -> None:
        """
        A malformed directory entry refuses with SERVER_ERROR.
        """
        self.directory.bad.add(MN1)
        self.refused(register(MN1, 1), RegisterStatus.SERVER_ERROR, "malformed")

    def test_pinned(self) -> None:
        """
        A content server pins its binding: it outlives its lifetime and is
        not shaped; a mobile-style Node ID (the shared service address) may
        pin too.
        """
        ok = self.ack(register(SERVER, 1, lifetime=30, flags=RegisterFlags.PINNED))
        self.assertEqual(ok.status, RegisterStatus.OK)
        self.clock.advance(1000)
        self.agent.expire()
        self.assertTrue(self.table.query(SERVER, 1000).found)
        self.assertNotIn(SERVER, self.shaper.classes())
        ok = self.ack(register(MN1, 1, lifetime=30, flags=RegisterFlags.PINNED))
        self.assertEqual(ok.status, RegisterStatus.OK)
        self.clock.advance(1000)
        self.agent.expire()
        self.assertTrue(self.table.query(MN1, 2000).found)

    def test_expiry(self) -> None:
        """
        A binding ends at the end of its lifetime: logged, unshaped,
        journaled.
        """
        self.ack(register(MN1, 1, lifetime=30))
        self.clock.advance(29)
        self.assertEqual(self.agent.expire(), [])
        self.clock.advance(1)
        [gone] = self.agent.expire()
        self.assertEqual(gone.nodeID, MN1)
        self.assertTrue(self.logged("expired"))
        self.assertNotIn(MN1, self.shaper.classes())
        [answer] = self.send(MapQuery(1, MN1).encode(), PEER)
        self.assertEqual(answer.status, MapStatus.NOT_FOUND)
        self.journal.close()
        table = MappingTable()
        Journal(self.journalPath).load(table, 31)
        self.assertEqual(len(table), 0)
        self.assertEqual(table.lastSequence(MN1), 1)

    def test_deregister(self) -> None:
        """
        Lifetime 0 removes the binding and its bandwidth class.
        """
        self.ack(register(MN1, 1))
        reply = self.ack(register(MN1, 2, lifetime=0))
        self.assertEqual((reply.status, reply.lifetime), (RegisterStatus.OK, 0))
        self.assertFalse(self.table.query(MN1, 0).found)
        self.assertNotIn(MN1, self.shaper.classes())

    def test_notify(self) -> None:
        """
        When a node's locator changes, correspondents that queried it get a
        NOTIFY, repeated until they acknowledge it.
        """
        self.ack(register(MN1, 1))
        self.send(MapQuery(1, MN1).encode(), PEER)
        self.send(register(MN1, 2, NET_B))  # ack to the node
        self.udp.sent.clear()
        self.protocol.datagramReceived(register(MN1, 3, NET_B), NODE_ADDR)
        self.assertEqual(self.udp.messages(PEER), [])  # unchanged locator: no NOTIFY
        self.assertEqual(self.agent.pendingNotifies(), 1)
        self.clock.advance(1)
        [notify] = self.udp.messages(PEER)
        self.assertIsInstance(notify, Notify)
        self.assertEqual(notify.locators, (loc(NET_B, MN1).address,))
        self.send(NotifyAck(notify.requestId, MN1).encode(), PEER)
        self.assertEqual(self.agent.pendingNotifies(), 0)
        self.clock.advance(5)
        self.assertEqual(self.udp.messages(PEER), [])

    def test_notifyGivesUp(self) -> None:
        """
        Unacknowledged NOTIFYs are sent C{notifyRetries} times in all.
        """
        self.ack(register(MN1, 1))
        self.send(MapQuery(1, MN1).encode(), PEER)
        self.protocol.datagramReceived(register(MN1, 2, NET_B), NODE_ADDR)
        self.clock.pump([1] * 10)
        notifies = [m for m in self.udp.messages(PEER) if isinstance(m, Notify)]
        self.assertEqual(len(notifies), 3)
        self.assertEqual(self.agent.pendingNotifies(), 0)

    def test_garbage(self) -> None:
        """
        Garbage is logged (at most once a second) and dropped; the agent
        keeps serving.
        """
        for junk in [b"", b"\x01", os.urandom(64), b"\x01\x23" + bytes(30)]:
            self.assertEqual(self.send(junk), [])
        self.send(RegisterAck(1, MN1, RegisterStatus.OK, 1, 1).encode())
        self.assertEqual(self.agent.stats["garbage"], 5)
        self.assertEqual(
            sum("Dropped garbage" in str(e.get("log_format")) for e in self.events), 1
        )
        self.assertEqual(self.ack(register(MN1, 1)).status, RegisterStatus.OK)

    def test_report(self) -> None:
        """
        An authenticated REPORT is kept; a forged or replayed one is not.
        """
        r = Report(1, MN1, 5, 1000, 10, 20, 1, 30, keyID=1)
        self.send(r.sign(KEY1).encode())
        self.send(r.sign(KEY2).encode())
        self.send(r.sign(KEY1).encode())
        self.assertEqual(self.agent.reports[MN1].rttToMAus, 1000)
        self.assertEqual(self.agent.stats["reports"], 1)
        self.assertEqual(self.agent.stats["reports_refused"], 2)

    def test_tickSurvivesErrors(self) -> None:
        """
        The expiry timer's callable logs errors instead of raising.
        """

        def broken() -> list[Any]:
            raise RuntimeError("boom")

        self.agent.expire = broken  # type: ignore[method-assign]
        self.agent.tick()
        self.assertEqual(self.agent.stats["errors"], 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_sourceRateLimit(self) -> None:
        """
        Datagrams from a source over its rate are dropped unanswered.
        """
        self.agent.sourceLimiter = RateLimiter(1.0, 2)
        query = MapQuery(1, MN1).encode()
        answered = [len(self.send(query, PEER)) for _ in range(4)]
        self.assertEqual(answered, [1, 1, 0, 0])
        self.assertEqual(len(self.send(query, ("2001:db8:d::1", 1))), 1)
        self.clock.advance(1)
        self.assertEqual(len(self.send(query, PEER)), 1)
        self.assertEqual(self.agent.stats["rate_limited"], 2)
        self.assertTrue(self.logged("over its rate"))

    def test_requireAssignment(self) -> None:
        """
        With an assignment check, a mobile node without a binding registers
        only if the LS assigned it here; refreshes, deregistrations and
        pinned content servers are not checked.
        """
        assigned: set[NodeID] = set()
        self.agent.assignmentCheck = lambda node, now: node in assigned
        self.refused(register(MN1, 1), RegisterStatus.NOT_ASSIGNED, "has not assigned")
        assigned.add(MN1)
        self.assertEqual(self.ack(register(MN1, 2)).status, RegisterStatus.OK)
        assigned.clear()
        self.assertEqual(self.ack(register(MN1, 3, NET_B)).status, RegisterStatus.OK)
        self.assertEqual(self.ack(register(MN1, 4, lifetime=0)).status, RegisterStatus.OK)
        pinned = register(SERVER, 1, flags=RegisterFlags.PINNED)
        self.assertEqual(self.ack(pinned).status, RegisterStatus.OK)
