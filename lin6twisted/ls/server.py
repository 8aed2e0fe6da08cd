# -*- test-case-name: lin6twisted.ls.test.test_server -*-
"""
The LS daemon's glue: it feeds the sans-IO L{LSCore} from the MA channels,
the peer mesh and the MN query endpoint, and carries out its effects.

    - L{LSServer}: owns the core, the cookie jar, the rate limiters, the
      directory and the connections; it is the L{IChannelController} of
      every MA and peer channel.
    - L{QueryDatagramProtocol} / L{QueryStreamProtocol}: the MN query
      endpoint over UDP and TCP.

Typed errors become wire error codes here, at one boundary
(L{LSServer._refusalCode}, L{LSServer._lookupFailed}).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from ipaddress import IPv6Address
from typing import Any, Final

from attrs import define, frozen
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.internet.task import Cooperator
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted._gcpause import CollectorPause
from lin6twisted.address import NodeID, Prefix
from lin6twisted.directory import (
    BadDirectoryEntry,
    DirectoryUnavailable,
    IDirectory,
    ServiceLevel,
    Subscriber,
)
from lin6twisted.ls.channel import MA_MAX_FRAME, IChannelController, LSChannel, Relay
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
from lin6twisted.ls.guard import CookieJar, RateLimiter
from lin6twisted.wire import (
    AnswerEntry,
    AnswerTableUpdate,
    Assignment,
    CookieChallenge,
    Heartbeat,
    LSError,
    LSErrorCode,
    LSMessage,
    MAEntry,
    MAReply,
    MARequest,
    MATableUpdate,
    RTTReply,
    RTTRequest,
    RTTStatus,
    StreamDecoder,
    SyncDone,
    SyncRequest,
    WireError,
)

__all__ = [
    "GuardSettings",
    "LSServer",
    "PeerInfo",
    "QueryDatagramProtocol",
    "QueryStreamFactory",
    "QueryStreamProtocol",
    "lsIdentity",
]

_U32: Final = 0xFFFFFFFF
_QUERY_MAX_FRAME: Final = 256
_LEVELS: Final = {int(level): level for level in ServiceLevel}
_MAX_RELAYED: Final = 10_000


@functools.lru_cache(maxsize=65536)
def _parseHost(host: str) -> IPv6Address:
    return IPv6Address(host)


@functools.lru_cache(maxsize=16384)
def _replyFrame(nodeID: NodeID, ma: IPv6Address, port: int, lifetime: int, rttUs: int) -> bytes:
    # Answers from the history table repeat: encode (and validate) each
    # distinct reply once; only the request id in the header changes.
    return MAReply(0, nodeID, ma, port, lifetime, rttUs).encode()


@functools.lru_cache(maxsize=16384)
def _assignmentFrame(nodeID: NodeID, level: int, prefix: Prefix) -> bytes:
    return Assignment(0, nodeID, level, prefix).encode()


def _withRequestId(frame: bytes, requestId: int) -> bytes:
    """
    C{frame} with the request id of its header (bytes 4-8) replaced.
    """
    return frame[:4] + requestId.to_bytes(4, "big") + frame[8:]


def lsIdentity(name: str) -> bytes:
    """
    The 16-byte identity an LS named C{name} sends in its SYNC_REQUEST.
    """
    return hashlib.sha256(b"lin6-ls:" + name.encode("utf-8")).digest()[:16]


@frozen
class GuardSettings:
    """
    Protection of the query endpoint.

    @ivar cookieSecret: shared by replicas so that each accepts the others'
        cookies (random if empty).
    @ivar cookieWindow: seconds per cookie window (a cookie lives one to
        two windows).
    @ivar sourceRate: requests per second per source address.
    @ivar sourceBurst: bucket size per source address.
    @ivar nodeRate: requests per second per Node ID.
    @ivar nodeBurst: bucket size per Node ID.
    @ivar prefixRate: requests per second per source /64 (all its
        addresses together).
    @ivar prefixBurst: bucket size per source /64.
    """

    cookieSecret: bytes = b""
    cookieWindow: float = 60.0
    sourceRate: float = 20.0
    sourceBurst: float = 40.0
    nodeRate: float = 5.0
    nodeBurst: float = 10.0
    prefixRate: float = 200.0
    prefixBurst: float = 400.0


@frozen
class PeerInfo:
    """
    One other LS replica from the config.

    @ivar name: its name (as it calls itself in its config).
    @ivar endpoint: the client endpoint description of its peer port.
    """

    name: str
    endpoint: str


@define
class _PeerLink:
    info: PeerInfo
    outbound: LSChannel | None = None
    inbound: LSChannel | None = None
    up: bool = False
    syncs: int = 0
    lastSync: float | None = None
    syncAsked: float | None = None
    syncRid: int = -1
    syncDuration: float | None = None
    connectedAt: float | None = None

    def channel(self) -> LSChannel | None:
        for ch in (self.outbound, self.inbound):
            if ch is not None and ch.isOpen and not ch.closed:
                return ch
        return None


@define
class _Outstanding:
    """
    An RTT request sent to a local MA: for our core (C{origin} None) or
    relayed for a peer.
    """

    ma: IPv6Address
    originalId: int
    origin: LSChannel | None
    target: IPv6Address
    relayId: int = 0
    """The request id of the peer's RELAY (copied into the RELAY back)."""


