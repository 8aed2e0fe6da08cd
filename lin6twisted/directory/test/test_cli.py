"""
Tests for L{lin6twisted.directory.cli} (C{lin6 directory ...}).
"""

from __future__ import annotations

import io
from pathlib import Path

from twisted.internet.testing import MemoryReactor
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.cli import Options as TopOptions
from lin6twisted.directory.cli import Options, check, serverService
from lin6twisted.directory.embedded import DirectoryServerFactory
from lin6twisted.directory.test.test_embedded import HEADER, subscriberLDIF
from lin6twisted.directory.testing import SAMPLE_COUNT, SAMPLE_LDIF, sampleDirectory


class OptionsTests(SynchronousTestCase):
    """
    Option parsing with real argument lists.
    """

    def test_serve(self) -> None:
        """
        C{serve} takes the LDIF, the endpoint and C{--require-bind}.
        """
        options = Options()
        options.parseOptions(["serve", "--ldif", "x.ldif", "--port", "tcp:4000", "--require-bind"])
        self.assertEqual(options.subCommand, "serve")
        sub = options.subOptions
        self.assertEqual(
            (sub["ldif"], sub["port"], sub["require-bind"]), ("x.ldif", "tcp:4000", True)
        )

    def test_serveDefaults(self) -> None:
        """
        The default endpoint is loopback port 3890, no bind required.
        """
        options = Options()
        options.parseOptions(["serve", "--ldif", "x.ldif"])
        self.assertEqual(options.subOptions["port"], "tcp:3890:interface=127.0.0.1")
        self.assertFalse(options.subOptions["require-bind"])

    def test_errors(self) -> None:
        """
        A missing subcommand, LDIF or a bad endpoint is a usage error.
        """
        for argv in (
            [],
            ["serve"],
            ["check"],
            ["serve", "--ldif", "x", "--port", "bogus:1"],
        ):
            self.assertRaises(usage.UsageError, Options().parseOptions, argv)

    def test_registered(self) -> None:
        """
        C{lin6 directory} is a subcommand of the C{lin6} command.
        """
        options = TopOptions()
        options.parseOptions(["directory", "check", "--ldif", "x.ldif"])
        self.assertEqual(options.subCommand, "directory")


class CheckTests(SynchronousTestCase):
    """
    C{lin6 directory check} lists subscribers and refusals.
    """

    def test_sample(self) -> None:
        """
        The sample is valid: 5 subscribers, exit status 0.
        """
        out = io.StringIO()
        self.assertEqual(check(str(SAMPLE_LDIF), out), 0)
        text = out.getvalue()
        self.assertIn("OK 201:4a00:0:3 mn-premium mobile premium key 7 enabled", text)
        self.assertIn("OK 201:4a00:0:4 mn-disabled mobile normal key 1 DISABLED", text)
        self.assertIn("OK 1:4a00:0:1 content-server-1 stationary premium", text)
        self.assertTrue(text.endswith(f"{SAMPLE_COUNT} valid, 0 refused\n"))

    def test_refused(self) -> None:
        """
        Bad entries are listed with their reason; exit status 1.
        """
        path = Path(self.mktemp())
        path.write_text(
            HEADER
            + subscriberLDIF("201:4a00:0:2")
            + subscriberLDIF("201:4a00:0:3", keyID="-4")
            + subscriberLDIF("zzz", rdn="cn=zzz")
        )
        out = io.StringIO()
        self.assertEqual(check(str(path), out), 1)
        text = out.getvalue()
        self.assertIn("REFUSED 201:4a00:0:3:", text)
        self.assertIn("lin6KeyID", text)
        self.assertIn("REFUSED (no usable Node ID)", text)
        self.assertTrue(text.endswith("1 valid, 2 refused\n"))

    def test_unloadable(self) -> None:
        """
        A file that cannot be loaded gives exit status 2 and the reason.
        """
        out = io.StringIO()
        self.assertEqual(check("/nonexistent/l6dir.ldif", out), 2)
        self.assertIn("cannot read", out.getvalue())


class ServerServiceTests(SynchronousTestCase):
    """
    L{serverService} listens on the given endpoint with the directory's tree.
    """

    def test_listens(self) -> None:
        """
        Starting the service listens with a L{DirectoryServerFactory}.
        """
        reactor = MemoryReactor()
        directory = sampleDirectory()
        service = serverService(directory, "tcp:3890:interface=127.0.0.1", reactor, True)
        service.startService()
        port, factory, _, interface = reactor.tcpServers[0]
        self.assertEqual((port, interface), (3890, "127.0.0.1"))
        assert isinstance(factory, DirectoryServerFactory)
        self.assertIs(factory.root, directory.root)
        self.assertTrue(factory.requireBind)
