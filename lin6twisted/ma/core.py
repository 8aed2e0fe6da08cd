# -*- test-case-name: lin6twisted.ma.test.test_core -*-
"""
The Mapping Agent's decisions, without I/O.

L{MappingTable} holds the bindings (Node ID -> locators, with a lifetime),
the last accepted registration sequence number of every Node ID, and the
correspondents that asked for a Node ID (so they can be told when its
locator changes).  Every method takes C{now} (seconds, from the reactor) and
returns what happened; the service feeds it messages and acts on the
results (replies, NOTIFYs, journal records, bandwidth classes, log lines).

L{authorize} holds the registration rules of DESIGN.md section 5: the Node
ID must exist and be enabled, the key id must match, the HMAC must verify
with the subscriber's key, the locators must carry the registering Node ID
(a node can only register its own Node ID), and the sequence number must be
strictly greater than the last one accepted for that Node ID.

This module has no Twisted imports.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Iterable, Iterator

from attrs import frozen

from lin6twisted.address import Locator, NodeID
from lin6twisted.directory import ServiceLevel, Subscriber

__all__ = [
    "Binding",
    "Correspondent",
    "MappingTable",
    "QueryResult",
    "Refusal",
    "RegistrationRefused",
    "RegistrationResult",
    "TableSettings",
    "authorize",
]

Correspondent = tuple[str, int]
"""Where a querier listens: (IPv6 address text, UDP port)."""


class Refusal(enum.Enum):
    """
    Why a registration is refused.  The service maps each to a
    C{RegisterStatus} on the wire, in one place.
    """

    UNKNOWN_NODE = "unknown node"
    DISABLED = "node disabled"
    BAD_KEY_ID = "wrong key id"
    BAD_HMAC = "HMAC does not verify"
    REPLAY = "sequence number not greater than the last accepted"
    FOREIGN_LOCATOR = "locator does not carry the registering Node ID"
    SOURCE_MISMATCH = "source address is none of the registered locators"
    NO_LOCATORS = "registration carries no locator"
    DIRECTORY_UNAVAILABLE = "directory unavailable"
    BAD_ENTRY = "malformed directory entry"
    NOT_ASSIGNED = "the LS has not assigned this node to this MA"


class RegistrationRefused(Exception):
    """
    A registration breaks a rule; C{reason} says which.
    """

    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(reason.value + (f": {detail}" if detail else ""))
        self.reason = reason
        self.detail = detail


@frozen
class TableSettings:
    """
    Tunables of the binding table.

    @ivar maxLifetime: the longest lifetime granted, in seconds (requests
        for more are capped).
    @ivar replyTTL: the longest TTL given in a positive MAP_REPLY (it is
        also never longer than the binding's remaining lifetime).
    @ivar negativeTTL: the TTL of a negative MAP_REPLY.
    @ivar maxCorrespondents: correspondents remembered per Node ID (the
        oldest is forgotten first).
    """

    maxLifetime: float = 3600.0
    replyTTL: float = 60.0
    negativeTTL: float = 10.0
    maxCorrespondents: int = 64


@frozen
class Binding:
    """
    One Node ID's current locators.

    @ivar expires: when the binding ends (reactor seconds); C{None} for a
        pinned binding, which lasts until it is deregistered or replaced.
    @ivar sequence: the sequence number of the registration that made it.
    """

    nodeID: NodeID
    locators: tuple[Locator, ...]
    level: ServiceLevel
    sequence: int
    registered: float
    expires: float | None
    pinned: bool = False

    def remaining(self, now: float) -> float | None:
        """
        Seconds left, or C{None} if pinned.
        """
        if self.expires is None:
            return None
        return max(0.0, self.expires - now)

    def isExpired(self, now: float) -> bool:
        """
        Whether the binding's lifetime has run out at C{now}.
        """
        return self.expires is not None and now >= self.expires


@frozen
class RegistrationResult:
    """
    What an accepted registration did.

    @ivar binding: the new binding, or C{None} for a deregistration.
    @ivar previous: the binding it replaced, if any.
    @ivar lifetime: the lifetime granted (0 for a deregistration, the
        requested one capped by the settings otherwise).
    @ivar notify: correspondents to tell that the locators changed.
    """

    nodeID: NodeID
    sequence: int
    binding: Binding | None
    previous: Binding | None
    lifetime: float
    notify: tuple[Correspondent, ...]

    @property
    def changed(self) -> bool:
        """
        Whether the set of locators changed (including appearing or going).
        """
        before = self.previous.locators if self.previous else ()
        after = self.binding.locators if self.binding else ()
        return set(before) != set(after)


@frozen
class QueryResult:
    """
    The answer to a MAP_QUERY: locators (empty when not found) and a TTL.
    """

    nodeID: NodeID
    locators: tuple[Locator, ...]
    ttl: float

    @property
    def found(self) -> bool:
        return bool(self.locators)


def authorize(
    nodeID: NodeID,
    locators: Iterable[Locator],
    keyID: int,
    pinned: bool,
    subscriber: Subscriber | None,
    verify: Callable[[bytes], bool],
    source: str | None = None,
) -> Subscriber:
    """
    Check a registration against the directory entry of its Node ID.

    The sequence number is checked by L{MappingTable.register}, after
    authentication, so that an unauthenticated sender learns nothing about
    it.

    @param verify: checks the message's HMAC with a key.
    @param source: if given, the datagram's source address, which must be
        one of the locators (a deregistration carries none and skips this).
    @return: the subscriber.
    @raise RegistrationRefused: with the first rule broken.
    """
    if subscriber is None:
        raise RegistrationRefused(Refusal.UNKNOWN_NODE, str(nodeID))
    if subscriber.nodeID != nodeID:
        raise RegistrationRefused(Refusal.UNKNOWN_NODE, f"directory answered {subscriber.nodeID}")
    if not subscriber.enabled:
        raise RegistrationRefused(Refusal.DISABLED, str(nodeID))
    if keyID != subscriber.keyID:
        raise RegistrationRefused(
            Refusal.BAD_KEY_ID, f"{nodeID} sent key id {keyID}, directory has {subscriber.keyID}"
        )
    if not verify(subscriber.key):
        raise RegistrationRefused(Refusal.BAD_HMAC, str(nodeID))
    locs = list(locators)
    for loc in locs:
        if loc.nodeID != nodeID:
            raise RegistrationRefused(Refusal.FOREIGN_LOCATOR, f"{loc} for {nodeID}")
    if source is not None and locs:
        try:
            src = ipaddress.IPv6Address(source.split("%", 1)[0])
        except ValueError:
            raise RegistrationRefused(Refusal.SOURCE_MISMATCH, source) from None
        if all(loc.address != src for loc in locs):
            raise RegistrationRefused(Refusal.SOURCE_MISMATCH, f"{source} for {nodeID}")
    return subscriber


class MappingTable:
    """
    The bindings, last sequence numbers and correspondents of one MA.

    @ivar settings: the L{TableSettings}.
    """

    def __init__(self, settings: TableSettings | None = None) -> None:
        self.settings = settings or TableSettings()
        self._bindings: dict[NodeID, Binding] = {}
        self._sequences: dict[NodeID, int] = {}
        self._correspondents: dict[NodeID, dict[Correspondent, float]] = {}

    # -- registrations -------------------------------------------------------

    def lastSequence(self, nodeID: NodeID) -> int | None:
        """
        The last accepted sequence number of C{nodeID}, if any.
        """
        return self._sequences.get(nodeID)

    def checkSequence(self, nodeID: NodeID, sequence: int) -> None:
        """
        @raise RegistrationRefused: (L{Refusal.REPLAY}) if C{sequence} is not
            strictly greater than the last accepted one.
        """
        last = self._sequences.get(nodeID)
        if last is not None and sequence <= last:
            raise RegistrationRefused(
                Refusal.REPLAY, f"{nodeID} sent sequence {sequence}, last accepted {last}"
            )

    def register(
        self,
        nodeID: NodeID,
        locators: Iterable[Locator],
        lifetime: float,
        sequence: int,
        level: ServiceLevel,
        now: float,
        pinned: bool = False,
    ) -> RegistrationResult:
        """
        Apply an authenticated registration.

        A lifetime of 0 (or no locators) deregisters.  A pinned binding never
        expires by time; an unpinned one lasts C{min(lifetime, maxLifetime)}.

        @raise RegistrationRefused: (L{Refusal.REPLAY}) for a stale sequence.
        """
        self.checkSequence(nodeID, sequence)
        self._sequences[nodeID] = sequence
        locs = tuple(dict.fromkeys(locators))
        previous = self._bindings.get(nodeID)
        if previous is not None and previous.isExpired(now):
            previous = None
        if lifetime <= 0 or not locs:
            self._bindings.pop(nodeID, None)
            notify = self._correspondentsOf(nodeID, now) if previous else ()
            return RegistrationResult(nodeID, sequence, None, previous, 0.0, notify)
        if pinned:
            granted = float(lifetime)
            expires = None
        else:
            granted = float(min(lifetime, self.settings.maxLifetime))
            expires = now + granted
        binding = Binding(nodeID, locs, level, sequence, now, expires, pinned)
        self._bindings[nodeID] = binding
        changes: tuple[Correspondent, ...] = ()
        if (
            previous is not None
            and previous.locators != locs
            and set(previous.locators) != set(locs)
        ):
            changes = self._correspondentsOf(nodeID, now)
        return RegistrationResult(nodeID, sequence, binding, previous, granted, changes)

    def restoreSequence(self, nodeID: NodeID, sequence: int) -> None:
        """
        Reinstate a last sequence number read back from the journal (the
        higher of the known and the given one is kept).
        """
        last = self._sequences.get(nodeID)
        if last is None or sequence > last:
            self._sequences[nodeID] = sequence

    def restoreBinding(self, binding: Binding) -> None:
        """
        Reinstate a binding read back from the journal; no rule is checked.
        """
        self.restoreSequence(binding.nodeID, binding.sequence)
        self._bindings[binding.nodeID] = binding

    def remove(self, nodeID: NodeID, sequence: int | None = None) -> Binding | None:
        """
        Remove the binding of C{nodeID}, if it is not newer than
        C{sequence} (any binding if C{sequence} is C{None}).

        @return: the removed binding.
        """
        b = self._bindings.get(nodeID)
        if b is None or (sequence is not None and b.sequence > sequence):
            return None
        del self._bindings[nodeID]
        return b

    def expire(self, now: float) -> list[Binding]:
        """
        Remove the bindings whose lifetime ran out, and correspondents no
        longer worth telling.

        @return: the removed bindings.
        """
        gone = [b for b in self._bindings.values() if b.isExpired(now)]
        for b in gone:
            del self._bindings[b.nodeID]
        for nodeID in list(self._correspondents):
            seen = self._correspondents[nodeID]
            for c in [c for c, until in seen.items() if until <= now]:
                del seen[c]
            if not seen:
                del self._correspondents[nodeID]
        return gone

    # -- queries -------------------------------------------------------------

    def lookup(self, nodeID: NodeID, now: float) -> Binding | None:
        """
        The live binding of C{nodeID}, if any.
        """
        b = self._bindings.get(nodeID)
        if b is None or b.isExpired(now):
            return None
        return b

    def query(
        self, nodeID: NodeID, now: float, correspondent: Correspondent | None = None
    ) -> QueryResult:
        """
        Answer a MAP_QUERY and remember who asked.

        A positive answer's TTL is the binding's remaining lifetime capped by
        C{replyTTL}; a negative answer's is C{negativeTTL}.  The querier is
        remembered (for NOTIFY) for as long as its answer may be cached.
        """
        b = self.lookup(nodeID, now)
        if b is None:
            return QueryResult(nodeID, (), self.settings.negativeTTL)
        remaining = b.remaining(now)
        ttl = (
            self.settings.replyTTL if remaining is None else min(remaining, self.settings.replyTTL)
        )
        if correspondent is not None:
            seen = self._correspondents.setdefault(nodeID, {})
            seen.pop(correspondent, None)
            seen[correspondent] = now + ttl
            while len(seen) > self.settings.maxCorrespondents:
                del seen[next(iter(seen))]
        return QueryResult(nodeID, b.locators, ttl)

    def _correspondentsOf(self, nodeID: NodeID, now: float) -> tuple[Correspondent, ...]:
        seen = self._correspondents.get(nodeID, {})
        return tuple(c for c, until in seen.items() if until > now)

    def correspondents(self, nodeID: NodeID, now: float) -> tuple[Correspondent, ...]:
        """
        Who asked for C{nodeID} and may still hold its answer.
        """
        return self._correspondentsOf(nodeID, now)

    # -- views ---------------------------------------------------------------

    def bindings(self) -> Iterator[Binding]:
        """
        Every binding (including any that expired since the last L{expire}).
        """
        return iter(list(self._bindings.values()))

    def sequences(self) -> dict[NodeID, int]:
        """
        A copy of the last accepted sequence number of every Node ID.
        """
        return dict(self._sequences)

    def counts(self, now: float) -> dict[ServiceLevel, int]:
        """
        Live bindings of served nodes per service level (what heartbeats
        report); pinned bindings (content servers) are not counted.
        """
        out = dict.fromkeys(ServiceLevel, 0)
        for b in self._bindings.values():
            if not b.pinned and not b.isExpired(now):
                out[b.level] += 1
        return out

    def __len__(self) -> int:
        return len(self._bindings)
