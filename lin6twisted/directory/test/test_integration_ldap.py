"""
Integration tests over loopback TCP: the LDAP directory against ldaptor's
in-memory server (in this process, and as C{lin6 directory serve} in
another).
"""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase

from lin6twisted.address import NodeID
from lin6twisted.directory import DirectoryUnavailable
from lin6twisted.directory.embedded import DirectoryServerFactory
from lin6twisted.directory.ldap import LDAPDirectory
from lin6twisted.directory.testing import (
    SAMPLE_BASE_DN,
    SAMPLE_COUNT,
    SAMPLE_LDIF,
    SAMPLE_NORMAL,
    SAMPLE_PREMIUM,
    SAMPLE_READER_DN,
    SAMPLE_READER_PASSWORD,
    sampleDirectory,
)
from lin6twisted.testing.processes import Daemon, freePort


class _TrackingFactory(DirectoryServerFactory):
    """
    Remembers its connections so the test can cut them (an outage).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: list[Any] = []

    def buildProtocol(self, addr: IAddress | None) -> Any:
        p = super().buildProtocol(addr)
        self.connections.append(p)
        return p


class LoopbackTests(TestCase):
    """
    L{LDAPDirectory} talks to ldaptor's server on a real socket.
    """

    timeout = 30

    def client(self, port: int, **kwargs: Any) -> LDAPDirectory:
        kwargs.setdefault("timeout", 3)
        directory = LDAPDirectory(
            TCP4ClientEndpoint(reactor, "127.0.0.1", port),
            SAMPLE_BASE_DN,
            reactor,
            retryMaxDelay=0.5,
            **kwargs,
        )
        directory.startService()
        self.addCleanup(directory.stopService)
        return directory

    @inlineCallbacks
    def test_lookupsOutageRecovery(self) -> Any:
        """
        Lookups over TCP with a bind give the embedded directory's answers;
        with the server gone they fail with L{DirectoryUnavailable} at once;
        when it listens again the client reconnects by itself.
        """
        factory = _TrackingFactory(sampleDirectory().root, requireBind=True)
        endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        listening = yield endpoint.listen(factory)
        port = listening.getHost().port
        directory = self.client(port, bindDN=SAMPLE_READER_DN, password=SAMPLE_READER_PASSWORD)
        for nodeID, expected in sampleDirectory().entries().items():
            got = yield directory.lookup(nodeID)
            self.assertEqual(got, expected)

        yield listening.stopListening()
        for connection in factory.connections:
            assert connection.transport is not None
            connection.transport.loseConnection()
        started = time.monotonic()
        with self.assertRaises(DirectoryUnavailable):
            yield directory.lookup(SAMPLE_NORMAL)
        with self.assertRaises(DirectoryUnavailable):
            yield directory.lookup(SAMPLE_NORMAL)
        self.assertLess(time.monotonic() - started, 3.5)

        listening = yield TCP4ServerEndpoint(reactor, port, interface="127.0.0.1").listen(factory)
        self.addCleanup(listening.stopListening)
        deadline = time.monotonic() + 10
        while True:
            try:
                found = yield directory.lookup(SAMPLE_PREMIUM)
                break
            except DirectoryUnavailable:
                if time.monotonic() > deadline:
                    raise
                yield _sleep(0.1)
        self.assertEqual(found.nodeID, SAMPLE_PREMIUM)

    @inlineCallbacks
    def test_garbageServer(self) -> Any:
        """
        Servers answering garbage (unknown tags, truncated or malformed BER,
        a non-response) make lookups fail with L{DirectoryUnavailable}
        within the timeout, never hang or crash the client.
        """
        payloads = [
            b"0\x03\x02\x01\x05",
            b"0\x05\x02\x01\x01\x04\x00",
            b"\x05\x00" * 4,
            b"0\x84\x7f\xff\xff\xff",
            bytes(range(256)),
        ]
        for payload in payloads:

            class Garbage(Protocol):
                def dataReceived(self, data: bytes, payload: bytes = payload) -> None:
                    assert self.transport is not None
                    self.transport.write(payload)

            listening = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
                Factory.forProtocol(Garbage)
            )
            self.addCleanup(listening.stopListening)
            directory = self.client(listening.getHost().port, timeout=1)
            started = time.monotonic()
            with self.assertRaises(DirectoryUnavailable):
                yield directory.lookup(SAMPLE_NORMAL)
            self.assertLess(time.monotonic() - started, 2.5)
            yield directory.stopService()
        self.flushLoggedErrors()

    @inlineCallbacks
    def test_refused(self) -> Any:
        """
        Nothing listening: L{DirectoryUnavailable}, not a hang.
        """
        directory = self.client(freePort(socket.AF_INET))
        with self.assertRaises(DirectoryUnavailable) as raised:
            yield directory.lookup(SAMPLE_NORMAL)
        self.assertIn("127.0.0.1", str(raised.exception))


class ServeCommandTests(TestCase):
    """
    C{lin6 directory serve} shares one embedded directory with several
    clients over LDAP.
    """

    timeout = 30

    @inlineCallbacks
    def test_serve(self) -> Any:
        """
        Two clients (two daemons) read the same subscribers from one
        C{lin6 directory serve} process, which refuses unbound searches and
        exits cleanly on SIGTERM.
        """
        port = freePort(socket.AF_INET)
        ldif = Path(self.mktemp()).absolute()
        ldif.write_bytes(SAMPLE_LDIF.read_bytes())
        daemon = Daemon(
            [
                sys.executable, "-m", "lin6twisted.cli", "directory", "serve",
                "--ldif", str(ldif), "--port", f"tcp:{port}:interface=127.0.0.1",
                "--require-bind",
            ],
            ldif.parent / "serve.log",
        ).start()  # fmt: skip
        self.addCleanup(daemon.stop)
        daemon.waitForPort("127.0.0.1", port)
        clients = [
            LDAPDirectory(
                TCP4ClientEndpoint(reactor, "127.0.0.1", port),
                SAMPLE_BASE_DN,
                reactor,
                bindDN=SAMPLE_READER_DN,
                password=SAMPLE_READER_PASSWORD,
                timeout=3,
            )
            for _ in range(2)
        ]
        for c in clients:
            c.startService()
            self.addCleanup(c.stopService)
        for c in clients:
            s = yield c.lookup(SAMPLE_PREMIUM)
            self.assertEqual(s, (yield sampleDirectory().lookup(SAMPLE_PREMIUM)))
            self.assertIsNone((yield c.lookup(NodeID.fromString("201:4a00:0:55"))))
        # Garbage from a client is dropped; the server keeps serving.
        for junk in (bytes(range(256)), b"0\x84\x7f\xff\xff\xff", b"0\x03\x02\x01\x05" * 3):
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
                raw.sendall(junk)
        again = yield clients[1].lookup(SAMPLE_NORMAL)
        self.assertEqual(again.nodeID, SAMPLE_NORMAL)
        anonymous = LDAPDirectory(
            TCP4ClientEndpoint(reactor, "127.0.0.1", port), SAMPLE_BASE_DN, reactor, timeout=3
        )
        anonymous.startService()
        self.addCleanup(anonymous.stopService)
        with self.assertRaises(DirectoryUnavailable) as raised:
            yield anonymous.lookup(SAMPLE_NORMAL)
        self.assertIn("insufficientAccessRights".lower(), str(raised.exception).lower())

        # SIGHUP reloads the file: a new subscriber appears.
        ldif.write_text(
            SAMPLE_LDIF.read_text()
            + "\ndn: lin6NodeID=201:4a00:0:66,ou=subscribers,dc=lin6,dc=example\n"
            "objectClass: lin6Subscriber\nlin6NodeID: 201:4a00:0:66\n"
            "lin6ServiceLevel: premium\nlin6KeyID: 3\nlin6Enabled: TRUE\n"
            f"lin6Key: {'ee' * 32}\n"
        )
        daemon.signal(signal.SIGHUP)
        daemon.waitForLog(f"reloaded from .*: {SAMPLE_COUNT + 1} subscribers")
        added = yield clients[0].lookup(NodeID.fromString("201:4a00:0:66"))
        self.assertEqual((added.keyID, added.key), (3, b"\xee" * 32))
        self.assertEqual(daemon.stop(), 0, daemon.tail())
        self.assertIn(f"{SAMPLE_COUNT} subscribers", daemon.log())


def _sleep(seconds: float) -> Any:
    from twisted.internet.task import deferLater

    return deferLater(reactor, seconds, lambda: None)
