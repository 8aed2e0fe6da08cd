"""
Pausing Python's cyclic garbage collector while bulk data arrives.

A replica that pulls a peer's tables (a sync: 10,000 MAs and 100,000 history
entries) creates several hundred thousand long-lived objects in a second.
Every 700 allocations the collector runs, and as the heap grows it runs full
collections that walk everything alive: measured on the LS sync path, the
collector took more than half of the time spent decoding and merging (see
docs/architecture.md, "Sync").  None of these objects form reference cycles
(tuples, integers, addresses), so nothing is lost by not looking for cycles
until the load is over.

L{CollectorPause} disables the collector while at least one holder holds it
and enables it again when the last one lets go, or after C{limit} seconds
whatever happens (a peer that never finishes its sync cannot leave the
collector off).  It never enables a collector it did not disable.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable

from attrs import define, field
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

__all__ = ["CollectorPause"]


@define
class CollectorPause:
    """
    Hold the cyclic garbage collector off during bulk loads.

    @ivar clock: schedules the safety limit.
    @ivar limit: seconds after which the collector is enabled again even if
        holders remain.
    @ivar isEnabled: C{gc.isenabled} (replaceable in tests).
    @ivar enable: C{gc.enable} (replaceable in tests).
    @ivar disable: C{gc.disable} (replaceable in tests).
    """

    clock: IReactorTime
    limit: float = 30.0
    isEnabled: Callable[[], bool] = gc.isenabled
    enable: Callable[[], None] = gc.enable
    disable: Callable[[], None] = gc.disable
    _holders: set[Hashable] = field(factory=set, init=False)
    _paused: bool = field(default=False, init=False)
    _deadline: IDelayedCall | None = field(default=None, init=False)
    _log: Logger = field(factory=Logger, init=False)

    @property
    def paused(self) -> bool:
        """
        Whether this pause has the collector disabled now.
        """
        return self._paused

    def hold(self, holder: Hashable) -> None:
        """
        Keep the collector off until L{release}C{(holder)} (or the limit).
        """
        if not self._holders and not self._paused and self.isEnabled():
            self.disable()
            self._paused = True
            self._deadline = self.clock.callLater(self.limit, self._expire)
        self._holders.add(holder)

    def release(self, holder: Hashable) -> None:
        """
        Let go of a hold; the last one lets the collector run again.
        Releasing what is not held does nothing.
        """
        self._holders.discard(holder)
        if not self._holders:
            self._resume()

    def releaseAll(self) -> None:
        """
        Let go of every hold (the owner is shutting down).
        """
        self._holders.clear()
        self._resume()

    def _expire(self) -> None:
        self._deadline = None
        if self._paused:
            self._log.warn(
                "Garbage collector paused for {limit} s by {holders}; enabling it again",
                limit=self.limit,
                holders=sorted(map(str, self._holders)),
            )
        self._holders.clear()
        self._resume()

    def _resume(self) -> None:
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None
        if self._paused:
            self._paused = False
            self.enable()