@implementer(IChannelController)
class LSServer:
    """
    One LS replica (see the module docstring).

    @ivar name: this replica's name.
    @ivar core: the decisions.
    @ivar peers: the other replicas, by name.
    @ivar counters: transport-level counters (the core has its own).
    """

    log = Logger()

    def __init__(
        self,
        name: str,
        settings: LSSettings,
        directory: IDirectory,
        clock: IReactorTime,
        guard: GuardSettings | None = None,
        peers: list[PeerInfo] | None = None,
        rttCount: int = 4,
        maxMAsPerChannel: int = 1,
    ) -> None:
        self.name = name
        self.lsID = lsIdentity(name)
        self.bootID = int.from_bytes(os.urandom(8), "big") >> 1
        self.settings = settings
        self.clock = clock
        self.directory = directory
        self.core = LSCore(settings, name)
        self.guard = guard or GuardSettings()
        self.cookies = CookieJar(self.guard.cookieSecret or None, self.guard.cookieWindow)
        self.perSource: RateLimiter[object] = RateLimiter(
            self.guard.sourceRate, self.guard.sourceBurst
        )
        self.perNode: RateLimiter[int] = RateLimiter(self.guard.nodeRate, self.guard.nodeBurst)
        self.perPrefix: RateLimiter[int] = RateLimiter(
            self.guard.prefixRate, self.guard.prefixBurst
        )
        self.rttCount = rttCount
        self.peers: dict[str, _PeerLink] = {p.name: _PeerLink(p) for p in peers or []}
        self._peerByID = {lsIdentity(p.name): p.name for p in peers or []}
        self.maChannels: dict[IPv6Address, LSChannel] = {}
        self._channelMAs: dict[LSChannel, set[IPv6Address]] = {}
        self.maxMAsPerChannel = maxMAsPerChannel
        self._outstanding: dict[int, _Outstanding] = {}
        self._relayedProbes: dict[tuple[IPv6Address, int], list[str]] = {}
        self._relayedMessages: dict[tuple[IPv6Address, int], RTTRequest] = {}
        self._routes: dict[IPv6Address, str] = {}
        self._rids = itertools.count(1)
        self._wakeup: IDelayedCall | None = None
        self._wakeAt: float | None = None
        self._maBatch: list[MARecord] = []
        self._answerBatch: list[AnswerRecord] = []
        self._flush: IDelayedCall | None = None
        self._cooperator = Cooperator(scheduler=lambda f: clock.callLater(0, f))
        self.collectorPause = CollectorPause(clock)
        self.startedAt = clock.seconds()
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "query_datagrams",
                "query_bad",
                "query_rate_limited_source",
                "query_rate_limited_node",
                "query_challenged",
                "query_unknown_node",
                "query_disabled_node",
                "query_directory_down",
                "answers_sent",
                "errors_sent",
                "ma_connections",
                "peer_connections",
                "relays_sent",
                "relays_received",
                "syncs_served",
                "syncs_received",
            ),
            0,
        )

    def _rid(self) -> int:
        return next(self._rids) & _U32 or next(self._rids) & _U32

    @property
    def now(self) -> float:
        return self.clock.seconds()

    # -- time ---------------------------------------------------------------

    def _reschedule(self) -> None:
        at = self.core.nextWakeup()
        if at is None:
            return
        if self._wakeup is not None and self._wakeup.active():
            if self._wakeAt is not None and self._wakeAt <= at:
                return
            self._wakeup.cancel()
        self._wakeAt = at
        self._wakeup = self.clock.callLater(max(0.0, at - self.now), self._tick)

    def _tick(self) -> None:
        self._wakeup = None
        self._wakeAt = None
        self.apply(self.core.tick(self.now))

    def stop(self) -> None:
        """
        Cancel timers and close every connection (service shutdown).
        """
        for call in (self._wakeup, self._flush):
            if call is not None and call.active():
                call.cancel()
        self._cooperator.stop()
        self.collectorPause.releaseAll()
        for ch in list(self.maChannels.values()):
            ch.close()
        for link in self.peers.values():
            for peerChannel in (link.inbound, link.outbound):
                if peerChannel is not None:
                    peerChannel.close()

    # -- effects ------------------------------------------------------------

    def apply(self, effects: list[Effect]) -> None:
        """
        Carry out the core's effects, then re-arm the timer if they may
        have changed it (a history hit changes no timer).
        """
        timers = False
        for effect in effects:
            if isinstance(effect, Answer):
                self._answer(effect)
            elif isinstance(effect, NotifyAssignment):
                self._notify(effect)
            elif isinstance(effect, SendRTTRequest):
                timers = True
                self._probe(effect)
            elif isinstance(effect, Refuse):
                code = self._refusalCode(effect.reason)
                self._error(
                    effect.query.replyTo, effect.query.requestId, code, effect.reason.value
                )
            elif isinstance(effect, RelayHeartbeat):
                timers = True
                self._queueMA(effect.record)
            elif isinstance(effect, PropagateAnswer):
                timers = True
                self._queueAnswer(effect.record)
        if timers or self._wakeup is None:
            self._reschedule()

    @staticmethod
    def _refusalCode(reason: Refusal) -> LSErrorCode:
        return {
            Refusal.NO_MA_AVAILABLE: LSErrorCode.NO_CAPACITY,
            Refusal.NO_RTT_REPLY: LSErrorCode.NO_MA_ANSWERED,
        }[reason]

    def _answer(self, answer: Answer) -> None:
        state = self.core.ma(answer.ma)
        port = state.record.port if state is not None else 0
        frame = _withRequestId(
            _replyFrame(
                answer.query.nodeID,
                answer.ma,
                port,
                int(self.settings.historyLifetime),
                min(_U32, int(answer.rttMs * 1000)),
            ),
            answer.query.requestId,
        )
        send: Callable[[bytes], None] = answer.query.replyTo  # type: ignore[assignment]
        send(frame)
        self.counters["answers_sent"] += 1

    def _error(self, replyTo: object, requestId: int, code: LSErrorCode, text: str) -> None:
        send: Callable[[bytes], None] = replyTo  # type: ignore[assignment]
        send(LSError(requestId, code, text).encode())
        self.counters["errors_sent"] += 1

    def _toMA(self, ma: IPv6Address, via: str | None, message: RTTRequest | Assignment) -> bool:
        """
        Send a message to an MA: over its channel if it heartbeats to us,
        else relayed through the peer it heartbeats to.

        The peer to relay through is, in order: the one that last relayed
        a probe reply for it, the one that relayed its newest heartbeat
        (C{via}), then any peer that is up.  A relayed RTT request that
        comes back with C{ERROR} (that peer has no channel to the MA) is
        tried on the next peer (L{_relayFailed}).
        """
        channel = self.maChannels.get(ma)
        if channel is not None:
            if isinstance(message, RTTRequest):
                rid = self._rid()
                self._outstanding[rid] = _Outstanding(ma, message.requestId, None, message.target)
                message = RTTRequest(rid, message.target, message.count, message.timeoutMs)
            channel.send(message)
            return True
        tried: list[str] = []
        if isinstance(message, RTTRequest):
            tried = self._relayedProbes.setdefault((ma, message.requestId), [])
        name = self._nextPeer(ma, via, tried)
        if name is None:
            self.log.warn(
                "Cannot reach MA {ma}: no channel and no peer left to relay through",
                ma=ma,
            )
            if isinstance(message, RTTRequest):
                del self._relayedProbes[(ma, message.requestId)]
            return False
        peer = self.peers[name].channel()
        assert peer is not None
        if isinstance(message, RTTRequest):
            tried.append(name)
            self._relayedMessages[(ma, message.requestId)] = message
            while len(self._relayedMessages) > _MAX_RELAYED:
                # Probes whose replies never came (a peer died): forget the
                # oldest; their rounds have long been decided by deadline.
                oldest = next(iter(self._relayedMessages))
                del self._relayedMessages[oldest]
                self._relayedProbes.pop(oldest, None)
        peer.send(Relay(self._rid(), ma, message))
        self.counters["relays_sent"] += 1
        return True

    def _nextPeer(self, ma: IPv6Address, via: str | None, tried: list[str]) -> str | None:
        order = [self._routes.get(ma), via, *self.peers]
        for name in order:
            if name is None or name in tried or name not in self.peers:
                continue
            if self.peers[name].channel() is not None:
                return name
        return None

    def _relayReply(self, ma: IPv6Address, inner: RTTReply, peerName: str) -> None:
        key = (ma, inner.requestId)
        if inner.status is RTTStatus.ERROR and key in self._relayedMessages:
            message = self._relayedMessages[key]
            if self._toMA(ma, None, message):
                return
        self._relayedProbes.pop(key, None)
        self._relayedMessages.pop(key, None)
        if inner.status is not RTTStatus.ERROR:
            self._routes[ma] = peerName
        rtt = inner.meanRTTus / 1000.0 if inner.status is RTTStatus.OK else None
        self.apply(self.core.rttReply(self.now, ma, inner.requestId, rtt))

    def _probe(self, probe: SendRTTRequest) -> None:
        timeoutMs = max(1, min(0xFFFF, int(self.settings.rttTimeout * 1000 * 0.8)))
        self._toMA(
            probe.ma,
            probe.via,
            RTTRequest(probe.probeId, probe.target, self.rttCount, timeoutMs),
        )

    def _notify(self, notify: NotifyAssignment) -> None:
        channel = self.maChannels.get(notify.ma)
        if channel is not None:
            frame = _assignmentFrame(notify.nodeID, int(notify.level), notify.prefix)
            channel.sendRaw(_withRequestId(frame, self._rid()))
            return
        self._toMA(
            notify.ma,
            notify.via,
            Assignment(self._rid(), notify.nodeID, int(notify.level), notify.prefix),
        )

    def _queueMA(self, record: MARecord) -> None:
        if not self.peers:
            return
        self._maBatch.append(record)
        self._scheduleFlush()

    def _queueAnswer(self, record: AnswerRecord) -> None:
        if not self.peers:
            return
        self._answerBatch.append(record)
        self._scheduleFlush()

    def _scheduleFlush(self) -> None:
        if self._flush is None or not self._flush.active():
            self._flush = self.clock.callLater(0, self._flushUpdates)

    def _flushUpdates(self) -> None:
        self._flush = None
        mas, answers = self._maBatch, self._answerBatch
        self._maBatch, self._answerBatch = [], []
        channels = [ch for link in self.peers.values() if (ch := link.channel()) is not None]
        if not channels:
            # Peers that are down get everything in their next sync.
            return
        data = self._encodeTables(self._rid(), mas, answers)
        for ch in channels:
            ch.sendRaw(data)

    # -- table conversion ---------------------------------------------------

    def maEntry(self, record: MARecord, nowMs: int) -> MAEntry:
        state = self.core.ma(record.address)
        active = state.active if state is not None else True
        age = max(0, min(_U32, nowMs - record.heardMs))
        return MAEntry(
            record.address,
            record.port,
            record.bootID,
            record.sequence,
            record.normal,
            record.premium,
            record.capacity,
            record.interval,
            active,
            age,
        )

    def answerEntry(self, record: AnswerRecord) -> AnswerEntry:
        state = self.core.ma(record.ma)
        return AnswerEntry(
            record.prefix,
            record.ma,
            state.record.port if state is not None else 0,
            record.createdMs,
            record.lifetimeMs // 1000,
            min(_U32, int(record.rttMs * 1000)),
            int(record.level),
        )

    def _encodeTables(self, rid: int, mas: list[MARecord], answers: list[AnswerRecord]) -> bytes:
        nowMs = round(self.now * 1000)
        parts = [
            m.encode() for m in MATableUpdate.inBatches(rid, [self.maEntry(r, nowMs) for r in mas])
        ]
        parts += [
            m.encode()
            for m in AnswerTableUpdate.inBatches(rid, [self.answerEntry(r) for r in answers])
        ]
        return b"".join(parts)

    def _syncChunks(self, channel: LSChannel, name: str, rid: int) -> Iterator[None]:
        """
        Send the full tables to a peer as batched updates and SYNC_DONE,
        one frame per step of a cooperative task, so the peer starts
        merging while the rest is still being encoded.
        """
        started = self.now
        nowMs = round(started * 1000)
        mas = self.core.maRecords()
        answers = list(self.core.history())
        step = MATableUpdate.MAX_ENTRIES
        for i in range(0, len(mas), step):
            if channel.closed:
                return
            entries = [self.maEntry(r, nowMs) for r in mas[i : i + step]]
            channel.sendRaw(MATableUpdate(rid, entries).encode())
            yield None
        step = AnswerTableUpdate.MAX_ENTRIES
        for i in range(0, len(answers), step):
            if channel.closed:
                return
            rows = [self.answerEntry(r) for r in answers[i : i + step]]
            channel.sendRaw(AnswerTableUpdate(rid, rows).encode())
            yield None
        channel.sendRaw(SyncDone(rid, len(mas), len(answers)).encode())
        self.counters["syncs_served"] += 1
        self.log.info(
            "Sent sync to {peer}: {mas} MAs, {answers} answers in {took:.3f} s",
            peer=name,
            mas=len(mas),
            answers=len(answers),
            took=self.now - started,
        )

    def _mergeMAEntry(self, entry: MAEntry, via: str, nowMs: int, quiet: bool = False) -> None:
        heard = nowMs - entry.ageMs
        if not entry.active:
            heard = min(heard, nowMs - round(self.settings.maTimeout * 1000) - 1)
        record = MARecord(
            entry.maAddress,
            entry.normal,
            entry.premium,
            entry.capacity,
            entry.bootID,
            entry.sequence,
            heard,
            entry.maPort,
            entry.interval,
        )
        self.core.mergeMA(self.now, record, via, quiet)

    # -- channels (IChannelController) --------------------------------------

    def channelOpen(self, channel: LSChannel) -> None:
        if channel.kind == "MA":
            self.counters["ma_connections"] += 1
            self.log.info("MA channel open from {peer}", peer=channel.peerText())
        elif channel.kind == "peer-out":
            link = self.peers.get(channel.name or "")
            if link is None:
                channel.close()
                return
            link.outbound = channel
            self._peerUp(link)
            link.syncAsked = self.now
            link.syncRid = self._rid()
            # The tables arrive as a burst of long-lived objects.
            self.collectorPause.hold(link.info.name)
            channel.send(SyncRequest(link.syncRid, self.lsID, self.bootID))
        else:
            self.log.info("Peer connection from {peer}", peer=channel.peerText())

    def _peerUp(self, link: _PeerLink) -> None:
        if not link.up:
            link.up = True
            link.connectedAt = self.now
            self.counters["peer_connections"] += 1
            self.log.info("Peer {peer} is up", peer=link.info.name)

    def channelClosed(self, channel: LSChannel, reason: Failure) -> None:
        if channel.kind == "MA":
            for address in self._channelMAs.pop(channel, set()):
                if self.maChannels.get(address) is channel:
                    del self.maChannels[address]
                    self.core.maDisconnected(self.now, address)
            for rid, out in list(self._outstanding.items()):
                if self.maChannels.get(out.ma) is None and out.origin is None:
                    # Our own probe to it can no longer be answered.
                    self.apply(self.core.rttReply(self.now, out.ma, out.originalId, None))
                    del self._outstanding[rid]
            return
        for link in self.peers.values():
            if link.outbound is channel:
                link.outbound = None
                self.collectorPause.release(link.info.name)
            if link.inbound is channel:
                link.inbound = None
            if link.up and link.channel() is None:
                link.up = False
                self.log.info(
                    "Peer {peer} is down ({reason})",
                    peer=link.info.name,
                    reason=reason.getErrorMessage(),
                )
        for rid, out in list(self._outstanding.items()):
            if out.origin is channel:
                del self._outstanding[rid]

    def messageReceived(self, channel: LSChannel, message: LSMessage) -> None:
        if channel.kind == "MA":
            self._fromMA(channel, message)
        else:
            self._fromPeer(channel, message)

    def _fromMA(self, channel: LSChannel, message: LSMessage) -> None:
        if isinstance(message, Heartbeat):
            address = message.maAddress
            if message.maPort == 0 or address.is_unspecified or address.is_multicast:
                # MNs would be sent to register there: not an MA's service
                self.log.warn(
                    "Heartbeat from {peer} with an unusable service address [{ma}]:{port}; "
                    "refused",
                    peer=channel.peerText(),
                    ma=address,
                    port=message.maPort,
                )
                channel.send(
                    LSError(
                        message.requestId,
                        LSErrorCode.MALFORMED,
                        f"[{address}]:{message.maPort} is not a usable mapping-service address",
                    )
                )
                return
            current = self.maChannels.get(address)
            if current is not channel:
                spoken = self._channelMAs.setdefault(channel, set())
                if len(spoken) >= self.maxMAsPerChannel:
                    self.log.warn(
                        "MA channel {peer} claims address {ma} beyond its {limit}; refused",
                        peer=channel.peerText(),
                        ma=address,
                        limit=self.maxMAsPerChannel,
                    )
                    channel.send(
                        LSError(
                            message.requestId,
                            LSErrorCode.NOT_AUTHORIZED,
                            f"a channel speaks for at most {self.maxMAsPerChannel} MA addresses",
                        )
                    )
                    return
                spoken.add(address)
                if channel.name is None:
                    channel.name = str(address)
                if current is not None:
                    self._channelMAs.get(current, set()).discard(address)
                self.maChannels[address] = channel
                self.log.info(
                    "MA {ma} heartbeats over {peer}", ma=address, peer=channel.peerText()
                )
            report = HeartbeatReport(
                address,
                message.normal,
                message.premium,
                message.capacity,
                message.bootID,
                message.sequence,
                message.maPort,
                message.interval,
            )
            self.apply(self.core.heartbeat(self.now, report))
        elif isinstance(message, RTTReply):
            out = self._outstanding.pop(message.requestId, None)
            if out is None or self.maChannels.get(out.ma) is not channel:
                self.log.warn(
                    "Unexpected RTT reply {rid} from {peer}",
                    rid=message.requestId,
                    peer=channel.peerText(),
                )
                return
            if out.origin is None:
                rtt = message.meanRTTus / 1000.0 if message.status is RTTStatus.OK else None
                self.apply(self.core.rttReply(self.now, out.ma, out.originalId, rtt))
            else:
                reply = RTTReply(
                    out.originalId,
                    message.target,
                    message.status,
                    message.meanRTTus,
                    message.received,
                )
                out.origin.send(Relay(out.relayId, out.ma, reply))
        elif isinstance(message, LSError):
            self.log.info(
                "MA {peer} reports error {code} for request {rid}: {text}",
                peer=channel.peerText(),
                code=message.code.name,
                rid=message.requestId,
                text=message.message,
            )
        else:
            self.log.warn(
                "Unexpected {kind} from MA {peer}; ignored",
                kind=type(message).__name__,
                peer=channel.peerText(),
            )
            channel.send(
                LSError(message.requestId, LSErrorCode.NOT_AUTHORIZED, "not an MA message")
            )

    def _fromPeer(self, channel: LSChannel, message: LSMessage) -> None:
        via = channel.name or channel.peerText()
        if isinstance(message, SyncRequest):
            name = self._peerByID.get(message.lsID)
            if name is None:
                self.log.warn(
                    "Sync request from unknown LS {peer}; closing", peer=channel.peerText()
                )
                channel.send(LSError(message.requestId, LSErrorCode.NOT_AUTHORIZED, "unknown LS"))
                channel.close()
                return
            channel.name = name
            link = self.peers[name]
            link.inbound = channel
            self._peerUp(link)
            self._cooperator.cooperate(self._syncChunks(channel, name, message.requestId))
        elif isinstance(message, MATableUpdate):
            nowMs = round(self.now * 1000)
            sender = self.peers.get(via)
            quiet = sender is not None and message.requestId == sender.syncRid
            for entry in message.entries:
                self._mergeMAEntry(entry, via, nowMs, quiet)
            self._reschedule()
        elif isinstance(message, AnswerTableUpdate):
            self.core.mergeAnswers(
                self.now,
                [
                    AnswerRecord(e.prefix, e.maAddress, e.createdMs, e.lifetime * 1000,
                                 _LEVELS[e.level], e.rttUs / 1000.0)
                    for e in message.entries
                ],
            )  # fmt: skip
            self._reschedule()
        elif isinstance(message, SyncDone):
            synced = self.peers.get(via)
            self.collectorPause.release(via)
            if synced is not None:
                synced.syncs += 1
                synced.lastSync = self.now
                if synced.syncAsked is not None:
                    synced.syncDuration = self.now - synced.syncAsked
            self.counters["syncs_received"] += 1
            self.log.info(
                "Sync from {peer} done: {mas} MAs, {answers} answers in {took} s; "
                "table now {total} MAs, {history} answers",
                peer=via,
                took="?"
                if synced is None or synced.syncDuration is None
                else f"{synced.syncDuration:.3f}",
                mas=message.maCount,
                answers=message.answerCount,
                total=self.core.maSize,
                history=self.core.historySize,
            )
        elif isinstance(message, Relay):
            self.counters["relays_received"] += 1
            inner = message.inner
            if isinstance(inner, RTTReply):
                self._relayReply(message.ma, inner, via)
            elif isinstance(inner, RTTRequest):
                local = self.maChannels.get(message.ma)
                if local is None:
                    channel.send(
                        Relay(message.requestId, message.ma,
                              RTTReply(inner.requestId, inner.target, RTTStatus.ERROR, 0, 0))
                    )  # fmt: skip
                    return
                rid = self._rid()
                self._outstanding[rid] = _Outstanding(
                    message.ma, inner.requestId, channel, inner.target, message.requestId
                )
                local.send(RTTRequest(rid, inner.target, inner.count, inner.timeoutMs))
            else:
                local = self.maChannels.get(message.ma)
                if local is not None:
                    local.send(inner)
        elif isinstance(message, LSError):
            self.log.info(
                "Peer {peer} reports error {code}: {text}",
                peer=via,
                code=message.code.name,
                text=message.message,
            )
        else:
            self.log.warn(
                "Unexpected {kind} from peer {peer}; ignored",
                kind=type(message).__name__,
                peer=via,
            )

    # -- MN queries ---------------------------------------------------------

    def handleQuery(self, data: bytes, host: str, send: Callable[[bytes], None]) -> None:
        """
        One MA_REQUEST frame from C{host}; replies go through C{send}.

        Order of checks: per-source-address and per-source-/64 rate limits
        (silent drop: an attacker owns many addresses of its /64), decoding
        (logged drop), the address cookie (a L{CookieChallenge} no larger
        than the request), the per-Node-ID rate limit (L{LSErrorCode}
        C{RATE_LIMITED}), the directory, then the core.
        """
        self.counters["query_datagrams"] += 1
        now = self.now
        if not self.perSource.allow(now, host):
            self.counters["query_rate_limited_source"] += 1
            return
        try:
            source = _parseHost(host)
        except ValueError as e:
            self.counters["query_bad"] += 1
            self.log.warn("Dropped query from {host}: {error}", host=host, error=e)
            return
        if not self.perPrefix.allow(now, int(source) >> 64):
            self.counters["query_rate_limited_source"] += 1
            return
        try:
            request = MARequest.decode(data)
        except WireError as e:
            self.counters["query_bad"] += 1
            self.log.warn("Dropped bad query from {host}: {error}", host=host, error=e)
            return
        if not self.cookies.check(now, source.packed, request.cookie):
            challenge = CookieChallenge(request.requestId, self.cookies.make(now, source.packed))
            frame = challenge.encode()
            if len(frame) <= len(data):
                send(frame)
                self.counters["query_challenged"] += 1
            return
        nodeID = request.nodeID
        if not self.perNode.allow(now, nodeID.value):
            self.counters["query_rate_limited_node"] += 1
            self._error(send, request.requestId, LSErrorCode.RATE_LIMITED, "")
            return
        d = self.directory.lookup(nodeID)
        d.addCallbacks(
            self._looked,
            self._lookupFailed,
            callbackArgs=(request, source, send),
            errbackArgs=(request, send),
        )

    def _looked(
        self,
        subscriber: Subscriber | None,
        request: MARequest,
        source: IPv6Address,
        send: Callable[[bytes], None],
    ) -> None:
        if subscriber is None:
            self.counters["query_unknown_node"] += 1
            self._error(send, request.requestId, LSErrorCode.UNKNOWN_NODE, "unknown Node ID")
            return
        if not subscriber.enabled:
            self.counters["query_disabled_node"] += 1
            self._error(send, request.requestId, LSErrorCode.DISABLED_NODE, "Node ID disabled")
            return
        query = Query(source, request.nodeID, subscriber.level, request.requestId, send)
        self.apply(self.core.query(self.now, query))

    def _lookupFailed(
        self, failure: Failure, request: MARequest, send: Callable[[bytes], None]
    ) -> None:
        if isinstance(failure.value, DirectoryUnavailable):
            self.counters["query_directory_down"] += 1
            self._error(
                send, request.requestId, LSErrorCode.DIRECTORY_UNAVAILABLE, "directory unavailable"
            )
        elif isinstance(failure.value, BadDirectoryEntry):
            self.counters["query_unknown_node"] += 1
            self._error(send, request.requestId, LSErrorCode.NOT_AUTHORIZED, "bad directory entry")
        else:
            self.log.failure("Directory lookup failed", failure)
            self._error(send, request.requestId, LSErrorCode.INTERNAL, "internal error")

    # -- factories ----------------------------------------------------------

    def maFactory(self, tls: bool = True) -> Factory[LSChannel]:
        """
        The factory of the MA channel listener.
        """
        factory = Factory.forProtocol(lambda: LSChannel(self, "MA", tls, MA_MAX_FRAME))
        factory.noisy = False
        return factory

    def peerServerFactory(self, tls: bool = True) -> Factory[LSChannel]:
        """
        The factory of the peer listener (other LSs connect here).
        """
        factory = Factory.forProtocol(lambda: LSChannel(self, "peer-in", tls))
        factory.noisy = False
        return factory

    def peerClientFactory(self, peer: PeerInfo, tls: bool = True) -> Factory[LSChannel]:
        """
        The factory for our connection to C{peer}.
        """

        def build() -> LSChannel:
            ch = LSChannel(self, "peer-out", tls)
            ch.name = peer.name
            return ch

        factory = Factory.forProtocol(build)
        factory.noisy = False
        return factory

    # -- status -------------------------------------------------------------

    def counterStatus(self) -> dict[str, Any]:
        """
        The counters and table sizes only (cheap, for polling).
        """
        return {
            "name": self.name,
            "counters": {**self.core.counters, **self.counters},
            "mas": self.core.maSize,
            "history": self.core.historySize,
            "peers": {
                link.info.name: {
                    "up": link.up,
                    "syncs": link.syncs,
                    "last_sync_duration_s": link.syncDuration,
                }
                for link in self.peers.values()
            },
        }

    def status(self, limit: int | None = None) -> dict[str, Any]:
        """
        Everything the status page shows, as JSON-able values.

        @param limit: at most this many rows of each table (the totals are
            in C{mas_total} and C{history_total}); all if C{None}.
        """
        now = self.now
        s = self.settings
        return {
            "name": self.name,
            "uptime_s": round(now - self.startedAt, 3),
            "settings": {
                "wt_normal": s.weightNormal,
                "wt_premium": s.weightPremium,
                "th_load": s.threshold,
                "ma_timeout_s": s.maTimeout,
                "history_lifetime_s": s.historyLifetime,
                "rtt_timeout_s": s.rttTimeout,
            },
            "mas": [
                {
                    "address": str(st.address),
                    "port": st.record.port,
                    "active": st.active,
                    "load_index": st.loadIndex(s),
                    "limit": st.limit(s),
                    "normal": st.record.normal,
                    "premium": st.record.premium,
                    "assigned_normal": st.assignedNormal,
                    "assigned_premium": st.assignedPremium,
                    "capacity": st.record.capacity,
                    # 16 hex digits: a u64 as a JSON number loses precision
                    # in most readers (as the MA's status writes it)
                    "boot_id": f"{st.record.bootID:016x}",
                    "sequence": st.record.sequence,
                    "timer_s": round(st.deadline(s) - now, 3),
                    "via": st.via or "direct",
                    "connected": st.address in self.maChannels,
                }
                for st in itertools.islice(self.core.mas(), limit)
            ],
            "history": [
                {
                    "prefix": str(a.prefix),
                    "ma": str(a.ma),
                    "timer_s": round(a.expiresAt - now, 3),
                    "created_ms": a.createdMs,
                    "rtt_ms": a.rttMs,
                }
                for a in itertools.islice(self.core.history(), limit)
            ],
            "peers": [
                {
                    "name": link.info.name,
                    "endpoint": link.info.endpoint,
                    "up": link.up,
                    "outbound": link.outbound is not None,
                    "inbound": link.inbound is not None,
                    "syncs": link.syncs,
                    "last_sync_duration_s": link.syncDuration,
                    "last_sync_s_ago": None
                    if link.lastSync is None
                    else round(now - link.lastSync, 3),
                }
                for link in self.peers.values()
            ],
            "counters": {**self.core.counters, **self.counters},
            "pending_rounds": self.core.pendingRounds(),
            "mas_total": self.core.maSize,
            "history_total": self.core.historySize,
        }


