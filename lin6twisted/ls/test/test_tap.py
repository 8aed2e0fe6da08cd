"""
Tests for L{lin6twisted.ls.tap}: options, the config file, the service tree.
"""

from __future__ import annotations

from pathlib import Path

from twisted.application.service import IServiceCollection
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import TestCase

from lin6twisted.ls.tap import Options, makeService, retryPolicy
from lin6twisted.pki import Role, makeTestPKI

ETC = Path(__file__).resolve().parents[3] / "etc"


class TapTests(TestCase):
    """
    C{twistd lin6-ls --config FILE}.
    """

    def setUp(self) -> None:
        self.dir = Path(self.mktemp()).resolve()
        self.dir.mkdir()
        self.pki = makeTestPKI(self.dir / "pki", {"ls1": Role.LS})

    def write(self, ls: str) -> str:
        path = self.dir / "ls.conf"
        path.write_text(
            f"[ls]\n{ls}\n"
            + self.pki.configTable("ls1")
            + f'\n[directory]\nkind = "embedded"\nldif = "{ETC / "subscribers.ldif"}"\n'
        )
        return str(path)

    def test_defaultsAndPeers(self) -> None:
        """
        A minimal file gives the documented defaults; peers are read.
        """
        options = Options()
        options.parseOptions(
            [
                "--config",
                self.write(
                    'name = "ls1"\nth_load = 50\nma_timeout = "10s"\n'
                    '[[ls.peer]]\nname = "ls2"\nendpoint = "tcp:host=\\\\:\\\\:1:port=7102"\n'
                ),
            ]
        )
        config = options["settings"]
        self.assertEqual(config.name, "ls1")
        self.assertEqual(config.core.threshold, 50)
        self.assertEqual(config.core.maTimeout, 10)
        self.assertEqual(config.core.historyLifetime, 120)
        self.assertEqual([p.name for p in config.peers], ["ls2"])
        self.assertEqual(config.maxMAsPerChannel, 1)
        self.assertEqual(config.core.loadPrice, 0.0)

    def test_loadPrice(self) -> None:
        """
        C{load_price} sets L{LSSettings.loadPrice}; 0 (the paper's rule) is
        allowed, a negative price is refused naming the key.
        """
        options = Options()
        options.parseOptions(["--config", self.write('name = "ls1"\nload_price = 0')])
        self.assertEqual(options["settings"].core.loadPrice, 0.0)
        options = Options()
        options.parseOptions(["--config", self.write('name = "ls1"\nload_price = 2.5')])
        self.assertEqual(options["settings"].core.loadPrice, 2.5)
        e = self.assertRaises(
            usage.UsageError,
            Options().parseOptions,
            ["--config", self.write('name = "ls1"\nload_price = -1')],
        )
        self.assertIn("load_price", str(e))

    def test_badValue(self) -> None:
        """
        A bad value fails with the file and key, not a traceback.
        """
        options = Options()
        e = self.assertRaises(
            usage.UsageError,
            options.parseOptions,
            ["--config", self.write('name = "ls1"\nma_timeout = "soon"')],
        )
        self.assertIn("ma_timeout", str(e))
        self.assertIn("ls.conf", str(e))

    def test_unknownKey(self) -> None:
        """
        A typo is an error.
        """
        e = self.assertRaises(
            usage.UsageError,
            Options().parseOptions,
            ["--config", self.write('name = "ls1"\nth_laod = 3')],
        )
        self.assertIn("th_laod", str(e))

    def test_peerNamedLikeSelf(self) -> None:
        """
        A peer with this LS's own name is refused.
        """
        self.assertRaises(
            usage.UsageError,
            Options().parseOptions,
            [
                "--config",
                self.write(
                    'name = "ls1"\n[[ls.peer]]\nname = "ls1"\nendpoint = "tcp:host=a:port=1"'
                ),
            ],
        )

    def test_makeService(self) -> None:
        """
        The service holds the directory, the server, the MA, peer, query
        and status listeners and one reconnecting client per peer.
        """
        options = Options()
        options.parseOptions(
            [
                "--config",
                self.write(
                    'name = "ls1"\nquery_tcp = "off"\n'
                    '[[ls.peer]]\nname = "ls2"\nendpoint = "tcp:host=\\\\:\\\\:1:port=7102"\n'
                ),
            ]
        )
        service = makeService(options, MemoryReactorClock())
        assert IServiceCollection.providedBy(service)
        kinds = sorted(type(s).__name__ for s in service)
        self.assertEqual(
            kinds,
            [
                "ClientService",
                "DirectoryService",
                "EndpointServer",
                "EndpointServer",
                "EndpointServer",
                "UDPServer",
                "_ServerService",
            ],
        )
        listeners = [s for s in service if hasattr(s, "what")]
        self.assertEqual(
            sorted(s.what for s in listeners),
            [
                "MN queries over UDP (query_port)",
                "the MA channel (ma_listen)",
                "the peer mesh (peer_listen)",
                "the status page (status_listen)",
            ],
        )

    def test_retryPolicy(self) -> None:
        """
        Peers are retried at the interval up to the maximum number of tries,
        then with a doubling pause up to the cap.
        """
        policy = retryPolicy(1.0, 3, 10.0)
        self.assertEqual([policy(n) for n in range(1, 8)], [1.0, 1.0, 1.0, 2.0, 4.0, 8.0, 10.0])
