"""
Fake peers for the node daemon's unit tests: a datagram network on a
L{Clock}, an LS, an MA and a DNS resolver that speak the real wire formats.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from attrs import define, field
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorUDP
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.testing import MemoryReactorClock
from zope.interface import implementer

from lin6twisted.address import LIN6Address, Locator, NodeID
from lin6twisted.dns.resolver import NameNotFound, Service
from lin6twisted.dns.txt import Endpoint, Locations
from lin6twisted.wire import (
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
    RegisterStatus,
    Report,
    decodeLSMessage,
    decodeMappingMessage,
)

Address = tuple[str, int]
Handler = Callable[[bytes, Address], None]


class FakeNetwork:
    """
    Delivers datagrams between registered endpoints after C{latency}
    seconds of the clock.  Undeliverable datagrams are counted in L{lost}.

    @ivar log: every datagram sent, as C{(source, destination, payload)}.
    """

    def __init__(self, clock: MemoryReactorClock, latency: float = 0.005) -> None:
        self.clock = clock
        self.latency = latency
        self.handlers: dict[Address, Handler] = {}
        self.log: list[tuple[Address, Address, bytes]] = []
        self.lost = 0
        self.fallback: Callable[[Address], Handler | None] = lambda address: None

    def attach(self, address: Address, handler: Handler) -> None:
        self.handlers[_norm(address)] = handler

    def detach(self, address: Address) -> None:
        self.handlers.pop(_norm(address), None)

    def send(self, payload: bytes, source: Address, destination: Address) -> None:
        source, destination = _norm(source), _norm(destination)
        self.log.append((source, destination, payload))
        self.clock.callLater(self.latency, self._deliver, payload, source, destination)

    def _deliver(self, payload: bytes, source: Address, destination: Address) -> None:
        handler = self.handlers.get(destination) or self.fallback(destination)
        if handler is None:
            self.lost += 1
            return
        handler(payload, source)

    def sentTo(self, destination: Address) -> list[bytes]:
        return [p for _, d, p in self.log if d == _norm(destination)]


def _norm(address: Address) -> Address:
    return (str(ipaddress.ip_address(address[0])), int(address[1]))


class FakeDatagramTransport:
    """
    The node's UDP socket on a L{FakeNetwork}; its source address is
    whatever L{source} returns (the node's current locator).
    """

    def __init__(self, network: FakeNetwork, port: int, source: Callable[[], str]) -> None:
        self.network = network
        self.port = port
        self.source = source
        self.closed = False

    def write(self, data: bytes, addr: Address) -> None:
        self.network.send(data, (self.source(), self.port), addr)

    def getHost(self) -> Any:
        from twisted.internet.address import IPv6Address

        return IPv6Address("UDP", "::", self.port)

    def stopListening(self) -> None:
        self.closed = True


@implementer(IReactorUDP)
class FakeUDPReactor(MemoryReactorClock):
    """
    A L{MemoryReactorClock} whose C{listenUDP} plugs the protocol into a
    L{FakeNetwork}: every address the node's locator takes reaches it.
    """

    def __init__(self, source: Callable[[], str], latency: float = 0.005) -> None:
        super().__init__()
        self.network = FakeNetwork(self, latency)
        self.source = source
        self.protocols: list[DatagramProtocol] = []

    def listenUDP(
        self, port: int, protocol: DatagramProtocol, interface: str = "", maxPacketSize: int = 8192
    ) -> Any:
        port = port or 40000
        transport = FakeDatagramTransport(self.network, port, self.source)
        protocol.makeConnection(transport)  # type: ignore[arg-type]
        self.protocols.append(protocol)
        self._nodePort = port

        def toNode(address: Address) -> Handler | None:
            if transport.closed or address != _norm((self.source(), port)):
                return None
            return protocol.datagramReceived

        self.network.fallback = toNode
        return transport

    def nodeAddress(self) -> Address:
        return _norm((self.source(), self._nodePort))


@define
class FakeLS:
    """
    An LS query endpoint: cookie challenge first (if C{cookies}), then an
    MA_REPLY naming C{ma}.  C{mode} may be C{"ok"}, C{"silent"},
    C{"garbage"}, C{"error"} or C{"wrong-node"}.
    """

    network: FakeNetwork
    endpoint: Endpoint
    ma: Endpoint
    cookies: bool = True
    mode: str = "ok"
    errorCode: LSErrorCode = LSErrorCode.NO_CAPACITY
    requests: list[MARequest] = field(factory=list)
    secret: bytes = b"cookie-of-the-test-ls"

    def __attrs_post_init__(self) -> None:
        self.network.attach(self.address, self.handle)

    @property
    def address(self) -> Address:
        return (str(self.endpoint.host), self.endpoint.port)

    def handle(self, data: bytes, source: Address) -> None:
        message = decodeLSMessage(data)
        assert isinstance(message, MARequest)
        self.requests.append(message)
        reply: bytes
        if self.mode == "silent":
            return
        if self.mode == "garbage":
            reply = b"\x01\x05\x00\x2a" + b"\xff" * 7
        elif self.mode == "error":
            reply = LSError(message.requestId, self.errorCode, "test refusal").encode()
        elif self.cookies and message.cookie != self._cookie(source):
            reply = CookieChallenge(message.requestId, self._cookie(source)).encode()
        else:
            nodeID = message.nodeID
            if self.mode == "wrong-node":
                nodeID = NodeID(nodeID.value ^ 1)
            reply = MAReply(
                message.requestId, nodeID, self.ma.host, self.ma.port, 120, 1500
            ).encode()
        self.network.send(reply, self.address, source)

    def _cookie(self, source: Address) -> bytes:
        return (self.secret + source[0].encode())[-16:]


@define
class Binding:
    locator: Locator
    sequence: int
    expires: float
    pinned: bool


@define
class FakeMA:
    """
    A Mapping Agent: checks the HMAC and sequence of REGISTERs, answers
    MAP_QUERYs from its table (C{static} entries too), and NOTIFYs nodes
    that queried a Node ID when its locator changes.  C{mode} may be
    C{"ok"}, C{"silent"} or C{"garbage"}; C{status} forces a REGISTER_ACK
    status.
    """

    network: FakeNetwork
    endpoint: Endpoint
    keys: dict[NodeID, bytes]
    lifetime: int = 60
    ttl: int = 30
    negativeTTL: int = 5
    mode: str = "ok"
    status: RegisterStatus | None = None
    bindings: dict[NodeID, Binding] = field(factory=dict)
    static: dict[NodeID, Locator] = field(factory=dict)
    queriers: dict[NodeID, set[Address]] = field(factory=dict)
    registers: list[Register] = field(factory=list)
    queries: list[MapQuery] = field(factory=list)
    reports: list[Report] = field(factory=list)
    notifyAcks: list[NotifyAck] = field(factory=list)
    lastSequence: dict[NodeID, int] = field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self.network.attach(self.address, self.handle)

    @property
    def address(self) -> Address:
        return (str(self.endpoint.host), self.endpoint.port)

    def handle(self, data: bytes, source: Address) -> None:
        message = decodeMappingMessage(data)
        if self.mode == "silent":
            return
        if self.mode == "garbage":
            self.network.send(b"\x01\x21\x00\x08garbage!", self.address, source)
            return
        if isinstance(message, Register):
            self.registers.append(message)
            self._register(message, source)
        elif isinstance(message, MapQuery):
            self.queries.append(message)
            self.queriers.setdefault(message.nodeID, set()).add(source)
            self._query(message, source)
        elif isinstance(message, Report):
            key = self.keys.get(message.nodeID)
            if key is not None and message.verify(key):
                self.reports.append(message)
        elif isinstance(message, NotifyAck):
            self.notifyAcks.append(message)

    def _register(self, message: Register, source: Address) -> None:
        key = self.keys.get(message.nodeID)
        now = self.network.clock.seconds()
        if self.status is not None:
            status = self.status
        elif key is None:
            status = RegisterStatus.UNKNOWN_NODE
        elif not message.verify(key):
            status = RegisterStatus.BAD_AUTH
        elif message.sequence <= self.lastSequence.get(message.nodeID, -1):
            status = RegisterStatus.REPLAY
        else:
            status = RegisterStatus.OK
        lifetime = 0
        if status is RegisterStatus.OK:
            self.lastSequence[message.nodeID] = message.sequence
            locator = Locator.fromAddress(message.locators[0])
            old = self.bindings.get(message.nodeID)
            lifetime = min(message.lifetime, self.lifetime)
            self.bindings[message.nodeID] = Binding(
                locator, message.sequence, now + lifetime, bool(message.flags & 1)
            )
            if old is not None and old.locator != locator:
                for q in self.queriers.get(message.nodeID, set()):
                    self.network.send(
                        Notify(7, message.nodeID, (locator.address,)).encode(), self.address, q
                    )
        ack = RegisterAck(message.requestId, message.nodeID, status, lifetime, message.sequence)
        self.network.send(ack.encode(), self.address, source)

    def _query(self, message: MapQuery, source: Address) -> None:
        now = self.network.clock.seconds()
        binding = self.bindings.get(message.nodeID)
        locator = self.static.get(message.nodeID)
        if binding is not None and binding.expires > now:
            locator = binding.locator
        if locator is None:
            reply = MapReply(
                message.requestId, message.nodeID, MapStatus.NOT_FOUND, self.negativeTTL
            )
        else:
            reply = MapReply(
                message.requestId, message.nodeID, MapStatus.FOUND, self.ttl, (locator.address,)
            )
        self.network.send(reply.encode(), self.address, source)


@define
class FakeResolver:
    """
    A service resolver answering from a table (or failing).
    """

    services: dict[str, Service] = field(factory=dict)
    calls: list[str] = field(factory=list)
    failure: Exception | None = None

    def resolveService(self, name: str) -> Deferred[Service]:
        self.calls.append(name)
        if self.failure is not None:
            return fail(self.failure)
        service = self.services.get(name)
        if service is None:
            return fail(NameNotFound(name, f"{name} does not exist", True))
        return succeed(service)

    def add(
        self,
        name: str,
        address: LIN6Address,
        ls: tuple[Endpoint, ...] = (),
        ma: tuple[Endpoint, ...] = (),
    ) -> None:
        self.services[name] = Service(name, address, Locations(ls, ma))
