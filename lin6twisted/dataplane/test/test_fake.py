"""
Tests for L{lin6twisted.dataplane.fake}.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from lin6twisted.address import DEFAULT_SPACE, Locator, NodeID, Prefix
from lin6twisted.dataplane import COUNTER_NAMES, DataplaneError, FakeDataplane, IDataplane

PEER = DEFAULT_SPACE.nodeID(2, mobile=True)
ME = DEFAULT_SPACE.nodeID(1, mobile=True)
P1 = Prefix.fromString("2001:db8:1::/64")
P2 = Prefix.fromString("2001:db8:2::/64")


class FakeDataplaneTests(SynchronousTestCase):
    """
    L{FakeDataplane} behaves like a dataplane, in memory.
    """

    def test_interface(self) -> None:
        """
        It provides L{IDataplane}.
        """
        self.assertTrue(verifyObject(IDataplane, FakeDataplane()))

    def test_startStop(self) -> None:
        """
        L{start} and L{stop} toggle C{running}.
        """
        dp = FakeDataplane()
        dp.start()
        self.assertTrue(dp.running)
        dp.stop()
        self.assertFalse(dp.running)

    def test_mappings(self) -> None:
        """
        Installed mappings are listed, replaced and removed.
        """
        dp = FakeDataplane()
        dp.installMapping(PEER, Locator(P1, PEER))
        dp.installMapping(PEER, Locator(P2, PEER), previous=Locator(P1, PEER))
        self.assertEqual(dp.mappings(), {PEER: Locator(P2, PEER)})
        self.assertEqual(dp.previous, {PEER: Locator(P1, PEER)})
        dp.removeMapping(PEER)
        dp.removeMapping(PEER)
        self.assertEqual(dp.mappings(), {})

    def test_wrongNodeID(self) -> None:
        """
        A locator that does not carry the Node ID is refused.
        """
        dp = FakeDataplane()
        self.assertRaises(DataplaneError, dp.installMapping, PEER, Locator(P1, ME))
        self.assertRaises(
            DataplaneError, dp.installMapping, PEER, Locator(P1, PEER), Locator(P1, ME)
        )

    def test_full(self) -> None:
        """
        Beyond its capacity the table refuses new Node IDs but accepts updates.
        """
        dp = FakeDataplane(capacity=1)
        dp.installMapping(PEER, Locator(P1, PEER))
        dp.installMapping(PEER, Locator(P2, PEER))
        self.assertRaises(DataplaneError, dp.installMapping, ME, Locator(P1, ME))

    def test_ownLocator(self) -> None:
        """
        L{setOwnLocator} records each attachment; a mismatched Node ID is refused.
        """
        dp = FakeDataplane()
        lin6 = DEFAULT_SPACE.address(ME)
        dp.setOwnLocator(lin6, Locator(P1, ME), IPv6Address("2001:db8:1::1"), "eth0")
        dp.setOwnLocator(lin6, Locator(P2, ME), None, "eth1")
        assert dp.own is not None
        self.assertEqual(dp.own.locator, Locator(P2, ME))
        self.assertEqual(len(dp.moves), 2)
        self.assertRaises(DataplaneError, dp.setOwnLocator, lin6, Locator(P1, PEER), None, "e")

    def test_miss(self) -> None:
        """
        A simulated miss is counted, reported and held until the mapping comes.
        """
        dp = FakeDataplane()
        seen: list[NodeID] = []
        dp.setMissHandler(seen.append)
        dp.simulateMiss(PEER)
        dp.simulateMiss(PEER, egress=False)
        self.assertEqual(seen, [PEER, PEER])
        self.assertEqual(dp.held, {PEER: 2})
        counters = dp.counters()
        self.assertEqual(set(counters), set(COUNTER_NAMES))
        self.assertEqual((counters["egress_missed"], counters["ingress_missed"]), (1, 1))
        dp.installMapping(PEER, Locator(P1, PEER))
        self.assertEqual((dp.held, dp.released), ({}, {PEER: 2}))
        self.assertEqual(dp.counters()["held_released"], 2)
        dp.setMissHandler(None)
        dp.simulateMiss(ME)
        self.assertEqual(seen, [PEER, PEER])
        dp.removeMapping(ME)
        self.assertEqual((dp.held, dp.counters()["held_dropped"]), ({}, 1))
