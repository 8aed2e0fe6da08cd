"""
Integration tests for mutual TLS over real loopback TCP sockets with the
real reactor, through L{tlsServerEndpoint} and L{tlsClientEndpoint}.
"""

from __future__ import annotations

from pathlib import Path

from twisted.internet import reactor
from twisted.internet.address import IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP6ClientEndpoint, TCP6ServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from lin6twisted.pki import (
    Role,
    TLSSettings,
    makeTestPKI,
    peerRole,
    tlsClientEndpoint,
    tlsServerEndpoint,
)


class Echo(Protocol):
    """
    Echoes data back with the peer's role appended.
    """

    def dataReceived(self, data: bytes) -> None:
        role = peerRole(self.transport)
        self.transport.write(data + b" from " + role.value.encode())  # type: ignore[union-attr]


class Pinger(Protocol):
    """
    Sends C{ping}; fires C{done} with what came back when the connection
    ends.
    """

    def __init__(self) -> None:
        self.received = b""
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(b"ping")  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        self.transport.loseConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.done.callback(self.received)


class LoopbackTLSTests(TestCase):
    """
    A listening LS accepts an MA and refuses an LS posing as an MA.
    """

    timeout = 20

    async def listen(self) -> int:
        self.pki = makeTestPKI(
            Path(self.mktemp()), {"ls1": Role.LS, "ls2": Role.LS, "ma1": Role.MA}
        )
        server = tlsServerEndpoint(
            TCP6ServerEndpoint(reactor, 0, interface="::1"), self.pki.settings("ls1"), [Role.MA]
        )
        port = await server.listen(Factory.forProtocol(Echo))
        self.addCleanup(port.stopListening)
        address = port.getHost()
        assert isinstance(address, IPv6Address)
        return address.port

    async def ping(self, port: int, settings: TLSSettings) -> bytes:
        endpoint = tlsClientEndpoint(TCP6ClientEndpoint(reactor, "::1", port), settings, Role.LS)
        pinger = Pinger()
        await endpoint.connect(Factory.forProtocol(lambda: pinger))
        return await pinger.done

    async def test_accepted(self) -> None:
        """
        An MA gets its data echoed; the LS saw the MA role.
        """
        port = await self.listen()
        received = await self.ping(port, self.pki.settings("ma1"))
        self.assertEqual(received, b"ping from ma")

    async def test_wrongRoleRefused(self) -> None:
        """
        An LS certificate presented as a client is refused: no data comes
        back and the connection ends.
        """
        port = await self.listen()
        received = await self.ping(port, self.pki.settings("ls2"))
        self.assertEqual(received, b"")
