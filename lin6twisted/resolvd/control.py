# -*- test-case-name: lin6twisted.resolvd.test.test_control -*-
"""
The node daemon's local status socket: a UNIX stream socket speaking JSON
lines.

Each request is one JSON object on one line, C{{"command": NAME, ...}};
each answer is one JSON object on one line, C{{"ok": true, "result": ...}}
or C{{"ok": false, "error": "sentence"}}.  Commands:

  - C{status}: the node's state, MA, locator, counters and dataplane figures;
  - C{cache}: the peer cache, one row per Node ID;
  - C{resolve} with C{"peer"}: a Node ID or LIN6 address; resolves it
    through the MA (and installs the mapping), answering with the locator.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure

from lin6twisted.address import AddressError, LIN6Space, Locator, NodeID, parseIPv6

__all__ = ["ControlFactory", "ControlProtocol", "ControlTarget", "parsePeer"]


class ControlTarget(Protocol):
    """
    What the status socket reads from: the node service.
    """

    space: LIN6Space

    def status(self) -> dict[str, Any]: ...

    def cache(self) -> list[dict[str, Any]]: ...

    def resolvePeer(self, nodeID: NodeID, force: bool = False) -> Deferred[Locator | None]: ...


def parsePeer(text: str, space: LIN6Space) -> NodeID:
    """
    A peer given as a Node ID (C{201:4a00:0:3}) or a LIN6 address.

    @raise AddressError: if it is neither.
    """
    try:
        return NodeID.fromString(text)
    except AddressError:
        pass
    return space.checkNodeID(NodeID.ofAddress(parseIPv6(text)))


class ControlProtocol(LineOnlyReceiver):
    """
    One client of the status socket.
    """

    delimiter = b"\n"
    MAX_LENGTH = 4096
    log = Logger()

    def __init__(self, target: ControlTarget) -> None:
        self.target = target

    def lineReceived(self, line: bytes) -> None:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                raise ValueError('a request is a JSON object with a "command" string')
        except ValueError as e:
            self._answer({"ok": False, "error": f"bad request: {e}"})
            return
        command = request["command"]
        if command == "status":
            self._answer({"ok": True, "result": self.target.status()})
        elif command == "cache":
            self._answer({"ok": True, "result": self.target.cache()})
        elif command == "resolve":
            self._resolve(request)
        else:
            self._answer({"ok": False, "error": f"unknown command {command!r}"})

    def _resolve(self, request: dict[str, Any]) -> None:
        peer = request.get("peer")
        if not isinstance(peer, str):
            self._answer({"ok": False, "error": 'resolve needs "peer": a Node ID or LIN6 address'})
            return
        try:
            nodeID = parsePeer(peer, self.target.space)
        except AddressError as e:
            self._answer({"ok": False, "error": str(e)})
            return
        d = self.target.resolvePeer(nodeID, force=bool(request.get("force", False)))

        def done(locator: Locator | None) -> None:
            self._answer(
                {
                    "ok": True,
                    "result": {
                        "node_id": str(nodeID),
                        "locator": None if locator is None else str(locator),
                    },
                }
            )

        def failed(f: Failure) -> None:
            self._answer({"ok": False, "error": str(f.value)})

        d.addCallbacks(done, failed)

    def _answer(self, answer: dict[str, Any]) -> None:
        if self.transport is not None:
            self.sendLine(json.dumps(answer, sort_keys=True).encode("utf-8"))  # type: ignore[no-untyped-call]

    def lineLengthExceeded(self, line: bytes) -> None:
        self._answer({"ok": False, "error": "request too long"})
        if self.transport is not None:
            self.transport.loseConnection()


class ControlFactory(Factory):
    """
    Builds a L{ControlProtocol} per client.
    """

    def __init__(self, target: ControlTarget) -> None:
        self.target = target

    def buildProtocol(self, addr: Any) -> ControlProtocol:
        return ControlProtocol(self.target)
