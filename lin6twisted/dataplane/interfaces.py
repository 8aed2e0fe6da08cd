# -*- test-case-name: lin6twisted.dataplane.test.test_fake -*-
"""
The interface of the LIN6 dataplane, as the node daemon (C{lin6-resolvd}) sees it.

A dataplane maps between LIN6 addresses (what applications use) and locators
(what the wire carries).  The daemon tells it the node's own identity and
attachment (L{IDataplane.setOwnLocator}), installs and removes peer mappings
(Node ID -> locator) and receives I{miss} events for Node IDs that packets
need but that have no mapping yet.  Packets that missed are held and sent on
once the mapping is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address
from typing import Final

from zope.interface import Attribute, Interface

from lin6twisted.address import LIN6Address, Locator, NodeID

__all__ = ["COUNTER_NAMES", "KERNEL_COUNTERS", "DataplaneError", "IDataplane", "MissHandler"]

MissHandler = Callable[[NodeID], object]
"""Called with the Node ID of a peer that has no mapping."""

COUNTER_NAMES: Final[tuple[str, ...]] = (
    "egress_mapped",
    "egress_passed",
    "egress_missed",
    "egress_dropped",
    "ingress_mapped",
    "ingress_passed",
    "ingress_missed",
    "ingress_icmp_mapped",
    "ingress_strict_dropped",
    "ingress_dropped",
    "miss_reported",
    "miss_report_failed",
    "held_released",
    "held_dropped",
)
"""
The keys of L{IDataplane.counters}.  All but the last two are the kernel's
per-CPU counters (summed over CPUs, in the order of C{enum lin6_counter} in
C{dataplane_c/lin6_dp.h}); C{held_released} and C{held_dropped} count
packets held during a miss that were sent on, or dropped (too many, too old,
or the mapping was removed).
"""

KERNEL_COUNTERS: Final[int] = len(COUNTER_NAMES) - 2
"""How many of L{COUNTER_NAMES} live in the kernel's counter map."""


class DataplaneError(Exception):
    """
    The dataplane could not do what was asked (load, attach, map update,
    route change); the message says what and why.
    """


class IDataplane(Interface):
    """
    The node's LIN6 dataplane: own locator, peer mappings, miss events.

    All methods are synchronous and quick (a map update costs microseconds);
    they raise L{DataplaneError} on failure.
    """

    running: bool = Attribute("Whether L{start} has run and L{stop} has not.")
    strict: bool = Attribute(
        "Strict mode: ingress accepts a peer's Node ID only from the locator(s) "
        "its mapping holds (current, and the previous one during the move grace)."
    )

    def start() -> None:
        """
        Load and attach the dataplane.  Idempotent.

        @raise DataplaneError: if loading or attaching fails; nothing stays
            attached then.
        """

    def stop() -> None:
        """
        Detach everything and release kernel objects.  Idempotent; never
        raises.
        """

    def setOwnLocator(
        lin6: LIN6Address, locator: Locator, gateway: IPv6Address | None, interface: str
    ) -> None:
        """
        Set (or move) this node's own identity and attachment: packets from
        C{lin6} leave with source C{locator} through C{interface} via
        C{gateway} (C{None}: on-link).

        On a move the previous own locator stays accepted on ingress for
        the move-grace window (make-before-break); the route switch is one
        atomic replace.  The locator address itself is configured by the
        operating system (or the caller), not by the dataplane.
        """

    def installMapping(nodeID: NodeID, locator: Locator, previous: Locator | None = None) -> None:
        """
        Map the peer C{nodeID} to C{locator}.  If C{previous} is given, it
        stays accepted on ingress (strict mode) for the move-grace window.
        Packets held because of a miss for C{nodeID} are sent on.

        @raise DataplaneError: if C{locator} does not carry C{nodeID}, or the
            table is full.
        """

    def removeMapping(nodeID: NodeID) -> None:
        """
        Forget the mapping of C{nodeID} and drop packets held for it (call
        this on a negative answer too); unknown Node IDs are ignored.
        """

    def mappings() -> dict[NodeID, Locator]:
        """
        The current mappings (Node ID -> current locator).
        """

    def counters() -> dict[str, int]:
        """
        Packet counters, keys from L{COUNTER_NAMES}, summed over CPUs.
        """

    def setMissHandler(handler: MissHandler | None) -> None:
        """
        Call C{handler(nodeID)} (from the reactor) when a packet needs a
        mapping for C{nodeID} that is not installed.  Reports are
        rate-limited per Node ID.  C{None} removes the handler.
        """
