# -*- test-case-name: lin6twisted.ma.test.test_lsclient -*-
# mypy: disallow-untyped-calls=False
"""
The MA's LS client: one mutual-TLS connection to an LS replica.

  - L{FailoverEndpoint} tries the replicas in order, starting with the last
    one that worked; the replicas come from the configuration or from DNS
    (the AAAA records of a name, looked up at every connection attempt);
  - a L{ClientService} reconnects with exponential backoff when the link
    drops or no replica answers;
  - L{LSLink} (the channel's controller) sends a HEARTBEAT at once and then
    every C{heartbeat_interval} (the MA's normal/premium counts, capacity,
    boot id and sequence), answers RTT_REQUEST by pinging the target
    (L{lin6twisted.ma.rtt}) and handles ASSIGNMENT notices and errors.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Sequence
from typing import Any

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP6ClientEndpoint
from twisted.internet.interfaces import IProtocol, IProtocolFactory, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted.address import NodeID
from lin6twisted.directory import ServiceLevel
from lin6twisted.ls.channel import IChannelController, LSChannel
from lin6twisted.ma.rtt import ICMPv6Pinger, RTTResult
from lin6twisted.ma.service import MappingAgent
from lin6twisted.ma.settings import LSClientSettings
from lin6twisted.pki import Role, TLSSettings, tlsClientEndpoint
from lin6twisted.wire.ls import (
    Assignment,
    Heartbeat,
    LSError,
    LSMessage,
    RTTReply,
    RTTRequest,
    RTTStatus,
)

__all__ = ["FailoverEndpoint", "LSClientService", "LSLink", "buildLSClient"]

Replica = tuple[str, IStreamClientEndpoint]


class NoReplica(Exception):
    """
    No LS replica is known or none accepted the connection.
    """


@implementer(IStreamClientEndpoint)
class FailoverEndpoint:
    """
    Connects to the first replica that accepts, in list order, starting
    with the last one that worked.

    @param replicas: returns the (name, endpoint) list; called at every
        attempt (so DNS answers are fresh).
    """

    log = Logger()

    def __init__(self, replicas: Callable[[], Deferred[Sequence[Replica]]]) -> None:
        self.replicas = replicas
        self.current: str | None = None
        self._preferred = 0

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[IProtocol]:
        d = self.replicas()
        d.addCallback(self._tryFrom, protocolFactory)
        return d  # type: ignore[return-value]

    def _tryFrom(self, replicas: Sequence[Replica], factory: IProtocolFactory) -> Any:
        if not replicas:
            raise NoReplica("no LS replica is known")
        start = self._preferred % len(replicas)
        order = list(range(start, len(replicas))) + list(range(start))
        errors: list[str] = []

        def attempt(i: int) -> Any:
            if i >= len(order):
                raise NoReplica("no LS replica answered: " + "; ".join(errors))
            index = order[i]
            name, endpoint = replicas[index]

            def connected(protocol: IProtocol) -> IProtocol:
                self._preferred = index
                self.current = name
                return protocol

            def failed(f: Failure) -> Any:
                errors.append(f"{name}: {f.getErrorMessage()}")
                self.log.info(
                    "LS {name} unreachable: {error}", name=name, error=f.getErrorMessage()
                )
                return attempt(i + 1)

            return endpoint.connect(factory).addCallbacks(connected, failed)

        return attempt(0)


@implementer(IChannelController)
class LSLink:
    """
    The controller of the MA's LS channel.

    @ivar heartbeats: heartbeats sent since start.
    @ivar assignments: the last ASSIGNMENT notices, by Node ID.
    """

    log = Logger()

    def __init__(
        self,
        agent: MappingAgent,
        pinger: ICMPv6Pinger | None,
        reactor: Any,
        address: ipaddress.IPv6Address,
        port: int,
        capacity: int,
        interval: float,
        bootID: int | None = None,
        assignmentLifetime: float = 300.0,
        probeTimeout: float = 2.0,
    ) -> None:
        self.agent = agent
        self.probeTimeout = probeTimeout
        self.assignmentLifetime = assignmentLifetime
        self.pinger = pinger
        self.reactor = reactor
        self.address = address
        self.port = port
        self.capacity = capacity
        self.interval = interval
        self.bootID = bootID if bootID is not None else int.from_bytes(os.urandom(8), "big")
        self.sequence = 0
        self.heartbeats = 0
        self.rttRequests = 0
        self.assignments: dict[NodeID, dict[str, Any]] = {}
        self.channel: LSChannel | None = None
        self.peer: str | None = None
        self._requestIds = 0
        self._loop: LoopingCall | None = None

    def channelOpen(self, channel: LSChannel) -> None:
        self.channel = channel
        self.peer = channel.peerText()
        self.log.info("LS link up to {peer}", peer=self.peer)
        loop = LoopingCall(self.heartbeat)
        loop.clock = self.reactor
        self._loop = loop
        loop.start(self.interval, now=True)

    def channelClosed(self, channel: LSChannel, reason: Failure) -> None:
        if channel is not self.channel:
            return
        self.log.info(
            "LS link to {peer} down: {reason}", peer=self.peer, reason=reason.getErrorMessage()
        )
        self.channel = None
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def heartbeat(self) -> None:
        """
        Send one HEARTBEAT with the current counts.
        """
        if self.channel is None:
            return
        counts = self.agent.table.counts(self.reactor.seconds())
        self.sequence += 1
        self._requestIds = (self._requestIds + 1) & 0xFFFFFFFF
        self.channel.send(
            Heartbeat(
                self._requestIds,
                self.address,
                self.port,
                self.bootID,
                self.sequence,
                counts[ServiceLevel.NORMAL],
                counts[ServiceLevel.PREMIUM],
                self.capacity,
                max(1, min(0xFFFF, round(self.interval))),
            )
        )
        self.heartbeats += 1

    def messageReceived(self, channel: LSChannel, message: LSMessage) -> None:
        if isinstance(message, RTTRequest):
            self.rttRequest(channel, message)
        elif isinstance(message, Assignment):
            level = ServiceLevel(message.level)
            self.assignments.pop(message.nodeID, None)
            self.assignments[message.nodeID] = {
                "level": level.text,
                "prefix": str(message.prefix),
                "at": self.reactor.seconds(),
            }
            while len(self.assignments) > 65536:
                del self.assignments[next(iter(self.assignments))]
            self.log.info(
                "LS assigned {node} ({serviceLevel}) from {prefix} to this MA",
                node=str(message.nodeID),
                serviceLevel=level.text,
                prefix=str(message.prefix),
            )
        elif isinstance(message, LSError):
            self.log.warn(
                "LS {peer} reports error {code}: {text}",
                peer=self.peer,
                code=message.code.name,
                text=message.message,
            )
        else:
            self.log.warn("Ignoring {message} from LS {peer}", message=message, peer=self.peer)

    def rttRequest(self, channel: LSChannel, message: RTTRequest) -> Deferred[RTTReply]:
        """
        Ping the target and answer with the mean RTT (or a status).
        """
        self.rttRequests += 1
        if self.pinger is None:
            d: Deferred[RTTResult] = succeed(RTTResult(message.target, RTTStatus.ERROR, 0, 0, 0))
        else:
            timeout = min(message.timeoutMs / 1000, self.probeTimeout)
            d = self.pinger.measure(message.target, message.count, timeout)

        def answer(result: RTTResult) -> RTTReply:
            reply = RTTReply(
                message.requestId,
                message.target,
                result.status,
                min(result.meanUs, 0xFFFFFFFF),
                min(result.received, 0xFF),
            )
            channel.send(reply)
            self.log.debug(
                "RTT to {target}: {status} {mean}us", target=str(message.target),
                status=result.status.name, mean=result.meanUs,
            )  # fmt: skip
            return reply

        return d.addCallback(answer)

    def isAssigned(self, nodeID: NodeID, now: float) -> bool:
        """
        Whether the LS assigned C{nodeID} to this MA within the last
        C{assignmentLifetime} seconds.
        """
        entry = self.assignments.get(nodeID)
        return entry is not None and now - entry["at"] <= self.assignmentLifetime

    def linkStatus(self) -> dict[str, Any]:
        """
        The link as the status page shows it.
        """
        return {
            "configured": True,
            "connected": self.channel is not None,
            "peer": self.peer if self.channel is not None else None,
            "bootID": f"{self.bootID:016x}",
            "sequence": self.sequence,
            "heartbeats": self.heartbeats,
            "rttRequests": self.rttRequests,
            "assignments": len(self.assignments),
        }


class _ChannelFactory(Factory):
    def __init__(self, link: LSLink) -> None:
        self.link = link

    def buildProtocol(self, addr: Any) -> LSChannel:
        return LSChannel(self.link, "LS", tls=True)


class LSClientService(MultiService):
    """
    The LS link with its reconnecting client and the pinger.
    """

    def __init__(self, link: LSLink, endpoint: FailoverEndpoint, retryMax: float, reactor: Any):
        super().__init__()
        self.link = link
        self.endpoint = endpoint
        client = ClientService(
            endpoint,
            _ChannelFactory(link),
            retryPolicy=backoffPolicy(initialDelay=0.5, maxDelay=retryMax),
            clock=reactor,
        )
        client.setServiceParent(self)

    def linkStatus(self) -> dict[str, Any]:
        status = self.link.linkStatus()
        if status["connected"]:
            status["peer"] = self.endpoint.current
        return status

    def stopService(self) -> Deferred[None]:
        if self.link.pinger is not None:
            self.link.pinger.close()
        stopped: Deferred[None] = super().stopService()
        return stopped


def buildLSClient(
    settings: LSClientSettings,
    tls: TLSSettings,
    capacity: int,
    agent: MappingAgent,
    reactor: Any,
    address: ipaddress.IPv6Address,
    port: int,
    resolver: Any = None,
) -> LSClientService:
    """
    Build the LS client from its settings.

    @param address: the MA's mapping address, as heartbeats advertise it.
    @param resolver: a L{lin6twisted.dns.resolver.Lin6Resolver} for
        C{dns_name} or C{dns_service} (asked at every connection attempt;
        the configured C{servers} are the fallback).
    """

    def endpoint(addr: ipaddress.IPv6Address) -> Replica:
        tcp = TCP6ClientEndpoint(reactor, str(addr), settings.lsPort)
        return f"[{addr}]:{settings.lsPort}", tlsClientEndpoint(tcp, tls, Role.LS)

    def configured() -> list[Replica]:
        return [endpoint(a) for a in settings.servers]

    def replicas() -> Deferred[Sequence[Replica]]:
        if resolver is None or (settings.dnsName is None and settings.dnsService is None):
            return succeed(configured())
        d: Deferred[Any]
        if settings.dnsName is not None:
            name = settings.dnsName
            d = resolver.lookupAddresses(name)
        else:
            # The LIN6 way: the service's LIN6 address, then the LS entries
            # of the TXT records at its reverse name (their hosts; the MA
            # channel listens on ls_port, not on the MN query port listed).
            name = settings.dnsService or ""
            d = resolver.resolveService(name)
            d.addCallback(lambda service: [e.host for e in service.locations.ls])

        def found(addresses: Sequence[ipaddress.IPv6Address]) -> list[Replica]:
            replicas = [endpoint(a) for a in dict.fromkeys(addresses)]
            return replicas or configured()

        def fallback(f: Failure) -> list[Replica]:
            LSLink.log.warn(
                "LS replicas of {name} not found in DNS: {error}",
                name=name,
                error=f.getErrorMessage(),
            )
            return configured()

        return d.addCallbacks(found, fallback)

    pinger = ICMPv6Pinger(reactor, minInterval=settings.probeInterval, source=address)
    link = LSLink(
        agent,
        pinger,
        reactor,
        address,
        port,
        capacity,
        settings.heartbeatInterval,
        assignmentLifetime=settings.assignmentLifetime,
        probeTimeout=settings.probeTimeout,
    )
    if settings.requireAssignment:
        agent.assignmentCheck = link.isAssigned
    return LSClientService(link, FailoverEndpoint(replicas), settings.retryMax, reactor)
