# -*- test-case-name: lin6twisted.ls.test.test_guard -*-
"""
Protection of the MN query endpoint, without I/O (DESIGN.md section 5).

    - L{CookieJar}: stateless address-validation cookies.  A cookie is a
      keyed BLAKE2b MAC (a PRF, like HMAC but cheaper per request) over the
      requester's address and a time window, so only a requester that
      receives at its source address can return it; no RTT probe (traffic
      towards the requester) happens before it does.
    - L{RateLimiter}: token buckets per key (source address, Node ID), with a
      bounded number of buckets (least recently used ones are forgotten).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections import OrderedDict
from collections.abc import Hashable
from typing import Final, Generic, TypeVar

__all__ = ["COOKIE_SIZE", "CookieJar", "RateLimiter"]

COOKIE_SIZE: Final = 8
"""Bytes in a cookie: 64 bits of MAC, bound to one address and at most two
windows, and small enough that a challenge (9 + 8 bytes) is never larger
than the smallest MA_REQUEST (17 bytes)."""

K = TypeVar("K", bound=Hashable)


class CookieJar:
    """
    Makes and checks address-validation cookies.

    A cookie made in time window C{w} (C{floor(now / window)}) is accepted
    in windows C{w} and C{w + 1}, so it lives between one and two windows.

    @ivar window: the window length in seconds.
    """

    def __init__(self, secret: bytes | None = None, window: float = 60.0) -> None:
        """
        @param secret: the HMAC key; replicas that share it accept each
            other's cookies.  A random one is made if C{None}.
        @param window: see L{window}.
        """
        if window <= 0:
            raise ValueError("cookie window must be positive")
        key = secret if secret else os.urandom(32)
        # BLAKE2b takes keys up to 64 bytes; a longer secret is hashed down.
        self._secret = key if len(key) <= 64 else hashlib.blake2b(key).digest()
        self.window = window

    def _make(self, address: bytes, w: int) -> bytes:
        return hashlib.blake2b(
            address + w.to_bytes(8, "big", signed=True),
            key=self._secret,
            digest_size=COOKIE_SIZE,
        ).digest()

    def make(self, now: float, address: bytes) -> bytes:
        """
        The cookie for C{address} (its packed bytes) at C{now}.
        """
        return self._make(address, int(now // self.window))

    def check(self, now: float, address: bytes, cookie: bytes) -> bool:
        """
        Whether C{cookie} was made for C{address} in this or the previous
        window.
        """
        if len(cookie) != COOKIE_SIZE:
            return False
        w = int(now // self.window)
        return hmac.compare_digest(cookie, self._make(address, w)) or hmac.compare_digest(
            cookie, self._make(address, w - 1)
        )


class RateLimiter(Generic[K]):
    """
    One token bucket per key: C{rate} tokens per second, up to C{burst}.

    At most C{maxKeys} buckets are kept; the least recently used is dropped
    (a dropped key starts again with a full bucket, which only errs on the
    side of serving).
    """

    def __init__(self, rate: float, burst: float, maxKeys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.maxKeys = maxKeys
        self._buckets: OrderedDict[K, list[float]] = OrderedDict()
        self.refused = 0

    def allow(self, now: float, key: K) -> bool:
        """
        Take one token for C{key}; C{False} if its bucket is empty.
        """
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.maxKeys:
                buckets.popitem(last=False)
            buckets[key] = [self.burst - 1.0, now]
            return True
        buckets.move_to_end(key)
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            self.refused += 1
            return False
        bucket[0] = tokens - 1.0
        return True

    def __len__(self) -> int:
        return len(self._buckets)
