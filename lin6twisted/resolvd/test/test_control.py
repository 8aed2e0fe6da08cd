"""
Tests for L{lin6twisted.resolvd.control} (the status socket) and
L{lin6twisted.resolvd.cli} (C{lin6 node}).
"""

from __future__ import annotations

import io
import json
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import DEFAULT_SPACE, LIN6Space, Locator, NodeID, Prefix
from lin6twisted.cli import Options as TopOptions
from lin6twisted.resolvd import cli
from lin6twisted.resolvd.control import ControlFactory, parsePeer
from lin6twisted.resolvd.service import PeerLookupError

PEER = NodeID.fromString("201:4a00:0:3")
LOC = Locator(Prefix.fromString("2001:db8:9::/64"), PEER)


class FakeTarget:
    space: LIN6Space = DEFAULT_SPACE

    def __init__(self) -> None:
        self.asked: list[tuple[NodeID, bool]] = []
        self.answer: Deferred[Locator | None] = succeed(LOC)

    def status(self) -> dict[str, Any]:
        return {"state": "registered"}

    def cache(self) -> list[dict[str, Any]]:
        return [{"node_id": str(PEER)}]

    def resolvePeer(self, nodeID: NodeID, force: bool = False) -> Deferred[Locator | None]:
        self.asked.append((nodeID, force))
        return self.answer


class ControlProtocolTests(SynchronousTestCase):
    """
    The status socket answers one JSON line per request line.
    """

    def setUp(self) -> None:
        self.target = FakeTarget()
        self.protocol = ControlFactory(self.target).buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def ask(self, line: bytes) -> Any:
        self.transport.clear()
        self.protocol.dataReceived(line + b"\n")
        return json.loads(self.transport.value())

    def test_status(self) -> None:
        self.assertEqual(
            self.ask(b'{"command": "status"}'), {"ok": True, "result": {"state": "registered"}}
        )

    def test_cache(self) -> None:
        self.assertEqual(self.ask(b'{"command": "cache"}')["result"], [{"node_id": str(PEER)}])

    def test_resolve(self) -> None:
        """
        C{resolve} takes a Node ID or a LIN6 address.
        """
        answer = self.ask(b'{"command": "resolve", "peer": "201:4a00:0:3", "force": true}')
        self.assertEqual(answer["result"], {"node_id": str(PEER), "locator": str(LOC)})
        self.ask(b'{"command": "resolve", "peer": "3ffe:501:1830:1999:201:4a00:0:3"}')
        self.assertEqual(self.target.asked, [(PEER, True), (PEER, False)])

    def test_resolveFails(self) -> None:
        self.target.answer = fail(PeerLookupError("MA did not answer"))
        answer = self.ask(b'{"command": "resolve", "peer": "201:4a00:0:3"}')
        self.assertEqual(answer, {"ok": False, "error": "MA did not answer"})

    def test_badRequests(self) -> None:
        """
        Malformed requests get an error answer; the connection stays usable.
        """
        for line in [
            b"status",
            b"[1, 2]",
            b'{"command": 3}',
            b'{"command": "reboot"}',
            b'{"command": "resolve"}',
            b'{"command": "resolve", "peer": "not an address"}',
            b'{"command": "resolve", "peer": "2001:db8::1"}',
        ]:
            self.assertFalse(self.ask(line)["ok"], line)
        self.assertTrue(self.ask(b'{"command": "status"}')["ok"])

    def test_tooLong(self) -> None:
        self.protocol.dataReceived(b"x" * 5000)
        self.assertTrue(self.transport.disconnecting)

    def test_parsePeer(self) -> None:
        self.assertEqual(parsePeer("02:01:4a:00:00:00:00:03", DEFAULT_SPACE), PEER)


class CLITests(SynchronousTestCase):
    """
    C{lin6 node ...}.
    """

    def setUp(self) -> None:
        self.realAsk = cli.ask
        self.requests: list[dict[str, Any]] = []
        self.answer: Any = {}

        def ask(path: str, request: dict[str, Any], timeout: float = 15.0) -> Any:
            self.requests.append(request)
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

        self.patch(cli, "ask", ask)

    def run_(self, *args: str) -> tuple[int, str, str]:
        top = TopOptions()
        top.parseOptions(["node", *args])
        out, err = io.StringIO(), io.StringIO()
        code = cli.run(top.subOptions, out, err)
        return code, out.getvalue(), err.getvalue()

    def test_status(self) -> None:
        self.answer = {"state": "registered", "ma": "[2001:db8:1::10]:7300", "stats": {"sent": 3}}
        code, out, _ = self.run_("status")
        self.assertEqual(code, 0)
        self.assertIn("registered", out)
        self.assertIn("[2001:db8:1::10]:7300", out)
        self.assertIn("sent=3", out)
        self.assertEqual(self.requests, [{"command": "status"}])

    def test_statusDetached(self) -> None:
        """
        A detached node's status shows dashes and "no", never C{None}.
        """
        self.answer = {
            "state": "detached",
            "node_id": str(PEER),
            "locator": None,
            "gateway": None,
            "registered_locator": None,
            "binding_expires_in": None,
            "rtt_to_ma_ms": None,
            "ma": None,
        }
        code, out, _ = self.run_("status")
        self.assertEqual(code, 0)
        self.assertNotIn("None", out)
        self.assertIn("detached", out)
        self.assertIn("registered    no", out)
        self.assertIn("RTT to MA     -", out)

    def test_statusAttached(self) -> None:
        """
        An attached, registered node shows its locator, gateway, binding and RTT.
        """
        self.answer = {
            "locator": str(LOC),
            "interface": "eth0",
            "gateway": "fe80::1",
            "registered_locator": str(LOC),
            "binding_expires_in": 290,
            "rtt_to_ma_ms": 1.5,
        }
        _, out, _ = self.run_("status")
        self.assertIn(f"{LOC} on eth0 via fe80::1", out)
        self.assertIn(f"{LOC} (expires in 290s)", out)
        self.assertIn("RTT to MA     1.5 ms", out)

    def test_usageLines(self) -> None:
        """
        A nested command's usage line names the commands once, then its
        own arguments.
        """
        top = TopOptions()
        top.parseOptions(["node", "status"])
        self.assertEqual(
            top.subOptions.getSynopsis().split(" (")[0],
            "Usage: lin6 node [--socket PATH] [--timeout S]",
        )
        self.assertEqual(
            top.subOptions.subOptions.getSynopsis(), "Usage: lin6 node status [--json]"
        )

    def test_cache(self) -> None:
        self.answer = [{"node_id": str(PEER), "locator": str(LOC), "ttl": 12.5, "installed": "x"}]
        code, out, _ = self.run_("cache")
        self.assertEqual(code, 0)
        self.assertIn(str(LOC), out)
        self.assertIn("yes", out)

    def test_resolveJSON(self) -> None:
        self.answer = {"node_id": str(PEER), "locator": None}
        code, out, _ = self.run_("resolve", "--json", "201:4a00:0:3")
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out), self.answer)
        self.assertEqual(
            self.requests, [{"command": "resolve", "peer": "201:4a00:0:3", "force": False}]
        )

    def test_unreachable(self) -> None:
        self.answer = cli.ControlClientError("cannot talk to the node daemon")
        code, _, err = self.run_("status")
        self.assertEqual(code, 1)
        self.assertIn("cannot talk", err)

    def test_askNoDaemon(self) -> None:
        """
        The real L{cli.ask} on a missing socket raises a typed error.
        """
        real = self.realAsk
        self.assertRaises(cli.ControlClientError, real, self.mktemp(), {"command": "status"}, 1.0)
