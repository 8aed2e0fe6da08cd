"""
Tests for L{lin6twisted.address}: the DESIGN.md section 1 examples are the
test vectors.
"""

from __future__ import annotations

import ipaddress

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import (
    DEFAULT_SPACE,
    AddressError,
    LIN6Address,
    LIN6AddressError,
    LIN6Space,
    Locator,
    NodeID,
    NodeIDError,
    OUIError,
    Prefix,
    PrefixError,
    reverseName,
)

MOBILE = "3ffe:501:1830:1999:201:4a00::2"
STATIONARY = "3ffe:501:808:4001:1:4a00::1"


class DesignVectorTests(SynchronousTestCase):
    """
    The examples of DESIGN.md section 1 parse and print as documented.
    """

    def test_mobileAddress(self) -> None:
        """
        The mobile example has the LIN6 prefix and a Node ID starting
        C{02:01:4a} with the global bit set.
        """
        a = DEFAULT_SPACE.parse(MOBILE)
        self.assertEqual(a.prefix, Prefix.fromString("3ffe:501:1830:1999::/64"))
        self.assertEqual(a.nodeID.asEUI64(), "02:01:4a:00:00:00:00:02")
        self.assertTrue(a.nodeID.isMobile)
        self.assertEqual(a.nodeID.oui, b"\x00\x01\x4a")
        self.assertEqual(str(a), "3ffe:501:1830:1999:201:4a00:0:2")
        self.assertEqual(str(a.nodeID), "201:4a00:0:2")

    def test_stationaryAddress(self) -> None:
        """
        The stationary example keeps its routable prefix and has the global
        bit clear; its LIN6 address is its locator.
        """
        a = DEFAULT_SPACE.parse(STATIONARY)
        self.assertFalse(a.nodeID.isMobile)
        self.assertEqual(a.nodeID.asEUI64(), "00:01:4a:00:00:00:00:01")
        self.assertEqual(str(a.prefix), "3ffe:501:808:4001::/64")
        self.assertEqual(DEFAULT_SPACE.toLIN6(Locator.fromString(STATIONARY)), a)

    def test_mobileLocatorRoundTrip(self) -> None:
        """
        A mobile node's address maps to a locator on its current prefix
        and back.
        """
        a = DEFAULT_SPACE.parse(MOBILE)
        here = Prefix.fromString("2001:db8:5:6::/64")
        loc = DEFAULT_SPACE.toLocator(a, here)
        self.assertEqual(str(loc), "2001:db8:5:6:201:4a00:0:2")
        self.assertEqual(DEFAULT_SPACE.toLIN6(loc), a)
        self.assertEqual(a.locator(here), loc)

    def test_reverseName(self) -> None:
        """
        The C{ip6.arpa} name is nibble-reversed.
        """
        a = DEFAULT_SPACE.parse(MOBILE)
        expected = "2.0.0.0.0.0.0.0.0.0.a.4.1.0.2.0.9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa"
        self.assertEqual(a.reverseName(), expected)
        self.assertEqual(reverseName(MOBILE), expected)
        self.assertEqual(reverseName(int(ipaddress.IPv6Address(MOBILE))), expected)


class NodeIDTests(SynchronousTestCase):
    """
    Parsing, printing and validation of L{NodeID}.
    """

    def test_forms(self) -> None:
        """
        The four-group, eight-octet, dashed and plain forms are equal.
        """
        forms = ["201:4a00:0:2", "02:01:4a:00:00:00:00:02", "02-01-4a-00-00-00-00-02",
                 "02014a0000000002", "0201:4A00:0000:0002"]  # fmt: skip
        ids = {NodeID.fromString(f) for f in forms}
        self.assertEqual(ids, {NodeID(0x02014A0000000002)})

    def test_bytes(self) -> None:
        """
        C{packed} and C{fromBytes} are inverses.
        """
        n = NodeID.fromString("201:4a00:0:2")
        self.assertEqual(n.packed, bytes.fromhex("02014a0000000002"))
        self.assertEqual(NodeID.fromBytes(n.packed), n)

    def test_malformed(self) -> None:
        """
        Every malformed input raises L{NodeIDError}, an L{AddressError}.
        """
        for bad in ["", "1:2:3", "1:2:3:4:5", "xyz", "02:01:4a:00:00:00:00", "0201:4a00::2",
                    "g2014a0000000002", "12345:0:0:0"]:  # fmt: skip
            self.assertRaises(NodeIDError, NodeID.fromString, bad)
        self.assertRaises(NodeIDError, NodeID, -1)
        self.assertRaises(NodeIDError, NodeID, 1 << 64)
        self.assertRaises(NodeIDError, NodeID.fromBytes, b"\x00" * 7)
        self.assertRaises(NodeIDError, NodeID, True)
        self.assertTrue(issubclass(NodeIDError, AddressError))

    def test_immutableHashable(self) -> None:
        """
        Node IDs are hashable values and cannot be changed.
        """
        n = NodeID(5)
        self.assertEqual({n: 1}[NodeID(5)], 1)
        with self.assertRaises(AttributeError):
            n.value = 6  # type: ignore[misc]


