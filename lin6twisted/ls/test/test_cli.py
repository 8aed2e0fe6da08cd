"""
Tests for L{lin6twisted.ls.cli}: C{lin6 ls status} and C{lin6 ls query}
(option parsing and formatting; the exchanges with a real LS are in
L{lin6twisted.ma.test.test_integration_cli}).
"""

from __future__ import annotations

import contextlib
import io
from ipaddress import IPv6Address

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted._cliutil import formatTable
from lin6twisted.address import NodeID
from lin6twisted.cli import main
from lin6twisted.ls.cli import Options, QueryOptions, formatAnswer, formatStatus, run
from lin6twisted.ls.test.test_server import NODE, Node, ma
from lin6twisted.wire import LSError, LSErrorCode, MAReply


class StatusTests(SynchronousTestCase):
    """
    The status subcommand.
    """

    def test_format(self) -> None:
        """
        The MA table, history, peers and non-zero counters are shown.
        """
        node = Node(peers=("ls2",))
        channel, _ = node.connect("MA")
        node.heartbeat(channel, 1, 1)
        text = formatStatus(node.server.status())
        self.assertIn(str(ma(1)), text)
        self.assertIn("active", text)
        self.assertIn("ls2", text)
        self.assertIn("heartbeats", text)

    def test_unreachable(self) -> None:
        """
        An LS that does not answer gives exit status 1.
        """
        options = Options()
        options.parseOptions(["status", "--url", "http://127.0.0.1:9", "--timeout", "1"])
        self.assertEqual(run(options, io.StringIO()), 1)

    def test_subcommandRequired(self) -> None:
        """
        C{lin6 ls} alone is a usage error.
        """
        self.assertEqual(main(["ls"]), 2)


class QueryOptionsTests(SynchronousTestCase):
    """
    C{lin6 ls query} option parsing with real argument lists.
    """

    def parse(self, *argv: str) -> QueryOptions:
        options = Options()
        options.parseOptions(["query", *argv])
        sub: QueryOptions = options.subOptions
        return sub

    def test_defaults(self) -> None:
        """
        C{--ls} and a Node ID are enough: UDP, 3 s.
        """
        sub = self.parse("--ls", "[2001:db8::53]:7100", "201:4a00:0:2")
        self.assertEqual(sub["ls"], ("2001:db8::53", 7100))
        self.assertEqual(sub["node"], NodeID.fromString("201:4a00:0:2"))
        self.assertEqual(sub["timeout"], 3.0)
        self.assertFalse(sub["tcp"])

    def test_tcpAndTimeout(self) -> None:
        """
        C{--tcp} and C{--timeout} are taken, in any order.
        """
        sub = self.parse("201:4a00:0:2", "--tcp", "-t", "0.5", "-l", "[::1]:9")
        self.assertTrue(sub["tcp"])
        self.assertEqual(sub["timeout"], 0.5)
        self.assertEqual(sub["ls"], ("::1", 9))

    def test_badArguments(self) -> None:
        """
        Missing or malformed arguments exit with status 2 and a sentence
        naming the problem.
        """
        cases = [
            (["ls", "query", "201:4a00:0:2"], "--ls is required"),
            (["ls", "query", "--ls", "[::1]:7100"], "Wrong number of arguments"),
            (["ls", "query", "--ls", "::1:7100", "201:4a00:0:2"], "--ls must be"),
            (["ls", "query", "--ls", "[::1]:0", "201:4a00:0:2"], "--ls port must be"),
            (["ls", "query", "--ls", "[::1]:7100", "nonsense"], ""),
            (["ls", "query", "--ls", "[::1]:7100", "201:4a00:0:2", "-t", "x"], "--timeout"),
            (["ls", "query", "--ls", "[::1]:7100", "201:4a00:0:2", "-t", "0"], "--timeout"),
        ]
        for argv, message in cases:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(main(argv), 2, argv)
            self.assertIn(message, err.getvalue())

    def test_unreachable(self) -> None:
        """
        No answer within the timeout is exit status 1 with the reason on
        stderr (nothing listens on the discard port of loopback).
        """
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err):
            status = main(["ls", "query", "--ls", "[::1]:9", "201:4a00:0:2", "-t", "0.2", "--tcp"])
        self.assertEqual(status, 1)
        self.assertIn("lin6 ls query: cannot ask [::1]:9", err.getvalue())
        self.assertEqual(out.getvalue(), "")


class FormatAnswerTests(SynchronousTestCase):
    """
    L{formatAnswer} and the shared L{formatTable}.
    """

    def test_reply(self) -> None:
        """
        An MA_REPLY shows the MA endpoint, lifetime and RTT in ms.
        """
        reply = MAReply(2, NODE, IPv6Address("2001:db8::7"), 7300, 600, 12_345)
        self.assertEqual(
            formatAnswer(reply),
            "201:4a00:0:2: MA [2001:db8::7]:7300 (lifetime 600 s, rtt 12.345 ms)\n",
        )

    def test_historyReply(self) -> None:
        """
        An answer from the history table has no RTT.
        """
        reply = MAReply(2, NODE, IPv6Address("2001:db8::7"), 7300, 600, 0)
        self.assertIn("from history, no rtt", formatAnswer(reply))

    def test_error(self) -> None:
        """
        An LS error shows its code name and message.
        """
        error = LSError(2, LSErrorCode.DISABLED_NODE, "Node ID disabled")
        self.assertEqual(formatAnswer(error), "LS error DISABLED_NODE: Node ID disabled\n")
        self.assertEqual(
            formatAnswer(LSError(2, LSErrorCode.RATE_LIMITED)), "LS error RATE_LIMITED\n"
        )

    def test_table(self) -> None:
        """
        Columns are left-aligned two spaces apart without trailing blanks;
        an empty table is the header or the given placeholder.
        """
        self.assertEqual(
            formatTable(["a", "long b"], [["xyz", "1"], ["", "22"]]),
            "a    long b\nxyz  1\n     22",
        )
        self.assertEqual(formatTable(["a", "b"], []), "a  b")
        self.assertEqual(formatTable(["a", "b"], [], "(none)"), "(none)")
