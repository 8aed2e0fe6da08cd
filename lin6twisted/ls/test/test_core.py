"""
Tests for L{lin6twisted.ls.core}: the MA table, the history table, the
heuristic and the replica merge rules.
"""

from __future__ import annotations

import random
from ipaddress import IPv6Address
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID, Prefix
from lin6twisted.directory import ServiceLevel
from lin6twisted.ls.core import (
    Answer,
    AnswerRecord,
    Effect,
    HeartbeatReport,
    LSCore,
    LSSettings,
    MARecord,
    NotifyAssignment,
    PropagateAnswer,
    Query,
    Refusal,
    Refuse,
    RelayHeartbeat,
    SendRTTRequest,
)

E = TypeVar("E")
NORMAL = ServiceLevel.NORMAL
PREMIUM = ServiceLevel.PREMIUM
T0 = 1_700_000_000.0


def ma(n: int) -> IPv6Address:
    return IPv6Address(f"2001:db8:ffff::{n:x}")


def mn(prefix: int, host: int = 1) -> IPv6Address:
    return IPv6Address(f"2001:db8:{prefix:x}:0::{host:x}")


def node(n: int) -> NodeID:
    return NodeID(0x02014A0000000000 | n)


def hb(
    n: int, normal: int = 0, premium: int = 0, seq: int = 1, boot: int = 1, cap: int = 0
) -> HeartbeatReport:
    return HeartbeatReport(ma(n), normal, premium, cap, boot, seq)


def q(prefix: int, level: ServiceLevel = NORMAL, nodeN: int = 1, rid: int = 7) -> Query:
    return Query(mn(prefix), node(nodeN), level, rid, replyTo=("client", prefix))


def of(effects: list[Effect], kind: type[E]) -> list[E]:
    return [e for e in effects if isinstance(e, kind)]


class Harness:
    """
    An L{LSCore} driven by a L{Clock} whose time starts at L{T0}.
    """

    def __init__(self, **kw: float) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.core = LSCore(LSSettings(**kw))  # type: ignore[arg-type]

    @property
    def now(self) -> float:
        return self.clock.seconds()

    def advance(self, seconds: float) -> list[Effect]:
        self.clock.advance(seconds)
        return self.core.tick(self.now)

    def decide(self, query: Query, rtts: dict[int, float | None]) -> list[Effect]:
        """
        Send C{query}, answer its RTT requests with C{rtts} (by MA number).
        """
        effects = self.core.query(self.now, query)
        out: list[Effect] = []
        for req in of(effects, SendRTTRequest):
            n = int(req.ma) & 0xFFFF
            if n in rtts:
                out += self.core.rttReply(self.now, req.ma, req.probeId, rtts[n])
        return effects + out