class PrefixTests(SynchronousTestCase):
    """
    Parsing and validation of L{Prefix}.
    """

    def test_forms(self) -> None:
        """
        With and without C{/64}, with and without C{::}.
        """
        p = Prefix.fromString("3ffe:501:1830:1999::/64")
        self.assertEqual(Prefix.fromString("3ffe:501:1830:1999::"), p)
        self.assertEqual(Prefix.fromString("3ffe:501:1830:1999"), p)
        self.assertEqual(str(p), "3ffe:501:1830:1999::/64")
        self.assertEqual(p.network, ipaddress.IPv6Network("3ffe:501:1830:1999::/64"))
        self.assertTrue(p.contains(ipaddress.IPv6Address(MOBILE)))

    def test_malformed(self) -> None:
        """
        Other lengths, host bits and garbage raise L{PrefixError}.
        """
        for bad in ["3ffe::/48", "3ffe:501:1830:1999::1/64", "3ffe:501:1830:1999::1",
                    "nope", "3ffe:501:1830:1999::/", "10.0.0.0/64"]:  # fmt: skip
            self.assertRaises(PrefixError, Prefix.fromString, bad)


class SpaceTests(SynchronousTestCase):
    """
    L{LIN6Space} holds the deployment's prefix and OUI.
    """

    def test_notLIN6(self) -> None:
        """
        An address whose Node ID lacks the OUI is refused.
        """
        self.assertRaises(LIN6AddressError, DEFAULT_SPACE.parse, "2001:db8::1")
        self.assertRaises(AddressError, DEFAULT_SPACE.parse, "not-an-address")

    def test_mobileNeedsLIN6Prefix(self) -> None:
        """
        A mobile Node ID with a routable prefix is a locator, not a LIN6
        address.
        """
        self.assertRaises(LIN6AddressError, DEFAULT_SPACE.parse, "2001:db8:1:2:201:4a00:0:2")
        n = NodeID.fromString("201:4a00:0:2")
        self.assertRaises(
            LIN6AddressError, DEFAULT_SPACE.address, n, Prefix.fromString("2001:db8::/64")
        )

    def test_stationaryNeedsPrefix(self) -> None:
        """
        A stationary node's LIN6 address needs its routable prefix.
        """
        self.assertRaises(LIN6AddressError, DEFAULT_SPACE.address, NodeID(0x00014A0000000001))

    def test_customSpace(self) -> None:
        """
        Another organisation's prefix and OUI work the same way.
        """
        space = LIN6Space.fromStrings("2001:db8:ffff:1::/64", "00:aa:bb")
        n = space.nodeID(7, mobile=True)
        self.assertEqual(n.asEUI64(), "02:aa:bb:00:00:00:00:07")
        a = space.address(n)
        self.assertEqual(str(a), "2001:db8:ffff:1:2aa:bb00:0:7")
        self.assertRaises(OUIError, DEFAULT_SPACE.checkNodeID, n)
        self.assertRaises(OUIError, LIN6Space.fromStrings, "2001:db8::/64", "02:aa:bb")
        self.assertRaises(OUIError, LIN6Space.fromStrings, "2001:db8::/64", "zz:aa:bb")
        self.assertRaises(NodeIDError, space.nodeID, 1 << 40, mobile=False)

    def test_typesDiffer(self) -> None:
        """
        A locator and a LIN6 address with the same bits are different values.
        """
        a = DEFAULT_SPACE.parse(STATIONARY)
        loc = Locator.fromString(STATIONARY)
        self.assertNotEqual(a, loc)
        self.assertEqual(a.address, loc.address)
        self.assertIsInstance(a, LIN6Address)
        self.assertEqual(Locator.fromBytes(loc.packed), loc)
        self.assertRaises(AddressError, Locator.fromBytes, b"\x00" * 15)
