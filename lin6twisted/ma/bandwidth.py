# -*- test-case-name: lin6twisted.ma.test.test_bandwidth -*-
"""
Bandwidth per service level: an HTB tree on the content server's egress
interface, one class per registered mobile node.

The tree::

    root qdisc 1: htb (default 0: unmatched traffic is not shaped)
      class 1:1 (the link's ceiling)
        class 1:<minor> per mobile node, rate = ceil = its level's rate
          pfifo leaf (short queue)
    one u32 filter per node at priority <minor>: IPv6 packets whose
    destination's lower 64 bits (bytes 32..39 of the IPv6 header) are the
    node's Node ID go to 1:<minor>.

Matching the Node ID instead of the whole address keeps the class when the
node moves (its locator changes, its Node ID does not) and whatever the
kernel dataplane does to the upper 64 bits: its egress rewriting of the LIN6
address to the locator runs in the LIN6 route's LWT C{xmit} BPF program,
before the packet reaches the interface's root qdisc, and never touches the
lower 64 bits (checked by C{test_integration_bandwidth.DataplaneBandwidthTests}).

L{ClassPlan} (pure) hands out class minors; L{HTBShaper} applies them with
pyroute2 (netlink calls are short and synchronous).  L{NullShaper} is used
when bandwidth control is off.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from attrs import define, field, frozen
from twisted.logger import Logger
from zope.interface import Interface, implementer

from lin6twisted.address import NodeID
from lin6twisted.dataplane.kernel import ipRouteIn
from lin6twisted.directory import ServiceLevel

__all__ = [
    "ClassPlan",
    "HTBShaper",
    "IShaper",
    "NullShaper",
    "ShaperError",
    "ShaperSettings",
    "nodeIDKeys",
]

ETH_P_IPV6: Final = 0x86DD
ROOT_QDISC: Final = 0x10000
ROOT_CLASS: Final = 0x10001
FIRST_MINOR: Final = 0x10
LAST_MINOR: Final = 0xFFFF


class ShaperError(Exception):
    """
    The kernel refused a traffic control change, or no class is left.
    """


def nodeIDKeys(nodeID: NodeID) -> list[str]:
    """
    The u32 keys (pyroute2 C{value/mask+offset} text) matching IPv6 packets
    whose destination ends in C{nodeID}.
    """
    hi, lo = nodeID.value >> 32, nodeID.value & 0xFFFFFFFF
    return [f"0x{hi:08x}/0xffffffff+32", f"0x{lo:08x}/0xffffffff+36"]


@frozen
class ShaperSettings:
    """
    @ivar interface: the egress interface of the content server.
    @ivar rates: bits per second per service level.
    @ivar ceiling: the rate of the root class (the link), bits per second.
    @ivar queue: the leaf pfifo's limit in packets.
    """

    interface: str
    rates: dict[ServiceLevel, int]
    ceiling: int = 10_000_000_000
    queue: int = 100


class IShaper(Interface):
    """
    Installs and removes per-node bandwidth classes.
    """

    def start() -> None:
        """
        Set up the tree (replacing whatever root qdisc was there).

        @raise ShaperError: if the kernel refuses.
        """

    def install(nodeID: NodeID, level: ServiceLevel) -> None:
        """
        Give C{nodeID} a class with its level's rate (idempotent; a level
        change updates the class).

        @raise ShaperError: if the kernel refuses or no class is left.
        """

    def remove(nodeID: NodeID) -> None:
        """
        Remove C{nodeID}'s class, if it has one.

        @raise ShaperError: if the kernel refuses.
        """

    def stop() -> None:
        """
        Remove the whole tree.
        """

    def classes() -> dict[NodeID, tuple[int, ServiceLevel]]:
        """
        The installed classes: Node ID -> (class minor, level).
        """


@define
class ClassPlan:
    """
    Allocation of class minors to Node IDs (lowest free first).
    """

    _byNode: dict[NodeID, tuple[int, ServiceLevel]] = field(factory=dict)
    _free: list[int] = field(factory=list)
    _next: int = FIRST_MINOR

    def get(self, nodeID: NodeID) -> tuple[int, ServiceLevel] | None:
        return self._byNode.get(nodeID)

    def allocate(self, nodeID: NodeID, level: ServiceLevel) -> int:
        """
        The minor of C{nodeID}, allocating one if needed.

        @raise ShaperError: if every minor is in use.
        """
        current = self._byNode.get(nodeID)
        if current is not None:
            self._byNode[nodeID] = (current[0], level)
            return current[0]
        if self._free:
            self._free.sort()
            minor = self._free.pop(0)
        elif self._next <= LAST_MINOR:
            minor = self._next
            self._next += 1
        else:
            raise ShaperError("no traffic class left")
        self._byNode[nodeID] = (minor, level)
        return minor

    def release(self, nodeID: NodeID) -> int | None:
        """
        Free the minor of C{nodeID}; return it, or C{None} if it had none.
        """
        entry = self._byNode.pop(nodeID, None)
        if entry is None:
            return None
        self._free.append(entry[0])
        return entry[0]

    def items(self) -> dict[NodeID, tuple[int, ServiceLevel]]:
        return dict(self._byNode)


@implementer(IShaper)
class NullShaper:
    """
    Bandwidth control switched off: remembers classes, touches nothing.
    """

    def __init__(self) -> None:
        self._plan = ClassPlan()

    def start(self) -> None:
        pass

    def install(self, nodeID: NodeID, level: ServiceLevel) -> None:
        self._plan.allocate(nodeID, level)

    def remove(self, nodeID: NodeID) -> None:
        self._plan.release(nodeID)

    def stop(self) -> None:
        pass

    def classes(self) -> dict[NodeID, tuple[int, ServiceLevel]]:
        return self._plan.items()


@implementer(IShaper)
class HTBShaper:
    """
    The HTB tree, driven through pyroute2.

    @param netns: a named network namespace to work in (tests); C{None}
        for the MA's own.
    @param iproute: a pyroute2 C{IPRoute}-like object to use instead of
        opening one (unit tests).
    """

    log = Logger()

    def __init__(
        self, settings: ShaperSettings, netns: str | None = None, iproute: Any = None
    ) -> None:
        self.settings = settings
        self.netns = netns
        self._given = iproute
        self._plan = ClassPlan()
        self._ipr: Any = None
        self._index = 0

    def _tc(self, *args: Any, **kw: Any) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            self._ipr.tc(*args, index=self._index, **kw)
        except NetlinkError as e:
            raise ShaperError(f"tc {args[0]} on {self.settings.interface}: {e}") from None

    def start(self) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            if self._given is not None:
                self._ipr = self._given
            else:
                self._ipr = ipRouteIn(self.netns)
            found = self._ipr.link_lookup(ifname=self.settings.interface)
        except (NetlinkError, OSError) as e:
            raise ShaperError(f"netlink: {e}") from None
        if not found:
            self.stop()
            raise ShaperError(f"no interface {self.settings.interface!r}")
        self._index = found[0]
        with contextlib.suppress(NetlinkError):  # there may be none
            self._ipr.tc("del", index=self._index, handle=ROOT_QDISC, parent=0xFFFFFFFF)
        self._tc("add", "htb", handle=ROOT_QDISC, default=0)
        ceiling = f"{self.settings.ceiling}bit"
        self._tc("add-class", "htb", handle=ROOT_CLASS, parent=ROOT_QDISC, rate=ceiling)
        self.log.info(
            "HTB tree on {interface}: rates {rates}",
            interface=self.settings.interface,
            rates={lvl.text: r for lvl, r in self.settings.rates.items()},
        )

    def install(self, nodeID: NodeID, level: ServiceLevel) -> None:
        before = self._plan.get(nodeID)
        if before is not None and before[1] == level:
            return
        minor = self._plan.allocate(nodeID, level)
        bps = self.settings.rates[level]
        rate = f"{bps}bit"
        # A burst of 10 ms of traffic (at least two full frames) keeps the
        # class at its rate despite timer granularity.
        burst = max(bps // 800, 3200)
        handle = 0x10000 | minor
        try:
            command = "change-class" if before is not None else "add-class"
            self._tc(
                command,
                "htb",
                handle=handle,
                parent=ROOT_CLASS,
                rate=rate,
                ceil=rate,
                burst=burst,
                cburst=burst,
            )
            if before is not None:
                return
            self._tc("add", "pfifo", handle=minor << 16, parent=handle, limit=self.settings.queue)
            self._tc(
                "add-filter",
                "u32",
                parent=ROOT_QDISC,
                prio=minor,
                protocol=ETH_P_IPV6,
                target=handle,
                keys=nodeIDKeys(nodeID),
            )
        except ShaperError:
            if before is None:
                self._plan.release(nodeID)
                self._removeKernel(minor, quiet=True)
            raise

    def _removeKernel(self, minor: int, quiet: bool = False) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        steps: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
            (("del-filter",), {"parent": ROOT_QDISC, "prio": minor, "protocol": ETH_P_IPV6}),
            (("del-class",), {"handle": 0x10000 | minor, "parent": ROOT_CLASS}),
        ]
        error = None
        for args, kw in steps:
            try:
                self._ipr.tc(*args, index=self._index, **kw)
            except NetlinkError as e:
                error = e
        if error is not None and not quiet:
            raise ShaperError(f"removing class 1:{minor:x}: {error}")

    def remove(self, nodeID: NodeID) -> None:
        minor = self._plan.release(nodeID)
        if minor is not None and self._ipr is not None:
            self._removeKernel(minor)

    def stop(self) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        if self._ipr is None:
            return
        with contextlib.suppress(NetlinkError):  # gone with its interface
            self._ipr.tc("del", index=self._index, handle=ROOT_QDISC, parent=0xFFFFFFFF)
        self._ipr.close()
        self._ipr = None

    def classes(self) -> dict[NodeID, tuple[int, ServiceLevel]]:
        return self._plan.items()