class MATableTests(SynchronousTestCase):
    """
    Heartbeats, timers and the active/inactive rule.
    """

    def test_heartbeatAddsActiveEntryAndRelays(self) -> None:
        """
        A first heartbeat adds an active MA and is relayed to peers.
        """
        h = Harness()
        effects = h.core.heartbeat(h.now, hb(1, normal=3, premium=2))
        self.assertEqual(len(of(effects, RelayHeartbeat)), 1)
        state = h.core.ma(ma(1))
        assert state is not None
        self.assertTrue(state.active)
        self.assertEqual(state.loadIndex(h.core.settings), 3 * 1.0 + 2 * 2.0)

    def test_loadIndexUsesWeights(self) -> None:
        """
        The load index is normal x wt_normal + premium x wt_premium.
        """
        h = Harness(weightNormal=1.5, weightPremium=4.0)
        h.core.heartbeat(h.now, hb(1, normal=2, premium=3))
        state = h.core.ma(ma(1))
        assert state is not None
        self.assertEqual(state.loadIndex(h.core.settings), 2 * 1.5 + 3 * 4.0)

    def test_timerRunsOutMakesInactiveNotDeleted(self) -> None:
        """
        An MA without heartbeat for maTimeout becomes inactive and stays.
        """
        h = Harness(maTimeout=30)
        h.core.heartbeat(h.now, hb(1))
        h.advance(29.9)
        self.assertTrue(h.core.ma(ma(1)).active)  # type: ignore[union-attr]
        h.advance(0.1)
        state = h.core.ma(ma(1))
        assert state is not None
        self.assertFalse(state.active)
        self.assertEqual(h.core.maSize, 1)
        self.assertEqual(h.core.counters["ma_expired"], 1)

    def test_heartbeatResetsTimer(self) -> None:
        """
        Each newer heartbeat restarts the timer.
        """
        h = Harness(maTimeout=30)
        h.core.heartbeat(h.now, hb(1, seq=1))
        h.advance(20)
        h.core.heartbeat(h.now, hb(1, seq=2))
        h.advance(20)
        self.assertTrue(h.core.ma(ma(1)).active)  # type: ignore[union-attr]
        h.advance(10)
        self.assertFalse(h.core.ma(ma(1)).active)  # type: ignore[union-attr]

    def test_heartbeatRevivesInactive(self) -> None:
        """
        A heartbeat brings an inactive MA back.
        """
        h = Harness(maTimeout=30)
        h.core.heartbeat(h.now, hb(1, seq=1))
        h.advance(31)
        h.core.heartbeat(h.now, hb(1, seq=2))
        self.assertTrue(h.core.ma(ma(1)).active)  # type: ignore[union-attr]

    def test_staleHeartbeatIgnored(self) -> None:
        """
        A heartbeat with an older or equal (bootID, sequence) changes
        nothing, does not reset the timer and is not relayed.
        """
        h = Harness(maTimeout=30)
        h.core.heartbeat(h.now, hb(1, normal=5, seq=9))
        h.advance(20)
        self.assertEqual(h.core.heartbeat(h.now, hb(1, normal=1, seq=3)), [])
        self.assertEqual(h.core.heartbeat(h.now, hb(1, normal=1, seq=9)), [])
        self.assertEqual(h.core.ma(ma(1)).record.normal, 5)  # type: ignore[union-attr]
        h.advance(10)
        self.assertFalse(h.core.ma(ma(1)).active)  # type: ignore[union-attr]
        self.assertEqual(h.core.counters["heartbeats_stale"], 2)

    def test_newBootWinsOverHighSequence(self) -> None:
        """
        A restarted MA (greater boot id) wins even with sequence 1.
        """
        h = Harness()
        h.core.heartbeat(h.now, hb(1, normal=5, boot=1, seq=1000))
        h.core.heartbeat(h.now, hb(1, normal=0, boot=2, seq=1))
        self.assertEqual(h.core.ma(ma(1)).record.normal, 0)  # type: ignore[union-attr]

    def test_tenThousandMAs(self) -> None:
        """
        The table holds 10,000 MAs and expires them all through the heap
        (no fixed 64-entry limit); the expiry heap stays bounded.
        """
        h = Harness(maTimeout=30)
        for rnd in range(3):
            for n in range(10_000):
                h.core.heartbeat(h.now, hb(n + 1, seq=rnd + 1))
            h.advance(1)
        self.assertEqual(h.core.maSize, 10_000)
        self.assertEqual(h.core.activeMAs, 10_000)
        self.assertLessEqual(len(h.core._maExpiry), 4 * 10_000 + 64)
        h.advance(30)
        self.assertEqual(h.core.activeMAs, 0)
        self.assertEqual(h.core.counters["ma_expired"], 10_000)

    def test_nextWakeup(self) -> None:
        """
        nextWakeup is the earliest timer.
        """
        h = Harness(maTimeout=30)
        self.assertIsNone(h.core.nextWakeup())
        h.core.heartbeat(h.now, hb(1))
        self.assertEqual(h.core.nextWakeup(), T0 + 30)


