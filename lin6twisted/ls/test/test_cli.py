"""
Tests for L{lin6twisted.ls.cli}: C{lin6 ls status}.
"""

from __future__ import annotations

import io

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.cli import main
from lin6twisted.ls.cli import Options, formatStatus, run
from lin6twisted.ls.test.test_server import Node, ma


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
