"""
Integration tests of C{twistd lin6-ls} over loopback with real sockets:
three LS replicas as separate processes, five MAs speaking the real
protocol over mutual TLS (L{FakeMA}, answering RTT requests with fake
RTTs), MN queries over UDP and TCP, rogue peers, and garbage on every port.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import tempfile
import time
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import TCP6ClientEndpoint, connectProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from lin6twisted.address import NodeID
from lin6twisted.ls.channel import IChannelController, LSChannel
from lin6twisted.ls.testclients import FakeMA, MNQuery
from lin6twisted.pki import Role, makeTestPKI, tlsClientEndpoint
from lin6twisted.testing.processes import Daemon, freePort, twistdArgv, waitForPort
from lin6twisted.wire import (
    LSError,
    LSErrorCode,
    MAReply,
    MARequest,
    SyncRequest,
    decodeLSMessage,
)

reactor: Any = _reactor

ETC = Path(__file__).resolve().parents[3] / "etc"
MOBILE_NORMAL = NodeID.fromString("201:4a00:0:2")
MOBILE_OTHER = NodeID.fromString("201:4a00:0:3")
DISABLED = NodeID.fromString("201:4a00:0:4")
UNKNOWN = NodeID.fromString("201:4a00:0:99")
MA_RTTS = {1: 50.0, 2: 10.0, 3: 30.0, 4: 40.0, 5: 20.0}
MA_TIMEOUT = 1.5


def maAddress(n: int) -> IPv6Address:
    return IPv6Address(f"2001:db8:ffff::{n}")


def sleep(seconds: float) -> Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)


class Replica:
    """
    One C{twistd -n lin6-ls} subprocess and its ports.
    """

    def __init__(self, base: Path, name: str) -> None:
        self.base = base
        self.name = name
        self.query = freePort(socket.AF_INET6, socket.SOCK_DGRAM)
        self.ma = freePort()
        self.peer = freePort()
        self.status = freePort(socket.AF_INET)
        self.daemon: Daemon | None = None
        self.config = base / f"{name}.conf"

    def write(self, peers: list[Replica], pki: Path, secret: str) -> None:
        peerTables = "".join(
            f'[[ls.peer]]\nname = "{p.name}"\nendpoint = "tcp:host=\\\\:\\\\:1:port={p.peer}"\n\n'
            for p in peers
            if p is not self
        )
        self.config.write_text(
            f"""
[ls]
name = "{self.name}"
ma_listen = "tcp6:port={self.ma}:interface=\\\\:\\\\:1"
peer_listen = "tcp6:port={self.peer}:interface=\\\\:\\\\:1"
query_port = {self.query}
query_interface = "::1"
query_tcp = "tcp6:port={self.query}:interface=\\\\:\\\\:1"
status_listen = "tcp:port={self.status}:interface=127.0.0.1"
ma_timeout = {MA_TIMEOUT}
history_lifetime = "60s"
rtt_timeout = "0.6s"
peer_retry = "0.2s"
peer_max_tries = 50
cookie_secret = "{secret}"
source_rate = 1000.0
source_burst = 1000
node_rate = 1000.0
node_burst = 1000
prefix_rate = 1000.0
prefix_burst = 1000

{peerTables}
[tls]
ca = "{pki / "ca.pem"}"
cert = "{pki / (self.name + ".pem")}"
key = "{pki / (self.name + ".key")}"

