"""
Tests for L{lin6twisted.ma.core}: the binding table and registration rules.
"""

from __future__ import annotations

from attrs import evolve
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import Prefix
from lin6twisted.directory import ServiceLevel
from lin6twisted.ma.core import (
    MappingTable,
    Refusal,
    RegistrationRefused,
    RegistrationResult,
    TableSettings,
    authorize,
)
from lin6twisted.ma.test.helpers import MN1, MN2, NET_A, NET_B, SERVER, SUBSCRIBERS, loc

SUB1, SUB2, SUB3, SUBS = SUBSCRIBERS


def _ok(key: bytes) -> bool:
    return True


class AuthorizeTests(SynchronousTestCase):
    """
    L{authorize} applies the directory rules in order.
    """

    def refusal(self, **kw: object) -> Refusal:
        args: dict[str, object] = {
            "nodeID": MN1,
            "locators": [loc(NET_A, MN1)],
            "keyID": 1,
            "pinned": False,
            "subscriber": SUB1,
            "verify": _ok,
        }
        args.update(kw)
        with self.assertRaises(RegistrationRefused) as cm:
            authorize(**args)  # type: ignore[arg-type]
        reason: Refusal = cm.exception.reason
        return reason

    def test_accepts(self) -> None:
        """
        A well-formed registration from an enabled subscriber is accepted.
        """
        keys: list[bytes] = []

        def verify(key: bytes) -> bool:
            keys.append(key)
            return True

        sub = authorize(MN1, [loc(NET_A, MN1)], 1, False, SUB1, verify)
        self.assertEqual(sub, SUB1)
        self.assertEqual(keys, [SUB1.key])

    def test_unknownNode(self) -> None:
        """
        A Node ID missing from the directory is refused.
        """
        self.assertEqual(self.refusal(subscriber=None), Refusal.UNKNOWN_NODE)

    def test_disabled(self) -> None:
        """
        A disabled subscriber is refused.
        """
        self.assertEqual(
            self.refusal(nodeID=SUB3.nodeID, subscriber=SUB3, locators=[]), Refusal.DISABLED
        )

    def test_wrongKeyID(self) -> None:
        """
        A key id other than the directory's is refused.
        """
        self.assertEqual(self.refusal(keyID=2), Refusal.BAD_KEY_ID)

    def test_wrongKey(self) -> None:
        """
        A message whose HMAC does not verify with the subscriber's key is
        refused.
        """
        self.assertEqual(self.refusal(verify=lambda k: False), Refusal.BAD_HMAC)

    def test_foreignLocator(self) -> None:
        """
        A node cannot register a locator carrying another Node ID.
        """
        self.assertEqual(self.refusal(locators=[loc(NET_A, MN2)]), Refusal.FOREIGN_LOCATOR)

    def test_otherNodesEntry(self) -> None:
        """
        A directory entry for another Node ID is never used.
        """
        self.assertEqual(self.refusal(subscriber=SUB2), Refusal.UNKNOWN_NODE)

    def test_pinnedMobileStyle(self) -> None:
        """
        Content servers pin their binding whatever their Node ID's global
        bit: the service address all S_i share lies in the LIN6 prefix, so
        it is mobile-style.
        """
        authorize(SERVER, [loc(NET_A, SERVER)], 9, True, SUBS, _ok)
        authorize(MN1, [loc(NET_A, MN1)], 1, True, SUB1, _ok)

    def test_source(self) -> None:
        """
        When the source is checked it must be one of the locators.
        """
        self.assertEqual(self.refusal(source="2001:db8:c::1"), Refusal.SOURCE_MISMATCH)
        self.assertEqual(self.refusal(source="junk"), Refusal.SOURCE_MISMATCH)
        authorize(MN1, [loc(NET_A, MN1)], 1, False, SUB1, _ok, str(loc(NET_A, MN1)))


