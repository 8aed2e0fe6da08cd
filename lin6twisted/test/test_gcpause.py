"""
Tests for L{lin6twisted._gcpause}.
"""

from __future__ import annotations

import gc

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted._gcpause import CollectorPause


class FakeCollector:
    """
    Stands in for the C{gc} module's switch.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.switches = 0

    def isEnabled(self) -> bool:
        return self.enabled

    def enable(self) -> None:
        self.enabled = True
        self.switches += 1

    def disable(self) -> None:
        self.enabled = False
        self.switches += 1


def pause(collector: FakeCollector, clock: Clock, limit: float = 30.0) -> CollectorPause:
    return CollectorPause(
        clock,
        limit,
        isEnabled=collector.isEnabled,
        enable=collector.enable,
        disable=collector.disable,
    )


class CollectorPauseTests(SynchronousTestCase):
    """
    L{CollectorPause} keeps the collector off while anything holds it.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.gc = FakeCollector()
        self.pause = pause(self.gc, self.clock)

    def test_lastReleaseEnables(self) -> None:
        """
        Two holders: the collector runs again only when both have let go;
        releasing twice or releasing a stranger changes nothing.
        """
        self.pause.hold("ls1")
        self.pause.hold("ls2")
        self.assertEqual((self.gc.enabled, self.pause.paused), (False, True))
        self.pause.release("ls1")
        self.pause.release("ls1")
        self.pause.release("stranger")
        self.assertFalse(self.gc.enabled)
        self.pause.release("ls2")
        self.assertEqual((self.gc.enabled, self.pause.paused), (True, False))
        self.assertEqual(self.gc.switches, 2)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_limit(self) -> None:
        """
        After C{limit} seconds the collector runs whatever still holds it;
        a later release changes nothing and a new hold pauses it again.
        """
        self.pause.hold("ls1")
        self.clock.advance(29.9)
        self.assertFalse(self.gc.enabled)
        self.clock.advance(0.1)
        self.assertTrue(self.gc.enabled)
        self.pause.release("ls1")
        self.assertEqual(self.gc.switches, 2)
        self.pause.hold("ls2")
        self.assertFalse(self.gc.enabled)

    def test_notOurs(self) -> None:
        """
        A collector that someone else disabled stays disabled after the
        pause ends.
        """
        self.gc.enabled = False
        self.pause.hold("ls1")
        self.pause.release("ls1")
        self.assertEqual((self.gc.enabled, self.gc.switches), (False, 0))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_releaseAll(self) -> None:
        """
        L{CollectorPause.releaseAll} ends the pause and cancels the limit.
        """
        self.pause.hold("ls1")
        self.pause.hold("ls2")
        self.pause.releaseAll()
        self.assertTrue(self.gc.enabled)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_realCollector(self) -> None:
        """
        By default it switches Python's collector.
        """
        if not gc.isenabled():
            raise self.skipTest("the collector is off in this process")
        real = CollectorPause(Clock())
        real.hold("x")
        try:
            self.assertFalse(gc.isenabled())
        finally:
            real.release("x")
        self.assertTrue(gc.isenabled())
