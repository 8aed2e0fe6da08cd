# -*- test-case-name: lin6twisted.dataplane.test.test_fake -*-
"""
An in-memory L{IDataplane} for unit tests of the daemons that drive it.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from attrs import define, field
from zope.interface import implementer

from lin6twisted.address import LIN6Address, Locator, NodeID
from lin6twisted.dataplane.interfaces import (
    COUNTER_NAMES,
    DataplaneError,
    IDataplane,
    MissHandler,
)

__all__ = ["FakeDataplane", "OwnAttachment"]


@define(frozen=True)
class OwnAttachment:
    """
    What L{FakeDataplane.setOwnLocator} was last told.
    """

    lin6: LIN6Address
    locator: Locator
    gateway: IPv6Address | None
    interface: str


@implementer(IDataplane)
@define
class FakeDataplane:
    """
    A dataplane that keeps its state in memory and records what happened.

    Tests drive misses with L{simulateMiss} and inspect L{own}, L{moves},
    L{previous} and L{held}.

    @ivar capacity: the table size; installing beyond it raises like the
        kernel map would.
    @ivar held: per Node ID, the number of packets held since the miss (a
        test stand-in for queued packets); released on L{installMapping}.
    @ivar released: per Node ID, how many held packets were sent on.
    """

    strict: bool = False
    capacity: int = 65536
    running: bool = False
    own: OwnAttachment | None = None
    moves: list[OwnAttachment] = field(factory=list)
    previous: dict[NodeID, Locator] = field(factory=dict)
    held: dict[NodeID, int] = field(factory=dict)
    released: dict[NodeID, int] = field(factory=dict)
    _table: dict[NodeID, Locator] = field(factory=dict)
    _counters: dict[str, int] = field(factory=lambda: dict.fromkeys(COUNTER_NAMES, 0))
    _missHandler: MissHandler | None = None

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def setOwnLocator(
        self, lin6: LIN6Address, locator: Locator, gateway: IPv6Address | None, interface: str
    ) -> None:
        if locator.nodeID != lin6.nodeID:
            raise DataplaneError(f"own locator {locator} does not carry the Node ID of {lin6}")
        if not interface:
            raise DataplaneError("an interface name is required")
        self.own = OwnAttachment(lin6, locator, gateway, interface)
        self.moves.append(self.own)

    def installMapping(
        self, nodeID: NodeID, locator: Locator, previous: Locator | None = None
    ) -> None:
        if locator.nodeID != nodeID:
            raise DataplaneError(f"locator {locator} does not carry Node ID {nodeID}")
        if previous is not None and previous.nodeID != nodeID:
            raise DataplaneError(f"previous locator {previous} does not carry Node ID {nodeID}")
        if nodeID not in self._table and len(self._table) >= self.capacity:
            raise DataplaneError(f"mapping table full ({self.capacity} entries)")
        self._table[nodeID] = locator
        if previous is None:
            self.previous.pop(nodeID, None)
        else:
            self.previous[nodeID] = previous
        count = self.held.pop(nodeID, 0)
        if count:
            self.released[nodeID] = self.released.get(nodeID, 0) + count
            self._counters["held_released"] += count

    def removeMapping(self, nodeID: NodeID) -> None:
        self._table.pop(nodeID, None)
        self.previous.pop(nodeID, None)
        self._counters["held_dropped"] += self.held.pop(nodeID, 0)

    def mappings(self) -> dict[NodeID, Locator]:
        return dict(self._table)

    def counters(self) -> dict[str, int]:
        return dict(self._counters)

    def setMissHandler(self, handler: MissHandler | None) -> None:
        self._missHandler = handler

    def simulateMiss(self, nodeID: NodeID, egress: bool = True) -> None:
        """
        Behave as if a packet for C{nodeID} missed: count it, hold it and
        report it to the miss handler (reports are not rate-limited here).
        """
        self._counters["egress_missed" if egress else "ingress_missed"] += 1
        self.held[nodeID] = self.held.get(nodeID, 0) + 1
        if self._missHandler is not None:
            self._counters["miss_reported"] += 1
            self._missHandler(nodeID)