[directory]
kind = "embedded"
ldif = "{ETC / "subscribers.ldif"}"
"""
        )

    def start(self) -> None:
        self.daemon = Daemon(
            twistdArgv("lin6-ls", "--config", str(self.config)),
            self.base / f"{self.name}.log",
        ).start()
        self.daemon.waitForPort("::1", self.ma, timeout=20)
        waitForPort("127.0.0.1", self.status, timeout=10)

    async def startAsync(self) -> None:
        """
        Start without blocking the reactor (the test's MAs keep heartbeating).
        """
        self.daemon = Daemon(
            twistdArgv("lin6-ls", "--config", str(self.config)),
            self.base / f"{self.name}.log",
        ).start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.status), timeout=0.2).close()
                return
            except OSError:
                await sleep(0.05)
        raise AssertionError(f"{self.name} did not start:\n{self.daemon.tail()}")

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()

    def statusNow(self) -> dict[str, Any]:
        # A blocking GET on loopback to a live process: a few milliseconds.
        with socket.create_connection(("127.0.0.1", self.status), timeout=2) as s:
            s.sendall(b"GET /status.json HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return json.loads(data.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]

    def log(self) -> str:
        return self.daemon.log() if self.daemon is not None else ""


def tables(status: dict[str, Any]) -> tuple[object, ...]:
    """
    The replicated content of a status: MA rows by boot id and activity,
    history rows by prefix, MA and creation time.
    """
    return (
        sorted((m["address"], m["boot_id"], m["active"]) for m in status["mas"]),
        sorted((h["prefix"], h["ma"], h["created_ms"]) for h in status["history"]),
    )


class MeshTests(TestCase):
    """
    Three replicas, five MAs, MN queries.
    """

    timeout = 120

    def setUp(self) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="l6ls-"))
        self.base = tmp
        roles = {f"ls{i}": Role.LS for i in (1, 2, 3)} | {f"ma{i}": Role.MA for i in range(1, 6)}
        self.pki = makeTestPKI(tmp / "pki", roles)
        self.rogue = makeTestPKI(tmp / "rogue", {"ls2": Role.LS, "ma1": Role.MA})
        self.replicas = [Replica(tmp, f"ls{i}") for i in (1, 2, 3)]
        secret = os.urandom(16).hex()
        for r in self.replicas:
            r.write(self.replicas, tmp / "pki", secret)
            self.addCleanup(r.stop)
        for r in self.replicas:
            r.start()
        self.mas: dict[int, FakeMA] = {}
        self.mn = MNQuery(reactor)
        port = reactor.listenUDP(0, self.mn, interface="::1")
        self.addCleanup(port.stopListening)

    async def connectMA(
        self, n: int, replica: Replica, pki: Any = None, bootID: int = 1
    ) -> FakeMA:
        """
        Connect a fake MA; a new connection after a drop is a new boot of
        the MA (its sequence starts again), so it needs a greater boot id.
        """
        ma = FakeMA(
            reactor, maAddress(n), MA_RTTS.get(n, 5.0), interval=0.3, port=7000 + n, bootID=bootID
        )
        endpoint = tlsClientEndpoint(
            TCP6ClientEndpoint(reactor, "::1", replica.ma),
            (pki or self.pki).settings(f"ma{n}" if pki is None else "ma1"),
            Role.LS,
        )
        channel = await connectProtocol(endpoint, ma.protocol())
        self.addCleanup(channel.transport.loseConnection)
        self.addCleanup(ma.silence)
        return ma

    async def waitFor(self, check: Any, timeout: float, what: str) -> float:
        start = time.monotonic()
        while True:
            if check():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                self.fail(f"{what} not reached after {timeout} s")
            await sleep(0.05)

    async def ask(self, replica: Replica, node: NodeID) -> Any:
        return await self.mn.ask(node, "::1", replica.query)

    def test_mesh(self) -> Deferred[None]:
        return ensureDeferred(self._mesh())

    async def _mesh(self) -> None:
        r1, r2, r3 = self.replicas
        await self.waitFor(
            lambda: all(all(p["up"] for p in r.statusNow()["peers"]) for r in self.replicas),
            15,
            "full mesh",
        )
        for n in range(1, 6):
            self.mas[n] = await self.connectMA(n, self.replicas[(n - 1) % 3])

        def allActive(count: int) -> bool:
            return all(
                sum(1 for m in r.statusNow()["mas"] if m["active"]) == count for r in self.replicas
            )

        await self.waitFor(lambda: allActive(5), 10, "5 active MAs on every replica")

        # An MN query answered by any replica: the lowest RTT (MA 2) wins.
        reply = await self.ask(r3, MOBILE_NORMAL)
        self.assertIsInstance(reply, MAReply, repr(reply))
        self.assertEqual((reply.maAddress, reply.maPort), (maAddress(2), 7002))
        self.assertEqual(reply.rttUs, 10_000)
        # MA 2 heartbeats to replica 2: the RTT request went through the relay,
        # and so does the assignment notice.
        await self.waitFor(lambda: len(self.mas[2].assignments) == 1, 5, "assignment notice")
        self.assertEqual(self.mas[2].assignments[0].nodeID, MOBILE_NORMAL)
        for r in (r1, r2):
            cached = await self.ask(r, MOBILE_OTHER)
            self.assertIsInstance(cached, MAReply, repr(cached))
            self.assertEqual(cached.maAddress, maAddress(2))

        # Over TCP too, with the same cookie logic.
        tcpReply = await self.tcpAsk(r1, MOBILE_NORMAL)
        self.assertIsInstance(tcpReply, MAReply)

        # Refusals with reason codes.
        unknown = await self.ask(r1, UNKNOWN)
        self.assertIsInstance(unknown, LSError)
        self.assertEqual(unknown.code, LSErrorCode.UNKNOWN_NODE)
        disabled = await self.ask(r1, DISABLED)
        self.assertEqual(disabled.code, LSErrorCode.DISABLED_NODE)

        # An MA that stops heartbeating is never assigned after its timer.
        self.mas[2].silence()
        probed = len(self.mas[2].rttRequests)
        await sleep(MA_TIMEOUT + 0.3)
        for r in self.replicas:
            [row] = [m for m in r.statusNow()["mas"] if m["address"] == str(maAddress(2))]
            self.assertFalse(row["active"], r.name)
        for r in self.replicas:
            again = await self.ask(r, MOBILE_NORMAL)
            self.assertIsInstance(again, MAReply, repr(again))
            self.assertNotEqual(again.maAddress, maAddress(2))
            self.assertEqual(again.maAddress, maAddress(5))
        self.assertEqual(len(self.mas[2].rttRequests), probed)

        # Kill replica 3 and restart it: it resyncs from its peers within 2 s.
        r3.daemon.kill()  # type: ignore[union-attr]
        self.mas[3].silence()
        self.mas[3] = await self.waitReconnect(3, r1)
        await sleep(0.5)
        await r3.startAsync()
        started = time.monotonic()
        synced = await self.waitFor(
            lambda: tables(r3.statusNow()) == tables(r1.statusNow()) == tables(r2.statusNow()),
            5,
            "equal tables after restart",
        )
        self.assertLess(synced, 2.0)
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertIn("Sync from", r3.log())
        answer = await self.ask(r3, MOBILE_OTHER)
        self.assertIsInstance(answer, MAReply)
        self.assertEqual(answer.maAddress, maAddress(5))

    async def waitReconnect(self, n: int, replica: Replica) -> FakeMA:
        return await self.connectMA(n, replica, bootID=2)

    async def tcpAsk(self, replica: Replica, node: NodeID) -> Any:
        def exchange() -> Any:
            with socket.create_connection(("::1", replica.query), timeout=2) as s:
                s.sendall(MARequest(1, node).encode())
                challenge = decodeLSMessage(readFrame(s))
                s.sendall(MARequest(2, node, challenge.cookie).encode())  # type: ignore[union-attr]
                return decodeLSMessage(readFrame(s))

        from twisted.internet.threads import deferToThread

        return await deferToThread(exchange)

    def test_roguesAndGarbage(self) -> Deferred[None]:
        return ensureDeferred(self._roguesAndGarbage())

    async def _roguesAndGarbage(self) -> None:
        r1 = self.replicas[0]
        self.rejected: list[Exception] = []
        await self.waitFor(lambda: all(p["up"] for p in r1.statusNow()["peers"]), 15, "peers up")
        await sleep(0.3)
        served = r1.statusNow()["counters"]["syncs_served"]
        self.mas[1] = await self.connectMA(1, r1)
        await self.waitFor(lambda: len(r1.statusNow()["mas"]) == 1, 5, "MA 1 known")

        # A rogue MA (certificate from another CA) never gets in.
        rogue = FakeMA(reactor, maAddress(66), 1.0)
        try:
            channel = await connectProtocol(
                tlsClientEndpoint(
                    TCP6ClientEndpoint(reactor, "::1", r1.ma), self.rogue.settings("ma1"), Role.LS
                ),
                rogue.protocol(),
            )
            self.addCleanup(channel.transport.loseConnection)
        except Exception as e:
            self.rejected.append(e)
        await sleep(0.5)
        self.assertNotIn(str(maAddress(66)), [m["address"] for m in r1.statusNow()["mas"]])
        self.assertIsNone(rogue.channel)

        # A rogue LS (another CA) cannot sync; an MA certificate on the peer
        # port is refused by role.
        for settings in (self.rogue.settings("ls2"), self.pki.settings("ma2")):
            got: list[bytes] = []
            proto = LSChannel(_Recorder(got), "LS")
            try:
                ch = await connectProtocol(
                    tlsClientEndpoint(
                        TCP6ClientEndpoint(reactor, "::1", r1.peer), settings, Role.LS
                    ),
                    proto,
                )
                self.addCleanup(ch.transport.loseConnection)
                ch.send(SyncRequest(1, b"\0" * 16, 1))
            except Exception as e:
                self.rejected.append(e)
            await sleep(0.5)
            self.assertEqual(got, [])
        self.assertEqual(r1.statusNow()["counters"]["syncs_served"], served)

        # Garbage on every port.
        rnd = os.urandom(300)
        truncated = MARequest(5, MOBILE_NORMAL).encode()[:11]
        oversized = struct.pack("!BBHI", 1, 4, 65535, 7) + b"\0" * 20
        badVersion = b"\x09" + MARequest(5, MOBILE_NORMAL).encode()[1:]
        for blob in (rnd, truncated, oversized, badVersion, b""):
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                s.sendto(blob, ("::1", r1.query))
            for port in (r1.query, r1.ma, r1.peer):
                with socket.create_connection(("::1", port), timeout=2) as s:
                    s.sendall(blob)
            with socket.create_connection(("127.0.0.1", r1.status), timeout=2) as s:
                s.sendall(blob + b"\r\n\r\n")
        # Garbage inside an authenticated MA channel: a bad frame is answered
        # with MALFORMED and the channel lives; broken framing drops it.
        assert self.mas[1].channel is not None
        self.mas[1].channel.sendRaw(struct.pack("!BBHI", 1, 0x7F, 8, 42))
        await self.waitFor(lambda: bool(self.mas[1].errors), 5, "MALFORMED error")
        self.assertEqual(self.mas[1].errors[0].code, LSErrorCode.MALFORMED)
        self.assertEqual(self.mas[1].errors[0].requestId, 42)
        self.assertIsNotNone(self.mas[1].channel)
        self.mas[1].channel.sendRaw(oversized)
        await self.waitFor(lambda: self.mas[1].channel is None, 5, "drop on broken framing")
        await sleep(0.3)

        self.assertTrue(r1.daemon.running())  # type: ignore[union-attr]
        self.assertGreater(r1.statusNow()["counters"]["query_bad"], 0)
        log = r1.log()
        self.assertIn("Dropped bad query", log)
        self.assertIn("broken framing", log)
        self.assertIn("Bad frame on MA connection", log)

        # The same LS then answers a valid request correctly.
        self.mas[1] = await self.connectMA(1, r1, bootID=2)
        await self.waitFor(
            lambda: any(m["boot_id"] == f"{2:016x}" for m in r1.statusNow()["mas"]), 5, "MA 1 back"
        )
        reply = await self.ask(r1, MOBILE_NORMAL)
        self.assertIsInstance(reply, MAReply, repr(reply))
        self.assertEqual(reply.maAddress, maAddress(1))


@implementer(IChannelController)
class _Recorder:
    def __init__(self, got: list[bytes]) -> None:
        self.got = got

    def channelOpen(self, channel: LSChannel) -> None:
        pass

    def messageReceived(self, channel: LSChannel, message: object) -> None:
        self.got.append(repr(message).encode())

    def channelClosed(self, channel: LSChannel, reason: object) -> None:
        pass


def readFrame(s: socket.socket) -> bytes:
    head = b""
    while len(head) < 8:
        head += s.recv(8 - len(head))
    (length,) = struct.unpack("!H", head[2:4])
    body = b""
    while len(body) < length - 8:
        body += s.recv(length - 8 - len(body))
    return head + body
