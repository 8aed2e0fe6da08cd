"""
Running the C{_apps} socket programs in the test bed's namespaces.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IReactorProcess

from lin6twisted.dataplane.testbed import (
    GW_A,
    GW_B,
    GW_C,
    NODE_A,
    NODE_B,
    PREFIX_A,
    PREFIX_B,
    PREFIX_C,
    SPACE,
    Pair,
)
from lin6twisted.netns import Namespace

__all__ = [
    "GW_A", "GW_B", "GW_C", "NODE_A", "NODE_B", "PREFIX_A", "PREFIX_B", "PREFIX_C",
    "SPACE", "App", "Pair", "runApp",
]  # fmt: skip


class App(protocol.ProcessProtocol):
    """
    A C{_apps} program in a namespace: C{ready} fires when it prints
    C{listening}, C{done} with its JSON result when it exits.
    """

    def __init__(self) -> None:
        self.ready: defer.Deferred[None] = defer.Deferred()
        self.done: defer.Deferred[dict[str, Any]] = defer.Deferred()
        self._out = b""
        self._err = b""

    def outReceived(self, data: bytes) -> None:
        self._out += data
        if b"listening" in self._out and not self.ready.called:
            self.ready.callback(None)

    def errReceived(self, data: bytes) -> None:
        self._err += data

    def processEnded(self, reason: Any) -> None:
        lines = [line for line in self._out.decode().splitlines() if line.startswith("{")]
        if not self.ready.called:
            self.ready.callback(None)
        if lines:
            self.done.callback(json.loads(lines[-1]))
        else:
            self.done.errback(RuntimeError(f"app failed: {self._err.decode()[-2000:]}"))


def runApp(reactor: IReactorProcess, ns: Namespace, *args: str) -> App:
    """
    Start C{python -m lin6twisted.dataplane.test._apps ARGS} inside C{ns}.
    """
    app = App()
    argv = ns.command([sys.executable, "-m", "lin6twisted.dataplane.test._apps", *args])
    reactor.spawnProcess(app, argv[0], argv, env=dict(os.environ))
    return app