class HeuristicTests(SynchronousTestCase):
    """
    Cache hits and misses, the RTT round and its decision.
    """

    def setUp(self) -> None:
        self.h = Harness(maTimeout=30, historyLifetime=120, rttTimeout=2, threshold=10)
        for n in (1, 2, 3):
            self.h.core.heartbeat(self.h.now, hb(n))

    def test_missProbesAllActiveCandidates(self) -> None:
        """
        A miss sends an RTT request for the requester's address to every
        active MA with room.
        """
        effects = self.h.core.query(self.h.now, q(5))
        reqs = of(effects, SendRTTRequest)
        self.assertEqual(sorted(r.ma for r in reqs), [ma(1), ma(2), ma(3)])
        self.assertEqual({r.target for r in reqs}, {mn(5)})
        self.assertEqual(len({r.probeId for r in reqs}), 3)
        self.assertEqual(of(effects, Answer), [])

    def test_lowestRTTWins(self) -> None:
        """
        Once every candidate replied, the lowest RTT wins: the user gets
        it, the MA is told, the answer is recorded and propagated, and the
        MA's load grows by the level's weight.
        """
        effects = self.h.decide(q(5, PREMIUM), {1: 40.0, 2: 12.5, 3: 30.0})
        [answer] = of(effects, Answer)
        self.assertEqual((answer.ma, answer.rttMs, answer.cached), (ma(2), 12.5, False))
        self.assertEqual(answer.query.replyTo, ("client", 5))
        [notify] = of(effects, NotifyAssignment)
        self.assertEqual((notify.ma, notify.nodeID, notify.level), (ma(2), node(1), PREMIUM))
        [prop] = of(effects, PropagateAnswer)
        self.assertEqual((prop.record.prefix, prop.record.ma), (Prefix.ofAddress(mn(5)), ma(2)))
        self.assertEqual(prop.record.level, PREMIUM)
        self.assertEqual(self.h.core.ma(ma(2)).loadIndex(self.h.core.settings), 2.0)  # type: ignore[union-attr]
        self.assertEqual(self.h.core.historyFor(Prefix.ofAddress(mn(5))), prop.record)

    def test_tieBrokenByAddress(self) -> None:
        """
        Equal RTTs: the lower MA address wins, deterministically.
        """
        effects = self.h.decide(q(5), {3: 10.0, 2: 10.0, 1: 11.0})
        self.assertEqual(of(effects, Answer)[0].ma, ma(2))

    def test_hitAnsweredAtOnce(self) -> None:
        """
        A second query from the same /64 is a hit: answered without probes,
        load incremented, MA told.
        """
        self.h.decide(q(5), {1: 5.0, 2: 6.0, 3: 7.0})
        effects = self.h.core.query(self.h.now, q(5, nodeN=2))
        self.assertEqual(of(effects, SendRTTRequest), [])
        [answer] = of(effects, Answer)
        self.assertEqual((answer.ma, answer.cached), (ma(1), True))
        self.assertEqual(len(of(effects, NotifyAssignment)), 1)
        self.assertEqual(self.h.core.ma(ma(1)).loadIndex(self.h.core.settings), 2.0)  # type: ignore[union-attr]
        self.assertEqual(self.h.core.counters["hits"], 1)

    def test_sameSlash64OtherHostHits(self) -> None:
        """
        The history is keyed by /64: another host of the prefix hits.
        """
        self.h.decide(q(5), {1: 5.0, 2: 6.0, 3: 7.0})
        other = Query(mn(5, host=0x99), node(3), NORMAL, 1)
        self.assertTrue(of(self.h.core.query(self.h.now, other), Answer)[0].cached)

    def test_historyExpires(self) -> None:
        """
        History entries are deleted when their lifetime runs out; the next
        query is a miss.
        """
        self.h.decide(q(5), {1: 5.0, 2: 6.0, 3: 7.0})
        for n in (1, 2, 3):
            self.h.core.heartbeat(self.h.now + 100, hb(n, seq=2))
        self.h.advance(119)
        self.assertEqual(self.h.core.historySize, 1)
        self.h.advance(1)
        self.assertEqual(self.h.core.historySize, 0)
        self.assertEqual(self.h.core.counters["history_expired"], 1)
        effects = self.h.core.query(self.h.now, q(5))
        self.assertEqual(len(of(effects, SendRTTRequest)), 3)

    def test_hitOnInactiveMAIsMiss(self) -> None:
        """
        A history entry pointing at an inactive MA is never answered: it
        is a miss, and the inactive MA is not probed.
        """
        self.h.decide(q(5), {1: 5.0, 2: 6.0, 3: 7.0})
        self.h.advance(20)
        for n in (2, 3):
            self.h.core.heartbeat(self.h.now, hb(n, seq=2))
        self.h.advance(10)
        self.assertFalse(self.h.core.ma(ma(1)).active)  # type: ignore[union-attr]
        effects = self.h.core.query(self.h.now, q(5))
        self.assertEqual(of(effects, Answer), [])
        self.assertEqual(sorted(r.ma for r in of(effects, SendRTTRequest)), [ma(2), ma(3)])

    def test_inactiveNeverAnsweredEvenIfItReplies(self) -> None:
        """
        An MA that goes inactive while its RTT reply is pending is not
        chosen, even with the best RTT.
        """
        h = Harness(maTimeout=30, rttTimeout=2)
        h.core.heartbeat(h.now, hb(1))
        h.advance(29)
        h.core.heartbeat(h.now, hb(2))
        effects = h.core.query(h.now, q(5))
        reqs = {int(r.ma) & 0xFF: r for r in of(effects, SendRTTRequest)}
        h.advance(1.5)  # MA 1 times out now
        self.assertFalse(h.core.ma(ma(1)).active)  # type: ignore[union-attr]
        out = h.core.rttReply(h.now, ma(1), reqs[1].probeId, 1.0)
        out += h.core.rttReply(h.now, ma(2), reqs[2].probeId, 50.0)
        self.assertEqual(of(out, Answer)[0].ma, ma(2))

    def test_hitOverThresholdIsMiss(self) -> None:
        """
        A history entry whose MA has no room left for the level is a miss.
        """
        self.h.decide(q(5), {1: 5.0, 2: 6.0, 3: 7.0})
        self.h.core.heartbeat(self.h.now, hb(1, normal=9, seq=2))
        effects = self.h.core.query(self.h.now, q(5, PREMIUM))
        self.assertEqual(of(effects, Answer), [])
        self.assertEqual(sorted(r.ma for r in of(effects, SendRTTRequest)), [ma(2), ma(3)])

    def test_thresholdExcludesCandidates(self) -> None:
        """
        Candidates are the MAs whose load plus the level's weight stays at
        or under TH_load; a premium user needs more room than a normal one.
        """
        self.h.core.heartbeat(self.h.now, hb(1, normal=9, seq=2))  # load 9: room for normal
        self.h.core.heartbeat(self.h.now, hb(2, normal=10, seq=2))  # full
        effects = self.h.core.query(self.h.now, q(5, NORMAL))
        self.assertEqual(sorted(r.ma for r in of(effects, SendRTTRequest)), [ma(1), ma(3)])
        effects = self.h.core.query(self.h.now, q(6, PREMIUM))
        self.assertEqual([r.ma for r in of(effects, SendRTTRequest)], [ma(3)])

    def test_capacityLowersLimit(self) -> None:
        """
        An MA's own capacity, when lower than TH_load, is its limit.
        """
        self.h.core.heartbeat(self.h.now, hb(1, normal=3, cap=4, seq=2))
        effects = self.h.core.query(self.h.now, q(5, PREMIUM))
        self.assertNotIn(ma(1), [r.ma for r in of(effects, SendRTTRequest)])

    def test_noCandidatesRefused(self) -> None:
        """
        With no active MA with room, the query is refused at once.
        """
        for n in (1, 2, 3):
            self.h.core.heartbeat(self.h.now, hb(n, normal=10, seq=2))
        [refuse] = self.h.core.query(self.h.now, q(5))
        assert isinstance(refuse, Refuse)
        self.assertEqual(refuse.reason, Refusal.NO_MA_AVAILABLE)

    def test_deadlineDecidesWithRepliesSoFar(self) -> None:
        """
        At the deadline the round is decided with the replies it has.
        """
        effects = self.h.core.query(self.h.now, q(5))
        req = next(r for r in of(effects, SendRTTRequest) if r.ma == ma(3))
        self.assertEqual(self.h.core.rttReply(self.h.now, ma(3), req.probeId, 80.0), [])
        self.assertEqual(self.h.advance(1.9), [])
        out = self.h.advance(0.1)
        self.assertEqual(of(out, Answer)[0].ma, ma(3))
        self.assertEqual(self.h.core.pendingRounds(), 0)

    def test_noReplyRefused(self) -> None:
        """
        If no MA replies by the deadline (or all report failure), the user
        gets a clear refusal.
        """
        effects = self.h.core.query(self.h.now, q(5))
        req = of(effects, SendRTTRequest)[0]
        self.h.core.rttReply(self.h.now, req.ma, req.probeId, None)
        [refuse] = self.h.advance(2)
        assert isinstance(refuse, Refuse)
        self.assertEqual(refuse.reason, Refusal.NO_RTT_REPLY)

    def test_lateAndForgedRepliesIgnored(self) -> None:
        """
        Replies after the decision, with unknown probe ids, or from another
        MA than the one asked are ignored.
        """
        effects = self.h.core.query(self.h.now, q(5))
        reqs = of(effects, SendRTTRequest)
        self.assertEqual(self.h.core.rttReply(self.h.now, ma(9), reqs[0].probeId, 1.0), [])
        self.assertEqual(self.h.core.rttReply(self.h.now, ma(1), 999999, 1.0), [])
        self.h.advance(2)
        self.assertEqual(self.h.core.rttReply(self.h.now, reqs[0].ma, reqs[0].probeId, 1.0), [])
        self.assertEqual(self.h.core.counters["rtt_replies_late"], 3)

    def test_queriesFromPendingPrefixJoinRound(self) -> None:
        """
        A second query from a prefix with a pending round sends no new
        probes and is answered with the round's decision.
        """
        effects = self.h.core.query(self.h.now, q(5, nodeN=1, rid=1))
        self.assertEqual(self.h.core.query(self.h.now, q(5, nodeN=2, rid=2)), [])
        out: list[Effect] = []
        for r in of(effects, SendRTTRequest):
            out += self.h.core.rttReply(self.h.now, r.ma, r.probeId, float(int(r.ma) & 0xFF))
        answers = of(out, Answer)
        self.assertEqual([(a.query.requestId, a.ma) for a in answers], [(1, ma(1)), (2, ma(1))])
        self.assertEqual(len(of(out, PropagateAnswer)), 1)
        self.assertEqual(self.h.core.ma(ma(1)).loadIndex(self.h.core.settings), 2.0)  # type: ignore[union-attr]

    def test_joinedQueryOverflowsToNextBest(self) -> None:
        """
        When the winner fills up with the first waiter, the next waiter gets
        the next best MA with room.
        """
        self.h.core.heartbeat(self.h.now, hb(1, normal=9, seq=2))
        effects = self.h.core.query(self.h.now, q(5, nodeN=1, rid=1))
        self.h.core.query(self.h.now, q(5, nodeN=2, rid=2))
        out: list[Effect] = []
        for r in of(effects, SendRTTRequest):
            out += self.h.core.rttReply(self.h.now, r.ma, r.probeId, float(int(r.ma) & 0xFF))
        self.assertEqual([a.ma for a in of(out, Answer)], [ma(1), ma(2)])

    def test_maxProbes(self) -> None:
        """
        At most maxProbes candidates are probed: the least loaded.
        """
        h = Harness(maxProbes=2)
        for n, load in ((1, 5), (2, 1), (3, 3)):
            h.core.heartbeat(h.now, hb(n, normal=load))
        reqs = of(h.core.query(h.now, q(5)), SendRTTRequest)
        self.assertEqual(sorted(r.ma for r in reqs), [ma(2), ma(3)])

    def test_neverOverThreshold(self) -> None:
        """
        However many users arrive, no MA's load index exceeds TH_load.
        """
        for i in range(40):
            effects = self.h.decide(q(100 + i, PREMIUM if i % 3 else NORMAL, nodeN=i), {
                1: 5.0, 2: 6.0, 3: 7.0,
            })  # fmt: skip
            effects += self.h.advance(2)
        for s in self.h.core.mas():
            self.assertLessEqual(s.loadIndex(self.h.core.settings), 10)
        self.assertGreater(self.h.core.counters["refusals"], 0)


