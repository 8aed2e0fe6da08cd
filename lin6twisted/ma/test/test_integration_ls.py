"""
Integration test: C{twistd lin6-ma} heartbeats reach a real C{twistd lin6-ls}
over mutual TLS on loopback, failing over past a dead replica.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.ma.test.mastub import (
    SAMPLE_LDIF,
    MappingClient,
    freePort,
    sampleSubscribers,
    startMA,
    writeConfig,
)
from lin6twisted.pki import Role, makeTestPKI
from lin6twisted.testing.processes import Daemon, twistdArgv
from lin6twisted.wire.mapping import RegisterStatus

MN = NodeID.fromString("201:4a00:0:3")


def startLS(
    directory: Path, pki: Any, host: str = "::1", maPort: int = 0, name: str = "ls1"
) -> tuple[Daemon, int, int]:
    """
    Start a lin6-ls on C{host}; return it, its MA channel port and status
    port.
    """
    maPort, statusPort = maPort or freePort(), freePort()
    directory.mkdir(parents=True, exist_ok=True)
    peerPort = freePort()
    queryPort = freePort(kind=socket.SOCK_DGRAM)
    escaped = host.replace(":", "\\\\:")  # TOML text for an endpoint's "\:"
    conf = directory / "ls.conf"
    conf.write_text(
        f"""
[ls]
name = "{name}"
ma_listen = "tcp6:port={maPort}:interface={escaped}"
peer_listen = "tcp6:port={peerPort}:interface=\\\\:\\\\:1"
query_port = {queryPort}
query_interface = "::1"
query_tcp = "tcp6:port={queryPort}:interface=\\\\:\\\\:1"
status_listen = "tcp6:port={statusPort}:interface=\\\\:\\\\:1"
[tls]
ca = "{pki.caFile}"
cert = "{pki.certFile("ls1")}"
key = "{pki.keyFile("ls1")}"
[directory]
kind = "embedded"
ldif = "{SAMPLE_LDIF}"
"""
    )
    daemon = Daemon(twistdArgv("lin6-ls", "--config", str(conf)), directory / "ls.log")
    daemon.cwd = str(directory)
    daemon.start()
    daemon.waitForPort(host, maPort, timeout=20)
    return daemon, maPort, statusPort


def lsStatus(statusPort: int) -> dict[str, Any]:
    url = f"http://[::1]:{statusPort}/status.json"
    with urllib.request.urlopen(url, timeout=5) as r:
        doc: dict[str, Any] = json.load(r)
    return doc


class HeartbeatTests(SynchronousTestCase):
    """
    The MA's LS client against a real LS.
    """

    def test_heartbeatsReachLS(self) -> None:
        """
        The MA connects (after a dead replica), the LS lists it with its
        counts, and the counts follow registrations.
        """
        base = Path(self.mktemp()).absolute()
        base.mkdir(parents=True)
        pki = makeTestPKI(base / "pki", {"ls1": Role.LS, "ma1": Role.MA})
        ls, maPort, lsStatusPort = startLS(base, pki)
        self.addCleanup(ls.stop)
        port = freePort(kind=socket.SOCK_DGRAM)
        extra = f"""advertise = "::1"
capacity = 42
[ma.ls]
servers = ["::ffff:127.0.0.1", "::1"]
ls_port = {maPort}
heartbeat_interval = "200ms"
retry_max = "1s"
[tls]
ca = "{pki.caFile}"
cert = "{pki.certFile("ma1")}"
key = "{pki.keyFile("ma1")}"
"""
        config = writeConfig(base / "ma", port, freePort(), extra=extra)
        ma = startMA(base / "ma", config, port)
        self.addCleanup(ma.stop)

        def waitFor(check: Any, timeout: float = 15.0) -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                doc = lsStatus(lsStatusPort)
                mas = [m for m in doc["mas"] if m["port"] == port]
                if mas and check(mas[0]):
                    found: dict[str, Any] = mas[0]
                    return found
                time.sleep(0.1)
            self.fail(f"LS never saw {check}: {lsStatus(lsStatusPort)}\n{ma.tail()}")

        entry = waitFor(lambda m: m["active"])
        self.assertEqual(entry["address"], "::1")
        self.assertEqual(entry["capacity"], 42)
        self.assertEqual((entry["normal"], entry["premium"]), (0, 0))
        first = entry["sequence"]
        client = MappingClient(port)
        self.addCleanup(client.close)
        ack = client.register(sampleSubscribers()[MN], 1, "2001:db8:a:1:201:4a00:0:3")
        self.assertEqual(ack.status, RegisterStatus.OK)
        entry = waitFor(lambda m: m["premium"] == 1)
        self.assertGreater(entry["sequence"], first)
        self.assertIn("LS link up to", ma.log())
        self.assertIn("LS [::ffff:7f00:1]", ma.log())  # the dead replica, tried first

    def test_failover(self) -> None:
        """
        When the LS the MA heartbeats to dies, the MA reconnects to the next
        replica on its list and heartbeats there.
        """
        base = Path(self.mktemp()).absolute()
        base.mkdir(parents=True)
        pki = makeTestPKI(base / "pki", {"ls1": Role.LS, "ma1": Role.MA})
        first, maPort, firstStatus = startLS(base / "lsa", pki, host="::ffff:127.0.0.2")
        self.addCleanup(first.stop)
        second, _, secondStatus = startLS(base / "lsb", pki, maPort=maPort, name="ls2")
        self.addCleanup(second.stop)
        port = freePort(kind=socket.SOCK_DGRAM)
        extra = f"""advertise = "::1"
[ma.ls]
servers = ["::ffff:127.0.0.2", "::1"]
ls_port = {maPort}
heartbeat_interval = "200ms"
retry_max = "500ms"
[tls]
ca = "{pki.caFile}"
cert = "{pki.certFile("ma1")}"
key = "{pki.keyFile("ma1")}"
"""
        config = writeConfig(base / "ma", port, freePort(), extra=extra)
        ma = startMA(base / "ma", config, port)
        self.addCleanup(ma.stop)

        def activeAt(statusPort: int, timeout: float = 15.0) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                mas = [m for m in lsStatus(statusPort)["mas"] if m["port"] == port]
                if mas and mas[0]["connected"]:
                    return
                time.sleep(0.1)
            self.fail(f"the MA never connected to the LS on {statusPort}:\n{ma.tail()}")

        activeAt(firstStatus)
        first.stop()
        activeAt(secondStatus)
        self.assertIn("LS link up to [::1]", ma.log())
