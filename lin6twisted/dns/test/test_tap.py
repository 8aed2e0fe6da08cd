"""
Tests for L{lin6twisted.dns.tap}.
"""

from __future__ import annotations

from pathlib import Path

from twisted.application import internet
from twisted.internet.testing import MemoryReactor
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted._udp import UDPServer
from lin6twisted.dns.server import Lin6DNSServerFactory, ZoneReloadService
from lin6twisted.dns.tap import DNSSettings, Options, makeService

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "etc" / "dns.conf"
FORWARD = ROOT / "etc" / "zones" / "lin6.example.zone"
REVERSE = ROOT / "etc" / "zones" / "9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa.zone"


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


class OptionsTests(SynchronousTestCase):
    """
    Tests for L{Options}.
    """

    def writeConfig(self, text: str) -> str:
        directory = Path(self.mktemp())
        (directory / "zones").mkdir(parents=True)
        (directory / "zones" / "lin6.example.zone").write_bytes(FORWARD.read_bytes())
        path = directory / "dns.conf"
        path.write_text(text)
        return str(path)

    def test_shippedConfig(self) -> None:
        """
        C{etc/dns.conf} loads both shipped zones on port 53 on all addresses.
        """
        options = parse("--config", str(CONFIG))
        self.assertEqual(
            options["settings"],
            DNSSettings(zones=(FORWARD, REVERSE), port=53, interface="::"),
        )
        self.assertEqual(len(options["zoneset"].zones), 2)

    def test_likeTwistdDNS(self) -> None:
        """
        C{--bindzone} (repeatable), C{--port} and C{--interface} work without
        a config file.
        """
        options = parse(
            "--bindzone", str(FORWARD), "--bindzone", str(REVERSE),
            "--port", "5353", "--interface", "::1",
        )  # fmt: skip
        settings = options["settings"]
        self.assertEqual(settings.zones, (FORWARD, REVERSE))
        self.assertEqual((settings.port, settings.interface), (5353, "::1"))

    def test_commandLineWins(self) -> None:
        """
        Options override the file; C{--bindzone} adds to the file's zones.
        """
        extra = Path(self.mktemp())
        extra.write_text("$ORIGIN extra.test.\n@ SOA ns hm 1 2 3 4 5\n")
        options = parse(
            "--config", str(CONFIG), "-p", "1053", "-i", "127.0.0.1", "--bindzone", str(extra)
        )
        self.assertEqual(options["settings"].port, 1053)
        self.assertEqual(options["settings"].interface, "127.0.0.1")
        self.assertEqual(len(options["settings"].zones), 3)
        self.assertEqual(len(options["zoneset"].zones), 3)

    def test_configRelativePaths(self) -> None:
        """
        Zone paths in the file are relative to the file, and the other keys
        are read.
        """
        path = self.writeConfig(
            '[dns]\nzones = ["zones/lin6.example.zone"]\nport = 99\n'
            'interface = "::1"\nudp_payload = 4096\nallow_transfer = true\n'
        )
        settings = parse("--config", path)["settings"]
        self.assertEqual(settings.zones, (Path(path).parent / "zones" / "lin6.example.zone",))
        self.assertEqual(
            (settings.port, settings.udpPayload, settings.allowTransfer), (99, 4096, True)
        )

    def test_errors(self) -> None:
        """
        Bad options and files are one-sentence L{usage.UsageError}s.
        """
        cases = [
            ((), "no zone files"),
            (("--bindzone", "/nonexistent.zone"), "cannot read"),
            (("--bindzone", str(FORWARD), "--port", "x"), "--port must be a number"),
            (("--bindzone", str(FORWARD), "--port", "70000"), "0-65535"),
            (("--bindzone", str(FORWARD), "--interface", "eth0"), "IP address"),
            (("--config", "/nonexistent.conf"), "no such file"),
            (("--config", self.writeConfig("[dns]\nport = 'x'\n")), "port"),
            (("--config", self.writeConfig("[dns]\nzone = []\n")), "unknown key"),
            (("--config", self.writeConfig("[dns]\ninterface = 'lo'\n")), "IP address"),
            (("--config", self.writeConfig("[dns]\nudp_payload = 100\n")), "udp_payload"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                e = self.assertRaises(usage.UsageError, parse, *args)
                self.assertIn(fragment, str(e))
                self.assertNotIn("\n", str(e))


class MakeServiceTests(SynchronousTestCase):
    """
    Tests for L{makeService}.
    """

    def test_services(self) -> None:
        """
        The service listens on TCP and UDP on the same port and interface,
        and reloads zones.
        """
        options = parse("--bindzone", str(FORWARD), "--port", "5353", "--interface", "::1")
        top = makeService(options, MemoryReactor())
        services = list(top)
        tcp, udp, reloader = services
        self.assertIsInstance(tcp, internet.TCPServer)
        self.assertIsInstance(udp, UDPServer)
        self.assertIsInstance(reloader, ZoneReloadService)
        self.assertEqual(tcp.args[0], 5353)
        self.assertEqual(udp.args[0], 5353)
        self.assertEqual(tcp.kwargs["interface"], "::1")
        factory = tcp.args[1]
        self.assertIsInstance(factory, Lin6DNSServerFactory)
        self.assertIs(udp.args[1].controller, factory)
        self.assertIs(reloader.zones, factory.zones)
