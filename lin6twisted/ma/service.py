# -*- test-case-name: lin6twisted.ma.test.test_service -*-
"""
The MA's mapping service: the UDP protocol and the controller that applies
the rules of L{lin6twisted.ma.core} with the directory, the journal and the
bandwidth shaper.

L{MappingProtocol} only hands datagrams to L{MappingAgent}, which decodes
them, answers, and maps every refusal to a C{RegisterStatus} in one place
(L{STATUS_OF}).  Garbage is logged (rate-limited) and dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IUDPTransport
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from lin6twisted.address import Locator, NodeID
from lin6twisted.directory import (
    BadDirectoryEntry,
    DirectoryUnavailable,
    IDirectory,
    Subscriber,
)
from lin6twisted.ls.guard import RateLimiter
from lin6twisted.ma.bandwidth import IShaper, NullShaper, ShaperError
from lin6twisted.ma.core import (
    Binding,
    Correspondent,
    MappingTable,
    Refusal,
    RegistrationRefused,
    RegistrationResult,
    authorize,
)
from lin6twisted.ma.journal import Journal, encodeBind, unbindRecord
from lin6twisted.wire.mapping import (
    MapQuery,
    MapReply,
    MapStatus,
    Notify,
    NotifyAck,
    Register,
    RegisterAck,
    RegisterFlags,
    RegisterStatus,
    Report,
    decodeMappingMessage,
)

__all__ = ["STATUS_OF", "MappingAgent", "MappingProtocol"]

STATUS_OF: dict[Refusal, RegisterStatus] = {
    Refusal.UNKNOWN_NODE: RegisterStatus.UNKNOWN_NODE,
    Refusal.DISABLED: RegisterStatus.DISABLED,
    Refusal.BAD_KEY_ID: RegisterStatus.BAD_AUTH,
    Refusal.BAD_HMAC: RegisterStatus.BAD_AUTH,
    Refusal.FOREIGN_LOCATOR: RegisterStatus.BAD_AUTH,
    Refusal.SOURCE_MISMATCH: RegisterStatus.BAD_AUTH,
    Refusal.REPLAY: RegisterStatus.REPLAY,
    Refusal.NO_LOCATORS: RegisterStatus.MALFORMED,
    Refusal.DIRECTORY_UNAVAILABLE: RegisterStatus.DIRECTORY_UNAVAILABLE,
    Refusal.BAD_ENTRY: RegisterStatus.SERVER_ERROR,
    Refusal.NOT_ASSIGNED: RegisterStatus.NOT_ASSIGNED,
}
"""The one place where refusals become wire statuses."""

Address = tuple[str, int]


class MappingAgent:
    """
    Answers REGISTER, MAP_QUERY, NOTIFY_ACK and REPORT.

    @ivar table: the L{MappingTable}.
    @ivar stats: counters for status and metrics.
    @ivar reports: the last L{Report} of each node.
    @ivar sourceLimiter: per-source-address token buckets, or C{None}.
    @ivar assignmentCheck: if set, a mobile node without a binding may
        register only if this says the LS assigned it here (C{(nodeID,
        now) -> bool}); refused with C{NOT_ASSIGNED} otherwise.
    """

    log = Logger()

    def __init__(
        self,
        table: MappingTable,
        directory: IDirectory,
        clock: IReactorTime,
        journal: Journal | None = None,
        shaper: IShaper | None = None,
        checkSource: bool = False,
        notifyRetries: int = 3,
        notifyInterval: float = 1.0,
        sourceLimiter: RateLimiter[str] | None = None,
        assignmentCheck: Callable[[NodeID, float], bool] | None = None,
    ) -> None:
        self.table = table
        self.directory = directory
        self.clock = clock
        self.journal = journal
        self.shaper: IShaper = shaper if shaper is not None else NullShaper()
        self.checkSource = checkSource
        self.notifyRetries = notifyRetries
        self.notifyInterval = notifyInterval
        self.sourceLimiter = sourceLimiter
        self.assignmentCheck = assignmentCheck
        self._limitedLogged = -1e9
        self.stats: Counter[str] = Counter()
        self.reports: dict[NodeID, Report] = {}
        self._reportSequences: dict[NodeID, int] = {}
        self._pending: dict[tuple[Correspondent, NodeID], IDelayedCall] = {}
        self._notifyIds = 0
        self._garbageLogged = -1e9
        self.transport: IUDPTransport | None = None

    # -- input ---------------------------------------------------------------

    def datagramReceived(self, data: bytes, addr: Address) -> None:
        """
        Decode one datagram and act on it; never raises.

        Datagrams from a source address over its rate are dropped before
        decoding (nothing is sent back).
        """
        limiter = self.sourceLimiter
        if limiter is not None and not limiter.allow(self.clock.seconds(), addr[0]):
            self.stats["rate_limited"] += 1
            now = self.clock.seconds()
            if now - self._limitedLogged >= 1.0:
                self._limitedLogged = now
                self.log.warn(
                    "Dropping datagrams from {source}: over its rate ({count} so far)",
                    source=addr[0],
                    count=self.stats["rate_limited"],
                )
            return
        try:
            message = decodeMappingMessage(data)
        except Exception as e:  # WireError, or anything a decoder may raise
            self._garbage(addr, f"{type(e).__name__}: {e}")
            return
        try:
            if isinstance(message, MapQuery):
                self.query(message, addr)
            elif isinstance(message, Register):
                self.register(message, addr)
            elif isinstance(message, NotifyAck):
                self._acked(message, addr)
            elif isinstance(message, Report):
                self.report(message, addr)
            else:
                self._garbage(addr, f"unexpected {type(message).__name__}")
        except Exception:
            self.stats["errors"] += 1
            self.log.failure("Handling {message} from {addr}", message=message, addr=addr)

    def _garbage(self, addr: Address, why: str) -> None:
        self.stats["garbage"] += 1
        now = self.clock.seconds()
        if now - self._garbageLogged >= 1.0:
            self._garbageLogged = now
            self.log.warn(
                "Dropped garbage from {addr}: {why} ({count} so far)",
                addr=addr,
                why=why,
                count=self.stats["garbage"],
            )

    def _send(self, message: Any, addr: Address) -> None:
        if self.transport is not None:
            try:
                self.transport.write(message.encode(), addr)
            except OSError as e:
                self.stats["send_errors"] += 1
                self.log.warn("Cannot send to {addr}: {error}", addr=addr, error=e)

    # -- queries -------------------------------------------------------------

    def query(self, message: MapQuery, addr: Address) -> None:
        """
        Answer a MAP_QUERY (positive or negative, each with its TTL).
        """
        result = self.table.query(message.nodeID, self.clock.seconds(), (addr[0], addr[1]))
        ttl = max(0, int(result.ttl))
        if result.found:
            self.stats["queries_found"] += 1
            reply = MapReply(
                message.requestId,
                message.nodeID,
                MapStatus.FOUND,
                ttl,
                tuple(loc.address for loc in result.locators),
            )
        else:
            self.stats["queries_not_found"] += 1
            reply = MapReply(message.requestId, message.nodeID, MapStatus.NOT_FOUND, ttl)
        self._send(reply, addr)

    # -- registrations -------------------------------------------------------

    def register(self, message: Register, addr: Address) -> Deferred[RegisterStatus]:
        """
        Authenticate and apply a REGISTER, then acknowledge it.

        @return: a Deferred firing with the status sent.
        """
        d: Deferred[Any] = self.directory.lookup(message.nodeID)
        d.addCallback(self._authorized, message, addr)
        d.addErrback(self._refused, message, addr)
        status: Deferred[RegisterStatus] = d
        return status

    def _authorized(
        self, subscriber: Subscriber | None, message: Register, addr: Address
    ) -> RegisterStatus:
        locators = [Locator.fromAddress(a) for a in message.locators]
        pinned = bool(message.flags & RegisterFlags.PINNED)
        deregister = message.lifetime == 0
        subscriber = authorize(
            message.nodeID,
            [] if deregister else locators,
            message.keyID,
            pinned,
            subscriber,
            message.verify,
            addr[0] if self.checkSource and not deregister else None,
        )
        now = self.clock.seconds()
        check = self.assignmentCheck
        if (
            check is not None
            and not pinned
            and not deregister
            and self.table.lookup(message.nodeID, now) is None
            and not check(message.nodeID, now)
        ):
            raise RegistrationRefused(Refusal.NOT_ASSIGNED, str(message.nodeID))
        result = self.table.register(
            message.nodeID,
            locators,
            message.lifetime,
            message.sequence,
            subscriber.level,
            now,
            pinned,
        )
        self._applied(result, subscriber)
        granted = min(int(result.lifetime), 0xFFFFFFFF)
        self._send(
            RegisterAck(
                message.requestId, message.nodeID, RegisterStatus.OK, granted, message.sequence
            ),
            addr,
        )
        return RegisterStatus.OK

    def _applied(self, result: RegistrationResult, subscriber: Subscriber) -> None:
        binding = result.binding
        if binding is None:
            self.stats["deregistrations"] += 1
            self._journal(unbindRecord(result.nodeID, result.sequence))
            self._unshape(result.nodeID)
            self.log.info(
                "Deregistered {node} ({name}), sequence {sequence}",
                node=str(result.nodeID),
                name=subscriber.name,
                sequence=result.sequence,
            )
            return
        self.stats["registrations"] += 1
        self._journal(encodeBind(binding))
        changed = result.previous is None or result.previous.locators != binding.locators
        if not binding.pinned:
            try:
                self.shaper.install(binding.nodeID, binding.level)
            except ShaperError as e:
                self.stats["shaper_errors"] += 1
                self.log.error(
                    "Bandwidth class for {node}: {error}", node=str(binding.nodeID), error=e
                )
        if changed:
            self.log.info(
                "Registered {node} ({name}, {serviceLevel}) at {locators} for {lifetime}s{pinned}",
                node=str(binding.nodeID),
                name=subscriber.name,
                serviceLevel=binding.level.text,
                locators=", ".join(str(loc) for loc in binding.locators),
                lifetime=result.lifetime,
                pinned=", pinned" if binding.pinned else "",
            )
            for correspondent in result.notify:
                self._notify(correspondent, binding, self.notifyRetries)

    def _refused(self, failure: Failure, message: Register, addr: Address) -> RegisterStatus:
        error = failure.value
        if isinstance(error, RegistrationRefused):
            reason, detail = error.reason, error.detail
        elif isinstance(error, DirectoryUnavailable):
            reason, detail = Refusal.DIRECTORY_UNAVAILABLE, str(error)
        elif isinstance(error, BadDirectoryEntry):
            reason, detail = Refusal.BAD_ENTRY, str(error)
        else:
            self.stats["errors"] += 1
            self.log.failure("Registration of {node} failed", failure, node=str(message.nodeID))
            self._send(
                RegisterAck(
                    message.requestId,
                    message.nodeID,
                    RegisterStatus.SERVER_ERROR,
                    0,
                    message.sequence,
                ),
                addr,
            )
            return RegisterStatus.SERVER_ERROR
        status = STATUS_OF[reason]
        self.stats[f"refused_{reason.name.lower()}"] += 1
        self.log.warn(
            "Refused registration of {node} from {addr}: {reason} ({detail})",
            node=str(message.nodeID),
            addr=addr,
            reason=reason.value,
            detail=detail,
        )
        self._send(
            RegisterAck(message.requestId, message.nodeID, status, 0, message.sequence), addr
        )
        return status

    def _journal(self, record: dict[str, Any] | bytes) -> None:
        if self.journal is None:
            return
        try:
            self.journal.append(record, self.table)
        except OSError as e:
            self.stats["journal_errors"] += 1
            self.log.error(
                "Cannot write the journal {path}: {error}", path=self.journal.path, error=e
            )

    def _unshape(self, nodeID: NodeID) -> None:
        try:
            self.shaper.remove(nodeID)
        except ShaperError as e:
            self.stats["shaper_errors"] += 1
            self.log.error(
                "Removing bandwidth class of {node}: {error}", node=str(nodeID), error=e
            )

    # -- expiry --------------------------------------------------------------

    def expire(self) -> list[Binding]:
        """
        End the bindings whose lifetime ran out (called every second).
        """
        gone = self.table.expire(self.clock.seconds())
        for b in gone:
            self.stats["expired"] += 1
            self._journal(unbindRecord(b.nodeID, b.sequence))
            self._unshape(b.nodeID)
            self.log.info(
                "Binding of {node} at {locators} expired",
                node=str(b.nodeID),
                locators=", ".join(str(loc) for loc in b.locators),
            )
        return gone

    def tick(self) -> None:
        """
        The once-a-second timer: L{expire}, never raising (an exception
        would stop the timer).
        """
        try:
            self.expire()
        except Exception:
            self.stats["errors"] += 1
            self.log.failure("Expiring bindings")

    def restored(self) -> None:
        """
        Install the bandwidth classes of bindings read back from the journal.
        """
        for b in self.table.bindings():
            if not b.pinned:
                try:
                    self.shaper.install(b.nodeID, b.level)
                except ShaperError as e:
                    self.log.error(
                        "Bandwidth class for {node}: {error}", node=str(b.nodeID), error=e
                    )

    # -- notifications -------------------------------------------------------

    def _notify(self, correspondent: Correspondent, binding: Binding, retries: int) -> None:
        key = (correspondent, binding.nodeID)
        old = self._pending.pop(key, None)
        if old is not None and old.active():
            old.cancel()
        self._notifyIds = (self._notifyIds + 1) & 0xFFFFFFFF
        self.stats["notifies_sent"] += 1
        self._send(
            Notify(
                self._notifyIds, binding.nodeID, tuple(loc.address for loc in binding.locators)
            ),
            correspondent,
        )
        if retries > 1:
            self._pending[key] = self.clock.callLater(
                self.notifyInterval, self._retry, correspondent, binding.nodeID, retries - 1
            )

    def _retry(self, correspondent: Correspondent, nodeID: NodeID, retries: int) -> None:
        self._pending.pop((correspondent, nodeID), None)
        binding = self.table.lookup(nodeID, self.clock.seconds())
        if binding is not None:
            self._notify(correspondent, binding, retries)

    def _acked(self, message: NotifyAck, addr: Address) -> None:
        call = self._pending.pop(((addr[0], addr[1]), message.nodeID), None)
        if call is not None and call.active():
            call.cancel()
            self.stats["notifies_acked"] += 1

    def pendingNotifies(self) -> int:
        """
        NOTIFYs waiting for their acknowledgement.
        """
        return len(self._pending)

    def stop(self) -> None:
        """
        Cancel pending notification retries.
        """
        for call in self._pending.values():
            if call.active():
                call.cancel()
        self._pending.clear()

    # -- reports -------------------------------------------------------------

    def report(self, message: Report, addr: Address) -> Deferred[bool]:
        """
        Keep a node's authenticated figures (REPORT) for the status page.
        """

        def check(subscriber: Subscriber | None) -> bool:
            if subscriber is None or not subscriber.enabled or subscriber.keyID != message.keyID:
                self.stats["reports_refused"] += 1
                return False
            if not message.verify(subscriber.key):
                self.stats["reports_refused"] += 1
                return False
            last = self._reportSequences.get(message.nodeID)
            if last is not None and message.sequence <= last:
                self.stats["reports_refused"] += 1
                return False
            self._reportSequences[message.nodeID] = message.sequence
            self.reports[message.nodeID] = message
            self.stats["reports"] += 1
            return True

        def failed(failure: Failure) -> bool:
            self.stats["reports_refused"] += 1
            return False

        return self.directory.lookup(message.nodeID).addCallbacks(check, failed)


class MappingProtocol(DatagramProtocol):
    """
    The UDP mapping port: hands every datagram to a L{MappingAgent}.
    """

    def __init__(self, agent: MappingAgent) -> None:
        self.agent = agent

    def startProtocol(self) -> None:
        self.agent.transport = self.transport

    def stopProtocol(self) -> None:
        self.agent.transport = None

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.agent.datagramReceived(datagram, (addr[0], addr[1]))
