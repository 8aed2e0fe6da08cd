"""
Tests for L{lin6twisted._listen} and the C{UDPServer} of
L{lin6twisted._udp}: a service that cannot listen stops the start with one
sentence.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.internet.testing import EventLoggingObserver, MemoryReactor
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted._listen import EndpointServer, TCPServer
from lin6twisted._udp import UDPServer

TAKEN = CannotListenError("127.0.0.1", 8100, OSError(98, "Address already in use"))


class _Endpoint:
    def __init__(self, result: Deferred[Any]) -> None:
        self.result = result
        self.factories: list[Any] = []

    def listen(self, factory: Any) -> Deferred[Any]:
        self.factories.append(factory)
        return self.result


class _TakenReactor(MemoryReactor):
    def listenTCP(self, *args: Any, **kwargs: Any) -> Any:
        raise TAKEN


class ListenTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)  # type: ignore[arg-type]

    def assertStopsTheStart(self, service: Any, what: str) -> None:
        e = self.assertRaises(SystemExit, service.privilegedStartService)
        self.assertEqual(
            str(e.code),
            f"cannot listen for {what}: Couldn't listen on 127.0.0.1:8100: "
            "[Errno 98] Address already in use.",
        )
        critical = [ev for ev in self.events if ev["log_level"] == LogLevel.critical]
        self.assertEqual(len(critical), 1)
        self.assertEqual(critical[0]["what"], what)

    def test_endpointTaken(self) -> None:
        """
        An endpoint service whose C{listen} fails stops the start, instead
        of logging the failure and running on without the port.
        """
        service = EndpointServer(_Endpoint(fail(TAKEN)), Factory(), "the status page (x)")
        self.assertStopsTheStart(service, "the status page (x)")

    def test_endpointListens(self) -> None:
        """
        When C{listen} succeeds, the service runs as Twisted's does.
        """
        endpoint = _Endpoint(succeed(object()))
        factory = Factory.forProtocol(Protocol)
        service = EndpointServer(endpoint, factory, "the status page (x)")
        service.startService()
        self.assertEqual(endpoint.factories, [factory])
        self.assertTrue(service.running)

    def test_tcpTaken(self) -> None:
        """
        L{TCPServer} stops the start when its port is taken.
        """
        service = TCPServer(53, Factory(), reactor=_TakenReactor(), what="DNS over TCP (port)")
        self.assertStopsTheStart(service, "DNS over TCP (port)")

    def test_udpTaken(self) -> None:
        """
        C{UDPServer} stops the start when its port is taken.
        """

        class Taken(UDPServer):
            def _getPort(self) -> Any:
                raise TAKEN

        service = Taken(53, DatagramProtocol(), what="DNS over UDP (port)")
        self.assertStopsTheStart(service, "DNS over UDP (port)")
