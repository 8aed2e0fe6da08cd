"""
Tests for L{lin6twisted.ma.tap} and L{lin6twisted.ma.settings}: options,
configuration and the service tree.
"""

from __future__ import annotations

from pathlib import Path

from twisted.application.internet import TimerService
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted._udp import UDPServer
from lin6twisted.config import ConfigError, loadTOMLString
from lin6twisted.directory import ServiceLevel
from lin6twisted.ma.settings import parseMASettings
from lin6twisted.ma.tap import MAService, Options, makeService
from lin6twisted.ma.test.mastub import SAMPLE_LDIF

REPO = Path(__file__).resolve().parents[3]


class OptionsTests(SynchronousTestCase):
    """
    C{twistd lin6-ma} options.
    """

    def test_exampleConfig(self) -> None:
        """
        C{etc/ma.conf} parses.
        """
        options = Options()
        options.parseOptions(["--config", str(REPO / "etc" / "ma.conf")])
        settings = options["settings"]
        self.assertEqual(settings.port, 7300)
        self.assertEqual(settings.table.negativeTTL, 10)
        self.assertIsNone(settings.ls)

    def test_lsExample(self) -> None:
        """
        C{etc/ma/ma1.conf} (LS client, TLS) parses once its PKI exists.
        """
        from lin6twisted.pki import Role, makeTestPKI

        etc = Path(self.mktemp())
        (etc / "ma").mkdir(parents=True)
        (etc / "subscribers.ldif").write_bytes(SAMPLE_LDIF.read_bytes())
        (etc / "ma" / "ma1.conf").write_bytes((REPO / "etc" / "ma" / "ma1.conf").read_bytes())
        makeTestPKI(etc / "pki", {"ma1": Role.MA})
        options = Options()
        options.parseOptions(["--config", str(etc / "ma" / "ma1.conf")])
        settings = options["settings"]
        assert settings.ls is not None
        self.assertEqual(settings.ls.lsPort, 7111)
        self.assertEqual(str(settings.advertise), "::1")
        top = makeService(options, MemoryReactorClock())
        self.assertEqual(len(list(top)), 6)

    def test_badConfig(self) -> None:
        """
        A bad file is a usage error naming the key.
        """
        path = Path(self.mktemp())
        path.write_text(f'[ma]\nport = "x"\n[directory]\nldif = "{SAMPLE_LDIF}"\n')
        with self.assertRaises(usage.UsageError) as cm:
            Options().parseOptions(["--config", str(path)])
        self.assertIn("port", str(cm.exception))

    def test_unknownKey(self) -> None:
        """
        A typo is an error.
        """
        path = Path(self.mktemp())
        path.write_text(f'[ma]\nprot = 1\n[directory]\nldif = "{SAMPLE_LDIF}"\n')
        with self.assertRaises(usage.UsageError) as cm:
            Options().parseOptions(["--config", str(path)])
        self.assertIn("prot", str(cm.exception))


class SettingsTests(SynchronousTestCase):
    """
    L{parseMASettings} reads every table.
    """

    def test_full(self) -> None:
        root = loadTOMLString(
            f"""
[ma]
port = 7301
max_lifetime = "5m"
check_source = true
[ma.bandwidth]
interface = "eth0"
normal = 2000000
premium = 6000000
[directory]
ldif = "{SAMPLE_LDIF}"
"""
        )
        s = parseMASettings(root)
        root.finish()
        self.assertEqual(s.table.maxLifetime, 300)
        self.assertTrue(s.checkSource)
        assert s.bandwidth is not None
        self.assertEqual(s.bandwidth.rates[ServiceLevel.PREMIUM], 6_000_000)

    def test_lsNeedsTLS(self) -> None:
        """
        The LS client needs a C{[tls]} table.
        """
        root = loadTOMLString(
            f'[ma]\n[ma.ls]\nservers = ["::1"]\n[directory]\nldif = "{SAMPLE_LDIF}"\n'
        )
        self.assertRaises(ConfigError, parseMASettings, root)


class MakeServiceTests(SynchronousTestCase):
    """
    L{makeService} builds the tree.
    """

    def test_tree(self) -> None:
        options = Options()
        options.parseOptions(["--config", str(REPO / "etc" / "ma.conf")])
        top = makeService(options, MemoryReactorClock())
        kinds = {type(s) for s in top}
        self.assertIn(MAService, kinds)
        self.assertIn(UDPServer, kinds)
        self.assertIn(TimerService, kinds)

    def test_lsTable(self) -> None:
        """
        C{[ma.ls]}: servers, DNS name or LIN6 service (each DNS way needs
        servers to ask).
        """
        from lin6twisted.ma.settings import _ls

        def ls(text: str) -> object:
            return _ls(loadTOMLString("[ma.ls]\n" + text).section("ma").section("ls"))

        s = ls('dns_service = "stream.lin6.example"\ndns_servers = ["[::1]:5353"]\n')
        self.assertEqual(s.dnsService, "stream.lin6.example")  # type: ignore[attr-defined]
        for bad in [
            "",
            'dns_name = "ls.lin6.example"\n',
            'dns_name = "a"\ndns_service = "b"\ndns_servers = ["::1"]\n',
            'servers = ["::1"]\ndns_name = "a"\ndns_servers = ["[::1"]\n',
            'servers = ["not an address"]\n',
        ]:
            self.assertRaises(ConfigError, ls, bad)
