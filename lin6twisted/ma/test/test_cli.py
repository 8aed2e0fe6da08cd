"""
Tests for L{lin6twisted.ma.cli} option parsing (the exchanges are in
L{lin6twisted.ma.test.test_integration_mapping}).
"""

from __future__ import annotations

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.ma.cli import Options


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