class LoadPriceTests(SynchronousTestCase):
    """
    C{load_price}: a round is decided by C{rtt x (1 + load_price x u)}, C{u}
    being the candidate's utilisation with the new user.
    """

    def harness(self, price: float, loads: dict[int, int], threshold: float = 10) -> Harness:
        h = Harness(threshold=threshold, loadPrice=price, rttTimeout=2)
        for n, load in loads.items():
            h.core.heartbeat(h.now, hb(n, normal=load))
        return h

    def test_defaultPrice(self) -> None:
        """
        The default price is 0: the paper's rule, lowest RTT with room.
        """
        self.assertEqual(LSSettings().loadPrice, 0.0)

    def test_utilisationCountsTheNewUsersWeight(self) -> None:
        """
        L{MAState.utilisation} is C{(load index + weight) / limit}, with the
        limit lowered by the MA's capacity.
        """
        h = Harness(threshold=10, weightPremium=2.0)
        h.core.heartbeat(h.now, hb(1, normal=3, premium=1))
        h.core.heartbeat(h.now, hb(2, normal=1, cap=4))
        one, two = h.core.ma(ma(1)), h.core.ma(ma(2))
        assert one is not None and two is not None
        self.assertEqual(one.utilisation(h.core.settings, NORMAL), 0.6)
        self.assertEqual(one.utilisation(h.core.settings, PREMIUM), 0.7)
        self.assertEqual(two.utilisation(h.core.settings, PREMIUM), 0.75)

    def test_priceZeroIsLowestRTT(self) -> None:
        """
        With C{load_price = 0} the paper's rule holds: the lowest RTT with
        room wins however full it is.
        """
        h = self.harness(0.0, {1: 8, 2: 0})
        effects = h.decide(q(5), {1: 10.0, 2: 10.5})
        self.assertEqual(of(effects, Answer)[0].ma, ma(1))

    def test_fillingMAYieldsToNearlyAsGoodOne(self) -> None:
        """
        A nearly full MA loses to an idle one measured only a little
        farther: 10 ms x (1 + 0.9) > 11 ms x (1 + 0.1).  The answer still
        carries the RTT measured to the chosen MA.
        """
        h = self.harness(1.0, {1: 8, 2: 0})
        [answer] = of(h.decide(q(5), {1: 10.0, 2: 11.0}), Answer)
        self.assertEqual((answer.ma, answer.rttMs), (ma(2), 11.0))

    def test_fillingMAKeepsUserWithoutAlternative(self) -> None:
        """
        The price never sends a user far: 10 ms x 1.9 < 25 ms x 1.1.
        """
        h = self.harness(1.0, {1: 8, 2: 0})
        self.assertEqual(of(h.decide(q(5), {1: 10.0, 2: 25.0}), Answer)[0].ma, ma(1))

    def test_fullMAStillExcluded(self) -> None:
        """
        An MA without room is no candidate whatever its RTT and the price.
        """
        h = self.harness(1.0, {1: 10, 2: 9})
        self.assertEqual(of(h.decide(q(5), {1: 1.0, 2: 50.0}), Answer)[0].ma, ma(2))

    def test_equalCostGoesToLowerRTT(self) -> None:
        """
        Equal costs go to the lower measured RTT, not the lower address:
        14 ms x (1 + 1/8) = 10.5 ms x (1 + 4/8).
        """
        h = self.harness(1.0, {1: 0, 2: 3}, threshold=8)
        self.assertEqual(of(h.decide(q(5), {1: 14.0, 2: 10.5}), Answer)[0].ma, ma(2))

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.tuples(st.integers(0, 10), st.floats(0.1, 500, allow_nan=False)),
            min_size=1,
            max_size=6,
        ),
        st.sampled_from([0.0, 0.5, 1.0, 2.0]),
        st.sampled_from([NORMAL, PREMIUM]),
    )
    def test_neverFartherThanOnePlusPrice(
        self, mas: list[tuple[int, float]], price: float, level: ServiceLevel
    ) -> None:
        """
        Whatever the loads, the chosen MA has room, and its RTT is at most
        C{1 + load_price} times the lowest RTT among the MAs with room.
        """
        h = self.harness(price, {n + 1: load for n, (load, _) in enumerate(mas)})
        rtts: dict[int, float | None] = {n + 1: rtt for n, (_, rtt) in enumerate(mas)}
        roomy = [
            rtts[n + 1]
            for n, (load, _) in enumerate(mas)
            if load + h.core.settings.weight(level) <= 10
        ]
        answers = of(h.decide(q(5, level), rtts), Answer)
        if not roomy:
            self.assertEqual(answers, [])
            return
        [answer] = answers
        best = min(r for r in roomy if r is not None)
        self.assertIn(answer.rttMs, roomy)
        self.assertLessEqual(answer.rttMs, best * (1 + price))
        if price == 0:
            self.assertEqual(answer.rttMs, best)

    def outcome(self, price: float) -> list[tuple[IPv6Address, float]]:
        """
        Three users, one a second, for two MAs of room 2: two from prefixes
        with an alternative nearly as good (10 vs 11 ms), then one whose
        only near MA is MA 1 (10 vs 100 ms).
        """
        h = self.harness(price, {1: 0, 2: 0}, threshold=2)
        chosen = []
        rounds: list[dict[int, float | None]] = [
            {1: 10.0, 2: 11.0},
            {1: 10.0, 2: 11.0},
            {1: 10.0, 2: 100.0},
        ]
        for i, rtts in enumerate(rounds):
            h.advance(1)
            [answer] = of(h.decide(q(20 + i, nodeN=i, rid=i), rtts), Answer)
            chosen.append((answer.ma, answer.rttMs))
        return chosen

    def test_nearMAKeptForUserWithoutAlternative(self) -> None:
        """
        Online, the price keeps room at a near MA for the user who has no
        alternative: 31 ms in all, where the lowest-RTT rule fills MA 1
        with the first two users and sends the third 100 ms away.
        """
        self.assertEqual(self.outcome(1.0), [(ma(1), 10.0), (ma(2), 11.0), (ma(1), 10.0)])
        self.assertEqual(self.outcome(0.0), [(ma(1), 10.0), (ma(1), 10.0), (ma(2), 100.0)])


