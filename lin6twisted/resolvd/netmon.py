# -*- test-case-name: lin6twisted.resolvd.test.test_netmon -*-
"""
Movement detection: the kernel's addresses and default routes, and the
attachment (current /64, gateway, interface) derived from them.

L{chooseAttachment} is the pure decision; L{NetlinkAddressMonitor} reads the
kernel through pyroute2 (an C{IPRoute} bound to the IPv6 address and route
multicast groups, read from the reactor); L{FakeAddressMonitor} is set by
tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

from attrs import frozen
from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted.address import LIN6Space, NodeID, Prefix
from lin6twisted.resolvd.interfaces import AddressState, IAddressMonitor, InterfaceAddress

__all__ = [
    "Attachment",
    "FakeAddressMonitor",
    "NetlinkAddressMonitor",
    "chooseAttachment",
]

_IFA_F_DEPRECATED = 0x20
_IFA_F_TENTATIVE = 0x40
_IFA_F_DADFAILED = 0x08
_IFA_F_OPTIMISTIC = 0x04
_RT_SCOPE_UNIVERSE = 0
_RT_TABLE_MAIN = 254
_RTN_UNICAST = 1


@frozen
class Attachment:
    """
    Where the node is attached now.

    @ivar prefix: the routable /64 its locator uses.
    @ivar gateway: the default router, if any.
    @ivar interface: the interface the prefix and route are on.
    """

    prefix: Prefix
    gateway: ipaddress.IPv6Address | None
    interface: str


def _usable(a: InterfaceAddress, space: LIN6Space) -> bool:
    address = a.address
    return not (
        a.deprecated
        or a.tentative
        or a.prefixLength > 64
        or address.is_link_local
        or address.is_loopback
        or address.is_multicast
        or space.isLIN6Prefixed(address)
    )


def chooseAttachment(
    state: AddressState,
    space: LIN6Space,
    current: Attachment | None = None,
    interface: str | None = None,
    nodeID: NodeID | None = None,
) -> Attachment | None:
    """
    Decide the node's attachment from a kernel snapshot.

    The interface of the best default route wins (restricted to
    C{interface} when given); its usable global addresses (not deprecated,
    not tentative, not link-local, not in the LIN6 prefix, not one of the
    node's own locators (C{nodeID}), which are derived, not evidence) give
    the candidate /64s.  The current prefix is kept while it stays usable, so
    an extra prefix does not cause a move; otherwise the lowest candidate is
    taken, for determinism.  Without a default route, any usable address
    (on C{interface} when given) is accepted, with no gateway.

    @return: the attachment, or C{None} when the node has no usable prefix.
    """
    routes = [(gw, dev) for gw, dev in state.defaultRoutes if interface in (None, dev)]
    usable = [
        a
        for a in state.addresses
        if _usable(a, space) and (nodeID is None or NodeID.ofAddress(a.address) != nodeID)
    ]
    candidates: Iterable[tuple[ipaddress.IPv6Address | None, str]]
    if routes:
        candidates = routes
    else:
        devices = sorted({a.interface for a in usable if interface in (None, a.interface)})
        candidates = [(None, dev) for dev in devices]
    for gateway, dev in candidates:
        prefixes = sorted({Prefix.ofAddress(a.address) for a in usable if a.interface == dev})
        if not prefixes:
            continue
        if current is not None and current.prefix in prefixes:
            chosen = current.prefix
        else:
            chosen = prefixes[0]
        return Attachment(chosen, gateway, dev)
    return None


def ownLocatorAddresses(state: AddressState, nodeID: NodeID) -> list[InterfaceAddress]:
    """
    The addresses in C{state} that carry C{nodeID} (locators configured for
    this node).
    """
    return [a for a in state.addresses if NodeID.ofAddress(a.address) == nodeID]


@implementer(IAddressMonitor)
class FakeAddressMonitor:
    """
    An address monitor whose state tests set with L{setState}.
    """

    def __init__(self, state: AddressState | None = None) -> None:
        self.state = state or AddressState()
        self.running = False
        self._callback: Callable[[AddressState], None] | None = None

    def start(self, callback: Callable[[AddressState], None]) -> AddressState:
        self._callback = callback
        self.running = True
        return self.state

    def stop(self) -> None:
        self.running = False
        self._callback = None

    def snapshot(self) -> AddressState:
        return self.state

    def setState(self, state: AddressState) -> None:
        """
        Change the state and tell the watcher, as a netlink event would.
        """
        self.state = state
        if self._callback is not None:
            self._callback(state)


def isTentative(flags: int) -> bool:
    """
    Whether an address with these C{IFA_F_*} flags must not be used yet:
    duplicate address detection is running and the address is not
    optimistic.  An optimistic address (RFC 4429, C{optimistic_dad}) is
    flagged tentative too, but may be used at once; that is what makes
    optimistic DAD shorten a handover.
    """
    return bool(flags & _IFA_F_TENTATIVE) and not flags & _IFA_F_OPTIMISTIC


def _addressState(ipr: Any) -> AddressState:
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
    addresses = []
    for msg in ipr.get_addr(family=socket.AF_INET6):
        if msg["scope"] != _RT_SCOPE_UNIVERSE:
            continue
        text = msg.get_attr("IFA_ADDRESS")
        if text is None:
            continue
        flags = msg.get_attr("IFA_FLAGS")
        if flags is None:
            flags = msg["flags"]
        if flags & _IFA_F_DADFAILED:
            continue
        addresses.append(
            InterfaceAddress(
                interface=str(names.get(msg["index"], msg["index"])),
                address=ipaddress.IPv6Address(text),
                prefixLength=int(msg["prefixlen"]),
                deprecated=bool(flags & _IFA_F_DEPRECATED),
                tentative=isTentative(flags),
            )
        )
    routes = []
    for msg in ipr.get_routes(family=socket.AF_INET6, dst_len=0):
        if msg["table"] != _RT_TABLE_MAIN or msg["type"] != _RTN_UNICAST:
            continue
        if msg.get_attr("RTA_DST") not in (None, "::"):
            continue
        gateway = msg.get_attr("RTA_GATEWAY")
        oif = msg.get_attr("RTA_OIF")
        metric = msg.get_attr("RTA_PRIORITY") or 0
        routes.append(
            (
                metric,
                None if gateway is None else ipaddress.IPv6Address(gateway),
                str(names.get(oif, oif)),
            )
        )
    routes.sort(key=lambda r: (r[0], r[2]))
    return AddressState(
        addresses=tuple(sorted(addresses)),
        defaultRoutes=tuple((gw, dev) for _, gw, dev in routes),
    )


@implementer(IReadDescriptor)
class _NetlinkReader:
    def __init__(self, monitor: NetlinkAddressMonitor) -> None:
        self._monitor = monitor

    def fileno(self) -> int:
        return self._monitor._events.fileno() if self._monitor._events is not None else -1

    def doRead(self) -> None:
        self._monitor._readable()

    def connectionLost(self, reason: Failure) -> None:
        self._monitor.log.info("netlink reader closed: {reason}", reason=reason.value)

    def logPrefix(self) -> str:
        return "netlink"


@implementer(IAddressMonitor)
class NetlinkAddressMonitor:
    """
    The real monitor: a pyroute2 C{IPRoute} bound to the IPv6 address and
    route groups, read when the reactor sees it readable.  Each burst of
    events produces one fresh snapshot (a full dump through a second
    C{IPRoute}), so no event is interpreted piecemeal.

    @ivar reactor: a reactor providing L{IReactorFDSet} and C{callLater}.
    """

    log = Logger()

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.running = False
        self._events: Any = None
        self._dumper: Any = None
        self._reader: _NetlinkReader | None = None
        self._callback: Callable[[AddressState], None] | None = None
        self._pending: Any = None

    def start(self, callback: Callable[[AddressState], None]) -> AddressState:
        from pyroute2 import IPRoute
        from pyroute2.netlink.rtnl import RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE

        self._callback = callback
        self._events = IPRoute()
        self._events.bind(groups=RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE)
        self._dumper = IPRoute()
        self._reader = _NetlinkReader(self)
        IReactorFDSet(self.reactor).addReader(self._reader)
        self.running = True
        return self.snapshot()

    def stop(self) -> None:
        self.running = False
        if self._reader is not None:
            IReactorFDSet(self.reactor).removeReader(self._reader)
            self._reader = None
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None
        for ipr in (self._events, self._dumper):
            if ipr is not None:
                ipr.close()
        self._events = self._dumper = None
        self._callback = None

    def snapshot(self) -> AddressState:
        if self._dumper is None:
            from pyroute2 import IPRoute

            with IPRoute() as ipr:
                return _addressState(ipr)
        return _addressState(self._dumper)

    def _readable(self) -> None:
        if self._events is None:
            return
        try:
            self._events.get()
        except Exception:
            self.log.failure("reading netlink events")
        if self._pending is None or not self._pending.active():
            self._pending = self.reactor.callLater(0, self._report)

    def _report(self) -> None:
        self._pending = None
        if self._callback is None:
            return
        try:
            state = self.snapshot()
        except Exception:
            self.log.failure("dumping addresses and routes")
            return
        self._callback(state)
