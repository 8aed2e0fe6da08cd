# -*- test-case-name: lin6twisted.resolvd.test.test_host -*-
"""
The node's own addresses on its interfaces: L{NetlinkHostConfig} (pyroute2)
and L{FakeHostConfig} for tests.
"""

from __future__ import annotations

import errno
import ipaddress
from typing import Any, Final

from zope.interface import implementer

from lin6twisted.resolvd.interfaces import HostConfigError, IHostConfig

__all__ = ["FakeHostConfig", "NetlinkHostConfig"]

_IFA_F_NODAD: Final = 0x02
_FOREVER: Final = 0xFFFFFFFF


@implementer(IHostConfig)
class FakeHostConfig:
    """
    Keeps the addresses in a set; tests read L{addresses} and may set
    L{failing} or L{bytes}.

    @ivar addresses: C{(interface, address, prefixLength)} triples.
    @ivar bytes: per interface, C{(received, sent)}.
    """

    def __init__(self) -> None:
        self.addresses: set[tuple[str, ipaddress.IPv6Address, int]] = set()
        self.deprecated: set[ipaddress.IPv6Address] = set()
        self.bytes: dict[str, tuple[int, int]] = {}
        self.failing = False

    def addAddress(
        self,
        interface: str,
        address: ipaddress.IPv6Address,
        prefixLength: int,
        preferred: bool = True,
    ) -> None:
        if self.failing:
            raise HostConfigError(f"cannot add {address} to {interface} (test)")
        self.addresses.add((interface, address, prefixLength))
        if not preferred:
            self.deprecated.add(address)

    def removeAddress(
        self, interface: str, address: ipaddress.IPv6Address, prefixLength: int
    ) -> None:
        if self.failing:
            raise HostConfigError(f"cannot remove {address} from {interface} (test)")
        self.addresses.discard((interface, address, prefixLength))

    def interfaceBytes(self, interface: str) -> tuple[int, int]:
        return self.bytes.get(interface, (0, 0))


@implementer(IHostConfig)
class NetlinkHostConfig:
    """
    Changes the addresses of the node's network namespace through rtnetlink.
    """

    def __init__(self) -> None:
        self._ipr: Any = None

    def _route(self) -> Any:
        if self._ipr is None:
            from pyroute2 import IPRoute

            self._ipr = IPRoute()
        return self._ipr

    def _index(self, interface: str) -> int:
        found = self._route().link_lookup(ifname=interface)
        if not found:
            raise HostConfigError(f"no interface named {interface!r}")
        return int(found[0])

    def addAddress(
        self,
        interface: str,
        address: ipaddress.IPv6Address,
        prefixLength: int,
        preferred: bool = True,
    ) -> None:
        index = self._index(interface)
        lifetimes = {} if preferred else {"preferred_lft": 0, "valid_lft": _FOREVER}
        try:
            self._route().addr(
                "add",
                index=index,
                address=str(address),
                prefixlen=prefixLength,
                flags=_IFA_F_NODAD,
                **lifetimes,
            )
        except Exception as e:
            if getattr(e, "code", None) == errno.EEXIST:
                return
            raise HostConfigError(
                f"cannot add {address}/{prefixLength} to {interface}: {e}"
            ) from e

    def removeAddress(
        self, interface: str, address: ipaddress.IPv6Address, prefixLength: int
    ) -> None:
        try:
            index = self._index(interface)
        except HostConfigError:
            return
        try:
            self._route().addr("del", index=index, address=str(address), prefixlen=prefixLength)
        except Exception as e:
            if getattr(e, "code", None) in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ENODEV):
                return
            raise HostConfigError(
                f"cannot remove {address}/{prefixLength} from {interface}: {e}"
            ) from e

    def interfaceBytes(self, interface: str) -> tuple[int, int]:
        try:
            links = self._route().get_links(ifname=interface)
        except Exception:
            return (0, 0)
        for link in links:
            stats = link.get_attr("IFLA_STATS64") or link.get_attr("IFLA_STATS")
            if stats is not None:
                return int(stats["rx_bytes"]), int(stats["tx_bytes"])
        return (0, 0)

    def close(self) -> None:
        """
        Release the netlink socket.
        """
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None