def _records(data: Any) -> tuple[list[MARecord], list[AnswerRecord]]:
    mas = data(
        st.lists(
            st.builds(
                MARecord,
                st.sampled_from([ma(1), ma(2), ma(3)]),
                st.integers(0, 5),
                st.integers(0, 5),
                st.integers(0, 50),
                st.integers(1, 3),
                st.integers(1, 5),
                st.integers(int(T0 * 1000) - 40_000, int(T0 * 1000)),
            ),
            max_size=25,
        )
    )
    answers = data(
        st.lists(
            st.builds(
                AnswerRecord,
                st.sampled_from([Prefix(1), Prefix(2), Prefix(3)]),
                st.sampled_from([ma(1), ma(2), ma(3)]),
                st.integers(int(T0 * 1000) - 200_000, int(T0 * 1000)),
                st.sampled_from([60_000, 120_000]),
                st.sampled_from([NORMAL, PREMIUM]),
                st.sampled_from([0.0, 1.5]),
            ),
            max_size=25,
        )
    )
    return mas, answers


def snapshot(core: LSCore) -> tuple[object, ...]:
    return (
        sorted(
            (s.record.order(), s.active, s.assignedNormal, s.assignedPremium) for s in core.mas()
        ),
        sorted((a.order(), a.prefix.value) for a in core.history()),
    )