class QueryDatagramProtocol(DatagramProtocol):
    """
    The MN query endpoint over UDP: one MA_REQUEST per datagram.
    """

    def __init__(self, server: LSServer) -> None:
        self.server = server

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        host = addr[0]
        transport = self.transport

        def send(data: bytes) -> None:
            if transport is not None:
                transport.write(data, addr)

        self.server.handleQuery(datagram, host, send)


class QueryStreamProtocol(Protocol):
    """
    The MN query endpoint over TCP: MA_REQUEST frames back to back.
    """

    log = Logger()

    def __init__(self, server: LSServer) -> None:
        self.server = server
        self._decoder = StreamDecoder(_QUERY_MAX_FRAME)

    def dataReceived(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except WireError as e:
            self.server.counters["query_bad"] += 1
            self.log.warn(
                "Dropping query connection from {peer}: broken framing ({error})",
                peer=self.transport.getPeer(),  # type: ignore[union-attr]
                error=e,
            )
            self.transport.abortConnection()  # type: ignore[union-attr]
            return
        host: str = self.transport.getPeer().host  # type: ignore[union-attr]
        for frame in frames:
            self.server.handleQuery(frame, host, self._send)

    def _send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)


class QueryStreamFactory(Factory):
    """
    Builds L{QueryStreamProtocol}s for one server.
    """

    noisy = False

    def __init__(self, server: LSServer) -> None:
        self.server = server

    def buildProtocol(self, addr: Any) -> Protocol:
        return QueryStreamProtocol(self.server)
