# -*- test-case-name: lin6twisted.resolvd.test.test_core -*-
"""
The node daemon's decisions: a sans-IO core with an explicit state machine.

L{NodeCore} never touches the network or the clock.  The service feeds it
events (a datagram, a DNS answer, a kernel address snapshot, a dataplane
miss, the passing of time), always with C{now}, and carries out the
L{Action}s it returns (send a datagram, resolve a name, hand a peer result
to whoever asked).  The dataplane and the host's address configuration are
synchronous, quick collaborators and are called directly.  The service
calls L{NodeCore.tick} at L{NodeCore.nextDeadline}.

Registration state machine (L{NodeState})::

    STOPPED --start--> DETACHED  (no usable prefix yet)
                 \\---> DISCOVERING --DNS--> ASKING_LS --MA_REPLY--> REGISTERING
                                     \\--TXT lists an MA----------->/
    REGISTERING --ack OK--> REGISTERED --refresh time--> REFRESHING --ack OK--> REGISTERED
    REGISTERING/REFRESHING --no ack after retries--> ASKING_LS (next LS)   [not pinned]
                                                  --> REGISTERING (same MA, backoff) [pinned]
    ASKING_LS --LS silent/garbage/error--> next LS --list exhausted--> BACKOFF --> DISCOVERING
    any bound state --move--> REGISTERING (new locator, at once)
    any state --prefix lost--> DETACHED

A content server (C{pinned}) keeps the first MA it registers with until it
restarts: it never asks an LS again and retries that MA forever.

Peer resolution runs beside the machine: MAP_QUERY to the node's MA on a
dataplane miss or on demand, positive and negative answers cached for their
TTL, mappings installed in and removed from the dataplane, NOTIFY verified
with a fresh MAP_QUERY before anything changes.
"""

from __future__ import annotations

import enum
import ipaddress
import secrets
from collections.abc import Callable
from typing import Any, Final

from attrs import asdict, define, frozen
from twisted.logger import Logger

from lin6twisted.address import LIN6Address, LIN6Space, Locator, NodeID
from lin6twisted.dataplane.interfaces import DataplaneError, IDataplane
from lin6twisted.dns.resolver import Service
from lin6twisted.dns.txt import Endpoint
from lin6twisted.resolvd.interfaces import HostConfigError, IHostConfig
from lin6twisted.resolvd.netmon import Attachment
from lin6twisted.resolvd.state import SequenceSource, SequenceStoreError
from lin6twisted.wire import (
    HEADER_SIZE,
    CookieChallenge,
    LSError,
    LSErrorCode,
    MapQuery,
    MapReply,
    MapStatus,
    MAReply,
    MARequest,
    Notify,
    NotifyAck,
    Register,
    RegisterAck,
    RegisterFlags,
    RegisterStatus,
    Report,
    WireError,
    decodeLSMessage,
    decodeMappingMessage,
)

__all__ = [
    "Action",
    "NodeCore",
    "NodeSettings",
    "NodeState",
    "PeerResult",
    "Resolve",
    "Send",
]

_MAPPING_BASE: Final = 0x20
_U32: Final = (1 << 32) - 1


class NodeState(enum.Enum):
    """
    Where the node stands in finding and keeping its MA binding.
    """

    STOPPED = "stopped"
    DETACHED = "detached"
    DISCOVERING = "discovering"
    ASKING_LS = "asking-ls"
    REGISTERING = "registering"
    REGISTERED = "registered"
    REFRESHING = "refreshing"
    BACKOFF = "backoff"


@frozen
class Send:
    """
    Send C{payload} in one datagram to C{to}.
    """

    payload: bytes
    to: Endpoint


@frozen
class Resolve:
    """
    Resolve the service C{name} (AAAA, then TXT) and feed the outcome to
    L{NodeCore.serviceResolved} or L{NodeCore.serviceFailed}.
    """

    name: str


@frozen
class PeerResult:
    """
    The outcome of resolving a peer: its locator, C{None} for a (cached)
    negative answer, or an C{error} sentence when the MA could not be asked.
    """

    nodeID: NodeID
    locator: Locator | None
    error: str | None = None


Action = Send | Resolve | PeerResult


