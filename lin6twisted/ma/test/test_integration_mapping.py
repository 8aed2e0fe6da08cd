"""
Integration tests of C{twistd lin6-ma} over real sockets (loopback): the
embedded directory, garbage on the mapping port, restarts, HTTP status.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import urllib.request
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.ma.test.mastub import (
    MappingClient,
    freePort,
    sampleSubscribers,
    startMA,
    writeConfig,
)
from lin6twisted.wire.mapping import MapStatus, RegisterStatus

MN = NodeID.fromString("201:4a00:0:2")
PREMIUM = NodeID.fromString("201:4a00:0:3")
DISABLED = NodeID.fromString("201:4a00:0:4")
LOC_A = "2001:db8:a:1:201:4a00:0:2"
LOC_B = "2001:db8:b:1:201:4a00:0:2"


class EmbeddedDirectoryTests(SynchronousTestCase):
    """
    The MA daemon with the embedded directory over loopback.
    """

    def setUp(self) -> None:
        self.dir = Path(self.mktemp()).absolute()
        self.port = freePort(kind=socket.SOCK_DGRAM)
        self.statusPort = freePort()
        self.config = writeConfig(self.dir, self.port, self.statusPort)
        self.daemon = startMA(self.dir, self.config, self.port)
        self.addCleanup(self.daemon.stop)
        self.client = MappingClient(self.port)
        self.addCleanup(self.client.close)
        self.subs = sampleSubscribers()

    def restart(self, crash: bool) -> None:
        if crash:
            self.daemon.kill()
        else:
            self.daemon.stop()
        self.daemon = startMA(self.dir, self.config, self.port)
        self.addCleanup(self.daemon.stop)

    def test_registerAndQuery(self) -> None:
        """
        Registrations are authenticated against the directory; queries are
        answered, negative ones with the negative TTL.
        """
        sub = self.subs[MN]
        ack = self.client.register(sub, 1, LOC_A, lifetime=100_000)
        self.assertEqual((ack.status, ack.lifetime), (RegisterStatus.OK, 600))
        reply = self.client.query(MN)
        self.assertEqual(reply.status, MapStatus.FOUND)
        self.assertEqual([str(a) for a in reply.locators], [LOC_A])
        self.assertEqual(self.client.query(PREMIUM).ttl, 5)
        self.assertEqual(
            self.client.register(sub, 2, LOC_B, key=b"x" * 32).status, RegisterStatus.BAD_AUTH
        )
        self.assertEqual(self.client.register(sub, 1, LOC_B).status, RegisterStatus.REPLAY)
        disabled = self.subs[DISABLED]
        self.assertEqual(
            self.client.register(disabled, 1, "2001:db8::201:4a00:0:4").status,
            RegisterStatus.DISABLED,
        )
        log = self.daemon.log()
        self.assertIn("Registered 201:4a00:0:2", log)
        self.assertIn("Refused registration of 201:4a00:0:2", log)
        self.assertIn("HMAC does not verify", log)
        self.assertIn("node disabled", log)

    def test_garbage(self) -> None:
        """
        Garbage on the mapping port is logged and dropped; the MA keeps
        serving.
        """
        for junk in [b"", b"\x00" * 3, b"\x01\x20\x00\x10" + b"\xff" * 40, bytes(range(256))]:
            self.client.raw(junk)
        self.client.sock.settimeout(0.3)
        self.assertRaises(TimeoutError, self.client.receive)
        self.client.sock.settimeout(3)
        ack = self.client.register(self.subs[MN], 1, LOC_A)
        self.assertEqual(ack.status, RegisterStatus.OK)
        self.assertIn("Dropped garbage", self.daemon.log())
        self.assertTrue(self.daemon.running())

    def test_restartKeepsBindings(self) -> None:
        """
        After a restart (clean or a crash) the bindings are back and old
        sequence numbers are still refused.
        """
        self.client.register(self.subs[MN], 10, LOC_A)
        self.client.register(self.subs[PREMIUM], 3, "2001:db8:a:1:201:4a00:0:3")
        for crash in (False, True):
            self.restart(crash)
            reply = self.client.query(MN)
            self.assertEqual([str(a) for a in reply.locators], [LOC_A])
            self.assertEqual(self.client.query(PREMIUM).status, MapStatus.FOUND)
            self.assertEqual(
                self.client.register(self.subs[MN], 10, LOC_B).status, RegisterStatus.REPLAY
            )
        self.assertIn("2 bindings restored", self.daemon.log())

    def test_corruptJournalTail(self) -> None:
        """
        A journal whose tail was cut by a crash is reported, skipped, and
        the rest restored.
        """
        self.client.register(self.subs[MN], 1, LOC_A)
        self.daemon.kill()
        with open(self.dir / "ma.journal", "ab") as f:
            f.write(b'0badc0de {"op":"bind","node')
        self.daemon = startMA(self.dir, self.config, self.port)
        self.addCleanup(self.daemon.stop)
        self.assertEqual(self.client.query(MN).status, MapStatus.FOUND)
        self.assertIn("skipped: truncated record", self.daemon.log())

    def test_cli(self) -> None:
        """
        C{lin6 ma register} and C{lin6 ma query} talk to the daemon.
        """
        from lin6twisted.cli import main

        sub = self.subs[MN]
        ma = f"[::1]:{self.port}"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = main(
                ["ma", "register", "--ma", ma, "--node", str(MN), "--key", sub.key.hex(),
                 "--key-id", str(sub.keyID), "--locator", LOC_B]
            )  # fmt: skip
            self.assertEqual(status, 0, out.getvalue())
            self.assertEqual(main(["ma", "query", "--ma", ma, str(MN)]), 0)
            self.assertEqual(main(["ma", "query", "--ma", ma, str(PREMIUM)]), 1)
        lines = out.getvalue().splitlines()
        self.assertIn("OK", lines[0])
        self.assertEqual(lines[1], f"{MN}: {LOC_B} (ttl 60s)")
        self.assertEqual(lines[2], f"{PREMIUM}: not found (ttl 5s)")

    def test_status(self) -> None:
        """
        C{/status} lists bindings and counts; C{/metrics} is Prometheus text.
        """
        self.client.register(self.subs[PREMIUM], 1, "2001:db8:a:1:201:4a00:0:3")
        base = f"http://[::1]:{self.statusPort}"
        with urllib.request.urlopen(base + "/status", timeout=5) as r:  # noqa: S310
            doc = json.load(r)
        self.assertEqual(doc["counts"], {"normal": 0, "premium": 1})
        self.assertEqual(doc["bindings"][0]["node"], "201:4a00:0:3")
        self.assertEqual(doc["ls"]["connected"], False)
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:  # noqa: S310
            text = r.read().decode()
        self.assertIn('lin6_ma_bindings{level="premium"} 1', text)
        self.assertIn('lin6_ma_events_total{kind="registrations"} 1', text)


class SlapdDirectoryTests(SynchronousTestCase):
    """
    The MA daemon with a real OpenLDAP slapd as its directory.
    """

    def setUp(self) -> None:
        from lin6twisted.directory.testing import (
            SAMPLE_BASE_DN,
            SAMPLE_READER_DN,
            SAMPLE_READER_PASSWORD,
            Slapd,
        )

        self.dir = Path(self.mktemp()).absolute()
        self.dir.mkdir(parents=True)
        self.slapd = Slapd(self.dir / "slapd")
        self.addCleanup(self.slapd.stop)
        self.slapd.start()
        (self.dir / "reader.password").write_bytes(SAMPLE_READER_PASSWORD + b"\n")
        table = (
            f'kind = "ldap"\nurl = "{self.slapd.url}"\nbase_dn = "{SAMPLE_BASE_DN}"\n'
            f'bind_dn = "{SAMPLE_READER_DN}"\npassword_file = "{self.dir}/reader.password"\n'
            'timeout = "1s"\nretry_max = "500ms"\n'
        )
        self.port = freePort(kind=socket.SOCK_DGRAM)
        config = writeConfig(self.dir / "ma", self.port, freePort(), directoryTable=table)
        self.daemon = startMA(self.dir / "ma", config, self.port)
        self.addCleanup(self.daemon.stop)
        self.client = MappingClient(self.port)
        self.addCleanup(self.client.close)
        self.subs = sampleSubscribers()

    def test_registerAndQuery(self) -> None:
        """
        Registrations are checked against slapd (keys, enabled flag); when
        slapd goes down, bindings keep answering and new registrations get
        DIRECTORY_UNAVAILABLE.
        """
        ack = self.client.register(self.subs[MN], 1, LOC_A)
        self.assertEqual(ack.status, RegisterStatus.OK)
        self.assertEqual(self.client.query(MN).status, MapStatus.FOUND)
        self.assertEqual(
            self.client.register(self.subs[MN], 2, LOC_B, key=b"y" * 32).status,
            RegisterStatus.BAD_AUTH,
        )
        self.assertEqual(
            self.client.register(self.subs[DISABLED], 1, "2001:db8::201:4a00:0:4").status,
            RegisterStatus.DISABLED,
        )
        self.slapd.stop()
        self.assertEqual(self.client.query(MN).status, MapStatus.FOUND)
        ack = self.client.register(self.subs[PREMIUM], 1, "2001:db8:a:1:201:4a00:0:3")
        self.assertEqual(ack.status, RegisterStatus.DIRECTORY_UNAVAILABLE)
        self.assertIn("directory unavailable", self.daemon.log())
