# -*- test-case-name: lin6twisted.resolvd.test.test_netmon -*-
"""
Collaborators of the node daemon, as zope interfaces.

The node core (L{lin6twisted.resolvd.core}) is pure; the service feeds it
from these collaborators and carries out its decisions through them.  Each
has a real implementation and a fake for unit tests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Protocol

from attrs import frozen
from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

from lin6twisted.dns.resolver import Service

__all__ = [
    "AddressState",
    "HostConfigError",
    "IAddressMonitor",
    "IHostConfig",
    "InterfaceAddress",
    "ServiceResolver",
]


class ServiceResolver(Protocol):
    """
    Finds a service the LIN6 way: name -> AAAA (LIN6 address) -> TXT at its
    reverse name (LS or MA endpoints).  L{lin6twisted.dns.resolver.Lin6Resolver}
    is the real one.
    """

    def resolveService(self, name: str) -> Deferred[Service]:
        """
        Resolve C{name}; fail with a L{lin6twisted.dns.resolver.ResolverError}.
        """


@frozen(order=True)
class InterfaceAddress:
    """
    One IPv6 address configured on an interface.

    @ivar interface: the interface name.
    @ivar address: the address.
    @ivar prefixLength: its prefix length.
    @ivar deprecated: whether its preferred lifetime is over (an address of
        a network the node is leaving).
    @ivar tentative: whether duplicate address detection is still running
        and the address may not be used yet (optimistic addresses are
        usable during DAD, so they are not tentative here).
    """

    interface: str
    address: ipaddress.IPv6Address
    prefixLength: int = 64
    deprecated: bool = False
    tentative: bool = False


@frozen
class AddressState:
    """
    A snapshot of what the kernel says about the node's connectivity.

    @ivar addresses: the global IPv6 addresses.
    @ivar defaultRoutes: C{(gateway, interface)} of each IPv6 default route,
        best (lowest metric) first.
    """

    addresses: tuple[InterfaceAddress, ...] = ()
    defaultRoutes: tuple[tuple[ipaddress.IPv6Address | None, str], ...] = ()


class IAddressMonitor(Interface):
    """
    Watches the kernel's addresses and routes and reports every change.
    """

    running = Attribute("Whether the monitor is watching.")

    def start(callback: Callable[[AddressState], None]) -> AddressState:
        """
        Start watching; C{callback} receives a fresh snapshot after each
        change.

        @return: the current snapshot.
        """

    def stop() -> None:
        """
        Stop watching and release the kernel socket.
        """

    def snapshot() -> AddressState:
        """
        The current state, read now.
        """


class HostConfigError(Exception):
    """
    The host's addresses could not be changed; the message says what and why.
    """


class IHostConfig(Interface):
    """
    The node's own addresses and interface figures, as the kernel keeps them.
    """

    def addAddress(
        interface: str, address: ipaddress.IPv6Address, prefixLength: int, preferred: bool = True
    ) -> None:
        """
        Configure C{address} on C{interface} (no duplicate address detection).
        Already present is fine.

        @param preferred: C{False} adds it deprecated (preferred lifetime 0):
            the node receives on it, but the kernel does not pick it as the
            source of other traffic.  Locators are added so: only LIN6
            traffic (whose source the dataplane rewrites) should carry them.

        @raise HostConfigError: if the kernel refuses.
        """

    def removeAddress(interface: str, address: ipaddress.IPv6Address, prefixLength: int) -> None:
        """
        Remove C{address} from C{interface}; absent is fine.

        @raise HostConfigError: if the kernel refuses.
        """

    def interfaceBytes(interface: str) -> tuple[int, int]:
        """
        C{(received, sent)} byte counters of C{interface}; C{(0, 0)} if it is
        unknown.
        """