@frozen
class NodeSettings:
    """
    What the core needs to know about the node and its timing.

    @ivar nodeID: the node's Node ID.
    @ivar lin6: its LIN6 address.
    @ivar key: the HMAC key shared with the directory.
    @ivar keyID: which key it is.
    @ivar service: the service name to resolve (AAAA, TXT) for the LS list.
    @ivar pinned: content-server mode: keep the first MA until restart.
    @ivar pinFlag: whether REGISTER carries the PINNED flag (C{None}: when
        C{pinned}).
    @ivar lsServers: LS endpoints from the configuration (skip DNS).
    @ivar maServers: MA endpoints from the configuration (skip DNS and LS).
    @ivar lifetime: the registration lifetime asked for, seconds.
    @ivar refreshFraction: refresh when this fraction of the granted
        lifetime has passed.
    @ivar requestTimeout: seconds before the first retry of a request.
    @ivar retries: retries of one request before its server counts as failed.
    @ivar backoffFactor: each retry waits this much longer.
    @ivar backoffMin: the first wait after a whole round failed.
    @ivar backoffMax: the longest wait between rounds.
    @ivar cookieRounds: the most cookie challenges answered per request.
    @ivar maxPeerTTL: cap on cached positive answers.
    @ivar maxNegativeTTL: cap on cached negative answers.
    @ivar peerRefreshFraction: re-query an installed mapping at this
        fraction of its TTL while it is in use.
    @ivar peerIdle: a mapping not asked for (miss, query, notify) for this
        long is not refreshed, only dropped at its expiry.
    @ivar reportInterval: seconds between REPORTs to the MA (0: none).
    @ivar moveGrace: seconds the previous locator address stays configured
        after a move.
    """

    nodeID: NodeID
    lin6: LIN6Address
    key: bytes
    keyID: int = 1
    service: str | None = None
    pinned: bool = False
    pinFlag: bool | None = None
    lsServers: tuple[Endpoint, ...] = ()
    maServers: tuple[Endpoint, ...] = ()
    lifetime: int = 300
    refreshFraction: float = 0.5
    requestTimeout: float = 1.0
    retries: int = 2
    backoffFactor: float = 2.0
    backoffMin: float = 1.0
    backoffMax: float = 60.0
    cookieRounds: int = 2
    maxPeerTTL: float = 3600.0
    maxNegativeTTL: float = 60.0
    peerRefreshFraction: float = 0.8
    peerIdle: float = 600.0
    reportInterval: float = 30.0
    moveGrace: float = 2.0


class _Kind(enum.Enum):
    """
    What the registration machine is waiting for.
    """

    LS = "MA_REQUEST"
    REGISTER = "REGISTER"


@define
class _Request:
    """
    The one request of the registration machine in flight (MA_REQUEST or
    REGISTER): what, to whom, which attempt, and when it times out.
    """

    kind: _Kind
    requestId: int
    to: Endpoint
    payload: bytes
    attempt: int
    sentAt: float
    deadline: float
    sequence: int = 0
    cookieRounds: int = 0
    locator: Locator | None = None


@define
class _Peer:
    """
    One cached answer about a peer.
    """

    locator: Locator | None
    answered: float
    expires: float
    lastUsed: float
    installed: bool = False


@define
class _PeerQuery:
    requestId: int
    to: Endpoint
    attempt: int
    sentAt: float
    deadline: float


@define
class _Stats:
    sent: int = 0
    received: int = 0
    garbage: int = 0
    unexpected: int = 0
    registrations: int = 0
    registrationFailures: int = 0
    lsFailovers: int = 0
    maFailures: int = 0
    handovers: int = 0
    lastHandoverMs: int = 0
    notifies: int = 0
    peerQueries: int = 0
    misses: int = 0
    reports: int = 0
    dataplaneErrors: int = 0


def _randomRequestId() -> int:
    return secrets.randbits(32)


def _sameHost(a: ipaddress.IPv6Address | ipaddress.IPv4Address, e: Endpoint) -> bool:
    return a == e.host


