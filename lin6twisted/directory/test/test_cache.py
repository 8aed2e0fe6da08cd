"""
Tests for L{lin6twisted.directory.cache}.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from lin6twisted.address import NodeID
from lin6twisted.directory import (
    BadDirectoryEntry,
    DirectoryUnavailable,
    FakeDirectory,
    IDirectory,
    ServiceLevel,
    Subscriber,
)
from lin6twisted.directory.cache import CachingDirectory

MN = NodeID.fromString("201:4a00:0:2")
OTHER = NodeID.fromString("201:4a00:0:3")
UNKNOWN = NodeID.fromString("201:4a00:0:99")


def subscriber(nodeID: NodeID = MN, level: ServiceLevel = ServiceLevel.NORMAL) -> Subscriber:
    return Subscriber(nodeID=nodeID, level=level, keyID=1, key=b"k" * 32, enabled=True)


@implementer(IDirectory)
class SlowDirectory:
    """
    A directory whose lookups stay pending until the test fires them.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[NodeID, Deferred[Subscriber | None]]] = []

    def lookup(self, nodeID: NodeID) -> Deferred[Subscriber | None]:
        d: Deferred[Subscriber | None] = Deferred()
        self.pending.append((nodeID, d))
        return d


class CachingDirectoryTests(SynchronousTestCase):
    """
    L{CachingDirectory} caches positive and negative answers with their
    TTLs, coalesces concurrent lookups and rides out short outages.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.backend = FakeDirectory([subscriber(), subscriber(OTHER, ServiceLevel.PREMIUM)])
        self.cache = CachingDirectory(
            self.backend, self.clock, ttl=60, negativeTTL=10, staleGrace=30
        )

    def test_interface(self) -> None:
        """
        It provides L{IDirectory}.
        """
        self.assertTrue(verifyObject(IDirectory, self.cache))

    def test_positiveTTL(self) -> None:
        """
        A found subscriber is answered from the cache until C{ttl} passes,
        then fetched again.
        """
        self.assertEqual(self.successResultOf(self.cache.lookup(MN)), subscriber())
        self.clock.advance(59.9)
        self.assertEqual(self.successResultOf(self.cache.lookup(MN)), subscriber())
        self.assertEqual(self.backend.lookups, [MN])
        self.clock.advance(0.1)
        self.successResultOf(self.cache.lookup(MN))
        self.assertEqual(self.backend.lookups, [MN, MN])
        self.assertEqual((self.cache.stats.hits, self.cache.stats.misses), (1, 2))

    def test_changeSeenAfterTTL(self) -> None:
        """
        A change in the backend shows after the TTL, not before.
        """
        self.successResultOf(self.cache.lookup(MN))
        changed = Subscriber(MN, ServiceLevel.PREMIUM, 2, b"n" * 32, False)
        self.backend.add(changed)
        self.assertEqual(self.successResultOf(self.cache.lookup(MN)), subscriber())
        self.clock.advance(60)
        self.assertEqual(self.successResultOf(self.cache.lookup(MN)), changed)

    def test_negativeTTL(self) -> None:
        """
        An unknown Node ID is cached as C{None} for C{negativeTTL}.
        """
        self.assertIsNone(self.successResultOf(self.cache.lookup(UNKNOWN)))
        self.clock.advance(9)
        self.assertIsNone(self.successResultOf(self.cache.lookup(UNKNOWN)))
        self.assertEqual(self.backend.lookups, [UNKNOWN])
        self.backend.add(subscriber(UNKNOWN))
        self.clock.advance(1)
        self.assertEqual(self.successResultOf(self.cache.lookup(UNKNOWN)), subscriber(UNKNOWN))

    def test_badEntryCachedNegatively(self) -> None:
        """
        A L{BadDirectoryEntry} is cached for C{negativeTTL} and answered as
        the same failure.
        """
        self.backend.bad.add(MN)
        self.failureResultOf(self.cache.lookup(MN), BadDirectoryEntry)
        self.failureResultOf(self.cache.lookup(MN), BadDirectoryEntry)
        self.assertEqual(self.backend.lookups, [MN])
        self.backend.bad.clear()
        self.clock.advance(10)
        self.assertEqual(self.successResultOf(self.cache.lookup(MN)), subscriber())

    def test_coalesced(self) -> None:
        """
        Concurrent lookups of one Node ID send one backend request and all
        get its answer; another Node ID gets its own request.
        """
        slow = SlowDirectory()
        cache = CachingDirectory(slow, self.clock)
        waiting = [cache.lookup(MN) for _ in range(5)]
        other = cache.lookup(OTHER)
        self.assertEqual([n for n, _ in slow.pending], [MN, OTHER])
        for d in [*waiting, other]:
            self.assertNoResult(d)
        slow.pending[0][1].callback(subscriber())
        for d in waiting:
            self.assertEqual(self.successResultOf(d), subscriber())
        self.assertNoResult(other)
        self.assertEqual(cache.stats.coalesced, 4)
        # Answered from the cache now.
        self.successResultOf(cache.lookup(MN))
        self.assertEqual(len(slow.pending), 2)

    def test_coalescedFailure(self) -> None:
        """
        A backend failure reaches every coalesced waiter and is not cached.
        """
        slow = SlowDirectory()
        cache = CachingDirectory(slow, self.clock)
        waiting = [cache.lookup(MN) for _ in range(3)]
        slow.pending[0][1].errback(DirectoryUnavailable("down"))
        for d in waiting:
            self.failureResultOf(d, DirectoryUnavailable)
        self.assertNoResult(cache.lookup(MN))
        self.assertEqual(len(slow.pending), 2)

    def test_cancelledWaiterDoesNotCancelFetch(self) -> None:
        """
        A caller cancelling its lookup leaves the shared request alone.
        """
        slow = SlowDirectory()
        cache = CachingDirectory(slow, self.clock)
        first = cache.lookup(MN)
        second = cache.lookup(MN)
        first.cancel()
        self.failureResultOf(first)
        slow.pending[0][1].callback(subscriber())
        self.assertEqual(self.successResultOf(second), subscriber())

    def test_outageFreshEntry(self) -> None:
        """
        During an outage, fresh entries are still answered from the cache.
        """
        self.successResultOf(self.cache.lookup(MN))
        self.backend.down = True
        self.clock.advance(30)
        self.assertEqual(self.successResultOf(self.cache.lookup(MN)), subscriber())

    def test_outageStaleWithinGrace(self) -> None:
        """
        During an outage, an entry that expired less than C{staleGrace} ago
        is answered; after the grace the lookup fails with
        L{DirectoryUnavailable}.
        """
        self.successResultOf(self.cache.lookup(MN))
        self.backend.down = True
        self.clock.advance(60 + 29.9)
        self.assertEqual(self.successResultOf(self.cache.lookup(MN)), subscriber())
        self.assertEqual(self.cache.stats.stale, 1)
        self.clock.advance(0.1)
        self.failureResultOf(self.cache.lookup(MN), DirectoryUnavailable)
        self.assertEqual(self.cache.stats.unavailable, 1)

    def test_outageDoesNotExtendGrace(self) -> None:
        """
        Answering a stale entry does not refresh it: the grace counts from
        the original expiry.
        """
        self.successResultOf(self.cache.lookup(MN))
        self.backend.down = True
        for step in (60, 15, 14.9):
            self.clock.advance(step)
            self.successResultOf(self.cache.lookup(MN))
        self.clock.advance(0.1)
        self.failureResultOf(self.cache.lookup(MN), DirectoryUnavailable)

    def test_outageUnknownNode(self) -> None:
        """
        During an outage, a Node ID never looked up fails with
        L{DirectoryUnavailable} (new registrations fail clearly).
        """
        self.backend.down = True
        f = self.failureResultOf(self.cache.lookup(MN), DirectoryUnavailable)
        self.assertIn("down", str(f.value))

    def test_outageNegativeWithinGrace(self) -> None:
        """
        A cached "unknown" is also answered within the grace.
        """
        self.assertIsNone(self.successResultOf(self.cache.lookup(UNKNOWN)))
        self.backend.down = True
        self.clock.advance(10 + 29)
        self.assertIsNone(self.successResultOf(self.cache.lookup(UNKNOWN)))
        self.clock.advance(1)
        self.failureResultOf(self.cache.lookup(UNKNOWN), DirectoryUnavailable)

    def test_noGrace(self) -> None:
        """
        With C{staleGrace=0} an expired entry is never answered.
        """
        cache = CachingDirectory(self.backend, self.clock, ttl=5, staleGrace=0)
        self.successResultOf(cache.lookup(MN))
        self.backend.down = True
        self.clock.advance(5)
        self.failureResultOf(cache.lookup(MN), DirectoryUnavailable)

    def test_recoveryRefreshes(self) -> None:
        """
        When the backend is back, the next lookup refreshes the entry.
        """
        self.successResultOf(self.cache.lookup(MN))
        self.backend.down = True
        self.clock.advance(70)
        self.successResultOf(self.cache.lookup(MN))
        self.backend.down = False
        self.successResultOf(self.cache.lookup(MN))
        self.backend.down = True
        self.clock.advance(59)
        self.successResultOf(self.cache.lookup(MN))

    def test_otherFailuresPassedOn(self) -> None:
        """
        A failure other than the directory errors reaches the caller and is
        not cached.
        """
        slow = SlowDirectory()
        cache = CachingDirectory(slow, self.clock)
        d = cache.lookup(MN)
        slow.pending[0][1].errback(ZeroDivisionError())
        self.failureResultOf(d, ZeroDivisionError)
        self.assertEqual(len(cache), 0)

    def test_invalidate(self) -> None:
        """
        C{invalidate} and C{clear} make the next lookup ask the backend.
        """
        self.successResultOf(self.cache.lookup(MN))
        self.cache.invalidate(MN)
        self.successResultOf(self.cache.lookup(MN))
        self.cache.clear()
        self.successResultOf(self.cache.lookup(MN))
        self.assertEqual(self.backend.lookups, [MN, MN, MN])

    def test_boundedSize(self) -> None:
        """
        The cache never holds more than C{maxEntries}; the oldest go first.
        """
        backend = FakeDirectory()
        cache = CachingDirectory(backend, self.clock, maxEntries=10)
        ids = [NodeID(0x02014A0000000000 + i) for i in range(25)]
        for nodeID in ids:
            self.successResultOf(cache.lookup(nodeID))
        self.assertLessEqual(len(cache), 10)
        backend.lookups.clear()
        self.successResultOf(cache.lookup(ids[-1]))
        self.assertEqual(backend.lookups, [])

    def test_sweepDropsDead(self) -> None:
        """
        Entries past expiry and grace are swept out.
        """
        backend = FakeDirectory()
        cache = CachingDirectory(backend, self.clock, negativeTTL=1, staleGrace=1, maxEntries=5)
        for i in range(5):
            self.successResultOf(cache.lookup(NodeID(0x02014A0000000000 + i)))
        self.clock.advance(3)
        self.successResultOf(cache.lookup(NodeID(0x02014A0000000100)))
        self.assertEqual(len(cache), 1)

    def test_badArguments(self) -> None:
        """
        Negative durations and an empty bound are refused.
        """
        self.assertRaises(ValueError, CachingDirectory, self.backend, self.clock, ttl=-1)
        self.assertRaises(ValueError, CachingDirectory, self.backend, self.clock, maxEntries=0)
