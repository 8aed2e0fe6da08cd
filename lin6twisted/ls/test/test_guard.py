"""
Tests for L{lin6twisted.ls.guard}: cookies and token buckets.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.ls.guard import COOKIE_SIZE, CookieJar, RateLimiter
from lin6twisted.wire import CookieChallenge, MARequest

A = bytes(range(16))
B = bytes(range(1, 17))


class CookieJarTests(SynchronousTestCase):
    """
    Cookies are bound to the address and to one or two time windows.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000.0)
        self.jar = CookieJar(b"secret", window=60)

    def test_roundTrip(self) -> None:
        """
        A cookie made for an address is accepted from it.
        """
        cookie = self.jar.make(self.clock.seconds(), A)
        self.assertEqual(len(cookie), COOKIE_SIZE)
        self.assertTrue(self.jar.check(self.clock.seconds(), A, cookie))

    def test_otherAddress(self) -> None:
        """
        It is refused from another address.
        """
        cookie = self.jar.make(self.clock.seconds(), A)
        self.assertFalse(self.jar.check(self.clock.seconds(), B, cookie))

    def test_expires(self) -> None:
        """
        It lives through the next window and no longer.
        """
        cookie = self.jar.make(self.clock.seconds(), A)
        self.clock.advance(60)
        self.assertTrue(self.jar.check(self.clock.seconds(), A, cookie))
        self.clock.advance(60)
        self.assertFalse(self.jar.check(self.clock.seconds(), A, cookie))

    def test_wrongLengthOrSecret(self) -> None:
        """
        Short cookies and cookies of another secret are refused; replicas
        sharing the secret accept each other's.
        """
        now = self.clock.seconds()
        cookie = self.jar.make(now, A)
        self.assertFalse(self.jar.check(now, A, cookie[:-1]))
        self.assertFalse(self.jar.check(now, A, b""))
        self.assertFalse(CookieJar(b"other", 60).check(now, A, cookie))
        self.assertTrue(CookieJar(b"secret", 60).check(now, A, cookie))

    def test_randomSecret(self) -> None:
        """
        Without a secret each jar has its own random one.
        """
        now = self.clock.seconds()
        self.assertNotEqual(CookieJar().make(now, A), CookieJar().make(now, A))

    def test_noAmplification(self) -> None:
        """
        A challenge is never larger than the smallest MA_REQUEST.
        """
        smallest = MARequest(1, _node()).encode()
        challenge = CookieChallenge(1, self.jar.make(self.clock.seconds(), A)).encode()
        self.assertLessEqual(len(challenge), len(smallest))

    def test_badWindow(self) -> None:
        """
        The window must be positive.
        """
        self.assertRaises(ValueError, CookieJar, b"s", 0)


def _node() -> NodeID:
    return NodeID.fromString("201:4a00:0:2")


class RateLimiterTests(SynchronousTestCase):
    """
    Token buckets per key.
    """

    def test_burstThenRate(self) -> None:
        """
        A key gets C{burst} requests at once, then C{rate} per second.
        """
        clock = Clock()
        limiter: RateLimiter[str] = RateLimiter(rate=2, burst=3)
        self.assertEqual(
            [limiter.allow(clock.seconds(), "a") for _ in range(4)], [True] * 3 + [False]
        )
        clock.advance(0.5)
        self.assertTrue(limiter.allow(clock.seconds(), "a"))
        self.assertFalse(limiter.allow(clock.seconds(), "a"))
        self.assertTrue(limiter.allow(clock.seconds(), "b"))
        self.assertEqual(limiter.refused, 2)

    def test_refillCapped(self) -> None:
        """
        A long pause refills to C{burst}, not beyond.
        """
        clock = Clock()
        limiter: RateLimiter[str] = RateLimiter(rate=10, burst=2)
        limiter.allow(clock.seconds(), "a")
        clock.advance(100)
        self.assertEqual(
            [limiter.allow(clock.seconds(), "a") for _ in range(3)], [True, True, False]
        )

    def test_boundedKeys(self) -> None:
        """
        At most C{maxKeys} buckets are kept; the least recently used goes.
        """
        limiter: RateLimiter[int] = RateLimiter(rate=1, burst=1, maxKeys=3)
        for k in range(5):
            limiter.allow(0.0, k)
        self.assertEqual(len(limiter), 3)
        self.assertTrue(limiter.allow(0.0, 0))  # forgotten: a full bucket again
        self.assertFalse(limiter.allow(0.0, 4))

    def test_badParameters(self) -> None:
        """
        Rate must be positive and burst at least one.
        """
        self.assertRaises(ValueError, RateLimiter, 0, 1)
        self.assertRaises(ValueError, RateLimiter, 1, 0.5)
