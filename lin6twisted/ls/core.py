# -*- test-case-name: lin6twisted.ls.test.test_core -*-
"""
The Load Sharing server's decisions, without I/O.

L{LSCore} holds the two tables of the paper (section IV.B) and the state of
the heuristic:

    - the B{MA table}: one L{MAState} per Mapping Agent, with the load counts
      it reports, the assignments made since its last heartbeat, its capacity,
      its boot id and sequence and its heartbeat timer.  An MA whose timer
      runs out becomes I{inactive}: it stays in the table but is never given
      to a user; a newer heartbeat revives it.
    - the B{history table}: client /64 prefix -> MA, with a lifetime;
      entries are deleted when it runs out.
    - B{rounds}: pending RTT measurements for a prefix that missed the
      history table, with a deadline.

A round is decided by L{LSCore.rank}: among the MAs that replied and have
room for the user's level, the lowest C{rtt x (1 + load_price x
utilisation)} wins (L{LSSettings.loadPrice}; with C{load_price} 0 it is the
paper's lowest RTT with room).

Every method takes the current time C{now} (seconds since the epoch, as
C{IReactorTime.seconds()} gives it) and returns what must happen as a list
of effects (L{SendRTTRequest}, L{Answer}, L{Refuse}, L{NotifyAssignment},
L{PropagateAnswer}, L{RelayHeartbeat}); the protocols around it carry them
out.  L{LSCore.nextWakeup} says when L{LSCore.tick} must be called next.

Replica merge is order-independent: the table entry for an MA is the one
with the greatest C{(bootID, sequence, heardMs, ...)}, and the history entry
for a prefix the one with the greatest C{(createdMs, MA address)}, whatever
order the updates arrive in.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from ipaddress import IPv6Address
from typing import Final, NamedTuple

from attrs import define, field, frozen
from twisted.logger import Logger

from lin6twisted.address import NodeID, Prefix
from lin6twisted.directory import ServiceLevel

__all__ = [
    "Answer",
    "AnswerRecord",
    "Effect",
    "HeartbeatReport",
    "LSCore",
    "LSSettings",
    "MARecord",
    "MAState",
    "NotifyAssignment",
    "PropagateAnswer",
    "Query",
    "Refusal",
    "Refuse",
    "RelayHeartbeat",
    "SendRTTRequest",
]

_MASK32: Final = 0xFFFFFFFF
_MAX_ORPHANS: Final = 10_000


@frozen
class LSSettings:
    """
    The tunables of the heuristic (the C{[ls]} section of the config).

    @ivar weightNormal: C{wt_normal}, load per normal connection.
    @ivar weightPremium: C{wt_premium}, load per premium connection.
    @ivar threshold: C{TH_load}; an MA is given a user of some level only if
        its load index plus that level's weight stays at or below it (and at
        or below the MA's own capacity, when it reports one).
    @ivar maTimeout: seconds without a heartbeat before an MA is inactive.
    @ivar historyLifetime: seconds a history-table answer lives.
    @ivar rttTimeout: seconds to wait for RTT replies before deciding.
    @ivar maxProbes: at most this many candidates are probed per miss (the
        least loaded ones).
    @ivar assignmentGrace: an assignment keeps counting towards an MA's load
        until a heartbeat heard at least this long after it replaces the
        MA's counts (see L{MAState.covered}).
    @ivar loadPrice: C{load_price}, how much an MA's utilisation counts
        against its measured RTT when a round is decided: each candidate
        with room costs C{rtt x (1 + load_price x u)}, C{u} being its load
        index with the new user, over its limit (L{MAState.utilisation}),
        and the cheapest wins.  The default 0 is the paper's rule (the
        lowest RTT with room); 1 makes a full MA look twice as far as it
        measures, so a near MA that is filling up goes to the users with no
        comparable alternative and a user with one nearly as good takes
        that (see L{LSCore.rank} and docs/architecture.md, "Decisions").
    """

    weightNormal: float = 1.0
    weightPremium: float = 2.0
    threshold: float = 100.0
    maTimeout: float = 30.0
    historyLifetime: float = 120.0
    rttTimeout: float = 2.0
    maxProbes: int = 64
    assignmentGrace: float = 2.0
    loadPrice: float = 0.0

    def weight(self, level: ServiceLevel) -> float:
        """
        The load one connection of C{level} adds.
        """
        return self.weightPremium if level is ServiceLevel.PREMIUM else self.weightNormal


class Refusal(enum.Enum):
    """
    Why a query gets no MA (mapped to the wire's error codes by the server).
    """

    NO_MA_AVAILABLE = "no active MA has room for this level of service"
    NO_RTT_REPLY = "no candidate MA answered the RTT request in time"


@frozen
class HeartbeatReport:
    """
    What an MA says in a heartbeat.

    @ivar address: the MA's address (the one users are given).
    @ivar normal: its current normal connections.
    @ivar premium: its current premium connections.
    @ivar capacity: its own load limit (0: only C{TH_load} applies).
    @ivar bootID: increases at every start of the MA.
    @ivar sequence: increases with every heartbeat of one boot.
    @ivar port: the MA's mapping-service UDP port.
    @ivar interval: seconds between its heartbeats.
    """

    address: IPv6Address
    normal: int
    premium: int
    capacity: int
    bootID: int
    sequence: int
    port: int = 0
    interval: int = 0


@frozen
class MARecord:
    """
    An MA table entry as replicas exchange it (MATBL_UPDATE, sync).

    @ivar heardMs: when the replica that took the heartbeat got it
        (milliseconds since the epoch).
    """

    address: IPv6Address
    normal: int
    premium: int
    capacity: int
    bootID: int
    sequence: int
    heardMs: int
    port: int = 0
    interval: int = 0

    def order(self) -> tuple[int, ...]:
        """
        The merge order: the greatest wins.  Everything is in the key, so
        two different records never tie.
        """
        return (
            self.bootID,
            self.sequence,
            self.heardMs,
            self.normal,
            self.premium,
            self.capacity,
            self.port,
            self.interval,
            int(self.address),
        )


class AnswerRecord(NamedTuple):
    """
    A history table entry as replicas exchange it (ANSTBL_UPDATE, sync).

    (A named tuple rather than an attrs class: a sync builds 100,000 of
    them, and tuple construction is several times cheaper.)

    @ivar prefix: the client /64.
    @ivar ma: the MA chosen for it.
    @ivar createdMs: when the decision was made (milliseconds since the epoch).
    @ivar lifetimeMs: how long it lives after C{createdMs}.
    @ivar level: the level of service of the user the decision was made for.
    @ivar rttMs: the RTT that won (for status pages; 0 if unknown).
    """

    prefix: Prefix
    ma: IPv6Address
    createdMs: int
    lifetimeMs: int
    level: ServiceLevel = ServiceLevel.NORMAL
    rttMs: float = 0.0

    def key(self) -> tuple[int, int, int]:
        """
        What identifies the assignment this answer made, on every replica.
        """
        return (self.prefix.value, self.createdMs, int(self.ma))

    def order(self) -> tuple[int, int, int, int, float]:
        """
        The merge order: a newer answer wins; ties go to the greater MA
        address, then the longer lifetime, level and RTT, so two different
        records never tie.
        """
        return (self.createdMs, int(self.ma), self.lifetimeMs, self.level, self.rttMs)

    @property
    def expiresAt(self) -> float:
        """
        When the entry is deleted (seconds since the epoch).
        """
        return (self.createdMs + self.lifetimeMs) / 1000.0


@define(eq=False)
class MAState:
    """
    One live row of the MA table.

    @ivar record: the newest heartbeat known for the MA.
    @ivar pending: assignments replicas know of (answers), by a key that
        identifies them on every replica (prefix, time, MA), with their
        time and level.  They count towards the load index until a heartbeat
        covers them (L{covered}); they are kept C{margin} ms longer so that
        merges stay order-independent.
    @ivar local: assignments only this replica knows of (history hits), in
        time order, with the same rule.
    @ivar active: whether its timer is running.
    @ivar via: the peer that relayed the newest heartbeat, or C{None} when
        the MA heartbeats to this LS itself.
    """

    record: MARecord
    pending: dict[object, tuple[int, ServiceLevel]] = field(factory=dict)
    local: deque[tuple[int, ServiceLevel]] = field(factory=deque)
    active: bool = True
    via: str | None = None
    assignedNormal: int = 0
    assignedPremium: int = 0
    margin: int = 60_000
    grace: int = 2_000

    @property
    def address(self) -> IPv6Address:
        return self.record.address

    def deadline(self, settings: LSSettings) -> float:
        """
        When the heartbeat timer runs out.
        """
        return self.record.heardMs / 1000.0 + settings.maTimeout

    def loadIndex(self, settings: LSSettings) -> float:
        """
        C{normal x wt_normal + premium x wt_premium}, counting the reported
        connections and the assignments made since.
        """
        return (self.record.normal + self.assignedNormal) * settings.weightNormal + (
            self.record.premium + self.assignedPremium
        ) * settings.weightPremium

    def limit(self, settings: LSSettings) -> float:
        """
        The load this MA may reach: C{TH_load}, or its capacity if lower.
        """
        cap = self.record.capacity
        return min(settings.threshold, float(cap)) if cap > 0 else settings.threshold

    def hasRoom(self, settings: LSSettings, level: ServiceLevel) -> bool:
        """
        Whether one more user of C{level} keeps it at or under its limit.
        """
        return self.loadIndex(settings) + settings.weight(level) <= self.limit(settings)

    def utilisation(self, settings: LSSettings, level: ServiceLevel) -> float:
        """
        The share of its limit the MA would use with one more user of
        C{level}: C{(load index + weight) / limit} (1 or more when it has
        no room).
        """
        limit = self.limit(settings)
        used = self.loadIndex(settings) + settings.weight(level)
        return used / limit if limit > 0 else 1.0

    def _count(self, level: ServiceLevel, delta: int) -> None:
        if level is ServiceLevel.PREMIUM:
            self.assignedPremium += delta
        else:
            self.assignedNormal += delta

    def assign(self, key: object, ms: int, level: ServiceLevel) -> None:
        """
        Note an assignment that replicas know by C{key} (an answer).  It
        counts (once per key) unless the heartbeat covers it (see
        L{covered}).
        """
        covers = self.record.heardMs - self.grace
        known = self.pending.get(key)
        if known is not None:
            if known[1] >= level:
                return
            # The same assignment told with two levels: the higher one
            # counts, whatever the order they came in.
            if known[0] >= covers:
                self._count(known[1], -1)
        self.pending[key] = (ms, level)
        if ms >= covers:
            self._count(level, 1)

    @property
    def covered(self) -> int:
        """
        Assignments made before this time (ms) are in the MA's reported
        counts: those made more than C{grace} ms before the heartbeat was
        heard.  The grace covers a heartbeat sent before the user
        registered but heard after the decision (counting an assignment
        twice for a moment is safe; missing it could push the MA over its
        threshold).
        """
        return self.record.heardMs - self.grace

    def assignLocal(self, ms: int, level: ServiceLevel) -> None:
        """
        Note an assignment only this replica knows (a history hit).
        """
        if ms >= self.covered:
            self.local.append((ms, level))
            self._count(level, 1)

    def replace(self, record: MARecord) -> None:
        """
        Take a newer heartbeat: assignments it covers stop counting.

        Replicated assignments are kept for C{margin} ms more, so that the
        count does not depend on the order heartbeats and answers arrive in.
        """
        self.record = record
        heard = record.heardMs - self.grace
        local = self.local
        while local and local[0][0] < heard:
            local.popleft()
        if self.pending:
            floor = record.heardMs - self.margin
            self.pending = {k: v for k, v in self.pending.items() if v[0] >= floor}
        premium = sum(1 for _, level in local if level is ServiceLevel.PREMIUM)
        normal = len(local) - premium
        for ms, level in self.pending.values():
            if ms >= heard:
                if level is ServiceLevel.PREMIUM:
                    premium += 1
                else:
                    normal += 1
        self.assignedNormal, self.assignedPremium = normal, premium


@frozen
class Query:
    """
    One MA_REQUEST that passed the cookie and rate checks and whose Node ID
    the directory knows and allows.

    @ivar source: the requester's address; its /64 keys the history table
        and it is the RTT target.
    @ivar nodeID: the requester's Node ID.
    @ivar level: its level of service from the directory.
    @ivar requestId: the request id to answer with.
    @ivar replyTo: an opaque handle the server uses to send the reply.
    """

    source: IPv6Address
    nodeID: NodeID
    level: ServiceLevel
    requestId: int
    replyTo: object = field(eq=False, default=None)

    @property
    def prefixValue(self) -> int:
        return int(self.source) >> 64


@frozen
class SendRTTRequest:
    """
    Ask C{ma} to measure the RTT to C{target}; answer with C{probeId}.
    """

    ma: IPv6Address
    probeId: int
    target: IPv6Address
    via: str | None


@frozen
class Answer:
    """
    Reply to C{query} with C{ma}.

    @ivar cached: whether it came from the history table.
    @ivar rttMs: the measured RTT (0 for a cached answer).
    """

    query: Query
    ma: IPv6Address
    rttMs: float
    cached: bool


@frozen
class Refuse:
    """
    Reply to C{query} with an error: no MA can be given.
    """

    query: Query
    reason: Refusal


@frozen
class NotifyAssignment:
    """
    Tell C{ma} that C{nodeID} (of C{level}, in C{prefix}) was given to it.
    """

    ma: IPv6Address
    nodeID: NodeID
    level: ServiceLevel
    prefix: Prefix
    via: str | None


@frozen
class PropagateAnswer:
    """
    Send a new history entry to every peer (ANSTBL_UPDATE).
    """

    record: AnswerRecord


@frozen
class RelayHeartbeat:
    """
    Send an MA table entry to every peer (MATBL_UPDATE).
    """

    record: MARecord


Effect = SendRTTRequest | Answer | Refuse | NotifyAssignment | PropagateAnswer | RelayHeartbeat


@define(eq=False)
class _Round:
    """
    A pending RTT measurement for one prefix.
    """

    roundId: int
    prefixValue: int
    target: IPv6Address
    deadline: float
    probes: dict[int, IPv6Address]
    asked: int
    replies: dict[IPv6Address, float] = field(factory=dict)
    waiting: list[Query] = field(factory=list)
    done: bool = False


def _ms(now: float) -> int:
    return round(now * 1000)


class LSCore:
    """
    The MA table, the history table and the heuristic of one LS replica.

    @ivar settings: the tunables.
    @ivar counters: named event counters (for status pages and metrics).
    """

    log = Logger()

    def __init__(self, settings: LSSettings, name: str = "ls") -> None:
        self.settings = settings
        self.name = name
        self._mas: dict[IPv6Address, MAState] = {}
        self._maExpiry: list[tuple[float, int, IPv6Address]] = []
        self._history: dict[int, AnswerRecord] = {}
        self._orphans: dict[IPv6Address, dict[object, tuple[int, ServiceLevel]]] = {}
        self._historyExpiry: list[tuple[float, int, int]] = []
        self._rounds: dict[int, _Round] = {}
        self._roundsByPrefix: dict[int, _Round] = {}
        self._roundDeadlines: list[tuple[float, int]] = []
        self._roundsById: dict[int, _Round] = {}
        self._probeIds = itertools.count(1)
        self._tie = itertools.count()
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "heartbeats",
                "heartbeats_stale",
                "ma_updates_merged",
                "ma_updates_stale",
                "answers_merged",
                "answers_stale",
                "queries",
                "hits",
                "misses",
                "decisions",
                "refusals",
                "rtt_requests",
                "rtt_replies",
                "rtt_replies_late",
                "ma_expired",
                "history_expired",
            ),
            0,
        )

    # -- MA table -----------------------------------------------------------

    def heartbeat(self, now: float, report: HeartbeatReport) -> list[Effect]:
        """
        An MA connected to this LS sent a heartbeat.

        A heartbeat with a newer C{(bootID, sequence)} than the table's
        resets the MA's timer, replaces its counts (and forgets the
        assignments made since the previous one), revives it if it was
        inactive, and is relayed to the peers.  An older or repeated one is
        counted and ignored.
        """
        self.counters["heartbeats"] += 1
        record = MARecord(
            report.address,
            report.normal,
            report.premium,
            report.capacity,
            report.bootID,
            report.sequence,
            _ms(now),
            report.port,
            report.interval,
        )
        existing = self._mas.get(report.address)
        if existing is not None and (report.bootID, report.sequence) <= (
            existing.record.bootID,
            existing.record.sequence,
        ):
            self.counters["heartbeats_stale"] += 1
            return []
        self._store(now, record, None)
        return [RelayHeartbeat(record)]

    def mergeMA(self, now: float, record: MARecord, via: str, quiet: bool = False) -> bool:
        """
        Merge an MA table entry from peer C{via} (MATBL_UPDATE or sync).

        @param quiet: do not log the MA joining (a sync logs one summary).
        @return: whether it changed the table (it was newer).
        """
        existing = self._mas.get(record.address)
        if existing is not None and record.order() <= existing.record.order():
            self.counters["ma_updates_stale"] += 1
            return False
        self.counters["ma_updates_merged"] += 1
        self._store(now, record, via, quiet)
        return True

    def _store(self, now: float, record: MARecord, via: str | None, quiet: bool = False) -> None:
        state = self._mas.get(record.address)
        fresh = record.heardMs / 1000.0 + self.settings.maTimeout > now
        if state is None:
            state = MAState(
                record,
                active=fresh,
                via=via,
                margin=round(2000 * self.settings.maTimeout),
                grace=round(1000 * self.settings.assignmentGrace),
            )
            orphans = self._orphans.pop(record.address, None)
            if orphans:
                state.pending = orphans
                state.replace(record)
            self._mas[record.address] = state
            if not quiet:
                self.log.info(
                    "MA {ma} joined ({state}, boot {bootID}, seq {sequence}, via {via})",
                    ma=record.address,
                    state="active" if fresh else "inactive",
                    bootID=record.bootID,
                    sequence=record.sequence,
                    via=via or "direct",
                )
        else:
            state.replace(record)
            state.via = via
            if fresh and not state.active:
                state.active = True
                self.log.info(
                    "MA {ma} is active again (boot {bootID}, seq {sequence}, via {via})",
                    ma=record.address,
                    bootID=record.bootID,
                    sequence=record.sequence,
                    via=via or "direct",
                )
            elif not fresh and state.active:
                state.active = False
                self.log.info("MA {ma} is inactive (stale update)", ma=record.address)
        if state.active:
            heapq.heappush(
                self._maExpiry, (state.deadline(self.settings), next(self._tie), record.address)
            )
            self._compactMAExpiry()

    def _compactMAExpiry(self) -> None:
        # Lazy deletion leaves one stale heap entry per superseded heartbeat;
        # rebuild when they dominate, keeping memory O(number of MAs).
        if len(self._maExpiry) > 4 * len(self._mas) + 64:
            live = [
                (s.deadline(self.settings), next(self._tie), s.address)
                for s in self._mas.values()
                if s.active
            ]
            heapq.heapify(live)
            self._maExpiry = live

    def maDisconnected(self, now: float, address: IPv6Address) -> None:
        """
        The MA channel of C{address} closed.  Its entry stays (the MA may
        have moved to another replica); only its timer decides whether it
        is active.  Only the route for RTT requests changes.
        """
        state = self._mas.get(address)
        if state is not None and state.via is None:
            self.log.info("MA {ma} disconnected; its timer keeps running", ma=address)

    def ma(self, address: IPv6Address) -> MAState | None:
        """
        The MA table row for C{address}, if any.
        """
        return self._mas.get(address)

    def mas(self) -> Iterator[MAState]:
        """
        Every MA table row (active or not).
        """
        return iter(self._mas.values())

    def maRecords(self) -> list[MARecord]:
        """
        The MA table as replicas exchange it (for a sync).
        """
        return [s.record for s in self._mas.values()]

    # -- history table ------------------------------------------------------

    def mergeAnswer(self, now: float, record: AnswerRecord) -> bool:
        """
        Merge a history entry from a peer (ANSTBL_UPDATE or sync).

        An entry already expired is ignored; otherwise the newer answer for
        the prefix wins (see L{AnswerRecord.order}).  Every unexpired answer
        also counts as an assignment to its MA (once, by its key), even one
        a newer answer for the prefix has replaced, so replicas do not
        together push an MA over its threshold between heartbeats and the
        count does not depend on the arrival order.

        @return: whether it changed the table.
        """
        return self.mergeAnswers(now, (record,)) == 1

    def mergeAnswers(self, now: float, records: Iterable[AnswerRecord]) -> int:
        """
        Merge many history entries (see L{mergeAnswer}); the loop a sync of
        100,000 entries runs.

        @return: how many changed the table.
        """
        mas = self._mas
        orphans = self._orphans
        history = self._history
        expiry = self._historyExpiry
        push = heapq.heappush
        merged = stale = 0
        for record in records:
            prefix, ma, createdMs, lifetimeMs, level, rttMs = record
            expiresAt = (createdMs + lifetimeMs) / 1000.0
            if expiresAt <= now:
                stale += 1
                continue
            key = prefix.value
            assignment = (key, createdMs, int(ma))
            state = mas.get(ma)
            if state is not None:
                state.assign(assignment, createdMs, level)
            elif len(orphans) < _MAX_ORPHANS:
                waiting = orphans.setdefault(ma, {})
                known = waiting.get(assignment)
                if known is None or known[1] < level:
                    waiting[assignment] = (createdMs, level)
            existing = history.get(key)
            if existing is not None and (createdMs, int(ma), lifetimeMs, level, rttMs) <= (
                existing[2],
                int(existing[1]),
                existing[3],
                existing[4],
                existing[5],
            ):
                stale += 1
                continue
            merged += 1
            history[key] = record
            push(expiry, (expiresAt, key, createdMs))
        self.counters["answers_merged"] += merged
        self.counters["answers_stale"] += stale
        if len(self._historyExpiry) > 4 * len(history) + 64:
            self._rebuildHistoryExpiry()
        return merged

    def _putHistory(self, record: AnswerRecord) -> None:
        key = record.prefix.value
        self._history[key] = record
        heapq.heappush(self._historyExpiry, (record.expiresAt, key, record.createdMs))
        if len(self._historyExpiry) > 4 * len(self._history) + 64:
            self._rebuildHistoryExpiry()

    def _rebuildHistoryExpiry(self) -> None:
        live = [(r.expiresAt, k, r.createdMs) for k, r in self._history.items()]
        heapq.heapify(live)
        self._historyExpiry = live

    def history(self) -> Iterator[AnswerRecord]:
        """
        Every history-table entry.
        """
        return iter(self._history.values())

    def historyFor(self, prefix: Prefix) -> AnswerRecord | None:
        """
        The history entry for C{prefix}, if any.
        """
        return self._history.get(prefix.value)

    @property
    def historySize(self) -> int:
        return len(self._history)

    @property
    def maSize(self) -> int:
        return len(self._mas)

    @property
    def activeMAs(self) -> int:
        return sum(1 for s in self._mas.values() if s.active)

    # -- queries ------------------------------------------------------------

    def query(self, now: float, query: Query) -> list[Effect]:
        """
        Answer one MA_REQUEST (the paper's algorithm, section IV.B).

        A history hit whose MA is active and has room for the level is
        answered at once (the MA's load grows and it is told); anything
        else is a miss: the active candidates with room are sent RTT
        requests, and the query waits for L{rttReply} or the deadline
        (the round is then decided by L{rank}).
        Queries from a prefix whose round is already pending join it.
        """
        self.counters["queries"] += 1
        key = query.prefixValue
        hit = self._history.get(key)
        if hit is not None and hit.expiresAt > now:
            state = self._mas.get(hit.ma)
            if state is not None and state.active and state.hasRoom(self.settings, query.level):
                self.counters["hits"] += 1
                state.assignLocal(_ms(now), query.level)
                return [
                    Answer(query, hit.ma, 0.0, True),
                    NotifyAssignment(hit.ma, query.nodeID, query.level, hit.prefix, state.via),
                ]
        self.counters["misses"] += 1
        pending = self._roundsByPrefix.get(key)
        if pending is not None:
            pending.waiting.append(query)
            return []
        candidates = [
            s for s in self._mas.values() if s.active and s.hasRoom(self.settings, query.level)
        ]
        if not candidates:
            return self._refuse(query, Refusal.NO_MA_AVAILABLE)
        if len(candidates) > self.settings.maxProbes:
            candidates.sort(key=lambda s: (s.loadIndex(self.settings), int(s.address)))
            del candidates[self.settings.maxProbes :]
        deadline = now + self.settings.rttTimeout
        probes = {(next(self._probeIds) & _MASK32) or 1: s.address for s in candidates}
        roundId = next(self._tie)
        rnd = _Round(roundId, key, query.source, deadline, probes, len(probes), waiting=[query])
        self._roundsById[roundId] = rnd
        effects: list[Effect] = []
        for probeId, address in probes.items():
            self._rounds[probeId] = rnd
            effects.append(SendRTTRequest(address, probeId, query.source, self._mas[address].via))
        self._roundsByPrefix[key] = rnd
        heapq.heappush(self._roundDeadlines, (deadline, roundId))
        self.counters["rtt_requests"] += len(probes)
        return effects

    def _refuse(self, query: Query, reason: Refusal) -> list[Effect]:
        self.counters["refusals"] += 1
        self.log.info(
            "Refused {nodeID} from {source}: {reason}",
            nodeID=query.nodeID,
            source=query.source,
            reason=reason.value,
        )
        return [Refuse(query, reason)]

    def rttReply(
        self, now: float, ma: IPv6Address, probeId: int, rttMs: float | None
    ) -> list[Effect]:
        """
        An MA answered an RTT request; C{rttMs} is C{None} if it could not
        reach the target.  When every candidate of the round has answered,
        the round is decided at once.
        """
        rnd = self._rounds.get(probeId)
        if rnd is None or rnd.done or rnd.probes.get(probeId) != ma:
            self.counters["rtt_replies_late"] += 1
            return []
        self.counters["rtt_replies"] += 1
        del self._rounds[probeId]
        del rnd.probes[probeId]
        if rttMs is not None and rttMs >= 0:
            rnd.replies[ma] = rttMs
        if not rnd.probes:
            return self._decide(now, rnd)
        return []

    def _decide(self, now: float, rnd: _Round) -> list[Effect]:
        rnd.done = True
        self._roundsById.pop(rnd.roundId, None)
        for probeId in rnd.probes:
            self._rounds.pop(probeId, None)
        rnd.probes.clear()
        if self._roundsByPrefix.get(rnd.prefixValue) is rnd:
            del self._roundsByPrefix[rnd.prefixValue]
        ranked = sorted(
            (rtt, int(ma), ma)
            for ma, rtt in rnd.replies.items()
            if (s := self._mas.get(ma)) is not None and s.active
        )
        effects: list[Effect] = []
        recorded = False
        for query in rnd.waiting:
            chosen = self.rank(ranked, query.level)
            if chosen is None:
                reason = Refusal.NO_RTT_REPLY if not ranked else Refusal.NO_MA_AVAILABLE
                effects.extend(self._refuse(query, reason))
                continue
            rtt, ma, state = chosen
            if recorded:
                state.assignLocal(_ms(now), query.level)
            else:
                state.assign((rnd.prefixValue, _ms(now), int(ma)), _ms(now), query.level)
            self.counters["decisions"] += 1
            self.log.info(
                "Decided MA {ma} for {nodeID} from {prefix} (rtt {rtt:.3f} ms, "
                "{replies} of {asked} replied, load now {load:g})",
                ma=ma,
                nodeID=query.nodeID,
                prefix=Prefix(rnd.prefixValue),
                rtt=rtt,
                replies=len(rnd.replies),
                asked=rnd.asked,
                load=state.loadIndex(self.settings),
            )
            effects.append(Answer(query, ma, rtt, False))
            effects.append(
                NotifyAssignment(ma, query.nodeID, query.level, Prefix(rnd.prefixValue), state.via)
            )
            if not recorded:
                recorded = True
                record = AnswerRecord(
                    Prefix(rnd.prefixValue),
                    ma,
                    _ms(now),
                    _ms(self.settings.historyLifetime),
                    query.level,
                    rtt,
                )
                existing = self._history.get(rnd.prefixValue)
                if existing is None or record.order() > existing.order():
                    self._putHistory(record)
                    effects.append(PropagateAnswer(record))
        return effects

    def rank(
        self, replies: Iterable[tuple[float, int, IPv6Address]], level: ServiceLevel
    ) -> tuple[float, IPv6Address, MAState] | None:
        """
        Pick the MA for a user of C{level} among a round's replies.

        Every replying MA in the table with room for C{level} is a
        candidate; it costs its measured RTT times C{1 + load_price x u},
        C{u} being its utilisation with the new user
        (L{MAState.utilisation}).  The cheapest wins; equal costs go to the
        lower RTT, then the lower address, so the choice is deterministic.
        With C{load_price} 0 this is the paper's rule: the lowest RTT with
        room.

        Why a price: the LS decides online, one /64 at a time, and the
        lowest-RTT rule fills the MA nearest to a crowd of users with the
        first comers, whether or not they had an alternative nearly as good;
        later users whose only near MA it was are then sent far.  The
        optimal (offline) assignment behaves as if every MA had a price
        that grows while it fills; a utilisation-proportional surcharge is
        the online stand-in.  It is relative (scale-free: no millisecond
        constant to fit to a deployment), it never moves a user to an MA
        more than C{1 + load_price} times as far, and it only matters
        between candidates whose RTTs are within that factor, which is also
        where a four-ping mean cannot tell them apart reliably.  Measured
        on the RIPE Atlas selection simulation (C{lin6 lab selection}) in
        docs/architecture.md, "Decisions".

        @param replies: C{(rtt ms, int(address), address)} per MA.
        @return: C{(rtt, address, state)} of the chosen MA, or C{None} if
            no candidate has room.
        """
        settings = self.settings
        price = settings.loadPrice
        best: tuple[float, float, int] | None = None
        chosen = None
        for rtt, key, ma in replies:
            state = self._mas.get(ma)
            if state is None or not state.hasRoom(settings, level):
                continue
            cost = rtt * (1.0 + price * state.utilisation(settings, level)) if price else rtt
            order = (cost, rtt, key)
            if best is None or order < best:
                best, chosen = order, (rtt, ma, state)
        return chosen

    # -- time ---------------------------------------------------------------

    def tick(self, now: float) -> list[Effect]:
        """
        Run every timer due at C{now}: MA timers (the MA becomes inactive),
        history lifetimes (the entry is deleted) and round deadlines (the
        round is decided with the replies it has).
        """
        effects: list[Effect] = []
        heap = self._maExpiry
        while heap and heap[0][0] <= now:
            _, _, address = heapq.heappop(heap)
            state = self._mas.get(address)
            if state is None or not state.active or state.deadline(self.settings) > now:
                continue
            state.active = False
            self.counters["ma_expired"] += 1
            self.log.info(
                "MA {ma} is inactive: no heartbeat for {timeout:g} s",
                ma=address,
                timeout=self.settings.maTimeout,
            )
        hheap = self._historyExpiry
        while hheap and hheap[0][0] <= now:
            _, key, createdMs = heapq.heappop(hheap)
            record = self._history.get(key)
            if record is None or record.createdMs != createdMs or record.expiresAt > now:
                continue
            del self._history[key]
            self.counters["history_expired"] += 1
            self.log.debug("History entry {prefix} expired", prefix=record.prefix)
        rheap = self._roundDeadlines
        while rheap and rheap[0][0] <= now:
            _, roundId = heapq.heappop(rheap)
            rnd = self._roundsById.get(roundId)
            if rnd is None or rnd.done:
                continue
            effects.extend(self._decide(now, rnd))
        return effects

    def nextWakeup(self) -> float | None:
        """
        When L{tick} has something to do next, or C{None}.

        (Stale heap entries may make this earlier than needed, never later.)
        """
        times = [h[0][0] for h in (self._maExpiry, self._historyExpiry, self._roundDeadlines) if h]
        return min(times) if times else None

    def pendingRounds(self) -> int:
        """
        How many RTT rounds are waiting for replies.
        """
        return len(self._roundsByPrefix)