class MergeTests(SynchronousTestCase):
    """
    Replica merge: the newest record wins whatever the arrival order.
    """

    def test_newerSequenceWins(self) -> None:
        """
        A relayed record with a newer sequence replaces the entry; an older
        one does not.
        """
        h = Harness()
        ms = int(T0 * 1000)
        self.assertTrue(h.core.mergeMA(h.now, MARecord(ma(1), 1, 0, 0, 1, 5, ms), "b"))
        self.assertFalse(h.core.mergeMA(h.now, MARecord(ma(1), 9, 0, 0, 1, 4, ms), "c"))
        self.assertEqual(h.core.ma(ma(1)).record.normal, 1)  # type: ignore[union-attr]
        self.assertEqual(h.core.ma(ma(1)).via, "b")  # type: ignore[union-attr]

    def test_relayedOldHeartbeatIsInactive(self) -> None:
        """
        A record heard longer ago than the timeout is stored inactive.
        """
        h = Harness(maTimeout=30)
        h.core.mergeMA(h.now, MARecord(ma(1), 1, 0, 0, 1, 5, int((T0 - 31) * 1000)), "b")
        self.assertFalse(h.core.ma(ma(1)).active)  # type: ignore[union-attr]
        effects = h.core.query(h.now, q(5))
        self.assertEqual(of(effects, SendRTTRequest), [])

    def test_relayedHeartbeatKeepsOriginalTimer(self) -> None:
        """
        A relayed record's timer runs from when the heartbeat was heard.
        """
        h = Harness(maTimeout=30)
        h.core.mergeMA(h.now, MARecord(ma(1), 1, 0, 0, 1, 5, int((T0 - 20) * 1000)), "b")
        h.advance(9.9)
        self.assertTrue(h.core.ma(ma(1)).active)  # type: ignore[union-attr]
        h.advance(0.2)
        self.assertFalse(h.core.ma(ma(1)).active)  # type: ignore[union-attr]

    def test_newerAnswerWins(self) -> None:
        """
        The answer with the newer createdMs wins; equal ones break ties by
        MA address; expired ones are ignored.
        """
        h = Harness()
        ms = int(T0 * 1000)
        a = AnswerRecord(Prefix(7), ma(1), ms - 10, 120_000)
        b = AnswerRecord(Prefix(7), ma(2), ms - 20, 120_000)
        c = AnswerRecord(Prefix(7), ma(3), ms - 10, 120_000)
        gone = AnswerRecord(Prefix(8), ma(3), ms - 200_000, 120_000)
        self.assertTrue(h.core.mergeAnswer(h.now, a))
        self.assertFalse(h.core.mergeAnswer(h.now, b))
        self.assertTrue(h.core.mergeAnswer(h.now, c))
        self.assertFalse(h.core.mergeAnswer(h.now, gone))
        self.assertEqual(h.core.historyFor(Prefix(7)), c)
        self.assertIsNone(h.core.historyFor(Prefix(8)))

    def test_mergedAnswerCountsTowardsLoadUntilHeartbeat(self) -> None:
        """
        A peer's answer newer than the MA's heartbeat adds its level's
        weight to the load; a heartbeat heard more than the grace after it
        covers it.
        """
        h = Harness(assignmentGrace=2.0)
        h.core.heartbeat(h.now, hb(1))
        h.clock.advance(1)
        rec = AnswerRecord(Prefix(7), ma(1), int(h.now * 1000), 120_000, PREMIUM)
        h.core.mergeAnswer(h.now, rec)
        state = h.core.ma(ma(1))
        assert state is not None
        self.assertEqual(state.loadIndex(h.core.settings), 2.0)
        h.clock.advance(2.5)
        h.core.heartbeat(h.now, hb(1, premium=1, seq=2))
        self.assertEqual(state.loadIndex(h.core.settings), 2.0)

    def test_heartbeatInFlightKeepsAssignment(self) -> None:
        """
        A heartbeat heard just after a decision (sent before the user
        registered) does not make the MA forget the assignment: with a
        capacity of one user, the next user is refused.
        """
        h = Harness(assignmentGrace=2.0, threshold=1)
        h.core.heartbeat(h.now, hb(1))
        effects = h.decide(q(5, nodeN=1), {1: 5.0})
        self.assertEqual(len(of(effects, Answer)), 1)
        h.clock.advance(0.035)
        h.core.heartbeat(h.now, hb(1, normal=0, seq=2))  # sent before the registration
        [refuse] = h.core.query(h.now, q(6, nodeN=2))
        self.assertIsInstance(refuse, Refuse)
        h.clock.advance(5)
        h.core.heartbeat(h.now, hb(1, normal=1, seq=3))  # now counts the user
        state = h.core.ma(ma(1))
        assert state is not None
        self.assertEqual(state.loadIndex(h.core.settings), 1.0)

    def test_hitCountsUntilCovered(self) -> None:
        """
        History hits count towards the load the same way.
        """
        h = Harness(assignmentGrace=2.0)
        h.core.heartbeat(h.now, hb(1))
        h.decide(q(5, nodeN=1), {1: 5.0})
        h.core.query(h.now, q(5, nodeN=2))
        state = h.core.ma(ma(1))
        assert state is not None
        self.assertEqual(state.loadIndex(h.core.settings), 2.0)
        h.clock.advance(1)
        h.core.heartbeat(h.now, hb(1, normal=2, seq=2))
        self.assertEqual(state.loadIndex(h.core.settings), 4.0)
        h.clock.advance(2)
        h.core.heartbeat(h.now, hb(1, normal=2, seq=3))
        self.assertEqual(state.loadIndex(h.core.settings), 2.0)

    @settings(max_examples=200, deadline=None)
    @given(st.data(), st.randoms(use_true_random=False))
    def test_orderIndependent(self, data: st.DataObject, rng: random.Random) -> None:
        """
        Merging the same records in any order gives the same tables.
        """
        mas, answers = _records(data.draw)
        cores = []
        for _ in range(3):
            core = LSCore(LSSettings(maTimeout=30))
            items: list[MARecord | AnswerRecord] = [*mas, *answers]
            rng.shuffle(items)
            for item in items:
                if isinstance(item, MARecord):
                    core.mergeMA(T0, item, "peer")
                else:
                    core.mergeAnswer(T0, item)
            cores.append(snapshot(core))
        self.assertEqual(cores[0], cores[1])
        self.assertEqual(cores[0], cores[2])

    def test_replicasConverge(self) -> None:
        """
        Three replicas taking different heartbeats and making decisions
        converge once they exchange every record in shuffled orders.
        """
        rng = random.Random(4)  # noqa: S311
        clock = Clock()
        clock.advance(T0)
        cores = [LSCore(LSSettings()) for _ in range(3)]
        records: list[list[MARecord | AnswerRecord]] = [[], [], []]
        for i in range(60):
            k = rng.randrange(3)
            for e in cores[k].heartbeat(clock.seconds(), hb(rng.randrange(5), seq=i + 1)):
                if isinstance(e, RelayHeartbeat):
                    records[k].append(e.record)
            decision = AnswerRecord(
                Prefix(rng.randrange(6)),
                ma(rng.randrange(5)),
                int(clock.seconds() * 1000),
                120_000,
            )
            cores[k].mergeAnswer(clock.seconds(), decision)
            clock.advance(0.01)
        for k in range(3):
            records[k].extend(cores[k].history())
        for k in range(3):
            for j in range(3):
                if j == k:
                    continue
                batch = list(records[j])
                rng.shuffle(batch)
                for r in batch:
                    if isinstance(r, MARecord):
                        cores[k].mergeMA(clock.seconds(), r, "p")
                    else:
                        cores[k].mergeAnswer(clock.seconds(), r)
        views = [
            (sorted(s.record.order() for s in c.mas()), sorted(a.order() for a in c.history()))
            for c in cores
        ]
        self.assertEqual(views[0], views[1])
        self.assertEqual(views[0], views[2])
