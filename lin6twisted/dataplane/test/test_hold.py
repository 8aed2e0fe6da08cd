"""
Tests for L{lin6twisted.dataplane.hold}.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import DEFAULT_SPACE, Locator, Prefix
from lin6twisted.dataplane.hold import (
    Direction,
    HeldPacket,
    HoldQueue,
    PacketError,
    classify,
)
from lin6twisted.dataplane.test._packets import UDP, ipv6, l4

A = DEFAULT_SPACE.nodeID(1, mobile=True)
B = DEFAULT_SPACE.nodeID(2, mobile=True)
LIN6_A = DEFAULT_SPACE.address(A).address
LIN6_B = DEFAULT_SPACE.address(B).address
LOC_A = Locator(Prefix.fromString("2001:db8:a::/64"), A).address
LOC_B = Locator(Prefix.fromString("2001:db8:b::/64"), B).address


def _pkt(src: IPv6Address, dst: IPv6Address) -> bytes:
    return ipv6(src, dst, UDP, l4(UDP, src, dst))


class ClassifyTests(SynchronousTestCase):
    """
    L{classify} tells direction and peer of a held packet.
    """

    def test_egress(self) -> None:
        """
        A packet to a LIN6 address waits for the destination's mapping.
        """
        self.assertEqual(
            classify(_pkt(LIN6_A, LIN6_B), DEFAULT_SPACE.prefix), (Direction.EGRESS, B)
        )

    def test_ingress(self) -> None:
        """
        A packet to a locator waits for the source's mapping.
        """
        self.assertEqual(
            classify(_pkt(LOC_B, LOC_A), DEFAULT_SPACE.prefix), (Direction.INGRESS, B)
        )

    def test_garbage(self) -> None:
        """
        Short or non-IPv6 input raises L{PacketError}.
        """
        self.assertRaises(PacketError, classify, b"\x60" * 39, DEFAULT_SPACE.prefix)
        self.assertRaises(PacketError, classify, b"\x45" + bytes(59), DEFAULT_SPACE.prefix)


def _held(t: float, data: bytes = b"p") -> HeldPacket:
    return HeldPacket(Direction.EGRESS, data, t)


class HoldQueueTests(SynchronousTestCase):
    """
    L{HoldQueue} keeps packets per Node ID, bounded in count and age.
    """

    def test_releaseInOrder(self) -> None:
        """
        Released packets come oldest first, only for that Node ID.
        """
        q = HoldQueue()
        q.add(A, _held(0, b"1"))
        q.add(B, _held(0, b"x"))
        q.add(A, _held(1, b"2"))
        self.assertEqual([p.data for p in q.release(A, 2)], [b"1", b"2"])
        self.assertEqual((len(q), q.waiting()), (1, {B: 1}))
        self.assertEqual(q.release(A, 2), [])

    def test_perNodeLimit(self) -> None:
        """
        Beyond C{perNode}, the oldest packet of that node is dropped.
        """
        q = HoldQueue(perNode=2)
        for i in range(3):
            q.add(A, _held(0, bytes([i])))
        self.assertEqual([p.data for p in q.release(A, 0)], [b"\x01", b"\x02"])
        self.assertEqual(q.dropped, 1)

    def test_totalLimit(self) -> None:
        """
        Beyond C{total}, the oldest node's oldest packet goes.
        """
        q = HoldQueue(total=2)
        q.add(A, _held(0, b"a"))
        q.add(B, _held(0, b"b1"))
        q.add(B, _held(0, b"b2"))
        self.assertEqual((len(q), q.dropped, q.waiting()), (2, 1, {B: 2}))

    def test_expiry(self) -> None:
        """
        Packets older than C{holdTime} are dropped on expiry and on release.
        """
        q = HoldQueue(holdTime=5)
        q.add(A, _held(0))
        q.add(B, _held(0))
        q.add(B, _held(4))
        self.assertEqual(q.expire(5.5), 2)
        self.assertEqual(q.waiting(), {B: 1})
        self.assertEqual(q.release(B, 100), [])
        self.assertEqual((q.dropped, len(q)), (3, 0))

    def test_discard(self) -> None:
        """
        L{HoldQueue.discard} drops one node's packets and counts them.
        """
        q = HoldQueue()
        q.add(A, _held(0))
        q.add(A, _held(0))
        q.add(B, _held(0))
        self.assertEqual((q.discard(A), q.discard(A)), (2, 0))
        self.assertEqual((len(q), q.dropped), (1, 2))
