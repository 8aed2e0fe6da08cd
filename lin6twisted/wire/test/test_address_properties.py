"""
Property tests (hypothesis) for every value type of L{lin6twisted.address}:
each round-trips through its byte and text forms, and parsing arbitrary
input either succeeds or raises L{AddressError}.
"""

from __future__ import annotations

import contextlib
import ipaddress
import unittest

from hypothesis import given, settings
from hypothesis import strategies as st

from lin6twisted.address import (
    DEFAULT_SPACE,
    GLOBAL_BIT,
    AddressError,
    LIN6Address,
    LIN6Space,
    Locator,
    NodeID,
    OUIError,
    Prefix,
    parseIPv6,
    reverseName,
)
from lin6twisted.wire.test.strategies import addresses, nodeIDs, prefixes

ouis = st.binary(min_size=3, max_size=3).map(lambda b: bytes([b[0] & ~GLOBAL_BIT & 0xFF]) + b[1:])
spaces = st.builds(LIN6Space, prefixes, ouis)
serials = st.integers(0, (1 << 40) - 1)
locators = st.builds(Locator, prefixes, nodeIDs)

relaxed = settings(deadline=None)
"""No per-example deadline: CI machines are busy."""


@st.composite
def lin6Addresses(draw: st.DrawFn) -> tuple[LIN6Space, LIN6Address]:
    """
    A space and a valid LIN6 address in it (mobile or stationary).
    """
    space = draw(spaces)
    mobile = draw(st.booleans())
    node = space.nodeID(draw(serials), mobile)
    prefix = None if mobile else draw(prefixes)
    return space, space.address(node, prefix)


class NodeIDPropertyTests(unittest.TestCase):
    """
    L{NodeID} round trips.
    """

    @relaxed
    @given(nodeIDs)
    def test_bytes(self, node: NodeID) -> None:
        """
        The 8 packed bytes give the Node ID back.
        """
        self.assertEqual(len(node.packed), 8)
        self.assertEqual(NodeID.fromBytes(node.packed), node)

    @relaxed
    @given(nodeIDs)
    def test_texts(self, node: NodeID) -> None:
        """
        Every text form parses back to the Node ID.
        """
        self.assertEqual(NodeID.fromString(str(node)), node)
        self.assertEqual(NodeID.fromString(node.asEUI64()), node)
        self.assertEqual(NodeID.fromString(node.asEUI64().replace(":", "-")), node)
        self.assertEqual(NodeID.fromString(node.packed.hex()), node)

    @relaxed
    @given(nodeIDs, prefixes)
    def test_ofAddress(self, node: NodeID, prefix: Prefix) -> None:
        """
        The lower half of an address is its Node ID.
        """
        address = ipaddress.IPv6Address((prefix.value << 64) | node.value)
        self.assertEqual(NodeID.ofAddress(address), node)
        self.assertEqual(NodeID.ofAddress(str(address)), node)

    @relaxed
    @given(nodeIDs)
    def test_mobileBit(self, node: NodeID) -> None:
        """
        The mobile flag is the global bit; the OUI never carries it.
        """
        self.assertEqual(node.isMobile, bool(node.packed[0] & GLOBAL_BIT))
        self.assertEqual(node.oui[0] & GLOBAL_BIT, 0)
        self.assertEqual(node.oui[1:], node.packed[1:3])

    @relaxed
    @given(st.integers().filter(lambda v: not 0 <= v < (1 << 64)))
    def test_range(self, value: int) -> None:
        """
        Values outside 64 bits are refused.
        """
        with self.assertRaises(AddressError):
            NodeID(value)

    @relaxed
    @given(st.one_of(st.text(max_size=40), st.binary(max_size=12)))
    def test_anyInput(self, data: str | bytes) -> None:
        """
        Arbitrary input parses or raises L{AddressError}, nothing else.
        """
        try:
            if isinstance(data, str):
                NodeID.fromString(data)
            else:
                NodeID.fromBytes(data)
        except AddressError:
            pass


class PrefixPropertyTests(unittest.TestCase):
    """
    L{Prefix} round trips.
    """

    @relaxed
    @given(prefixes)
    def test_forms(self, prefix: Prefix) -> None:
        """
        Bytes, text and network forms give the prefix back.
        """
        self.assertEqual(Prefix.fromBytes(prefix.packed), prefix)
        self.assertEqual(Prefix.fromString(str(prefix)), prefix)
        self.assertEqual(Prefix.fromString(str(prefix.network.network_address)), prefix)
        self.assertEqual(prefix.network.prefixlen, 64)

    @relaxed
    @given(prefixes, addresses)
    def test_contains(self, prefix: Prefix, address: ipaddress.IPv6Address) -> None:
        """
        A prefix contains exactly the addresses whose upper half it is.
        """
        self.assertEqual(prefix.contains(address), Prefix.ofAddress(address) == prefix)
        inside = ipaddress.IPv6Address((prefix.value << 64) | (int(address) & ((1 << 64) - 1)))
        self.assertTrue(prefix.contains(inside))

    @relaxed
    @given(st.text(max_size=50))
    def test_anyText(self, text: str) -> None:
        """
        Arbitrary text parses or raises L{AddressError}.
        """
        with contextlib.suppress(AddressError):
            Prefix.fromString(text)