class NodeCore:
    """
    The node daemon's state machine and peer cache (see the module
    docstring).

    @ivar state: the current L{NodeState}.
    @ivar attachment: where the node is attached, or C{None}.
    @ivar ma: the MA the node uses (or is trying), or C{None}.
    @ivar lsList: the LS endpoints in failover order.
    @ivar lsIndex: the LS being asked now.
    @ivar service: the last DNS answer for the service name.
    """

    log = Logger()

    def __init__(
        self,
        settings: NodeSettings,
        space: LIN6Space,
        dataplane: IDataplane,
        host: IHostConfig,
        sequences: SequenceSource,
        newRequestId: Callable[[], int] = _randomRequestId,
    ) -> None:
        self.settings = settings
        self.space = space
        self.dataplane = dataplane
        self.host = host
        self.sequences = sequences
        self.newRequestId = newRequestId
        self.state = NodeState.STOPPED
        self.attachment: Attachment | None = None
        self.ma: Endpoint | None = None
        self.maPinned = False
        self.lsList: tuple[Endpoint, ...] = settings.lsServers
        self.lsIndex = 0
        self.maList: tuple[Endpoint, ...] = settings.maServers
        self.maIndex = 0
        self.service: Service | None = None
        self.stats = _Stats()
        self.boundLocator: Locator | None = None
        self.bindingExpires: float | None = None
        self.rttToMA: float | None = None
        self._request: _Request | None = None
        self._timer: float | None = None
        self._failures = 0
        self._handoverStart: float | None = None
        self._peers: dict[NodeID, _Peer] = {}
        self._queries: dict[NodeID, _PeerQuery] = {}
        self._waitingForMA: set[NodeID] = set()
        self._nextReport: float | None = None
        self._oldLocators: list[tuple[float, str, ipaddress.IPv6Address]] = []
        self._failedMA: Endpoint | None = None

    # -- inspection ------------------------------------------------------------

    @property
    def locator(self) -> Locator | None:
        """
        The node's current locator, or C{None} while detached.
        """
        if self.attachment is None:
            return None
        return Locator(self.attachment.prefix, self.settings.nodeID)

    def nextDeadline(self) -> float | None:
        """
        When L{tick} must run next, or C{None} if nothing is scheduled.
        """
        times = [t for t in (self._timer, self._nextReport) if t is not None]
        if self._request is not None:
            times.append(self._request.deadline)
        times.extend(q.deadline for q in self._queries.values())
        times.extend(self._peerDeadline(n, p) for n, p in self._peers.items())
        times.extend(t for t, _, _ in self._oldLocators)
        return min(times) if times else None

    def peers(self, now: float) -> dict[NodeID, tuple[Locator | None, float]]:
        """
        The cached answers: Node ID -> (locator or C{None}, seconds left).
        """
        return {n: (p.locator, max(0.0, p.expires - now)) for n, p in self._peers.items()}

    def status(self, now: float) -> dict[str, Any]:
        """
        A JSON-friendly summary for the status socket.
        """
        s = self.settings
        return {
            "state": self.state.value,
            "node_id": str(s.nodeID),
            "lin6_address": str(s.lin6),
            "locator": None if self.locator is None else str(self.locator),
            "interface": None if self.attachment is None else self.attachment.interface,
            "gateway": (
                None
                if self.attachment is None or self.attachment.gateway is None
                else str(self.attachment.gateway)
            ),
            "pinned": s.pinned,
            "ma": None if self.ma is None else str(self.ma),
            "ls": [str(e) for e in self.lsList],
            "ls_index": self.lsIndex,
            "registered_locator": None if self.boundLocator is None else str(self.boundLocator),
            "binding_expires_in": (
                None if self.bindingExpires is None else round(self.bindingExpires - now, 3)
            ),
            "rtt_to_ma_ms": None if self.rttToMA is None else round(self.rttToMA * 1000, 3),
            "peers": len(self._peers),
            "pending_queries": len(self._queries),
            "stats": asdict(self.stats),
        }

    # -- lifecycle -----------------------------------------------------------

    def start(self, attachment: Attachment | None, now: float) -> list[Action]:
        """
        Begin: take the current attachment and start finding an MA.
        """
        if self.state is not NodeState.STOPPED:
            return []
        self.state = NodeState.DETACHED
        self.log.info(
            "node {nodeID} ({lin6}) starting{mode}",
            nodeID=str(self.settings.nodeID),
            lin6=str(self.settings.lin6),
            mode=" as a content server (pinned MA)" if self.settings.pinned else "",
        )
        if self.settings.reportInterval > 0:
            self._nextReport = now + self.settings.reportInterval
        actions: list[Action] = []
        if attachment is not None:
            self._attach(attachment, now)
            actions += self._beginDiscovery(now)
        else:
            self.log.warn("no usable IPv6 prefix yet; waiting for one")
        return actions

    def stop(self) -> None:
        """
        Stop all activity (the binding is left to expire at the MA).
        """
        self.state = NodeState.STOPPED
        self._request = None
        self._timer = None
        self._queries.clear()
        self._nextReport = None

    # -- the registration machine ----------------------------------------------

    def _setState(self, state: NodeState) -> None:
        if state is not self.state:
            self.log.debug("state {old} -> {new}", old=self.state.value, new=state.value)
            self.state = state

    def _beginDiscovery(self, now: float) -> list[Action]:
        """
        Find an MA: the pinned one, configured MAs, configured LSs, or DNS.
        """
        self._request = None
        self._timer = None
        if self.attachment is None:
            self._setState(NodeState.DETACHED)
            return []
        if self.maPinned and self.ma is not None:
            return self._register(now, attempt=0)
        if self.settings.maServers:
            self.maList = self.settings.maServers
            self.ma = self.maList[self.maIndex % len(self.maList)]
            return self._register(now, attempt=0)
        if self.settings.lsServers:
            self.lsList = self.settings.lsServers
            return self._askLS(now, self.lsIndex % len(self.lsList), attempt=0)
        if self.settings.service is None:
            self.log.error("no service name, LS or MA configured: nothing to ask")
            return self._backoff(now)
        self._setState(NodeState.DISCOVERING)
        return [Resolve(self.settings.service)]

    def serviceResolved(self, service: Service, now: float) -> list[Action]:
        """
        The DNS answered: ask its LSs (or register with its MAs).
        """
        if self.state is not NodeState.DISCOVERING:
            return []
        self.service = service
        self.log.info(
            "service {name} is {address}: LS {ls}, MA {ma}",
            name=service.name,
            address=str(service.address),
            ls=", ".join(str(e) for e in service.locations.ls) or "-",
            ma=", ".join(str(e) for e in service.locations.ma) or "-",
        )
        if service.locations.ls:
            self.lsList = service.locations.ls
            self.lsIndex = 0
            return self._askLS(now, 0, attempt=0)
        if service.locations.ma:
            self.maList = service.locations.ma
            self.maIndex = 0
            self.ma = self.maList[0]
            return self._register(now, attempt=0)
        self.log.error("service {name} lists no LS and no MA", name=service.name)
        return self._backoff(now)

    def serviceFailed(self, reason: str, now: float) -> list[Action]:
        """
        The DNS look-up failed (C{reason} says why): try again later.
        """
        if self.state is not NodeState.DISCOVERING:
            return []
        self.log.warn("cannot resolve {name}: {reason}", name=self.settings.service, reason=reason)
        return self._backoff(now)

    def _backoff(self, now: float) -> list[Action]:
        s = self.settings
        delay = min(s.backoffMax, s.backoffMin * s.backoffFactor**self._failures)
        self._failures += 1
        self._request = None
        self._timer = now + delay
        self._setState(NodeState.BACKOFF)
        self.log.info("trying again in {delay:.1f}s", delay=delay)
        return []

    def _timeout(self, attempt: int) -> float:
        s = self.settings
        return s.requestTimeout * s.backoffFactor**attempt

    def _send(self, request: _Request) -> list[Action]:
        self._request = request
        self.stats.sent += 1
        return [Send(request.payload, request.to)]

    def _askLS(
        self, now: float, index: int, attempt: int, cookie: bytes = b"", cookieRounds: int = 0
    ) -> list[Action]:
        self.lsIndex = index
        ls = self.lsList[index]
        rid = self.newRequestId() & _U32
        payload = MARequest(rid, self.settings.nodeID, cookie).encode()
        self._setState(NodeState.ASKING_LS)
        self.log.info(
            "asking LS {ls} for an MA (attempt {attempt}{withCookie})",
            ls=str(ls),
            attempt=attempt + 1,
            withCookie=", with cookie" if cookie else "",
        )
        request = _Request(_Kind.LS, rid, ls, payload, attempt, now, now + self._timeout(attempt))
        request.cookieRounds = cookieRounds
        return self._send(request)

    def _nextLS(self, now: float, why: str) -> list[Action]:
        ls = self.lsList[self.lsIndex]
        self.stats.lsFailovers += 1
        following = self.lsIndex + 1
        if following >= len(self.lsList):
            self.log.warn("LS {ls} failed ({why}); no LS left to try", ls=str(ls), why=why)
            self.lsIndex = 0
            # Next round, an MA that failed before may be taken again: it
            # may be back, and the LSs keep naming it.
            self._failedMA = None
            return self._backoff(now)
        self.log.warn(
            "LS {ls} failed ({why}); trying {next}",
            ls=str(ls),
            why=why,
            next=str(self.lsList[following]),
        )
        return self._askLS(now, following, attempt=0)

    def _register(self, now: float, attempt: int, refreshing: bool = False) -> list[Action]:
        locator = self.locator
        if locator is None or self.ma is None:
            self._setState(NodeState.DETACHED)
            self._request = None
            return []
        try:
            sequence = self.sequences.reserve()
        except SequenceStoreError as e:
            self.log.error("cannot persist the sequence number, not registering: {e}", e=str(e))
            return self._backoff(now)
        s = self.settings
        rid = self.newRequestId() & _U32
        pinFlag = s.pinned if s.pinFlag is None else s.pinFlag
        flags = RegisterFlags.PINNED if pinFlag else RegisterFlags(0)
        message = Register(
            rid, s.nodeID, (locator.address,), s.lifetime, s.keyID, sequence, flags
        ).sign(s.key)
        self._setState(NodeState.REFRESHING if refreshing else NodeState.REGISTERING)
        self.log.info(
            "registering {locator} with MA {ma} (sequence {sequence}, attempt {attempt})",
            locator=str(locator),
            ma=str(self.ma),
            sequence=sequence,
            attempt=attempt + 1,
        )
        return self._send(
            _Request(
                _Kind.REGISTER,
                rid,
                self.ma,
                message.encode(),
                attempt,
                now,
                now + self._timeout(attempt),
                sequence=sequence,
                locator=locator,
            )
        )

    def _maFailed(self, now: float, why: str) -> list[Action]:
        """
        The MA did not confirm a registration: find another (or, pinned,
        insist on the same one).
        """
        self.stats.maFailures += 1
        ma = self.ma
        if self.maPinned:
            self.log.warn(
                "MA {ma} failed ({why}); a content server keeps its MA, retrying",
                ma=str(ma),
                why=why,
            )
            return self._backoff(now)
        self.log.warn("MA {ma} failed ({why}); looking for another", ma=str(ma), why=why)
        self.ma = None
        self._failedMA = ma
        self.boundLocator = None
        self.bindingExpires = None
        if self.lsList and not self.settings.maServers:
            return self._askLS(now, self.lsIndex, attempt=0)
        if self.maList:
            self.maIndex += 1
            if self.maIndex % len(self.maList) == 0:
                return self._backoff(now)
            self.ma = self.maList[self.maIndex % len(self.maList)]
            return self._register(now, attempt=0)
        return self._backoff(now)

    def _handleRequestTimeout(self, now: float) -> list[Action]:
        request = self._request
        assert request is not None
        self._request = None
        if request.attempt < self.settings.retries:
            attempt = request.attempt + 1
            if request.kind is _Kind.LS:
                self.log.info("LS {ls} silent, retrying", ls=str(request.to))
                return self._askLS(now, self.lsIndex, attempt)
            return self._register(now, attempt, refreshing=self.state is NodeState.REFRESHING)
        if request.kind is _Kind.LS:
            return self._nextLS(now, f"no answer after {request.attempt + 1} tries")
        return self._maFailed(now, f"no REGISTER_ACK after {request.attempt + 1} tries")

    def _timerFired(self, now: float) -> list[Action]:
        self._timer = None
        if self.state is NodeState.BACKOFF:
            return self._beginDiscovery(now)
        if self.state is NodeState.REGISTERED:
            return self._register(now, attempt=0, refreshing=self.boundLocator == self.locator)
        return []

    # -- datagrams ---------------------------------------------------------------

    def datagramReceived(self, data: bytes, source: tuple[str, int], now: float) -> list[Action]:
        """
        A datagram arrived on the node's socket from C{source}.

        Garbage is counted, logged and dropped; it never changes state.
        """
        self.stats.received += 1
        try:
            host = ipaddress.ip_address(source[0].split("%", 1)[0])
            if len(data) < HEADER_SIZE:
                decodeLSMessage(data)
            message = (
                decodeMappingMessage(data) if data[1] >= _MAPPING_BASE else decodeLSMessage(data)
            )
        except (WireError, ValueError) as e:
            self.stats.garbage += 1
            self.log.warn(
                "dropping malformed datagram from {source}: {error}",
                source=f"[{source[0]}]:{source[1]}",
                error=str(e),
            )
            return []
        port = source[1]
        if isinstance(message, CookieChallenge | MAReply | LSError):
            return self._lsAnswer(message, host, port, now)
        if isinstance(message, RegisterAck):
            return self._registerAck(message, host, port, now)
        if isinstance(message, MapReply):
            return self._mapReply(message, host, port, now)
        if isinstance(message, Notify):
            return self._notify(message, source, now)
        return self._unexpected(message, source)

    def _unexpected(self, message: object, source: tuple[str, int]) -> list[Action]:
        self.stats.unexpected += 1
        self.log.info(
            "ignoring unexpected {name} from {source}",
            name=getattr(message, "NAME", type(message).__name__),
            source=f"[{source[0]}]:{source[1]}",
        )
        return []

    def _matches(self, kind: _Kind, rid: int, host: Any, port: int) -> _Request | None:
        r = self._request
        if r is None or r.kind is not kind or r.requestId != rid:
            return None
        if not _sameHost(host, r.to) or port != r.to.port:
            return None
        return r

    def _lsAnswer(
        self, message: CookieChallenge | MAReply | LSError, host: Any, port: int, now: float
    ) -> list[Action]:
        request = self._matches(_Kind.LS, message.requestId, host, port)
        if request is None or self.state is not NodeState.ASKING_LS:
            return self._unexpected(message, (str(host), port))
        if isinstance(message, CookieChallenge):
            if request.cookieRounds >= self.settings.cookieRounds:
                return self._nextLS(now, "it keeps sending cookie challenges")
            return self._askLS(
                now,
                self.lsIndex,
                request.attempt,
                cookie=message.cookie,
                cookieRounds=request.cookieRounds + 1,
            )
        if isinstance(message, LSError):
            self.log.warn(
                "LS {ls} refused: {code} {message}",
                ls=str(request.to),
                code=message.code.name,
                message=message.message,
            )
            if message.code in (LSErrorCode.UNKNOWN_NODE, LSErrorCode.DISABLED_NODE):
                self._request = None
                return self._backoff(now)
            return self._nextLS(now, f"error {message.code.name}")
        if message.nodeID != self.settings.nodeID:
            return self._nextLS(now, f"MA_REPLY for another node {message.nodeID}")
        if (
            message.maAddress.is_unspecified
            or message.maAddress.is_multicast
            or not message.maPort
        ):
            return self._nextLS(now, f"unusable MA [{message.maAddress}]:{message.maPort}")
        chosen = Endpoint(message.maAddress, message.maPort)
        if chosen == self._failedMA:
            return self._nextLS(now, f"it named MA {chosen}, which just failed")
        self._request = None
        self.ma = chosen
        self.log.info(
            "LS {ls} chose MA {ma} (RTT {rtt}us)",
            ls=str(request.to),
            ma=str(self.ma),
            rtt=message.rttUs,
        )
        return self._register(now, attempt=0)

    def _registerAck(self, ack: RegisterAck, host: Any, port: int, now: float) -> list[Action]:
        request = self._matches(_Kind.REGISTER, ack.requestId, host, port)
        if (
            request is None
            or ack.nodeID != self.settings.nodeID
            or ack.sequence != request.sequence
        ):
            return self._unexpected(ack, (str(host), port))
        self._request = None
        if request.attempt == 0:
            self._sampleRTT(now - request.sentAt)
        if ack.status is RegisterStatus.OK:
            return self._registered(request, ack, now)
        self.stats.registrationFailures += 1
        self.log.error(
            "MA {ma} refused the registration: {status}",
            ma=str(request.to),
            status=ack.status.name,
        )
        if ack.status is RegisterStatus.REPLAY:
            self.sequences.skip(1 << 16)
            if request.attempt < self.settings.retries:
                return self._register(now, request.attempt + 1)
            return self._backoff(now)
        if ack.status is RegisterStatus.NOT_ASSIGNED and not self.maPinned and self.lsList:
            self.ma = None
            return self._askLS(now, self.lsIndex, attempt=0)
        # DIRECTORY_UNAVAILABLE, SERVER_ERROR: passing trouble at the MA;
        # UNKNOWN_NODE, DISABLED, BAD_AUTH, MALFORMED: our configuration is
        # wrong until an operator fixes it.  Either way: wait and start over.
        return self._backoff(now)

    def _registered(self, request: _Request, ack: RegisterAck, now: float) -> list[Action]:
        s = self.settings
        self._failures = 0
        self._failedMA = None
        self.stats.registrations += 1
        lifetime = ack.lifetime if ack.lifetime > 0 else s.lifetime
        self.boundLocator = request.locator
        self.bindingExpires = now + lifetime
        self._timer = now + lifetime * s.refreshFraction
        if s.pinned and not self.maPinned:
            self.maPinned = True
            self.log.info("content server pinned to MA {ma} until restart", ma=str(self.ma))
        self._setState(NodeState.REGISTERED)
        self.log.info(
            "registered {locator} with MA {ma} for {lifetime}s",
            locator=str(request.locator),
            ma=str(request.to),
            lifetime=lifetime,
        )
        if self._handoverStart is not None and request.locator == self.locator:
            duration = now - self._handoverStart
            self._handoverStart = None
            self.stats.handovers += 1
            self.stats.lastHandoverMs = round(duration * 1000)
            self.log.info(
                "handover to {locator} done in {ms}ms",
                locator=str(request.locator),
                ms=self.stats.lastHandoverMs,
            )
        actions: list[Action] = []
        waiting = sorted(self._waitingForMA)
        self._waitingForMA.clear()
        for nodeID in waiting:
            actions += self._query(nodeID, now, attempt=0)
        return actions

    def _sampleRTT(self, sample: float) -> None:
        if sample < 0:
            return
        if self.rttToMA is None:
            self.rttToMA = sample
        else:
            self.rttToMA = 0.875 * self.rttToMA + 0.125 * sample

    # -- movement --------------------------------------------------------------

    def _attach(self, attachment: Attachment, now: float) -> None:
        """
        Configure the locator address and tell the dataplane.
        """
        previous = self.attachment
        self.attachment = attachment
        locator = Locator(attachment.prefix, self.settings.nodeID)
        try:
            self.host.addAddress(attachment.interface, locator.address, 64, preferred=False)
        except HostConfigError as e:
            self.log.error("cannot configure locator {locator}: {e}", locator=str(locator), e=e)
        try:
            self.dataplane.setOwnLocator(
                self.settings.lin6, locator, attachment.gateway, attachment.interface
            )
        except DataplaneError as e:
            self.stats.dataplaneErrors += 1
            self.log.error(
                "dataplane refused the locator {locator}: {e}", locator=str(locator), e=e
            )
        if previous is not None and previous.prefix != attachment.prefix:
            old = Locator(previous.prefix, self.settings.nodeID)
            self._oldLocators.append(
                (now + self.settings.moveGrace, previous.interface, old.address)
            )
        self.log.info(
            "attached: locator {locator} on {interface} via {gateway}",
            locator=str(locator),
            interface=attachment.interface,
            gateway=str(attachment.gateway) if attachment.gateway else "on-link",
        )

    def attachmentChanged(self, attachment: Attachment | None, now: float) -> list[Action]:
        """
        The kernel's addresses or routes changed; C{attachment} is the
        result of L{lin6twisted.resolvd.netmon.chooseAttachment}.

        A new prefix is a move: the dataplane switches at once and the
        node re-registers at once.  A new gateway only updates the
        dataplane.
        """
        if self.state is NodeState.STOPPED or attachment == self.attachment:
            return []
        previous = self.attachment
        if attachment is None:
            self.log.warn("lost the last usable prefix; detached")
            self.attachment = None
            self._request = None
            self._timer = None
            self._setState(NodeState.DETACHED)
            return []
        moved = previous is None or previous.prefix != attachment.prefix
        self._attach(attachment, now)
        if not moved:
            return []
        self._handoverStart = now
        if self.ma is not None and self.state in (
            NodeState.REGISTERED,
            NodeState.REFRESHING,
            NodeState.REGISTERING,
            NodeState.DETACHED,
        ):
            self.log.info("moved to {prefix}; re-registering", prefix=str(attachment.prefix))
            self._request = None
            self._setState(NodeState.REGISTERING)
            return self._register(now, attempt=0)
        if self.state is NodeState.DETACHED:
            return self._beginDiscovery(now)
        return []

    # -- peers -------------------------------------------------------------------

    def _refreshAt(self, nodeID: NodeID, peer: _Peer) -> float | None:
        """
        When an installed mapping still in use is to be asked for again, or
        C{None} if it is not to be.
        """
        if (
            not peer.installed
            or peer.locator is None
            or nodeID in self._queries
            or self.ma is None
            or self.state not in (NodeState.REGISTERED, NodeState.REFRESHING)
        ):
            return None
        at = peer.answered + self.settings.peerRefreshFraction * (peer.expires - peer.answered)
        if at - peer.lastUsed >= self.settings.peerIdle:
            return None
        return at

    def _peerDeadline(self, nodeID: NodeID, peer: _Peer) -> float:
        at = self._refreshAt(nodeID, peer)
        return peer.expires if at is None else min(at, peer.expires)

    def resolvePeer(self, nodeID: NodeID, now: float, force: bool = False) -> list[Action]:
        """
        Find C{nodeID}'s locator: from the cache, or by asking the MA.

        The answer comes as a L{PeerResult} action, now (cache) or later.
        """
        peer = self._peers.get(nodeID)
        if peer is not None:
            peer.lastUsed = now
            if not force and peer.expires > now:
                return [PeerResult(nodeID, peer.locator)]
        if nodeID in self._queries:
            return []
        return self._query(nodeID, now, attempt=0)

    def missReported(self, nodeID: NodeID, now: float) -> list[Action]:
        """
        The dataplane holds a packet for C{nodeID}, which has no mapping.
        """
        self.stats.misses += 1
        peer = self._peers.get(nodeID)
        if peer is not None and peer.locator is not None and peer.expires > now:
            # The kernel lost it (or never got it): install again.
            peer.lastUsed = now
            self._install(nodeID, peer, peer.locator, None)
            return []
        return self.resolvePeer(nodeID, now)

    def _query(self, nodeID: NodeID, now: float, attempt: int) -> list[Action]:
        if self.ma is None or self.state in (
            NodeState.STOPPED,
            NodeState.DETACHED,
            NodeState.DISCOVERING,
            NodeState.ASKING_LS,
            NodeState.BACKOFF,
        ):
            self._waitingForMA.add(nodeID)
            return []
        rid = self.newRequestId() & _U32
        timeout = self._timeout(attempt)
        self._queries[nodeID] = _PeerQuery(rid, self.ma, attempt, now, now + timeout)
        self.stats.peerQueries += 1
        self.stats.sent += 1
        return [Send(MapQuery(rid, nodeID).encode(), self.ma)]

    def _mapReply(self, reply: MapReply, host: Any, port: int, now: float) -> list[Action]:
        query = self._queries.get(reply.nodeID)
        if (
            query is None
            or query.requestId != reply.requestId
            or not _sameHost(host, query.to)
            or port != query.to.port
        ):
            return self._unexpected(reply, (str(host), port))
        del self._queries[reply.nodeID]
        if query.attempt == 0:
            self._sampleRTT(now - query.sentAt)
        nodeID = reply.nodeID
        peer = self._peers.get(nodeID)
        if reply.status is MapStatus.NOT_FOUND:
            ttl = min(float(reply.ttl), self.settings.maxNegativeTTL)
            if peer is not None and peer.installed:
                self.dataplane.removeMapping(nodeID)
            self._peers[nodeID] = _Peer(
                None, now, now + ttl, now if peer is None else peer.lastUsed
            )
            self.log.info(
                "MA has no mapping for {nodeID} (cached {ttl}s)", nodeID=str(nodeID), ttl=ttl
            )
            return [PeerResult(nodeID, None)]
        address = reply.locators[0]
        locator = Locator.fromAddress(address)
        if locator.nodeID != nodeID:
            self.stats.garbage += 1
            self.log.warn(
                "MA answered {locator} for {nodeID}: wrong Node ID, ignored",
                locator=str(locator),
                nodeID=str(nodeID),
            )
            return [PeerResult(nodeID, None, "MA answered a locator of another node")]
        ttl = min(float(reply.ttl), self.settings.maxPeerTTL)
        old = peer.locator if peer is not None else None
        entry = _Peer(locator, now, now + ttl, now if peer is None else peer.lastUsed)
        self._peers[nodeID] = entry
        previous = old if old is not None and old != locator else None
        self._install(nodeID, entry, locator, previous)
        if previous is not None:
            self.log.info(
                "peer {nodeID} moved: {old} -> {new}",
                nodeID=str(nodeID),
                old=str(previous),
                new=str(locator),
            )
        return [PeerResult(nodeID, locator)]

    def _install(
        self, nodeID: NodeID, entry: _Peer, locator: Locator, previous: Locator | None
    ) -> None:
        try:
            self.dataplane.installMapping(nodeID, locator, previous)
        except DataplaneError as e:
            self.stats.dataplaneErrors += 1
            entry.installed = False
            self.log.error(
                "cannot install {nodeID} -> {locator}: {e}",
                nodeID=str(nodeID),
                locator=str(locator),
                e=e,
            )
            return
        entry.installed = True

    def _notify(self, notify: Notify, source: tuple[str, int], now: float) -> list[Action]:
        """
        A correspondent (or its MA) says C{nodeID} moved: acknowledge, then
        verify with our MA before believing it.
        """
        self.stats.notifies += 1
        host = ipaddress.ip_address(source[0].split("%", 1)[0])
        actions: list[Action] = []
        if isinstance(host, ipaddress.IPv6Address):
            ack = NotifyAck(notify.requestId, notify.nodeID).encode()
            actions.append(Send(ack, Endpoint(host, source[1])))
        nodeID = notify.nodeID
        if nodeID not in self._peers and nodeID not in self._queries:
            self.log.info("NOTIFY for {nodeID}, which we do not talk to", nodeID=str(nodeID))
            return actions
        self.log.info(
            "NOTIFY: {nodeID} says it is at {locators}; verifying with the MA",
            nodeID=str(nodeID),
            locators=", ".join(str(a) for a in notify.locators),
        )
        peer = self._peers.get(nodeID)
        if peer is not None:
            peer.lastUsed = now
        if nodeID not in self._queries:
            actions += self._query(nodeID, now, attempt=0)
        return actions

    def _expirePeers(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for nodeID, peer in list(self._peers.items()):
            if peer.expires <= now:
                del self._peers[nodeID]
                if peer.installed:
                    self.dataplane.removeMapping(nodeID)
                    self.log.info("mapping of {nodeID} expired", nodeID=str(nodeID))
            else:
                at = self._refreshAt(nodeID, peer)
                if at is not None and at <= now:
                    actions += self._query(nodeID, now, attempt=0)
        return actions

    def _expireQueries(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for nodeID, query in list(self._queries.items()):
            if query.deadline > now:
                continue
            del self._queries[nodeID]
            if query.attempt < self.settings.retries:
                actions += self._query(nodeID, now, query.attempt + 1)
            else:
                self.log.warn(
                    "MA {ma} did not answer the query for {nodeID}",
                    ma=str(query.to),
                    nodeID=str(nodeID),
                )
                actions.append(PeerResult(nodeID, None, f"MA {query.to} did not answer"))
        return actions

    # -- time ------------------------------------------------------------------

    def tick(self, now: float) -> list[Action]:
        """
        Run everything due at C{now}.
        """
        if self.state is NodeState.STOPPED:
            return []
        actions: list[Action] = []
        if self._request is not None and self._request.deadline <= now:
            actions += self._handleRequestTimeout(now)
        if self._timer is not None and self._timer <= now:
            actions += self._timerFired(now)
        if self.bindingExpires is not None and self.bindingExpires <= now:
            self.bindingExpires = None
            self.boundLocator = None
        actions += self._expireQueries(now)
        actions += self._expirePeers(now)
        actions += self._dropOldLocators(now)
        if self._nextReport is not None and self._nextReport <= now:
            self._nextReport = now + self.settings.reportInterval
            actions += self._report(now)
        return actions

    def _dropOldLocators(self, now: float) -> list[Action]:
        keep = []
        current = self.locator
        for due, interface, address in self._oldLocators:
            if due > now:
                keep.append((due, interface, address))
                continue
            if current is not None and address == current.address:
                continue
            try:
                self.host.removeAddress(interface, address, 64)
            except HostConfigError as e:
                self.log.warn(
                    "cannot remove old locator {address}: {e}", address=str(address), e=e
                )
        self._oldLocators = keep
        return []

    def _report(self, now: float) -> list[Action]:
        if self.ma is None or self.state not in (NodeState.REGISTERED, NodeState.REFRESHING):
            return []
        s = self.settings
        bytesIn, bytesOut = (0, 0)
        if self.attachment is not None:
            bytesIn, bytesOut = self.host.interfaceBytes(self.attachment.interface)
        try:
            sequence = self.sequences.reserve()
        except SequenceStoreError as e:
            self.log.error("cannot persist the sequence number, no report: {e}", e=str(e))
            return []
        rtt = 0 if self.rttToMA is None else round(self.rttToMA * 1e6)
        report = Report(
            self.newRequestId() & _U32,
            s.nodeID,
            sequence,
            min(rtt, _U32),
            bytesIn & ((1 << 64) - 1),
            bytesOut & ((1 << 64) - 1),
            min(self.stats.handovers, _U32),
            min(self.stats.lastHandoverMs, _U32),
            s.keyID,
        ).sign(s.key)
        self.stats.reports += 1
        self.stats.sent += 1
        return [Send(report.encode(), self.ma)]
