# -*- test-case-name: lin6twisted.dataplane.test.test_hold -*-
"""
Packets held while their peer's mapping is being resolved.

The BPF programs redirect a packet that needs a missing mapping to the hold
device (a TUN the control reads, the job of the original LIN6 C{linsix0}
device).  L{HoldQueue} keeps them per Node ID, bounded in count and age,
until the mapping arrives; then they are sent on.  It is sans-IO: time is
passed in.
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from typing import Final

from attrs import define, field

from lin6twisted.address import NodeID, Prefix

__all__ = ["Direction", "HeldPacket", "HoldQueue", "PacketError", "classify"]

IPV6_HEADER: Final = 40


class PacketError(ValueError):
    """
    A held packet is not an IPv6 packet we can attribute to a Node ID.
    """


class Direction(enum.Enum):
    """
    Which way a held packet was going.
    """

    EGRESS = "egress"
    INGRESS = "ingress"


@define(frozen=True)
class HeldPacket:
    """
    One held packet and when it was held.
    """

    direction: Direction
    data: bytes
    since: float


def classify(packet: bytes, lin6Prefix: Prefix) -> tuple[Direction, NodeID]:
    """
    Tell which way a packet from the hold device was going and which peer's
    mapping it waits for: outgoing packets are addressed to the LIN6 prefix
    (the peer is the destination), incoming ones come from the peer's
    locator (the peer is the source).

    @raise PacketError: if C{packet} is not an IPv6 packet.
    """
    if len(packet) < IPV6_HEADER or packet[0] >> 4 != 6:
        raise PacketError(f"not an IPv6 packet ({len(packet)} bytes)")
    if Prefix.fromBytes(packet[24:32]) == lin6Prefix:
        return Direction.EGRESS, NodeID.fromBytes(packet[32:40])
    return Direction.INGRESS, NodeID.fromBytes(packet[16:24])


@define
class HoldQueue:
    """
    Held packets per Node ID, oldest first.

    @ivar perNode: at most this many packets are held per Node ID (older
        ones are dropped first).
    @ivar total: at most this many packets are held in all.
    @ivar holdTime: packets older than this (seconds) are dropped.
    @ivar dropped: how many packets were dropped for any of those limits.
    """

    perNode: int = 64
    total: int = 1024
    holdTime: float = 5.0
    dropped: int = 0
    _queues: OrderedDict[NodeID, deque[HeldPacket]] = field(factory=OrderedDict)
    _count: int = 0

    def __len__(self) -> int:
        return self._count

    def add(self, nodeID: NodeID, packet: HeldPacket) -> None:
        """
        Hold C{packet} until C{nodeID}'s mapping arrives.
        """
        self.expire(packet.since)
        q = self._queues.get(nodeID)
        if q is None:
            q = self._queues[nodeID] = deque()
        if len(q) >= self.perNode:
            q.popleft()
            self._count -= 1
            self.dropped += 1
        while self._count >= self.total and self._queues:
            oldest = next(iter(self._queues))
            oq = self._queues[oldest]
            oq.popleft()
            self._count -= 1
            self.dropped += 1
            if not oq:
                del self._queues[oldest]
        q = self._queues.setdefault(nodeID, q)
        q.append(packet)
        self._count += 1

    def release(self, nodeID: NodeID, now: float) -> list[HeldPacket]:
        """
        Take every packet held for C{nodeID} that is still fresh, oldest first.
        """
        q = self._queues.pop(nodeID, None)
        if not q:
            return []
        self._count -= len(q)
        fresh = [p for p in q if now - p.since <= self.holdTime]
        self.dropped += len(q) - len(fresh)
        return fresh

    def discard(self, nodeID: NodeID) -> int:
        """
        Drop every packet held for C{nodeID}; how many there were.
        """
        q = self._queues.pop(nodeID, None)
        if not q:
            return 0
        self._count -= len(q)
        self.dropped += len(q)
        return len(q)

    def expire(self, now: float) -> int:
        """
        Drop packets older than L{holdTime}; how many were dropped.
        """
        gone = 0
        for nodeID in list(self._queues):
            q = self._queues[nodeID]
            while q and now - q[0].since > self.holdTime:
                q.popleft()
                gone += 1
            if not q:
                del self._queues[nodeID]
        self._count -= gone
        self.dropped += gone
        return gone

    def waiting(self) -> dict[NodeID, int]:
        """
        How many packets are held per Node ID.
        """
        return {n: len(q) for n, q in self._queues.items()}
