"""
Tests for L{lin6twisted.config}: real files in a temporary directory.
"""

from __future__ import annotations

import enum
import ipaddress
import os
from pathlib import Path

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import LIN6Space, Prefix
from lin6twisted.config import (
    ConfigError,
    Section,
    configFromOptions,
    loadConfig,
    loadTOML,
    loadTOMLString,
    parseLIN6Space,
    parseTLS,
)
from lin6twisted.pki import Role, makeTestPKI


class Level(enum.Enum):
    NORMAL = "normal"
    PREMIUM = "premium"


class _FileMixin(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = Path(self.mktemp())
        self.dir.mkdir()

    def write(self, text: str, name: str = "test.conf") -> Path:
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return path

    def load(self, text: str) -> Section:
        return loadTOML(self.write(text))

    def assertConfigError(
        self, text: str, getter: str, *args: object, **kwargs: object
    ) -> ConfigError:
        """
        Load C{text}, call C{root.section("t").<getter>(*args, **kwargs)}
        and return the L{ConfigError} it raises.
        """
        table = self.load("[t]\n" + text).section("t")
        error: ConfigError = self.assertRaises(
            ConfigError, getattr(table, getter), *args, **kwargs
        )
        return error


class ConfigErrorTests(SynchronousTestCase):
    """
    L{ConfigError} renders one line naming the file, place and reason.
    """

    def test_key(self) -> None:
        """
        A key in a table reads C{path: [table] key: reason}; C{where} is
        the dotted key.
        """
        e = ConfigError("etc/ls.conf", "must be a number > 0, got 'abc'", table=["ls"], key="x")
        self.assertEqual(str(e), "etc/ls.conf: [ls] x: must be a number > 0, got 'abc'")
        self.assertEqual(e.where, "ls.x")

    def test_topLevelKey(self) -> None:
        """
        A top-level key has no table part.
        """
        e = ConfigError("a.conf", "is required", key="name")
        self.assertEqual(str(e), "a.conf: name: is required")
        self.assertEqual(e.where, "name")

    def test_line(self) -> None:
        """
        A syntax error names line and column.
        """
        e = ConfigError("a.conf", "invalid TOML: x", line=3, column=7)
        self.assertEqual(str(e), "a.conf: line 3, column 7: invalid TOML: x")
        self.assertEqual(e.where, "line 3, column 7")

    def test_wholeFile(self) -> None:
        """
        An error about the whole file has no place.
        """
        e = ConfigError("a.conf", "no such file")
        self.assertEqual(str(e), "a.conf: no such file")
        self.assertEqual(e.where, "")

    def test_quotedKey(self) -> None:
        """
        Keys that are not bare TOML keys are quoted.
        """
        e = ConfigError("a.conf", "bad", table=["a b"], key="c.d")
        self.assertEqual(str(e), 'a.conf: ["a b"] "c.d": bad')


class LoadTests(_FileMixin):
    """
    L{loadTOML} and L{loadTOMLString}.
    """

    def test_missingFile(self) -> None:
        """
        A missing file is a L{ConfigError} naming it.
        """
        path = self.dir / "nope.conf"
        e = self.assertRaises(ConfigError, loadTOML, path)
        self.assertEqual(str(e), f"{path}: no such file")

    def test_directory(self) -> None:
        """
        A directory is not a config file.
        """
        e = self.assertRaises(ConfigError, loadTOML, self.dir)
        self.assertIn("is a directory", str(e))

    def test_unreadable(self) -> None:
        """
        An unreadable file is a L{ConfigError} (skipped as root, who reads
        everything).
        """
        if os.geteuid() == 0:
            raise self.skipTest("root can read mode 000 files")
        path = self.write("a = 1\n")
        path.chmod(0)
        e = self.assertRaises(ConfigError, loadTOML, path)
        self.assertIn("cannot read", str(e))

    def test_syntaxError(self) -> None:
        """
        A TOML syntax error names the line and column.
        """
        path = self.write('[ls]\nlisten = "tcp:1"\nheartbeat timeout = 3\n')
        e = self.assertRaises(ConfigError, loadTOML, path)
        self.assertEqual(e.line, 3)
        self.assertEqual(e.column, 11)
        self.assertEqual(e.path, str(path))
        self.assertTrue(str(e).startswith(f"{path}: line 3, column 11: invalid TOML: "), str(e))
        self.assertNotIn("(at line", str(e))

    def test_duplicateKey(self) -> None:
        """
        A key given twice is a syntax error.
        """
        e = self.assertRaises(ConfigError, loadTOMLString, "a = 1\na = 2\n", "x.conf")
        self.assertEqual(e.line, 2)

    def test_notUTF8(self) -> None:
        """
        A file that is not UTF-8 is rejected with its line.
        """
        path = self.dir / "bin.conf"
        path.write_bytes(b"a = 1\nb = '\xff'\n")
        e = self.assertRaises(ConfigError, loadTOML, path)
        self.assertEqual(e.line, 2)
        self.assertIn("not UTF-8", str(e))

    def test_baseDir(self) -> None:
        """
        The root section resolves relative paths against the file's
        directory.
        """
        root = self.load("")
        self.assertEqual(root.baseDir, self.dir)


class StringTests(_FileMixin):
    """
    L{Section.getString}.
    """

    def test_value(self) -> None:
        """
        A string is returned.
        """
        self.assertEqual(self.load('a = "x"').getString("a"), "x")

    def test_default(self) -> None:
        """
        An absent key gives the default, which may be L{None}.
        """
        root = self.load("")
        self.assertEqual(root.getString("a", "d"), "d")
        self.assertIsNone(root.getString("a", None))

    def test_required(self) -> None:
        """
        An absent key without default is an error.
        """
        e = self.assertConfigError("", "getString", "name")
        self.assertEqual(e.reason, "is required")
        self.assertEqual(e.where, "t.name")
        self.assertEqual(str(e), f"{self.dir / 'test.conf'}: [t] name: is required")

    def test_wrongType(self) -> None:
        """
        A number is not a string.
        """
        e = self.assertConfigError("a = 1", "getString", "a", "default")
        self.assertEqual(e.reason, "must be a non-empty string, got 1")

    def test_empty(self) -> None:
        """
        An empty string is rejected.
        """
        self.assertConfigError('a = ""', "getString", "a")


class NumberTests(_FileMixin):
    """
    L{Section.getInt}, L{Section.getFloat}.
    """

    def test_int(self) -> None:
        """
        An integer within bounds is returned.
        """
        self.assertEqual(self.load("a = 5").getInt("a", min=1, max=5), 5)
        self.assertEqual(self.load("").getInt("a", 7), 7)

    def test_intOutOfRange(self) -> None:
        """
        An integer outside the bounds is an error naming them.
        """
        e = self.assertConfigError("a = 0", "getInt", "a", min=1, max=10)
        self.assertEqual(e.reason, "must be an integer >= 1 and <= 10, got 0")
        self.assertConfigError("a = 11", "getInt", "a", min=1, max=10)

    def test_intWrongType(self) -> None:
        """
        Floats, booleans and strings are not integers.
        """
        for text in ("a = 1.5", "a = true", 'a = "1"'):
            e = self.assertConfigError(text, "getInt", "a")
            self.assertTrue(e.reason.startswith("must be an integer, got "), e.reason)

    def test_float(self) -> None:
        """
        Integers and floats are numbers.
        """
        root = self.load("a = 2\nb = 0.5")
        self.assertEqual(root.getFloat("a"), 2.0)
        self.assertIsInstance(root.getFloat("a"), float)
        self.assertEqual(root.getFloat("b", above=0), 0.5)

    def test_floatAbove(self) -> None:
        """
        C{above} is an exclusive bound; the message has the brief's form.
        """
        e = self.assertConfigError('a = "abc"', "getFloat", "a", above=0)
        self.assertEqual(e.reason, "must be a number > 0, got 'abc'")
        self.assertConfigError("a = 0", "getFloat", "a", above=0)

    def test_floatRange(self) -> None:
        """
        C{min} and C{max} are inclusive; NaN and infinities are refused.
        """
        section = self.load("a = 1.0\nb = nan\nc = inf").getFloat
        self.assertEqual(section("a", min=1, max=1), 1.0)
        self.assertConfigError("a = 1.5", "getFloat", "a", max=1)
        self.assertConfigError("a = nan", "getFloat", "a")
        self.assertConfigError("a = inf", "getFloat", "a")
        self.assertConfigError("a = true", "getFloat", "a")


class DurationTests(_FileMixin):
    """
    L{Section.getDuration}.
    """

    def test_forms(self) -> None:
        """
        Numbers are seconds; strings take ms, s, m or h.
        """
        root = self.load('a = 3\nb = 2.5\nc = "250ms"\nd = "30s"\ne = "5m"\nf = "1h"\ng = "1.5"')
        self.assertEqual(
            [root.getDuration(k) for k in "abcdefg"],
            [3.0, 2.5, 0.25, 30.0, 300.0, 3600.0, 1.5],
        )

    def test_negative(self) -> None:
        """
        Durations are not negative by default.
        """
        e = self.assertConfigError("a = -1", "getDuration", "a")
        self.assertIn(">= 0s", e.reason)

    def test_above(self) -> None:
        """
        C{above=0} refuses zero.
        """
        self.assertConfigError('a = "0s"', "getDuration", "a", above=0)

    def test_bad(self) -> None:
        """
        Unknown units, text and booleans are errors.
        """
        for text in ('a = "5 days"', 'a = "abc"', "a = true", 'a = ""', "a = [1]"):
            e = self.assertConfigError(text, "getDuration", "a")
            self.assertTrue(e.reason.startswith("must be a duration"), e.reason)


class BoolTests(_FileMixin):
    """
    L{Section.getBool}.
    """

    def test_value(self) -> None:
        """
        TOML booleans are returned.
        """
        root = self.load("a = true\nb = false")
        self.assertIs(root.getBool("a"), True)
        self.assertIs(root.getBool("b", True), False)
        self.assertIs(root.getBool("c", True), True)

    def test_string(self) -> None:
        """
        Strings are not booleans.
        """
        e = self.assertConfigError('a = "yes"', "getBool", "a")
        self.assertEqual(e.reason, "must be true or false, got 'yes'")


class BytesTests(_FileMixin):
    """
    L{Section.getBytes}.
    """

    def test_forms(self) -> None:
        """
        Plain and colon-separated hex are accepted.
        """
        root = self.load('a = "00:01:4a"\nb = "00014A"')
        self.assertEqual(root.getBytes("a", length=3), b"\x00\x01\x4a")
        self.assertEqual(root.getBytes("b"), b"\x00\x01\x4a")

    def test_bad(self) -> None:
        """
        Odd digits, bad separators, wrong lengths and non-strings fail.
        """
        for text in ('a = "0"', 'a = "0:01:4a"', 'a = "zz"', "a = 1", 'a = ""'):
            self.assertConfigError(text, "getBytes", "a")
        e = self.assertConfigError('a = "0001"', "getBytes", "a", length=3)
        self.assertEqual(e.reason, "must be 3 hex bytes, got '0001'")


class EnumTests(_FileMixin):
    """
    L{Section.getEnum}.
    """

    def test_value(self) -> None:
        """
        A member's value selects it.
        """
        root = self.load('a = "premium"')
        self.assertIs(root.getEnum("a", Level), Level.PREMIUM)
        self.assertIs(root.getEnum("b", Level, Level.NORMAL), Level.NORMAL)

    def test_bad(self) -> None:
        """
        Other values are refused, listing the choices.
        """
        e = self.assertConfigError('a = "gold"', "getEnum", "a", Level)
        self.assertEqual(e.reason, "must be one of 'normal', 'premium', got 'gold'")


class AddressTests(_FileMixin):
    """
    L{Section.getIPv6Address} and L{Section.getAddressList}.
    """

    def test_address(self) -> None:
        """
        Any IPv6 text form is accepted.
        """
        root = self.load('a = "2001:DB8:0::1"')
        self.assertEqual(root.getIPv6Address("a"), ipaddress.IPv6Address("2001:db8::1"))

    def test_badAddress(self) -> None:
        """
        IPv4 and garbage are refused.
        """
        for text in ('a = "10.0.0.1"', 'a = "2001:db8::g"', "a = 1"):
            e = self.assertConfigError(text, "getIPv6Address", "a")
            self.assertTrue(e.reason.startswith("must be an IPv6 address"), e.reason)

    def test_list(self) -> None:
        """
        A list of addresses, possibly empty.
        """
        root = self.load('a = ["::1", "2001:db8::2"]\nb = []')
        self.assertEqual(
            root.getAddressList("a"),
            [ipaddress.IPv6Address("::1"), ipaddress.IPv6Address("2001:db8::2")],
        )
        self.assertEqual(root.getAddressList("b"), [])

    def test_badList(self) -> None:
        """
        A bad item is named by its position.
        """
        e = self.assertConfigError('a = ["::1", "x"]', "getAddressList", "a")
        self.assertIn("item 2", e.reason)
        self.assertConfigError('a = "::1"', "getAddressList", "a")


class ListTests(_FileMixin):
    """
    L{Section.getList}.
    """

    def test_value(self) -> None:
        """
        A list of strings is returned.
        """
        self.assertEqual(self.load('a = ["x", "y"]').getList("a"), ["x", "y"])
        self.assertEqual(self.load("").getList("a", []), [])

    def test_bad(self) -> None:
        """
        Non-lists and lists with non-strings are refused.
        """
        for text in ('a = "x"', 'a = ["x", 1]', 'a = [""]'):
            self.assertConfigError(text, "getList", "a")


class EndpointTests(_FileMixin):
    """
    L{Section.getEndpoint}.
    """

    def test_server(self) -> None:
        """
        A valid server endpoint string is returned unchanged.
        """
        root = self.load('a = "tcp6:port=7001:interface=\\\\:\\\\:1"\nb = "udp:53"')
        self.assertEqual(root.getEndpoint("a"), "tcp6:port=7001:interface=\\:\\:1")

    def test_client(self) -> None:
        """
        Client endpoint strings are checked as such.
        """
        root = self.load('a = "tcp:host=2001\\\\:db8\\\\:\\\\:1:port=7001"')
        self.assertEqual(
            root.getEndpoint("a", client=True), "tcp:host=2001\\:db8\\:\\:1:port=7001"
        )

    def test_bad(self) -> None:
        """
        Unknown types and bad arguments are refused with a reason.
        """
        e = self.assertConfigError('a = "nonsense:1"', "getEndpoint", "a")
        self.assertTrue(e.reason.startswith("must be a Twisted server endpoint string"))
        self.assertConfigError('a = "tcp:port=abc"', "getEndpoint", "a")
        self.assertConfigError('a = "tcp:host=x"', "getEndpoint", "a", client=True)
        self.assertConfigError("a = 1", "getEndpoint", "a")


class PathTests(_FileMixin):
    """
    L{Section.getPath}.
    """

    def test_relative(self) -> None:
        """
        Relative paths are relative to the config file's directory.
        """
        self.assertEqual(self.load('a = "x/y.pem"').getPath("a"), self.dir / "x" / "y.pem")

    def test_absolute(self) -> None:
        """
        Absolute paths are kept.
        """
        self.assertEqual(self.load('a = "/etc/x"').getPath("a"), Path("/etc/x"))

    def test_mustExist(self) -> None:
        """
        C{mustExist} requires a file (or directory with C{directory}).
        """
        (self.dir / "f").write_text("")
        root = self.load('a = "f"\nb = "."')
        self.assertEqual(root.getPath("a", mustExist=True), self.dir / "f")
        self.assertEqual(root.getPath("b", mustExist=True, directory=True), self.dir / ".")
        e = self.assertConfigError('a = "missing"', "getPath", "a", mustExist=True)
        self.assertIn("must be an existing file", e.reason)
        self.assertConfigError('a = "."', "getPath", "a", mustExist=True)
        self.assertConfigError('a = "f"', "getPath", "a", mustExist=True, directory=True)


class PathListTests(_FileMixin):
    """
    L{Section.getPathList} and L{Section.resolvePath}.
    """

    def test_value(self) -> None:
        """
        Each item is resolved like L{Section.getPath}.
        """
        (self.dir / "a.zone").write_text("")
        root = self.load('z = ["a.zone", "/abs/b.zone"]\ne = []')
        self.assertEqual(root.getPathList("z"), [self.dir / "a.zone", Path("/abs/b.zone")])
        self.assertEqual(root.getPathList("e"), [])
        self.assertEqual(root.resolvePath("x"), self.dir / "x")

    def test_mustExist(self) -> None:
        """
        A missing item is named by position.
        """
        (self.dir / "a.zone").write_text("")
        e = self.assertConfigError(
            'z = ["a.zone", "missing.zone"]', "getPathList", "z", mustExist=True
        )
        self.assertIn("item 2 must be an existing file", e.reason)

    def test_bad(self) -> None:
        """
        Non-lists and non-string items are refused.
        """
        self.assertConfigError('z = "a"', "getPathList", "z")
        self.assertConfigError("z = [1]", "getPathList", "z")


class IPAddressTests(_FileMixin):
    """
    L{Section.getIPAddress}.
    """

    def test_value(self) -> None:
        """
        IPv4 and IPv6 are both accepted.
        """
        root = self.load('a = "10.0.0.1"\nb = "::"')
        self.assertEqual(root.getIPAddress("a"), ipaddress.IPv4Address("10.0.0.1"))
        self.assertEqual(root.getIPAddress("b"), ipaddress.IPv6Address("::"))

    def test_bad(self) -> None:
        """
        Names and numbers are refused.
        """
        for text in ('a = "localhost"', "a = 1", 'a = ""'):
            e = self.assertConfigError(text, "getIPAddress", "a")
            self.assertTrue(e.reason.startswith("must be an IP address"), e.reason)


class SectionTests(_FileMixin):
    """
    L{Section.section}, L{Section.sectionList} and L{Section.finish}.
    """

    def test_nested(self) -> None:
        """
        Sub-tables know their names for messages.
        """
        root = self.load("[a.b]\nc = 1")
        inner = root.section("a").section("b")
        e = self.assertRaises(ConfigError, inner.getString, "c")
        self.assertEqual(e.where, "a.b.c")
        self.assertIn("[a.b] c: must be", str(e))

    def test_absent(self) -> None:
        """
        An absent optional table is empty; a required one is an error.
        """
        root = self.load("")
        self.assertEqual(list(root.section("x").keys()), [])
        e = self.assertRaises(ConfigError, root.section, "y", True)
        self.assertEqual(e.where, "y")

    def test_notATable(self) -> None:
        """
        A value where a table is expected is an error.
        """
        e = self.assertRaises(ConfigError, self.load("x = 1").section, "x")
        self.assertIn("must be a table", e.reason)

    def test_sectionList(self) -> None:
        """
        Arrays of tables give one section each, numbered in messages.
        """
        root = self.load('[[peer]]\naddress = "::1"\n[[peer]]\naddress = "x"\n')
        peers = root.sectionList("peer")
        self.assertEqual(peers[0].getIPv6Address("address"), ipaddress.IPv6Address("::1"))
        e = self.assertRaises(ConfigError, peers[1].getIPv6Address, "address")
        self.assertEqual(e.where, "peer[2].address")
        self.assertEqual(self.load("").sectionList("peer"), [])
        self.assertRaises(ConfigError, self.load("peer = 1").sectionList, "peer")

    def test_unknownKey(self) -> None:
        """
        L{Section.finish} rejects a key nobody read.
        """
        root = self.load("[ls]\nheartbeat_timeout = 3\nheartbeat_timout = 4\n")
        ls = root.section("ls")
        ls.getFloat("heartbeat_timeout")
        e = self.assertRaises(ConfigError, root.finish)
        self.assertEqual(e.where, "ls.heartbeat_timout")
        self.assertIn("unknown key", e.reason)

    def test_unknownTable(self) -> None:
        """
        A table nobody opened is unknown too.
        """
        root = self.load("[lss]\na = 1\n")
        e = self.assertRaises(ConfigError, root.finish)
        self.assertEqual(e.where, "lss")
        self.assertIn("unknown table", e.reason)

    def test_finishClean(self) -> None:
        """
        A fully read file passes; a present bad-typed key read with a
        default still counts as read only after the error.
        """
        root = self.load("a = 1\n[b]\nc = 2\n[[d]]\ne = 3\n")
        root.getInt("a")
        root.section("b").getInt("c")
        root.sectionList("d")[0].getInt("e")
        root.finish()

    def test_unknownInArray(self) -> None:
        """
        Unknown keys inside arrays of tables are found.
        """
        root = self.load("[[d]]\ne = 3\nf = 4\n")
        root.sectionList("d")[0].getInt("e")
        e = self.assertRaises(ConfigError, root.finish)
        self.assertEqual(e.where, "d[1].f")

    def test_containsAndError(self) -> None:
        """
        C{in} does not mark a key read; L{Section.error} builds errors for
        cross-field checks.
        """
        root = self.load("a = 1")
        self.assertIn("a", root)
        self.assertNotIn("b", root)
        self.assertRaises(ConfigError, root.finish)
        e = root.error("a", "must be less than b")
        self.assertEqual(e.where, "a")


class LoadConfigTests(_FileMixin):
    """
    L{loadConfig} and L{configFromOptions}.
    """

    def build(self, root: Section) -> tuple[float, str]:
        ls = root.section("ls", required=True)
        return ls.getFloat("heartbeat_timeout", above=0), ls.getString("name", "ls1")

    def test_loads(self) -> None:
        """
        The builder's result is returned when the file is good.
        """
        path = self.write("[ls]\nheartbeat_timeout = 3\n")
        self.assertEqual(loadConfig(path, self.build), (3.0, "ls1"))

    def test_typo(self) -> None:
        """
        Keys the builder did not read fail the load.
        """
        path = self.write("[ls]\nheartbeat_timeout = 3\nnmae = 'x'\n")
        e = self.assertRaises(ConfigError, loadConfig, path, self.build)
        self.assertEqual(e.where, "ls.nmae")

    def test_usageError(self) -> None:
        """
        L{configFromOptions} turns errors into one-line C{UsageError}s, as
        C{twistd} prints them.
        """
        path = self.write("[ls]\nheartbeat_timeout = 'abc'\n")
        e = self.assertRaises(usage.UsageError, configFromOptions, path, self.build)
        self.assertEqual(
            str(e), f"{path}: [ls] heartbeat_timeout: must be a number > 0, got 'abc'"
        )
        self.assertNotIn("\n", str(e))

    def test_usageErrorMissing(self) -> None:
        """
        A missing file is a C{UsageError} too.
        """
        e = self.assertRaises(
            usage.UsageError, configFromOptions, self.dir / "none.conf", self.build
        )
        self.assertIn("no such file", str(e))

    def test_options(self) -> None:
        """
        In C{postOptions}, a bad file makes C{parseOptions} raise the
        sentence.
        """
        build = self.build

        class Options(usage.Options):
            optParameters = [["config", "c", None, "Configuration file."]]

            def postOptions(self) -> None:
                self["settings"] = configFromOptions(self["config"], build)

        good = self.write("[ls]\nheartbeat_timeout = 2\n", "good.conf")
        options = Options()
        options.parseOptions(["--config", str(good)])
        self.assertEqual(options["settings"], (2.0, "ls1"))
        bad = self.write("[ls]\nheartbeat_timeout = -2\n", "bad.conf")
        e = self.assertRaises(usage.UsageError, Options().parseOptions, ["-c", str(bad)])
        self.assertIn("bad.conf: [ls] heartbeat_timeout: must be a number > 0, got -2", str(e))


class LIN6SpaceTests(_FileMixin):
    """
    L{parseLIN6Space}.
    """

    def test_defaults(self) -> None:
        """
        An empty table gives the default space.
        """
        root = self.load("")
        self.assertEqual(parseLIN6Space(root.section("lin6")), LIN6Space())
        root.finish()

    def test_values(self) -> None:
        """
        Prefix and OUI are read.
        """
        root = self.load('[lin6]\nprefix = "2001:db8:1::/64"\noui = "00:11:22"\n')
        space = parseLIN6Space(root.section("lin6"))
        root.finish()
        self.assertEqual(space.prefix, Prefix.fromString("2001:db8:1::/64"))
        self.assertEqual(space.oui, b"\x00\x11\x22")

    def test_badPrefix(self) -> None:
        """
        A prefix that is not a /64 is refused at its key.
        """
        root = self.load('[lin6]\nprefix = "2001:db8::/48"\n')
        e = self.assertRaises(ConfigError, parseLIN6Space, root.section("lin6"))
        self.assertEqual(e.where, "lin6.prefix")

    def test_badOUI(self) -> None:
        """
        An OUI with the global bit set, or of the wrong length, is refused.
        """
        root = self.load('[lin6]\noui = "02:01:4a"\n')
        e = self.assertRaises(ConfigError, parseLIN6Space, root.section("lin6"))
        self.assertEqual(e.where, "lin6.oui")
        root = self.load('[lin6]\noui = "00:01"\n')
        self.assertRaises(ConfigError, parseLIN6Space, root.section("lin6"))


class TLSTableTests(_FileMixin):
    """
    L{parseTLS}.
    """

    def setUp(self) -> None:
        super().setUp()
        self.pki = makeTestPKI(self.dir / "pki")

    def test_good(self) -> None:
        """
        Relative paths to a matching set give loaded settings.
        """
        root = self.load('[tls]\nca = "pki/ca.pem"\ncert = "pki/ls1.pem"\nkey = "pki/ls1.key"\n')
        settings = parseTLS(root.section("tls"))
        root.finish()
        self.assertEqual(settings.role, Role.LS)
        self.assertEqual(settings.certFile, self.dir / "pki" / "ls1.pem")

    def test_missingFile(self) -> None:
        """
        A missing file is named at its key.
        """
        root = self.load('[tls]\nca = "pki/ca.pem"\ncert = "pki/ls9.pem"\nkey = "pki/ls1.key"\n')
        e = self.assertRaises(ConfigError, parseTLS, root.section("tls"))
        self.assertEqual(e.where, "tls.cert")

    def test_mismatch(self) -> None:
        """
        A key not belonging to the certificate is refused at C{key}.
        """
        root = self.load('[tls]\nca = "pki/ca.pem"\ncert = "pki/ls1.pem"\nkey = "pki/ma1.key"\n')
        e = self.assertRaises(ConfigError, parseTLS, root.section("tls"))
        self.assertEqual(e.where, "tls.key")
        self.assertIn("is not the key of", e.reason)

    def test_required(self) -> None:
        """
        All three keys are required.
        """
        root = self.load('[tls]\nca = "pki/ca.pem"\n')
        e = self.assertRaises(ConfigError, parseTLS, root.section("tls"))
        self.assertEqual(e.where, "tls.cert")
