"""
Tests for L{lin6twisted.dns.cli} (C{lin6 resolve}).
"""

from __future__ import annotations

import io

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.cli import SUBCOMMANDS
from lin6twisted.dns.cli import Options, describe
from lin6twisted.dns.resolver import Lin6Resolver, Server
from lin6twisted.dns.test.test_resolver import S1, S2, FakeQuerier, Handler, silent, zone


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


class OptionsTests(SynchronousTestCase):
    """
    Tests for L{Options}.
    """

    def test_registered(self) -> None:
        """
        C{lin6 resolve} is a subcommand.
        """
        self.assertEqual(SUBCOMMANDS["resolve"][0], "lin6twisted.dns.cli")

    def test_nameThenOptions(self) -> None:
        """
        Options may follow NAME; C{--server} repeats.
        """
        options = parse("stream.lin6.example", "--server", "[::1]:5353", "-s", "192.0.2.1:53")
        self.assertEqual(options["name"], "stream.lin6.example")
        self.assertEqual(options.servers, [("::1", 5353), ("192.0.2.1", 53)])

    def test_defaults(self) -> None:
        """
        Without C{--server} the server is C{[::1]:53}; the timeout is 2 s.
        """
        options = parse("stream.lin6.example")
        self.assertEqual(options.servers, [("::1", 53)])
        self.assertEqual(options["timeout"], 2.0)

    def test_errors(self) -> None:
        """
        Bad values are usage errors.
        """
        for args in [
            (),
            ("a", "b"),
            ("a", "--server", "ns1.example"),
            ("a", "--timeout", "x"),
            ("a", "--timeout", "0"),
            ("a", "--prefix", "2001:db8::/48"),
        ]:
            with self.subTest(args=args):
                self.assertRaises(usage.UsageError, parse, *args)


class DescribeTests(SynchronousTestCase):
    """
    Tests for L{describe}.
    """

    def resolve(self, name: str, servers: dict[Server, Handler]) -> tuple[int, str, str, Clock]:
        clock = Clock()
        resolver = Lin6Resolver(list(servers), clock, querier=FakeQuerier(servers), timeouts=(1,))
        out, err = io.StringIO(), io.StringIO()
        d = Deferred.fromCoroutine(describe(resolver, name, out, err))
        clock.advance(1)
        clock.advance(1)
        return self.successResultOf(d), out.getvalue(), err.getvalue(), clock

    def test_service(self) -> None:
        """
        A service prints its LIN6 address, Node ID, reverse name and LS list.
        """
        code, out, err, _ = self.resolve("stream.lin6.example", {S1: zone})
        self.assertEqual(code, 0)
        self.assertEqual(err, "")
        self.assertIn("LIN6 address  3ffe:501:1830:1999:201:4a00:0:100", out)
        self.assertIn("(mobile)", out)
        self.assertIn("LS            [2001:db8:1::53]:7100", out)
        self.assertIn("LS            [2001:db8:2::53]:7100", out)

    def test_address(self) -> None:
        """
        A LIN6 address skips the AAAA step.
        """
        code, out, _, _ = self.resolve("3ffe:501:1830:1999:201:4a00:0:100", {S1: zone})
        self.assertEqual(code, 0)
        self.assertIn("LS", out)

    def test_failures(self) -> None:
        """
        Failures print one sentence on stderr and give status 1.
        """
        code, out, err, _ = self.resolve("nope.lin6.example", {S1: zone})
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "lin6 resolve: nope.lin6.example does not exist (NXDOMAIN)\n")
        code, _, err, _ = self.resolve("stream.lin6.example", {S1: silent, S2: silent})
        self.assertEqual(code, 1)
        self.assertIn("no DNS server answered", err)
