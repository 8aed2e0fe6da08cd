"""
Tests for L{lin6twisted.ma.bandwidth} without a kernel (the kernel is in
L{lin6twisted.ma.test.test_integration_bandwidth}).
"""

from __future__ import annotations

from typing import Any

from pyroute2.netlink.exceptions import NetlinkError
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from lin6twisted.directory import ServiceLevel
from lin6twisted.ma.bandwidth import (
    ClassPlan,
    HTBShaper,
    IShaper,
    NullShaper,
    ShaperError,
    ShaperSettings,
    nodeIDKeys,
)
from lin6twisted.ma.test.helpers import MN1, MN2, MN3

SETTINGS = ShaperSettings(
    "eth0", {ServiceLevel.NORMAL: 2_000_000, ServiceLevel.PREMIUM: 6_000_000}
)


class FakeIPRoute:
    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail = fail or set()
        self.closed = False

    def link_lookup(self, ifname: str) -> list[int]:
        return [7] if ifname == "eth0" else []

    def tc(self, command: str, kind: str | None = None, **kw: Any) -> None:
        self.calls.append((command, kind, kw))
        if command in self.fail:
            raise NetlinkError(22, "Invalid argument")

    def close(self) -> None:
        self.closed = True


class KeysTests(SynchronousTestCase):
    def test_nodeIDKeys(self) -> None:
        """
        The u32 keys match the two 32-bit words of the destination's lower
        half: bytes 32..35 and 36..39 of the IPv6 header.
        """
        self.assertEqual(nodeIDKeys(MN1), ["0x02014a00/0xffffffff+32", "0x00000001/0xffffffff+36"])


class ClassPlanTests(SynchronousTestCase):
    def test_allocate(self) -> None:
        """
        Minors start at 0x10, are stable per node, and are reused lowest
        first after release.
        """
        plan = ClassPlan()
        self.assertEqual(plan.allocate(MN1, ServiceLevel.NORMAL), 0x10)
        self.assertEqual(plan.allocate(MN2, ServiceLevel.NORMAL), 0x11)
        self.assertEqual(plan.allocate(MN1, ServiceLevel.PREMIUM), 0x10)
        self.assertEqual(plan.get(MN1), (0x10, ServiceLevel.PREMIUM))
        self.assertEqual(plan.release(MN1), 0x10)
        self.assertIsNone(plan.release(MN1))
        self.assertEqual(plan.allocate(MN3, ServiceLevel.NORMAL), 0x10)

    def test_exhausted(self) -> None:
        plan = ClassPlan(next=0xFFFF)
        plan.allocate(MN1, ServiceLevel.NORMAL)
        self.assertRaises(ShaperError, plan.allocate, MN2, ServiceLevel.NORMAL)


class ShaperTests(SynchronousTestCase):
    def test_interfaces(self) -> None:
        self.assertTrue(verifyObject(IShaper, NullShaper()))
        self.assertTrue(verifyObject(IShaper, HTBShaper(SETTINGS, iproute=FakeIPRoute())))

    def test_calls(self) -> None:
        """
        Start builds the root; install adds class, leaf and filter once
        (a level change changes the class); remove deletes filter and class.
        """
        ipr = FakeIPRoute()
        shaper = HTBShaper(SETTINGS, iproute=ipr)
        shaper.start()
        self.assertEqual([c[0] for c in ipr.calls], ["del", "add", "add-class"])
        ipr.calls.clear()
        shaper.install(MN1, ServiceLevel.NORMAL)
        shaper.install(MN1, ServiceLevel.NORMAL)
        self.assertEqual([c[0] for c in ipr.calls], ["add-class", "add", "add-filter"])
        self.assertEqual(ipr.calls[0][2]["rate"], "2000000bit")
        self.assertEqual(ipr.calls[2][2]["keys"], nodeIDKeys(MN1))
        self.assertEqual(ipr.calls[2][2]["prio"], 0x10)
        ipr.calls.clear()
        shaper.install(MN1, ServiceLevel.PREMIUM)
        self.assertEqual(
            [(c[0], c[2]["rate"]) for c in ipr.calls], [("change-class", "6000000bit")]
        )
        ipr.calls.clear()
        shaper.remove(MN1)
        self.assertEqual([c[0] for c in ipr.calls], ["del-filter", "del-class"])
        self.assertEqual(shaper.classes(), {})
        shaper.stop()
        self.assertTrue(ipr.closed)

    def test_kernelRefuses(self) -> None:
        """
        A refused change is a L{ShaperError} and leaves no class behind.
        """
        ipr = FakeIPRoute(fail={"add-filter"})
        shaper = HTBShaper(SETTINGS, iproute=ipr)
        shaper.start()
        self.assertRaises(ShaperError, shaper.install, MN1, ServiceLevel.NORMAL)
        self.assertEqual(shaper.classes(), {})
        self.assertEqual([c[0] for c in ipr.calls][-2:], ["del-filter", "del-class"])

    def test_noInterface(self) -> None:
        shaper = HTBShaper(ShaperSettings("nope0", SETTINGS.rates), iproute=FakeIPRoute())
        self.assertRaises(ShaperError, shaper.start)
