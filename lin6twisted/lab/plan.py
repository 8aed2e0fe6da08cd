# -*- test-case-name: lin6twisted.lab.test.test_plan -*-
"""
The lab's address plan and WAN delays, computed from its configuration
(pure: no namespaces are touched here).

Every place hangs off the WAN core as a spoke with its own
C{2001:db8:<k>::/48}::

    core s<k> 2001:db8:<k>::1/64  ----  <k>::2/64 the place's eth0
    DNS host, LS replica: the host itself is the spoke (address <k>::2)
    site: router r (<k>::2) -- box (2001:db8:<k>:1::2/64, gateway <k>:1::1)
          the box runs lin6-ma, the stream server S and its lin6-resolvd
    access network: router (<k>::2) -- one /64 per mobile node using it,
          2001:db8:<k>:<m>::/64 (router ::1, the MN's plain address ::100)

The one-way WAN delay between two spokes is half the RIPE Atlas RTT between
their countries.
"""

from __future__ import annotations

import ipaddress

from attrs import frozen

from lin6twisted.address import DEFAULT_SPACE, LIN6Address, Locator, Prefix
from lin6twisted.lab.config import LabConfig
from lin6twisted.lab.ripe import RTTMatrix

__all__ = ["AccessNet", "LabPlan", "Place", "makePlan"]

DNS_PORT = 53
LS_QUERY_PORT = 7100
LS_MA_PORT = 7101
LS_PEER_PORT = 7102
LS_STATUS_PORT = 8100
MA_PORT = 7300
MA_STATUS_PORT = 7380
NODE_PORT = 7420


@frozen
class Place:
    """
    One spoke of the WAN core.

    @ivar kind: C{dns}, C{ls}, C{site} or C{access}.
    @ivar index: the spoke number C{k}.
    """

    name: str
    kind: str
    country: str
    index: int

    @property
    def prefix48(self) -> str:
        return f"2001:db8:{self.index:x}::/48"

    @property
    def coreAddress(self) -> str:
        return f"2001:db8:{self.index:x}::1"

    @property
    def uplinkAddress(self) -> str:
        """
        The spoke's own address on the core link (the host itself for DNS
        and LS, the router for sites and access networks).
        """
        return f"2001:db8:{self.index:x}::2"

    @property
    def coreDevice(self) -> str:
        return f"s{self.index}"

    # sites
    @property
    def lanPrefix(self) -> Prefix:
        return Prefix.fromString(f"2001:db8:{self.index:x}:1::/64")

    @property
    def boxAddress(self) -> str:
        return f"2001:db8:{self.index:x}:1::2"

    @property
    def boxGateway(self) -> str:
        return f"2001:db8:{self.index:x}:1::1"


@frozen
class AccessNet:
    """
    The /64 a mobile node gets on one access network.
    """

    place: Place
    mnIndex: int

    @property
    def prefix(self) -> Prefix:
        return Prefix.fromString(f"2001:db8:{self.place.index:x}:{self.mnIndex}::/64")

    @property
    def gateway(self) -> str:
        return f"2001:db8:{self.place.index:x}:{self.mnIndex}::1"

    @property
    def plainAddress(self) -> str:
        """
        The MN's plain (non-LIN6) address there, from which lin6-resolvd
        learns the prefix.
        """
        return f"2001:db8:{self.place.index:x}:{self.mnIndex}::100"

    @property
    def routerDevice(self) -> str:
        return f"m{self.mnIndex}"


@frozen
class LabPlan:
    """
    The whole plan: places, each MN's two access networks, and delays.

    @ivar delays: one-way milliseconds per unordered place pair.
    @ivar rtts: the configured RTT (ms) per unordered country pair used.
    """

    config: LabConfig
    places: dict[str, Place]
    mnNets: dict[str, tuple[AccessNet, AccessNet]]
    delays: dict[tuple[str, str], float]

    @property
    def dns(self) -> Place:
        return self.places["dns"]

    @property
    def lsPlaces(self) -> list[Place]:
        return [self.places[x.name] for x in self.config.ls]

    @property
    def sitePlaces(self) -> list[Place]:
        return [self.places[x.name] for x in self.config.sites]

    @property
    def serviceAddress(self) -> LIN6Address:
        # Under the LIN6 prefix whatever its global bit: the address is
        # shared by every site, so only a mapping can locate it.
        return LIN6Address(DEFAULT_SPACE.prefix, self.config.serviceNodeID)

    def serviceLocator(self, site: str) -> Locator:
        return Locator(self.places[site].lanPrefix, self.config.serviceNodeID)

    def oneWay(self, a: str, b: str) -> float:
        """
        The configured one-way delay between two places (0 within one).
        """
        if a == b:
            return 0.0
        return self.delays[(min(a, b), max(a, b))]

    def rtt(self, a: str, b: str) -> float:
        return 2 * self.oneWay(a, b)

    def siteOfBox(self, address: str) -> str | None:
        """
        The site whose box has C{address} (an MA's address), if any.
        """
        want = ipaddress.IPv6Address(address)
        for p in self.sitePlaces:
            if ipaddress.IPv6Address(p.boxAddress) == want:
                return p.name
        return None


def makePlan(config: LabConfig, matrix: RTTMatrix) -> LabPlan:
    """
    Number the places and look up their delays.

    @raise lin6twisted.lab.ripe.MatrixError: if a country pair is missing.
    """
    order: list[tuple[str, str, str]] = [("dns", "dns", config.dnsCountry)]
    order += [(x.name, "ls", x.country) for x in config.ls]
    order += [(x.name, "site", x.country) for x in config.sites]
    order += [(x.name, "access", x.country) for x in config.access]
    places = {
        name: Place(name, kind, country, index)
        for index, (name, kind, country) in enumerate(order, start=1)
    }
    mnNets = {
        mn.name: (
            AccessNet(places[mn.access[0]], i),
            AccessNet(places[mn.access[1]], i),
        )
        for i, mn in enumerate(config.mns, start=1)
    }
    delays: dict[tuple[str, str], float] = {}
    names = sorted(places)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            delays[(a, b)] = matrix.oneWay(places[a].country, places[b].country, config.rttMeasure)
    return LabPlan(config, places, mnNets, delays)
