# -*- test-case-name: lin6twisted.pki.test.test_tls -*-
"""
Test helpers: real mutual TLS between two protocols over in-memory
transports (L{twisted.test.iosim}), no sockets.

Use with L{makeTestPKI}::

    pki = makeTestPKI(Path(self.mktemp()))
    pump = connectTLS(
        serverContextFactory(pki.settings("ls1"), [Role.MA]), lsProtocol,
        clientContextFactory(pki.settings("ma1"), Role.LS), maProtocol,
    )
    pump.flush()
"""

from __future__ import annotations

from twisted.internet.address import IPv6Address
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IOpenSSLServerConnectionCreator,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.test.iosim import IOPump, connectedServerAndClient

from lin6twisted.pki._tls import _DeadlineFactory

__all__ = ["connectTLS"]

_SERVER = IPv6Address("TCP", "2001:db8::1", 7001)
_CLIENT = IPv6Address("TCP", "2001:db8::2", 40000)


def connectTLS(
    serverCreator: IOpenSSLServerConnectionCreator,
    serverProtocol: Protocol,
    clientCreator: IOpenSSLClientConnectionCreator,
    clientProtocol: Protocol,
    clock: Clock | None = None,
    handshakeTimeout: float | None = None,
) -> IOPump:
    """
    Connect C{clientProtocol} to C{serverProtocol} through TLS (a
    C{TLSMemoryBIOProtocol} on each side) and run the handshake.

    Both TLS layers use C{clock} (a new L{Clock} if C{None}), never the
    global reactor: Twisted's TLS transport aggregates small writes with
    C{callLater(0)}, which the returned pump's C{flush()} runs.

    @param handshakeTimeout: if given, the server side is the daemons' own
        (L{TLSServerEndpoint}'s), which closes a connection whose handshake
        has not finished within that many seconds of C{clock}.
    @return: the pump moving bytes between the two sides.
    """
    clock = clock if clock is not None else Clock()
    serverFactory: TLSMemoryBIOFactory
    if handshakeTimeout is None:
        serverFactory = TLSMemoryBIOFactory(
            serverCreator, False, Factory.forProtocol(lambda: serverProtocol), clock
        )
    else:
        serverFactory = _DeadlineFactory(
            serverCreator, Factory.forProtocol(lambda: serverProtocol), clock, handshakeTimeout
        )
    clientFactory = TLSMemoryBIOFactory(
        clientCreator, True, Factory.forProtocol(lambda: clientProtocol), clock
    )
    _, _, pump = connectedServerAndClient(
        lambda: serverFactory.buildProtocol(_CLIENT),
        lambda: clientFactory.buildProtocol(_SERVER),
        clock=clock,
    )
    pump.flush()  # type: ignore[no-untyped-call]
    return pump
