# -*- test-case-name: lin6twisted.test.test_listen -*-
"""
Listening services that will not run without their port.

Twisted's L{StreamServerEndpointService} logs a failed C{listen} (the port
is taken, the address is not ours) and lets the daemon run on without the
port; L{internet.TCPServer} and C{UDPServer} raise, and C{twistd} prints
the traceback.  Here every listening service of the daemons fails the
start the same way: one critical log line and C{twistd} exits with one
sentence naming what could not listen, where, and why::

    cannot listen for the status page (status_listen): Couldn't listen on
    127.0.0.1:8100: [Errno 98] Address already in use.
"""

from __future__ import annotations

from typing import Any, NoReturn

from twisted.application import internet
from twisted.application.internet import StreamServerEndpointService
from twisted.logger import Logger

__all__ = ["EndpointServer", "RequiredPort", "TCPServer", "cannotListen"]

log = Logger()


def cannotListen(what: str, error: BaseException) -> NoReturn:
    """
    Log that C{what} cannot listen and stop the start.

    @raise SystemExit: always, with the sentence (C{twistd} prints it and
        exits with status 1).
    """
    log.critical("Cannot listen for {what}: {error}", what=what, error=str(error))
    raise SystemExit(f"cannot listen for {what}: {error}")


class RequiredPort:
    """
    Mixin for a listening service: a failure to listen stops the start
    (L{cannotListen}).  Set C{what}, e.g. C{"the status page
    (status_listen)"}.
    """

    what: str = "a port"

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()  # type: ignore[misc]
        except Exception as e:
            cannotListen(self.what, e)


class EndpointServer(RequiredPort, StreamServerEndpointService):
    """
    A L{StreamServerEndpointService} whose failure to listen stops the
    start instead of being logged and forgotten.
    """

    _raiseSynchronously = True

    def __init__(self, endpoint: Any, factory: Any, what: str) -> None:
        super().__init__(endpoint, factory)  # type: ignore[no-untyped-call]
        self.what = what


class TCPServer(RequiredPort, internet.TCPServer):
    """
    L{internet.TCPServer} (same arguments) with C{what=} naming it; a
    failure to listen stops the start.
    """

    def __init__(self, *args: Any, what: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.what = what
