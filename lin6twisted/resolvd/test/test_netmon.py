"""
Tests for L{lin6twisted.resolvd.netmon}: choosing the attachment from a
kernel snapshot, and the fake monitor.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from lin6twisted.address import DEFAULT_SPACE, NodeID, Prefix
from lin6twisted.resolvd.interfaces import AddressState, IAddressMonitor, InterfaceAddress
from lin6twisted.resolvd.netmon import (
    Attachment,
    FakeAddressMonitor,
    NetlinkAddressMonitor,
    chooseAttachment,
    isTentative,
    ownLocatorAddresses,
)

SPACE = DEFAULT_SPACE
P1 = Prefix.fromString("2001:db8:a::/64")
P2 = Prefix.fromString("2001:db8:b::/64")
GW1 = IPv6Address("2001:db8:a::1")
GW2 = IPv6Address("2001:db8:b::1")


def addr(dev: str, text: str, **kw: object) -> InterfaceAddress:
    return InterfaceAddress(dev, IPv6Address(text), **kw)  # type: ignore[arg-type]


class ChooseAttachmentTests(SynchronousTestCase):
    """
    L{chooseAttachment} derives prefix, gateway and interface.
    """

    def test_defaultRouteInterface(self) -> None:
        """
        The prefix comes from the interface of the best default route.
        """
        state = AddressState(
            addresses=(addr("eth0", "2001:db8:a::5"), addr("eth1", "2001:db8:b::5")),
            defaultRoutes=((GW2, "eth1"), (GW1, "eth0")),
        )
        self.assertEqual(chooseAttachment(state, SPACE), Attachment(P2, GW2, "eth1"))

    def test_restrictedInterface(self) -> None:
        """
        With an interface configured, only its routes and addresses count.
        """
        state = AddressState(
            addresses=(addr("eth0", "2001:db8:a::5"), addr("eth1", "2001:db8:b::5")),
            defaultRoutes=((GW2, "eth1"), (GW1, "eth0")),
        )
        self.assertEqual(
            chooseAttachment(state, SPACE, interface="eth0"), Attachment(P1, GW1, "eth0")
        )

    def test_unusableAddressesIgnored(self) -> None:
        """
        Link-local, deprecated, tentative, LIN6-prefixed and longer-than-/64
        addresses give no prefix.
        """
        state = AddressState(
            addresses=(
                addr("eth0", "fe80::1"),
                addr("eth0", "2001:db8:a::5", deprecated=True),
                addr("eth0", "2001:db8:c::5", tentative=True),
                addr("eth0", "3ffe:501:1830:1999:201:4a00:0:2"),
                addr("eth0", "2001:db8:d::5", prefixLength=128),
            ),
            defaultRoutes=((GW1, "eth0"),),
        )
        self.assertIsNone(chooseAttachment(state, SPACE))

    def test_deprecatedOldPrefixDuringMove(self) -> None:
        """
        During a move the old prefix, now deprecated, gives way to the new.
        """
        state = AddressState(
            addresses=(
                addr("eth0", "2001:db8:a::5", deprecated=True),
                addr("eth0", "2001:db8:b::5"),
            ),
            defaultRoutes=((GW2, "eth0"),),
        )
        current = Attachment(P1, GW1, "eth0")
        self.assertEqual(chooseAttachment(state, SPACE, current), Attachment(P2, GW2, "eth0"))

    def test_currentPrefixKept(self) -> None:
        """
        An additional prefix does not move the node while its current one
        stays usable.
        """
        state = AddressState(
            addresses=(addr("eth0", "2001:db8:a::5"), addr("eth0", "2001:db8:0::5")),
            defaultRoutes=((GW1, "eth0"),),
        )
        current = Attachment(P1, GW1, "eth0")
        self.assertEqual(chooseAttachment(state, SPACE, current), current)
        self.assertEqual(
            chooseAttachment(state, SPACE).prefix,  # type: ignore[union-attr]
            Prefix.fromString("2001:db8::/64"),
        )

    def test_noDefaultRoute(self) -> None:
        """
        Without a default route any usable address is taken, on-link.
        """
        state = AddressState(addresses=(addr("eth0", "2001:db8:a::5"),))
        self.assertEqual(chooseAttachment(state, SPACE), Attachment(P1, None, "eth0"))

    def test_routeWithoutAddresses(self) -> None:
        """
        A default route through an interface without a usable address is
        skipped for the next one.
        """
        state = AddressState(
            addresses=(addr("eth1", "2001:db8:b::5"),),
            defaultRoutes=((GW1, "eth0"), (GW2, "eth1")),
        )
        self.assertEqual(chooseAttachment(state, SPACE), Attachment(P2, GW2, "eth1"))

    def test_ownLocatorsAreNotEvidence(self) -> None:
        """
        The node's own locator addresses (which it configured itself) do not
        keep a prefix alive: only the network's addresses count.
        """
        me = NodeID.fromString("201:4a00:0:2")
        state = AddressState(
            addresses=(addr("eth0", "2001:db8:a:0:201:4a00:0:2"), addr("eth0", "2001:db8:b::5")),
            defaultRoutes=((GW2, "eth0"),),
        )
        current = Attachment(P1, GW1, "eth0")
        self.assertEqual(
            chooseAttachment(state, SPACE, current, nodeID=me), Attachment(P2, GW2, "eth0")
        )
        self.assertEqual(chooseAttachment(state, SPACE, current), Attachment(P1, GW2, "eth0"))

    def test_ownLocatorAddresses(self) -> None:
        """
        L{ownLocatorAddresses} finds the addresses carrying the Node ID.
        """
        mine = addr("eth0", "2001:db8:a:0:201:4a00:0:2")
        state = AddressState(addresses=(mine, addr("eth0", "2001:db8:a::5")))
        self.assertEqual(ownLocatorAddresses(state, NodeID.fromString("201:4a00:0:2")), [mine])


class FlagTests(SynchronousTestCase):
    """
    L{isTentative} reads the kernel's C{IFA_F_*} flags.
    """

    def test_flags(self) -> None:
        """
        An address under DAD is tentative unless it is optimistic (the
        kernel reports optimistic addresses as tentative too: 0xc4 is
        permanent + tentative + optimistic); a settled one is not.
        """
        self.assertTrue(isTentative(0x40 | 0x80))
        self.assertFalse(isTentative(0xC4))
        self.assertFalse(isTentative(0x80))
        self.assertFalse(isTentative(0x04))


class MonitorTests(SynchronousTestCase):
    """
    The monitors provide L{IAddressMonitor}.
    """

    def test_fake(self) -> None:
        """
        L{FakeAddressMonitor} reports each new state to the watcher until
        stopped.
        """
        monitor = FakeAddressMonitor()
        self.assertTrue(verifyObject(IAddressMonitor, monitor))
        seen: list[AddressState] = []
        self.assertEqual(monitor.start(seen.append), AddressState())
        state = AddressState(addresses=(addr("eth0", "2001:db8:a::5"),))
        monitor.setState(state)
        monitor.stop()
        monitor.setState(AddressState())
        self.assertEqual(seen, [state])
        self.assertEqual(monitor.snapshot(), AddressState())

    def test_netlinkProvides(self) -> None:
        """
        L{NetlinkAddressMonitor} provides L{IAddressMonitor} (without
        opening any socket until started).
        """
        from twisted.internet.testing import MemoryReactorClock

        self.assertTrue(verifyObject(IAddressMonitor, NetlinkAddressMonitor(MemoryReactorClock())))