class MappingTableTests(SynchronousTestCase):
    """
    L{MappingTable} keeps bindings, sequences and correspondents.
    """

    def setUp(self) -> None:
        self.table = MappingTable(
            TableSettings(maxLifetime=300, replyTTL=60, negativeTTL=5, maxCorrespondents=2)
        )

    def reg(
        self, seq: int, prefix: Prefix = NET_A, lifetime: float = 100, now: float = 0
    ) -> RegistrationResult:
        return self.table.register(
            MN1, [loc(prefix, MN1)], lifetime, seq, ServiceLevel.NORMAL, now
        )

    def test_registerAndQuery(self) -> None:
        """
        A registered locator is returned with a TTL no longer than the
        reply TTL nor the remaining lifetime.
        """
        r = self.reg(1)
        self.assertEqual(r.lifetime, 100)
        self.assertTrue(r.changed)
        q = self.table.query(MN1, 10)
        self.assertTrue(q.found)
        self.assertEqual(q.locators, (loc(NET_A, MN1),))
        self.assertEqual(q.ttl, 60)
        self.assertEqual(self.table.query(MN1, 80).ttl, 20)

    def test_lifetimeCapped(self) -> None:
        """
        A lifetime above the configured maximum is capped.
        """
        r = self.reg(1, lifetime=10_000)
        self.assertEqual(r.lifetime, 300)
        assert r.binding is not None
        self.assertEqual(r.binding.expires, 300)

    def test_negativeReply(self) -> None:
        """
        An unknown Node ID gets an empty answer with the negative TTL.
        """
        q = self.table.query(MN2, 0, ("2001:db8::1", 5000))
        self.assertFalse(q.found)
        self.assertEqual(q.ttl, 5)
        self.assertEqual(self.table.correspondents(MN2, 0), ())

    def test_replay(self) -> None:
        """
        A sequence number equal to or below the last accepted is refused and
        changes nothing.
        """
        self.reg(5)
        for seq in (5, 4, 0):
            with self.assertRaises(RegistrationRefused) as cm:
                self.reg(seq, NET_B)
            self.assertEqual(cm.exception.reason, Refusal.REPLAY)
        self.assertEqual(self.table.query(MN1, 1).locators, (loc(NET_A, MN1),))
        self.reg(6, NET_B)
        self.assertEqual(self.table.lastSequence(MN1), 6)

    def test_replayAfterDeregistration(self) -> None:
        """
        The last sequence outlives the binding: an old registration cannot
        be replayed after a deregistration or an expiry.
        """
        self.reg(1)
        r = self.reg(2, lifetime=0)
        self.assertIsNone(r.binding)
        self.assertTrue(r.changed)
        self.assertFalse(self.table.query(MN1, 1).found)
        with self.assertRaises(RegistrationRefused):
            self.reg(1)
        self.reg(3)
        self.table.expire(1000)
        with self.assertRaises(RegistrationRefused):
            self.reg(3, now=1000)

    def test_expiry(self) -> None:
        """
        A binding disappears at the end of its lifetime.
        """
        self.reg(1, lifetime=30)
        self.assertTrue(self.table.query(MN1, 29.9).found)
        self.assertFalse(self.table.query(MN1, 30).found)
        self.assertEqual(len(self.table), 1)
        gone = self.table.expire(30)
        self.assertEqual([b.nodeID for b in gone], [MN1])
        self.assertEqual(len(self.table), 0)
        self.assertEqual(self.table.expire(31), [])

    def test_pinned(self) -> None:
        """
        A pinned binding does not expire by time and is not counted as load.
        """
        r = self.table.register(
            SERVER, [loc(NET_A, SERVER)], 10, 1, ServiceLevel.PREMIUM, 0, pinned=True
        )
        assert r.binding is not None
        self.assertIsNone(r.binding.expires)
        self.assertEqual(self.table.expire(1e9), [])
        q = self.table.query(SERVER, 1e9)
        self.assertTrue(q.found)
        self.assertEqual(q.ttl, 60)
        self.assertEqual(self.table.counts(0)[ServiceLevel.PREMIUM], 0)
        self.table.register(SERVER, [], 0, 2, ServiceLevel.PREMIUM, 1e9)
        self.assertFalse(self.table.query(SERVER, 1e9).found)

    def test_counts(self) -> None:
        """
        Live bindings are counted per service level.
        """
        self.reg(1)
        self.table.register(MN2, [loc(NET_A, MN2)], 50, 1, ServiceLevel.PREMIUM, 0)
        self.assertEqual(self.table.counts(0), {ServiceLevel.NORMAL: 1, ServiceLevel.PREMIUM: 1})
        self.assertEqual(self.table.counts(60), {ServiceLevel.NORMAL: 1, ServiceLevel.PREMIUM: 0})

    def test_notifyOnChange(self) -> None:
        """
        Correspondents that queried a Node ID, and may still cache the
        answer, are listed when its locators change; not when they stay.
        """
        self.reg(1)
        self.table.query(MN1, 1, ("2001:db8::c1", 4000))
        self.table.query(MN1, 50, ("2001:db8::c2", 4000))
        self.assertEqual(self.reg(2, now=52).notify, ())  # same locator
        r = self.reg(3, NET_B, now=70)  # c1's answer expired at 61
        self.assertTrue(r.changed)
        self.assertEqual(r.notify, (("2001:db8::c2", 4000),))
        r = self.reg(4, lifetime=0, now=71)
        self.assertEqual(r.notify, (("2001:db8::c2", 4000),))

    def test_correspondentsBounded(self) -> None:
        """
        Only the most recent C{maxCorrespondents} queriers are remembered.
        """
        self.reg(1)
        for i in range(5):
            self.table.query(MN1, i, (f"2001:db8::{i + 1}", 1))
        self.table.query(MN1, 6, ("2001:db8::4", 1))
        self.assertEqual(
            self.table.correspondents(MN1, 6), (("2001:db8::5", 1), ("2001:db8::4", 1))
        )
        self.table.expire(200)
        self.assertEqual(self.table.correspondents(MN1, 6), ())

    def test_restore(self) -> None:
        """
        Restored state is used as if registered; sequences only grow.
        """
        b = self.reg(4).binding
        assert b is not None
        other = MappingTable()
        other.restoreSequence(MN1, 9)
        other.restoreBinding(evolve(b, sequence=4))
        self.assertEqual(other.lastSequence(MN1), 9)
        self.assertTrue(other.query(MN1, 1).found)
        self.assertIsNone(other.remove(MN1, 3))
        self.assertEqual(other.remove(MN1, 4), b)
