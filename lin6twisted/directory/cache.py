# -*- test-case-name: lin6twisted.directory.test.test_cache -*-
"""
A caching L{IDirectory} in front of another one.

Rules (times from the injected clock):

  - A subscriber found is cached for C{ttl} seconds; an unknown Node ID
    (C{None}) or a malformed entry (L{BadDirectoryEntry}) for
    C{negativeTTL} seconds.  A fresh entry is answered without asking the
    backend.
  - Lookups of the same Node ID while one is outstanding share its answer:
    the backend sees one request however many callers wait.
  - When the backend fails with L{DirectoryUnavailable}, an entry that
    expired less than C{staleGrace} seconds ago is answered instead (and a
    warning logged), so nodes that were just seen keep being served during a
    short outage; otherwise the lookup fails with L{DirectoryUnavailable}.
    A failed refresh never removes or shortens the cached entry.  With
    C{staleGrace=0} nothing stale is ever answered.
  - Entries past expiry plus grace are swept out; the cache holds at most
    C{maxEntries} (the oldest go first).
  - Other failures of the backend are passed on, not cached.
"""

from __future__ import annotations

from typing import Final

from attrs import define, field
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted.address import NodeID
from lin6twisted.directory.interfaces import (
    BadDirectoryEntry,
    DirectoryUnavailable,
    IDirectory,
    Subscriber,
)

__all__ = ["CacheStats", "CachingDirectory"]

log = Logger()

_Outcome = Subscriber | None | BadDirectoryEntry
_SWEEP_EVERY: Final = 1024


@define
class CacheStats:
    """
    Counters of a L{CachingDirectory}, for status pages and metrics.

    @ivar hits: lookups answered from a fresh entry.
    @ivar misses: lookups that asked the backend.
    @ivar coalesced: lookups that joined an outstanding backend request.
    @ivar stale: lookups answered from an expired entry during an outage.
    @ivar unavailable: lookups failed with L{DirectoryUnavailable}.
    """

    hits: int = 0
    misses: int = 0
    coalesced: int = 0
    stale: int = 0
    unavailable: int = 0


@define
class _Entry:
    outcome: _Outcome
    expires: float
    graceEnds: float


@implementer(IDirectory)
@define
class CachingDirectory:
    """
    Caches the answers of C{wrapped} (see the module docstring for the rules).

    @ivar wrapped: the backend.
    @ivar clock: time source.
    @ivar ttl: seconds a found subscriber is cached.
    @ivar negativeTTL: seconds an unknown or malformed entry is cached.
    @ivar staleGrace: seconds after expiry an entry may still be answered
        while the backend is unavailable.
    @ivar maxEntries: bound on the number of cached Node IDs.
    """

    wrapped: IDirectory
    clock: IReactorTime
    ttl: float = 60.0
    negativeTTL: float = 10.0
    staleGrace: float = 300.0
    maxEntries: int = 100_000
    stats: CacheStats = field(factory=CacheStats)
    _entries: dict[NodeID, _Entry] = field(factory=dict, init=False)
    _inflight: dict[NodeID, list[Deferred[Subscriber | None]]] = field(factory=dict, init=False)
    _inserts: int = field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        for name in ("ttl", "negativeTTL", "staleGrace"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.maxEntries < 1:
            raise ValueError("maxEntries must be >= 1")

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, nodeID: NodeID) -> Deferred[Subscriber | None]:
        now = self.clock.seconds()
        entry = self._entries.get(nodeID)
        if entry is not None and now < entry.expires:
            self.stats.hits += 1
            return self._answer(entry.outcome)
        waiter: Deferred[Subscriber | None] = Deferred()
        waiters = self._inflight.get(nodeID)
        if waiters is not None:
            self.stats.coalesced += 1
            waiters.append(waiter)
            return waiter
        self.stats.misses += 1
        self._inflight[nodeID] = [waiter]
        maybeDeferred(self.wrapped.lookup, nodeID).addBoth(self._fetched, nodeID)
        return waiter

    def invalidate(self, nodeID: NodeID) -> None:
        """
        Forget the entry of C{nodeID} (the next lookup asks the backend).
        """
        self._entries.pop(nodeID, None)

    def clear(self) -> None:
        """
        Forget every entry.
        """
        self._entries.clear()

    @staticmethod
    def _answer(outcome: _Outcome) -> Deferred[Subscriber | None]:
        if isinstance(outcome, BadDirectoryEntry):
            return fail(outcome)
        return succeed(outcome)

    def _fetched(self, result: Subscriber | Failure | None, nodeID: NodeID) -> None:
        waiters = self._inflight.pop(nodeID, [])
        now = self.clock.seconds()
        answer: Subscriber | Failure | BadDirectoryEntry | None = result
        if isinstance(result, Failure):
            error = result.value
            if isinstance(error, BadDirectoryEntry):
                self._store(nodeID, error, now)
            elif isinstance(error, DirectoryUnavailable):
                entry = self._entries.get(nodeID)
                if entry is not None and now < entry.graceEnds:
                    self.stats.stale += len(waiters)
                    log.warn(
                        "Directory unavailable ({reason}); answering cached entry for "
                        "{nodeID}, {age:.1f}s past expiry",
                        reason=str(error),
                        nodeID=str(nodeID),
                        age=now - entry.expires,
                    )
                    answer = entry.outcome
                else:
                    self.stats.unavailable += len(waiters)
        else:
            self._store(nodeID, result, now)
        for waiter in waiters:
            if isinstance(answer, Failure | BadDirectoryEntry):
                waiter.errback(answer)
            else:
                waiter.callback(answer)

    def _store(self, nodeID: NodeID, outcome: _Outcome, now: float) -> None:
        ttl = self.ttl if isinstance(outcome, Subscriber) else self.negativeTTL
        self._entries.pop(nodeID, None)  # re-insert at the end: oldest first
        self._entries[nodeID] = _Entry(outcome, now + ttl, now + ttl + self.staleGrace)
        self._inserts += 1
        if self._inserts % _SWEEP_EVERY == 0 or len(self._entries) > self.maxEntries:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        dead = [n for n, e in self._entries.items() if now >= e.graceEnds]
        for nodeID in dead:
            del self._entries[nodeID]
        excess = len(self._entries) - self.maxEntries
        if excess > 0:
            for nodeID in list(self._entries)[:excess]:
                del self._entries[nodeID]
