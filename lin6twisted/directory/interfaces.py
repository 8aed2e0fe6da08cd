# -*- test-case-name: lin6twisted.directory.test.test_interfaces -*-
"""
The subscriber directory as the LS and the MA see it.

A subscriber is a node (mobile node or content server) known to the
deployment: its Node ID, its service level, the key it authenticates its
registrations with, and whether it is enabled.  Callers ask an L{IDirectory}
for one Node ID at a time:

    - the lookup fires with a L{Subscriber}, or C{None} for an unknown node;
    - it fails with L{DirectoryUnavailable} when the backend cannot be
      reached (callers refuse I{new} work with a clear status but keep
      existing sessions);
    - it fails with L{BadDirectoryEntry} when the entry exists but is
      malformed; the directory has already logged it and callers treat it as
      a refusal.

L{FakeDirectory} is a dict-backed implementation for unit tests of other
parts (it can be switched "down").
"""

from __future__ import annotations

import enum

from attrs import field, frozen
from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import Interface, implementer

from lin6twisted.address import NodeID

__all__ = [
    "BadDirectoryEntry",
    "DirectoryError",
    "DirectoryUnavailable",
    "FakeDirectory",
    "IDirectory",
    "ServiceLevel",
    "Subscriber",
]


class ServiceLevel(enum.IntEnum):
    """
    A subscriber's level of service.  The wire value is the int value; the
    LDAP value is the lower-case name (C{normal}, C{premium}).
    """

    NORMAL = 1
    PREMIUM = 2

    @classmethod
    def fromText(cls, text: str) -> ServiceLevel:
        """
        Parse the LDAP / configuration text form (case-insensitive).

        @raise ValueError: if C{text} names no level.
        """
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = " | ".join(m.name.lower() for m in cls)
            raise ValueError(f"unknown service level {text!r} (expected {names})") from None

    @property
    def text(self) -> str:
        """
        The LDAP / configuration text form, C{normal} or C{premium}.
        """
        return self.name.lower()


@frozen
class Subscriber:
    """
    One subscriber entry, validated.

    @ivar nodeID: the node's Node ID.
    @ivar level: its service level.
    @ivar keyID: the id of its registration key (unsigned 32 bits).
    @ivar key: the HMAC-SHA256 registration key (16 to 64 bytes).
    @ivar enabled: whether the subscriber may register / be served.
    @ivar name: a human-readable name (the entry's C{cn}), for logs.
    """

    nodeID: NodeID
    level: ServiceLevel
    keyID: int
    key: bytes = field(repr=False)
    enabled: bool
    name: str = ""


class DirectoryError(Exception):
    """
    Base class of directory errors.
    """


class DirectoryUnavailable(DirectoryError):
    """
    The directory backend cannot be reached (connection refused, timeout,
    server error).  New registrations must fail with a clear status.
    """


class BadDirectoryEntry(DirectoryError):
    """
    The entry for a Node ID exists but is malformed; the message says what
    is wrong with it.  Callers treat it as a refusal.
    """


class IDirectory(Interface):
    """
    Looks up subscribers by Node ID.
    """

    def lookup(nodeID: NodeID) -> Deferred[Subscriber | None]:
        """
        Look up one subscriber.

        @return: a Deferred firing with the L{Subscriber}, or C{None} if the
            Node ID is unknown; failing with L{DirectoryUnavailable} if the
            backend is down or L{BadDirectoryEntry} if the entry is malformed.
        """


@implementer(IDirectory)
class FakeDirectory:
    """
    A dict-backed L{IDirectory} for unit tests.

    @ivar subscribers: the entries, by Node ID; mutate freely.
    @ivar bad: Node IDs whose lookup fails with L{BadDirectoryEntry}.
    @ivar down: while true, every lookup fails with L{DirectoryUnavailable}.
    @ivar lookups: the Node IDs looked up, in order (to check caching).
    """

    def __init__(self, subscribers: list[Subscriber] | None = None) -> None:
        self.subscribers: dict[NodeID, Subscriber] = {s.nodeID: s for s in subscribers or []}
        self.bad: set[NodeID] = set()
        self.down = False
        self.lookups: list[NodeID] = []

    def add(self, subscriber: Subscriber) -> None:
        """
        Add or replace an entry.
        """
        self.subscribers[subscriber.nodeID] = subscriber

    def lookup(self, nodeID: NodeID) -> Deferred[Subscriber | None]:
        self.lookups.append(nodeID)
        if self.down:
            return fail(DirectoryUnavailable("fake directory is down"))
        if nodeID in self.bad:
            return fail(BadDirectoryEntry(f"fake bad entry for {nodeID}"))
        return succeed(self.subscribers.get(nodeID))
