"""
Tests for L{lin6twisted.ma.cli}: option parsing and the status view (the
exchanges are in L{lin6twisted.ma.test.test_integration_mapping} and
L{lin6twisted.ma.test.test_integration_cli}).
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.cli import main
from lin6twisted.directory import FakeDirectory, ServiceLevel
from lin6twisted.ma.cli import Options, formatStatus
from lin6twisted.ma.core import MappingTable
from lin6twisted.ma.service import MappingAgent
from lin6twisted.ma.status import statusDocument
from lin6twisted.ma.test.helpers import MN1, MN2, NET_A, NET_B, SERVER, SUBSCRIBERS, loc
from lin6twisted.wire.mapping import Report


class OptionsTests(SynchronousTestCase):
    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

    def test_query(self) -> None:
        options = self.parse("query", "--ma", "[::1]:7300", "201:4a00:0:2")
        self.assertEqual(options.subOptions["ma"], ("::1", 7300))
        self.assertEqual(options.subOptions["node"], NodeID.fromString("201:4a00:0:2"))

    def test_register(self) -> None:
        options = self.parse(
            "register", "--ma", "[2001:db8::5]:7300", "--node", "1:4a00:0:1", "--key", "00" * 32,
            "--locator", "2001:db8::1:4a00:0:1", "--pinned", "--sequence", "9",
        )  # fmt: skip
        sub = options.subOptions
        self.assertEqual(sub["key"], bytes(32))
        self.assertEqual(sub["sequence"], 9)
        self.assertTrue(sub["pinned"])
        self.assertEqual(sub["lifetime"], 300)

    def test_defaultSequenceGrows(self) -> None:
        argv = ["register", "--ma", "[::1]:1", "--node", "1:4a00:0:1", "--key", "aa" * 16]
        argv += ["--locator", "::1"]
        first = self.parse(*argv).subOptions["sequence"]
        self.assertGreater(self.parse(*argv).subOptions["sequence"], first - 1)
        self.assertGreater(first, 1_600_000_000_000_000)

    def test_errors(self) -> None:
        for argv in [
            [],
            ["query", "201:4a00:0:2"],
            ["query", "--ma", "::1:7300", "201:4a00:0:2"],
            ["query", "--ma", "[::1]:99999", "201:4a00:0:2"],
            ["query", "--ma", "[::1]:7300", "nonsense"],
            ["register", "--ma", "[::1]:7300", "--node", "1:4a00:0:1", "--key", "zz"],
            ["register", "--ma", "[::1]:7300", "--node", "1:4a00:0:1", "--key", "aa"],
            ["register", "--ma", "[::1]:7300", "--node", "1:4a00:0:1", "--key", "aa",
             "--locator", "x"],
        ]:  # fmt: skip
            self.assertRaises(usage.UsageError, self.parse, *argv)

    def test_optionsAfterNodeID(self) -> None:
        """
        Options may follow the Node ID, like GNU tools.
        """
        options = self.parse("query", "201:4a00:0:2", "--ma", "[::1]:7300", "-t", "1.5")
        self.assertEqual(options.subOptions["ma"], ("::1", 7300))
        self.assertEqual(options.subOptions["timeout"], 1.5)


def capturedStatus() -> dict[str, Any]:
    """
    A status document as a live MA serves it: three bindings (one pinned),
    a bandwidth class, an MN report, counters and a connected LS link.
    """
    clock = MemoryReactorClock()
    table = MappingTable()
    agent = MappingAgent(table, FakeDirectory(SUBSCRIBERS), clock)
    table.register(MN1, [loc(NET_A, MN1), loc(NET_B, MN1)], 100, 4, ServiceLevel.NORMAL, 0)
    table.register(MN2, [loc(NET_A, MN2)], 100, 1, ServiceLevel.PREMIUM, 0)
    table.register(SERVER, [loc(NET_A, SERVER)], 9, 1, ServiceLevel.PREMIUM, 0, True)
    agent.shaper.install(MN1, ServiceLevel.NORMAL)
    agent.stats["registrations"] = 3
    agent.stats["garbage"] = 0
    agent.reports[MN2] = Report(1, MN2, 1, 850, 10, 20, 2, 31)
    clock.advance(10)
    link = {
        "configured": True, "connected": True, "peer": "[2001:db8::53]:7101",
        "bootID": "00000000000000ab", "sequence": 12, "heartbeats": 12, "rttRequests": 2,
        "assignments": 1,
    }  # fmt: skip
    doc: dict[str, Any] = json.loads(json.dumps(statusDocument(agent, clock, lambda: link)))
    return doc


class StatusTests(SynchronousTestCase):
    """
    C{lin6 ma status}: options and formatting.
    """

    def test_options(self) -> None:
        """
        The URL defaults to the status endpoint of C{etc/ma.conf}.
        """
        options = Options()
        options.parseOptions(["status"])
        self.assertEqual(options.subOptions["url"], "http://[::1]:7380")
        self.assertFalse(options.subOptions["json"])
        options.parseOptions(["status", "--url", "http://[2001:db8::5]:80", "--json"])
        self.assertTrue(options.subOptions["json"])

    def test_badOptions(self) -> None:
        """
        A URL that is not HTTP or a bad timeout exits with status 2.
        """
        for argv in (["ma", "status", "--url", "[::1]:7380"], ["ma", "status", "-t", "soon"]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(main(argv), 2)
            self.assertIn("lin6: --", err.getvalue())

    def test_format(self) -> None:
        """
        The LS link, counts, bindings (pinned ones marked), bandwidth
        classes, reports and non-zero counters are shown.
        """
        text = formatStatus(capturedStatus())
        lines = text.splitlines()
        self.assertEqual(
            lines[0],
            "LS link: up to [2001:db8::53]:7101 (boot id 00000000000000ab, sequence 12, "
            "heartbeats 12, RTT requests 2, assignments 1)",
        )
        self.assertEqual(lines[1], "Bindings by level (not pinned): 1 normal, 1 premium")
        self.assertIn("Bindings (3)", lines)
        [mn1] = [line for line in lines if line.startswith(str(MN1)) and "2001:db8" in line]
        self.assertEqual(
            mn1.split(),
            [str(MN1), "normal", str(loc(NET_A, MN1)), str(loc(NET_B, MN1)), "90", "4"],
        )
        [server] = [line for line in lines if line.startswith(str(SERVER))]
        self.assertIn("pinned", server)
        self.assertIn(f"{MN1}  1:10   normal", text)
        [report] = [line for line in lines if line.startswith(str(MN2)) and "0.850" in line]
        self.assertEqual(report.split()[1:], ["0.850", "10", "20", "2", "31"])
        self.assertIn("registrations  3", text)
        self.assertNotIn("garbage", text)

    def test_formatEmpty(self) -> None:
        """
        An MA without an LS link or bindings says so.
        """
        doc = {
            "counts": {"normal": 0, "premium": 0}, "bindings": [], "bandwidth": {},
            "ls": {"configured": False, "connected": False}, "reports": {}, "stats": {},
        }  # fmt: skip
        text = formatStatus(doc)
        self.assertTrue(text.startswith("LS link: not configured\n"))
        self.assertIn("Bindings (0)\nnode  level  locators  left s  sequence\n", text)
        self.assertIn("Counters (non-zero)\n(none)\n", text)

    def test_unreachable(self) -> None:
        """
        An MA whose status page cannot be read gives exit status 1.
        """
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = main(["ma", "status", "--url", "http://127.0.0.1:9", "--timeout", "1"])
        self.assertEqual(status, 1)
        self.assertIn("lin6 ma status: cannot read http://127.0.0.1:9/status", err.getvalue())
