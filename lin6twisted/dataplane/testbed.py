# -*- test-case-name: lin6twisted.dataplane.test.test_integration_dataplane -*-
"""
The namespace test bed the dataplane integration tests and the C{dp}
benchmark share: two LIN6 hosts in different /64s through a router.

    a:eth0 (2001:db8:a::/64) -- r:eth0
    b:eth0 (2001:db8:b::/64) -- r:eth1
    b:eth1 (2001:db8:c::/64) -- r:eth2   (where b moves to)

By default checksum and segmentation offloads are off on every veth, so
checksums on the wire are computed in software and can be checked on the
router; C{Pair(..., offload=True)} keeps the veth defaults (the throughput
benchmark measures that, the realistic configuration).
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

from attrs import define, field

from lin6twisted.address import DEFAULT_SPACE, LIN6Address, Locator, NodeID, Prefix
from lin6twisted.dataplane.bpf import BPFDataplane
from lin6twisted.netns import Namespace, Topology

SPACE = DEFAULT_SPACE
NODE_A = SPACE.nodeID(0xA1, mobile=True)
NODE_B = SPACE.nodeID(0xB2, mobile=True)
PREFIX_A = Prefix.fromString("2001:db8:a::/64")
PREFIX_B = Prefix.fromString("2001:db8:b::/64")
PREFIX_C = Prefix.fromString("2001:db8:c::/64")
GW_A = IPv6Address("2001:db8:a::1")
GW_B = IPv6Address("2001:db8:b::1")
GW_C = IPv6Address("2001:db8:c::1")
PLAIN_A = IPv6Address("2001:db8:a::100")
PLAIN_B = IPv6Address("2001:db8:b::100")
"""Addresses whose lower half is not a LIN6 Node ID: plain IPv6 on the same path."""


@define
class Pair:
    """
    Two LIN6 hosts (C{a}, C{b}) with dataplanes, and the router C{r}.
    """

    reactor: Any
    prefix: str = "l6dp"
    strict: bool = False
    reroute: bool = False
    offload: bool = False
    topo: Topology = field(init=False)
    a: Namespace = field(init=False)
    b: Namespace = field(init=False)
    r: Namespace = field(init=False)
    dpA: BPFDataplane = field(init=False)
    dpB: BPFDataplane = field(init=False)

    @property
    def lin6A(self) -> LIN6Address:
        return SPACE.address(NODE_A)

    @property
    def lin6B(self) -> LIN6Address:
        return SPACE.address(NODE_B)

    @property
    def locA(self) -> Locator:
        return Locator(PREFIX_A, NODE_A)

    @property
    def locB(self) -> Locator:
        return Locator(PREFIX_B, NODE_B)

    @property
    def locBMoved(self) -> Locator:
        return Locator(PREFIX_C, NODE_B)

    def build(self, mapped: bool = True) -> None:
        """
        Create the namespaces, links and dataplanes; with C{mapped}, each
        host knows the other's locator.  Call L{destroy} in any case.
        """
        self.topo = topo = Topology(self.prefix)
        self.a = a = topo.addNamespace("a")
        self.r = r = topo.addNamespace("r", router=True)
        self.b = b = topo.addNamespace("b")
        topo.link(a, "eth0", r, "eth0", offload=self.offload)
        topo.link(b, "eth0", r, "eth1", offload=self.offload)
        topo.link(b, "eth1", r, "eth2", offload=self.offload)
        a.addAddress("eth0", f"{self.locA}/64")
        b.addAddress("eth0", f"{self.locB}/64")
        a.addAddress("eth0", f"{PLAIN_A}/64")
        b.addAddress("eth0", f"{PLAIN_B}/64")
        r.addAddress("eth0", f"{GW_A}/64")
        r.addAddress("eth1", f"{GW_B}/64")
        r.addAddress("eth2", f"{GW_C}/64")
        a.addRoute("default", via=str(GW_A), dev="eth0")
        b.addRoute("default", via=str(GW_B), dev="eth0")
        self.dpA, self.dpB = (
            BPFDataplane(
                self.reactor, netns=ns.name, name=ns.name, strict=self.strict, reroute=self.reroute
            )
            for ns in (a, b)
        )
        self.dpA.start()
        self.dpB.start()
        self.dpA.setOwnLocator(self.lin6A, self.locA, GW_A, "eth0")
        self.dpB.setOwnLocator(self.lin6B, self.locB, GW_B, "eth0")
        if mapped:
            self.dpA.installMapping(NODE_B, self.locB)
            self.dpB.installMapping(NODE_A, self.locA)

    def moveB(self, breakFirst: bool = False) -> None:
        """
        Move C{b} to 2001:db8:c::/64 on its second link.

        Make-before-break (default): new address, own locator and route
        switch, the peer's mapping, then the old link goes.  With
        C{breakFirst}, the old link goes down first (the packets in flight
        are lost and TCP retransmits them).
        """
        if breakFirst:
            self.b.ip(f"address del {self.locB}/64 dev eth0", "link set eth0 down")
        self.b.addAddress("eth1", f"{self.locBMoved}/64")
        self.dpB.setOwnLocator(self.lin6B, self.locBMoved, GW_C, "eth1")
        self.dpA.installMapping(NODE_B, self.locBMoved, previous=self.locB)
        self.b.ip("route replace default via 2001:db8:c::1 dev eth1")
        if not breakFirst:
            self.b.ip(f"address del {self.locB}/64 dev eth0", "link set eth0 down")

    def locatorOf(self, nodeID: NodeID) -> Locator:
        return {NODE_A: self.locA, NODE_B: self.locB}[nodeID]

    def destroy(self) -> None:
        """
        Stop the dataplanes and remove the namespaces (idempotent).
        """
        for dp in (getattr(self, "dpA", None), getattr(self, "dpB", None)):
            if dp is not None:
                dp.stop()
        if hasattr(self, "topo"):
            self.topo.destroy()
