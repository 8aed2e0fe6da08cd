# -*- test-case-name: lin6twisted.resolvd.test.test_service -*-
"""
The node daemon as a Twisted service: it feeds L{NodeCore} from the UDP
socket, the DNS resolver, the address monitor, the dataplane's miss events
and the clock, and carries out the core's actions.

Only this module knows the reactor.  One C{IDelayedCall} is kept, always
set to the core's next deadline.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IReactorUDP
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from lin6twisted._listen import cannotListen
from lin6twisted.address import LIN6Space, Locator, NodeID
from lin6twisted.dataplane.interfaces import DataplaneError, IDataplane
from lin6twisted.dns.resolver import Service as ServiceAnswer
from lin6twisted.resolvd.core import Action, NodeCore, PeerResult, Resolve, Send
from lin6twisted.resolvd.interfaces import AddressState, IAddressMonitor, ServiceResolver
from lin6twisted.resolvd.netmon import chooseAttachment

__all__ = ["NodeProtocol", "NodeService", "PeerLookupError"]


class PeerLookupError(Exception):
    """
    A peer's locator could not be found (the MA did not answer, or the node
    has no MA yet).
    """


class NodeProtocol(DatagramProtocol):
    """
    The node's UDP socket: every datagram goes to the service.
    """

    def __init__(self, service: NodeService) -> None:
        self.service = service

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.service.datagramReceived(datagram, (str(addr[0]), int(addr[1])))


class NodeService(Service):
    """
    C{lin6-resolvd}: keeps the node registered with an MA and its peers
    mapped in the dataplane.

    @ivar core: the decisions.
    @ivar port: the UDP port listened on (0: any).
    @ivar listenInterface: the address the UDP socket binds.
    @ivar interface: restrict attachment to this interface, if set.
    @ivar peerTimeout: how long L{resolvePeer} waits at most.
    """

    log = Logger()

    def __init__(
        self,
        core: NodeCore,
        reactor: Any,
        resolver: ServiceResolver | None,
        monitor: IAddressMonitor,
        dataplane: IDataplane,
        space: LIN6Space,
        port: int = 0,
        listenInterface: str = "::",
        interface: str | None = None,
        peerTimeout: float = 10.0,
    ) -> None:
        self.core = core
        self.reactor = reactor
        self.clock: IReactorTime = reactor
        self.resolver = resolver
        self.monitor = monitor
        self.dataplane = dataplane
        self.space = space
        self.port = port
        self.listenInterface = listenInterface
        self.interface = interface
        self.peerTimeout = peerTimeout
        self.protocol = NodeProtocol(self)
        self._listening: Any = None
        self._call: IDelayedCall | None = None
        self._waiters: dict[NodeID, list[Deferred[Locator | None]]] = {}

    # -- lifecycle -------------------------------------------------------------

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        try:
            self.dataplane.start()
        except DataplaneError as e:
            self.log.error(
                "the LIN6 dataplane did not start ({error}); registering without it", error=e
            )
        self.dataplane.setMissHandler(self._miss)
        udp: IReactorUDP = self.reactor
        try:
            self._listening = udp.listenUDP(
                self.port, self.protocol, interface=self.listenInterface, maxPacketSize=65535
            )
        except CannotListenError as e:
            self.dataplane.stop()
            cannotListen("the node's UDP port (port)", e)
        state = self.monitor.start(self._addressesChanged)
        attachment = chooseAttachment(
            state, self.space, None, self.interface, self.core.settings.nodeID
        )
        self._run(self.core.start(attachment, self.clock.seconds()))

    def stopService(self) -> Deferred[None] | None:
        self.core.stop()
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self.monitor.stop()
        self.dataplane.setMissHandler(None)
        self.dataplane.stop()
        for waiters in self._waiters.values():
            for d in waiters:
                d.errback(PeerLookupError("the node daemon is stopping"))
        self._waiters.clear()
        super().stopService()  # type: ignore[no-untyped-call]
        if self._listening is not None:
            listening, self._listening = self._listening, None
            stopped = listening.stopListening()
            if isinstance(stopped, Deferred):
                return stopped
        return None

    @property
    def address(self) -> tuple[str, int] | None:
        """
        The socket's bound address, once listening.
        """
        if self._listening is None:
            return None
        host = self._listening.getHost()
        return (host.host, host.port)

    # -- events ----------------------------------------------------------------

    def datagramReceived(self, data: bytes, source: tuple[str, int]) -> None:
        """
        Hand a datagram to the core.
        """
        self._run(self.core.datagramReceived(data, source, self.clock.seconds()))

    def _addressesChanged(self, state: AddressState) -> None:
        attachment = chooseAttachment(
            state, self.space, self.core.attachment, self.interface, self.core.settings.nodeID
        )
        self._run(self.core.attachmentChanged(attachment, self.clock.seconds()))

    def _miss(self, nodeID: NodeID) -> None:
        self._run(self.core.missReported(nodeID, self.clock.seconds()))

    def _tick(self) -> None:
        self._call = None
        self._run(self.core.tick(self.clock.seconds()))

    def resolvePeer(self, nodeID: NodeID, force: bool = False) -> Deferred[Locator | None]:
        """
        Find the locator of C{nodeID} (and install it in the dataplane).

        @return: a Deferred firing with the locator, with C{None} if the MA
            says there is none, or failing with L{PeerLookupError}.
        """
        d: Deferred[Locator | None] = Deferred()
        self._waiters.setdefault(nodeID, []).append(d)
        timeout = self.clock.callLater(self.peerTimeout, self._peerTimedOut, nodeID, d)

        def cancelTimeout(result: object) -> object:
            if timeout.active():
                timeout.cancel()
            return result

        d.addBoth(cancelTimeout)
        self._run(self.core.resolvePeer(nodeID, self.clock.seconds(), force=force))
        return d

    def _peerTimedOut(self, nodeID: NodeID, d: Deferred[Locator | None]) -> None:
        waiters = self._waiters.get(nodeID, [])
        if d in waiters:
            waiters.remove(d)
            if not waiters:
                self._waiters.pop(nodeID, None)
            d.errback(PeerLookupError(f"no answer for {nodeID} within {self.peerTimeout}s"))

    # -- actions ---------------------------------------------------------------

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self._send(action)
            elif isinstance(action, Resolve):
                self._resolve(action.name)
            elif isinstance(action, PeerResult):
                self._peerResult(action)
        self._reschedule()

    def _send(self, action: Send) -> None:
        if self._listening is None:
            return
        try:
            self.protocol.transport.write(action.payload, (str(action.to.host), action.to.port))  # type: ignore[union-attr]
        except OSError as e:
            self.log.warn("cannot send to {to}: {e}", to=str(action.to), e=e)

    def _resolve(self, name: str) -> None:
        if self.resolver is None:
            self._run(self.core.serviceFailed("no DNS servers configured", self.clock.seconds()))
            return
        try:
            d = self.resolver.resolveService(name)
        except Exception as e:
            self.log.failure("resolving {name}", name=name)
            self._run(self.core.serviceFailed(str(e), self.clock.seconds()))
            return

        def resolved(service: ServiceAnswer) -> None:
            self._run(self.core.serviceResolved(service, self.clock.seconds()))

        def failed(f: Failure) -> None:
            self._run(self.core.serviceFailed(str(f.value), self.clock.seconds()))

        d.addCallbacks(resolved, failed)

    def _peerResult(self, result: PeerResult) -> None:
        for d in self._waiters.pop(result.nodeID, []):
            if result.error is not None:
                d.errback(PeerLookupError(result.error))
            else:
                d.callback(result.locator)

    def _reschedule(self) -> None:
        deadline = self.core.nextDeadline()
        now = self.clock.seconds()
        if deadline is None:
            if self._call is not None and self._call.active():
                self._call.cancel()
            self._call = None
            return
        delay = max(0.0, deadline - now)
        if self._call is not None and self._call.active():
            if abs(self._call.getTime() - (now + delay)) < 1e-6:
                return
            self._call.cancel()
        self._call = self.clock.callLater(delay, self._tick)

    # -- status ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """
        The node's state, its dataplane counters and mappings, for the
        status socket.
        """
        now = self.clock.seconds()
        result = self.core.status(now)
        try:
            result["dataplane"] = {
                "running": self.dataplane.running,
                "counters": self.dataplane.counters(),
                "mappings": len(self.dataplane.mappings()),
            }
        except DataplaneError as e:
            result["dataplane"] = {"error": str(e)}
        result["listening"] = None if self.address is None else list(self.address)
        return result

    def cache(self) -> list[dict[str, Any]]:
        """
        The peer cache and what the dataplane holds for each peer.
        """
        now = self.clock.seconds()
        try:
            installed = self.dataplane.mappings()
        except DataplaneError:
            installed = {}
        rows = []
        for nodeID, (locator, left) in sorted(self.core.peers(now).items()):
            rows.append(
                {
                    "node_id": str(nodeID),
                    "lin6_address": str(_lin6(self.space, nodeID)),
                    "locator": None if locator is None else str(locator),
                    "ttl": round(left, 3),
                    "installed": None if nodeID not in installed else str(installed[nodeID]),
                }
            )
        return rows


def _lin6(space: LIN6Space, nodeID: NodeID) -> ipaddress.IPv6Address | str:
    if nodeID.isMobile:
        return space.address(nodeID).address if space.isNodeID(nodeID) else str(nodeID)
    return str(nodeID)