class LocatorPropertyTests(unittest.TestCase):
    """
    L{Locator} round trips.
    """

    @relaxed
    @given(locators)
    def test_forms(self, locator: Locator) -> None:
        """
        Bytes, text and address forms give the locator back.
        """
        self.assertEqual(Locator.fromBytes(locator.packed), locator)
        self.assertEqual(Locator.fromString(str(locator)), locator)
        self.assertEqual(Locator.fromAddress(locator.address), locator)
        self.assertEqual(locator.address.packed, locator.packed)

    @relaxed
    @given(locators)
    def test_reverseName(self, locator: Locator) -> None:
        """
        The reverse name holds the 32 nibbles in reverse order.
        """
        name = locator.reverseName()
        self.assertEqual(name, reverseName(locator.address))
        self.assertEqual(name, reverseName(str(locator.address)))
        self.assertEqual(name, reverseName(int(locator.address)))
        labels = name.split(".")
        self.assertEqual(labels[-2:], ["ip6", "arpa"])
        self.assertEqual("".join(reversed(labels[:-2])), locator.packed.hex())

    @relaxed
    @given(st.binary(max_size=20))
    def test_anyBytes(self, data: bytes) -> None:
        """
        Only 16 bytes make a locator; anything else raises L{AddressError}.
        """
        if len(data) == 16:
            self.assertEqual(Locator.fromBytes(data).packed, data)
        else:
            with self.assertRaises(AddressError):
                Locator.fromBytes(data)


class LIN6AddressPropertyTests(unittest.TestCase):
    """
    L{LIN6Address} and L{LIN6Space} round trips.
    """

    @relaxed
    @given(lin6Addresses())
    def test_parse(self, case: tuple[LIN6Space, LIN6Address]) -> None:
        """
        A valid LIN6 address parses back to itself.
        """
        space, address = case
        self.assertEqual(space.parse(str(address)), address)
        self.assertEqual(space.fromAddress(address.address), address)
        self.assertTrue(space.isNodeID(address.nodeID))

    @relaxed
    @given(lin6Addresses(), prefixes)
    def test_locatorMapping(self, case: tuple[LIN6Space, LIN6Address], current: Prefix) -> None:
        """
        Mapping to a locator and back gives the address again for a mobile
        node; a stationary node's LIN6 address is its locator.
        """
        space, address = case
        locator = space.toLocator(address, current)
        self.assertEqual(locator, address.locator(current))
        self.assertEqual(locator.nodeID, address.nodeID)
        self.assertEqual(locator.prefix, current)
        back = space.toLIN6(locator)
        if address.nodeID.isMobile:
            self.assertEqual(back, address)
            self.assertTrue(space.isLIN6Prefixed(address.address))
        else:
            self.assertEqual(back, LIN6Address(current, address.nodeID))

    @relaxed
    @given(spaces, serials, st.booleans())
    def test_nodeIDs(self, space: LIN6Space, serial: int, mobile: bool) -> None:
        """
        Built Node IDs carry the OUI, the mobile bit and the serial.
        """
        node = space.nodeID(serial, mobile)
        self.assertTrue(space.isNodeID(node))
        self.assertEqual(node.isMobile, mobile)
        self.assertEqual(node.value & ((1 << 40) - 1), serial)
        self.assertIs(space.checkNodeID(node), node)

    @relaxed
    @given(spaces)
    def test_spaceFromStrings(self, space: LIN6Space) -> None:
        """
        A space rebuilt from its text forms is equal.
        """
        self.assertEqual(LIN6Space.fromStrings(str(space.prefix), space.oui.hex(":")), space)

    @relaxed
    @given(spaces, nodeIDs)
    def test_foreignOUI(self, space: LIN6Space, node: NodeID) -> None:
        """
        A Node ID without the space's OUI is refused.
        """
        if space.isNodeID(node):
            return
        with self.assertRaises(OUIError):
            space.checkNodeID(node)
        with self.assertRaises(AddressError):
            space.address(node, space.prefix)

    @relaxed
    @given(st.text(max_size=60))
    def test_anyText(self, text: str) -> None:
        """
        Arbitrary text parses or raises L{AddressError}.
        """
        with contextlib.suppress(AddressError):
            DEFAULT_SPACE.parse(text)
        with contextlib.suppress(AddressError):
            parseIPv6(text)
