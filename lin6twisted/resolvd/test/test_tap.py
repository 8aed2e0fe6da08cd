"""
Tests for L{lin6twisted.resolvd.tap} and L{lin6twisted.resolvd.settings}:
option parsing with real argument lists and configuration errors.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from pathlib import Path

from twisted.application.service import IServiceCollection
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.dns.txt import Endpoint
from lin6twisted.resolvd.service import NodeService
from lin6twisted.resolvd.settings import DataplaneKind, ResolvdSettings
from lin6twisted.resolvd.tap import Options, buildNode, makeService

ETC = Path(__file__).parents[3] / "etc"

MINIMAL = """
[resolvd]
node_id = "201:4a00:0:2"
key = "00112233"
ls = ["[2001:db8:1::53]:7403"]
dataplane = "fake"
control = "none"
"""


class OptionsTests(SynchronousTestCase):
    """
    C{twistd lin6-resolvd --config FILE} reads and checks the file.
    """

    def write(self, text: str) -> str:
        path = Path(self.mktemp()).absolute()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)

    def parse(self, text: str) -> ResolvdSettings:
        options = Options()
        options.parseOptions(["--config", self.write(text)])
        settings: ResolvdSettings = options["settings"]
        return settings

    def test_exampleConfigs(self) -> None:
        """
        The example files in C{etc/} load.
        """
        for name, pinned in [("resolvd.conf", False), ("resolvd-server.conf", True)]:
            options = Options()
            options.parseOptions(["--config", str(ETC / name)])
            settings: ResolvdSettings = options["settings"]
            self.assertEqual(settings.node.pinned, pinned)
            self.assertEqual(settings.dataplane, DataplaneKind.BPF)
            self.assertEqual(settings.dns, (("::1", 53),))

    def test_minimal(self) -> None:
        """
        A node ID, a key and an LS are enough; the rest has defaults.
        """
        settings = self.parse(MINIMAL)
        self.assertEqual(settings.node.nodeID, NodeID.fromString("201:4a00:0:2"))
        self.assertEqual(settings.node.key, bytes.fromhex("00112233"))
        self.assertEqual(settings.node.lsServers, (Endpoint(IPv6Address("2001:db8:1::53"), 7403),))
        self.assertEqual(str(settings.node.lin6), "3ffe:501:1830:1999:201:4a00:0:2")
        self.assertEqual(settings.port, 7420)
        self.assertIsNone(settings.control)
        self.assertEqual(settings.node.lifetime, 300)
        self.assertIsNone(settings.dataplaneName)

    def test_dataplaneName(self) -> None:
        """
        C{dataplane_name} names the directory of the node's BPF pins, so
        several nodes on one machine keep theirs apart.
        """
        settings = self.parse(MINIMAL.replace("[resolvd]", '[resolvd]\ndataplane_name = "mn7"'))
        self.assertEqual(settings.dataplaneName, "mn7")

    def test_errorsNameTheKey(self) -> None:
        """
        Bad values fail with the file, key and reason, not a traceback.
        """
        cases = [
            (MINIMAL.replace('"201:4a00:0:2"', '"zz"'), "node_id"),
            (MINIMAL.replace('"201:4a00:0:2"', '"201:4b00:0:2"'), "node_id"),
            (MINIMAL.replace('"00112233"', '"xyz"'), "key"),
            (MINIMAL.replace('"[2001:db8:1::53]:7403"', '"2001:db8::1"'), "ls"),
            (MINIMAL.replace('ls = ["[2001:db8:1::53]:7403"]', ""), "service"),
            (MINIMAL + 'lifetime = "forever"\n', "lifetime"),
            (MINIMAL + 'role = "router"\n', "role"),
            (MINIMAL + "retries = -1\n", "retries"),
            (MINIMAL + "colour = 1\n", "colour"),
            (
                MINIMAL.replace('node_id = "201:4a00:0:2"', 'node_id = "1:4a00:0:1"'),
                "lin6_address",
            ),
        ]
        for text, key in cases:
            e = self.assertRaises(usage.UsageError, self.parse, text)
            self.assertIn(key, str(e))

    def test_stationaryNode(self) -> None:
        """
        A stationary Node ID takes its LIN6 address from C{lin6_address}.
        """
        text = MINIMAL.replace('"201:4a00:0:2"', '"1:4a00:0:1"') + (
            'lin6_address = "2001:db8:5:0:1:4a00:0:1"\n'
        )
        settings = self.parse(text)
        self.assertEqual(str(settings.node.lin6), "2001:db8:5:0:1:4a00:0:1")

    def test_keyFile(self) -> None:
        """
        The key may live in its own file.
        """
        keyPath = self.write("a0b1c2\n")
        text = MINIMAL.replace('key = "00112233"', f'key_file = "{keyPath}"')
        self.assertEqual(self.parse(text).node.key, bytes.fromhex("a0b1c2"))

    def test_buildNode(self) -> None:
        """
        L{buildNode} and L{makeService} assemble the node service (without
        starting it).
        """
        settings = self.parse(MINIMAL)
        node = buildNode(settings, MemoryReactorClock())
        self.assertIsInstance(node, NodeService)
        options = Options()
        options["settings"] = settings
        parent = makeService(options, MemoryReactorClock())
        self.assertEqual(len(list(IServiceCollection(parent))), 1)
