"""
Tests for L{lin6twisted.pki._tls}: real TLS (pyOpenSSL memory BIOs) between
two in-memory transports connected by L{twisted.test.iosim}.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto
from twisted.internet.address import IPv6Address
from twisted.internet.interfaces import (
    IHandshakeListener,
    IOpenSSLClientConnectionCreator,
    IOpenSSLServerConnectionCreator,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, MemoryReactor, StringTransport
from twisted.logger import globalLogPublisher
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from lin6twisted.pki import (
    PeerRoleError,
    Role,
    TLSError,
    TLSSettings,
    clientContextFactory,
    initCA,
    issueCertificate,
    loadCA,
    makeTestPKI,
    peerRole,
    serverContextFactory,
)
from lin6twisted.pki._tls import TLSServerEndpoint
from lin6twisted.pki.testing import connectTLS


@implementer(IHandshakeListener)
class Recorder(Protocol):
    """
    Records handshake, data, peer role and how the connection ended; the
    client side sends C{b"ping"} at once, the server side echoes.
    """

    def __init__(self, client: bool) -> None:
        self.client = client
        self.received = b""
        self.handshakeDone = False
        self.role: Role | None = None
        self.lostReason: Failure | None = None

    def connectionMade(self) -> None:
        if self.client:
            self.transport.write(b"ping")  # type: ignore[union-attr]

    def handshakeCompleted(self) -> None:
        self.handshakeDone = True
        self.role = peerRole(self.transport)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if not self.client:
            self.transport.write(data)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lostReason = reason


@implementer(IOpenSSLClientConnectionCreator)
class NoCertificateClient:
    """
    A client that trusts the deployment CA but presents no certificate.
    """

    def __init__(self, caFile: Path) -> None:
        self.context = SSL.Context(SSL.TLS_METHOD)
        self.context.load_verify_locations(str(caFile))
        self.context.set_verify(SSL.VERIFY_PEER, lambda *args: bool(args[-1]))

    def clientConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        connection = SSL.Connection(self.context, None)
        connection.set_connect_state()
        return connection


class TLSTestsMixin(SynchronousTestCase):
    def setUp(self) -> None:
        base = Path(self.mktemp())
        self.pki = makeTestPKI(
            base / "good", {"ls1": Role.LS, "ls2": Role.LS, "ma1": Role.MA, "ma2": Role.MA}
        )
        self.other = makeTestPKI(base / "other", {"ls1": Role.LS, "ma1": Role.MA})
        self.events = EventLoggingObserver()
        globalLogPublisher.addObserver(self.events)
        self.addCleanup(globalLogPublisher.removeObserver, self.events)

    def connect(
        self,
        serverCreator: IOpenSSLServerConnectionCreator,
        clientCreator: IOpenSSLClientConnectionCreator,
    ) -> tuple[Recorder, Recorder]:
        serverProtocol = Recorder(client=False)
        clientProtocol = Recorder(client=True)
        pump = connectTLS(serverCreator, serverProtocol, clientCreator, clientProtocol)
        pump.flush()
        return serverProtocol, clientProtocol

    def assertRefused(self, server: Recorder, client: Recorder) -> None:
        """
        No application data crossed and both ends lost the connection.
        """
        self.assertEqual(server.received, b"")
        self.assertEqual(client.received, b"")
        self.assertIsNotNone(client.lostReason)
        self.assertIsNotNone(server.lostReason)

    def refusals(self) -> list[str]:
        return [
            e["log_format"].format(**e)
            for e in self.events
            if "refused" in e.get("log_format", "")
        ]


class MutualTLSTests(TLSTestsMixin):
    """
    L{serverContextFactory} and L{clientContextFactory}.
    """

    def test_interfaces(self) -> None:
        """
        The creators provide Twisted's connection creator interfaces.
        """
        creator = serverContextFactory(self.pki.settings("ls1"), [Role.MA])
        verifyObject(IOpenSSLServerConnectionCreator, creator)
        verifyObject(IOpenSSLClientConnectionCreator, creator)

    def test_good(self) -> None:
        """
        An MA with a certificate from the deployment CA reaches an LS over
        TLS 1.3; each side sees the other's role.
        """
        server, client = self.connect(
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]),
            clientContextFactory(self.pki.settings("ma1"), Role.LS),
        )
        self.assertEqual(client.received, b"ping")
        self.assertEqual(server.received, b"ping")
        self.assertTrue(server.handshakeDone and client.handshakeDone)
        self.assertEqual(server.role, Role.MA)
        self.assertEqual(client.role, Role.LS)
        tls = client.transport
        assert isinstance(tls, TLSMemoryBIOProtocol)
        self.assertEqual(tls._tlsConnection.get_protocol_version_name(), "TLSv1.3")
        self.assertEqual(self.refusals(), [])

    def test_peerMesh(self) -> None:
        """
        LS peers accept each other when the LS role is accepted.
        """
        server, client = self.connect(
            serverContextFactory(self.pki.settings("ls1"), [Role.LS, Role.MA]),
            clientContextFactory(self.pki.settings("ls2"), Role.LS),
        )
        self.assertEqual(client.received, b"ping")
        self.assertEqual(server.role, Role.LS)

    def test_tls12(self) -> None:
        """
        A TLS 1.2-only client is still served (the floor is 1.2).
        """
        clientCreator = clientContextFactory(self.pki.settings("ma1"), Role.LS)
        clientCreator._context.set_max_proto_version(SSL.TLS1_2_VERSION)
        _server, client = self.connect(
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]), clientCreator
        )
        self.assertEqual(client.received, b"ping")
        tls = client.transport
        assert isinstance(tls, TLSMemoryBIOProtocol)
        self.assertEqual(tls._tlsConnection.get_protocol_version_name(), "TLSv1.2")

    def test_tls11Refused(self) -> None:
        """
        A client offering at most TLS 1.1 is refused.
        """
        clientCreator = clientContextFactory(self.pki.settings("ma1"), Role.LS)
        clientCreator._context.set_min_proto_version(SSL.TLS1_VERSION)
        clientCreator._context.set_max_proto_version(SSL.TLS1_1_VERSION)
        server, client = self.connect(
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]), clientCreator
        )
        self.assertRefused(server, client)
        self.assertFalse(server.handshakeDone)

    def test_serverRefusesOtherCA(self) -> None:
        """
        A client whose certificate comes from another CA is refused by the
        server, which logs why.
        """
        server, client = self.connect(
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]),
            clientContextFactory(self.otherSettingsTrustingGood("ma1"), Role.LS),
        )
        self.assertRefused(server, client)
        self.assertFalse(server.handshakeDone)
        [message] = self.refusals()
        self.assertIn("TLS server refused", message)
        self.assertIn("failed verification against the deployment CA", message)

    def otherSettingsTrustingGood(self, name: str) -> TLSSettings:
        """
        Settings with another CA's certificate for C{name} but trusting the
        good CA, so that only the server's check can refuse.
        """
        own = self.other.settings(name)
        good = self.pki.settings("ls1")
        return TLSSettings(
            good.caFile, own.certFile, own.keyFile, good.ca, own.certificate, own.key, own.role
        )

    def test_serverRefusesWrongRole(self) -> None:
        """
        An LS certificate cannot join as an MA: the server refuses it.
        """
        server, client = self.connect(
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]),
            clientContextFactory(self.pki.settings("ls2"), Role.LS),
        )
        self.assertRefused(server, client)
        self.assertFalse(server.handshakeDone)
        [message] = self.refusals()
        self.assertIn("its role is ls, expected ma", message)

    def test_serverRefusesWrongRoleTLS12(self) -> None:
        """
        With TLS 1.2 the refusal happens inside the handshake: the client
        never completes it.
        """
        clientCreator = clientContextFactory(self.pki.settings("ls2"), Role.LS)
        clientCreator._context.set_max_proto_version(SSL.TLS1_2_VERSION)
        server, client = self.connect(
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]), clientCreator
        )
        self.assertRefused(server, client)
        self.assertFalse(client.handshakeDone)
        self.assertFalse(server.handshakeDone)

    def test_serverRefusesNoCertificate(self) -> None:
        """
        A client without a certificate is refused.
        """
        server, client = self.connect(
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]),
            NoCertificateClient(self.pki.caFile),
        )
        self.assertRefused(server, client)
        self.assertFalse(server.handshakeDone)

    def test_serverRefusesExpired(self) -> None:
        """
        An expired client certificate is refused.
        """
        past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
        issueCertificate(
            loadCA(self.pki.directory), self.pki.directory, Role.MA, "old", days=1, now=past
        )
        expired = TLSSettings.load(
            self.pki.caFile, self.pki.certFile("old"), self.pki.keyFile("old")
        )
        server, client = self.connect(
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]),
            clientContextFactory(expired, Role.LS),
        )
        self.assertRefused(server, client)
        [message] = self.refusals()
        self.assertIn("certificate has expired", message)

    def test_clientRefusesOtherCA(self) -> None:
        """
        A server whose certificate comes from another CA is refused by the
        client.
        """
        server, client = self.connect(
            serverContextFactory(self.otherSettingsTrustingGood("ls1"), [Role.MA]),
            clientContextFactory(self.pki.settings("ma1"), Role.LS),
        )
        self.assertRefused(server, client)
        self.assertFalse(client.handshakeDone)
        [message] = self.refusals()
        self.assertIn("TLS client refused", message)

    def test_clientRefusesWrongRole(self) -> None:
        """
        An MA posing as an LS is refused by the client.
        """
        server, client = self.connect(
            serverContextFactory(self.pki.settings("ma2"), [Role.MA]),
            clientContextFactory(self.pki.settings("ma1"), Role.LS),
        )
        self.assertRefused(server, client)
        self.assertFalse(client.handshakeDone)
        [message] = self.refusals()
        self.assertIn("TLS client refused", message)
        self.assertIn("its role is ma, expected ls", message)

    def test_noRoles(self) -> None:
        """
        A creator must accept at least one role.
        """
        self.assertRaises(ValueError, serverContextFactory, self.pki.settings("ls1"), [])


class HandshakeDeadlineTests(TLSTestsMixin):
    """
    The daemons' TLS server side closes connections that do not finish the
    handshake in time, and leaves finished ones alone.
    """

    def test_silentClientClosed(self) -> None:
        """
        A client that connects and sends nothing is cut off after the
        handshake timeout, with a log line naming it.
        """
        clock = Clock()
        endpoint = TLSServerEndpoint(
            MemoryReactor(),  # type: ignore[arg-type]
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]),
            handshakeTimeout=10.0,
            clock=clock,
        )
        factory = endpoint.factory(Factory.forProtocol(lambda: Recorder(client=False)))
        protocol = factory.buildProtocol(IPv6Address("TCP", "::1", 4444))
        assert protocol is not None
        transport = StringTransport(peerAddress=IPv6Address("TCP", "2001:db8::9", 4444))
        protocol.makeConnection(transport)
        clock.advance(9.9)
        self.assertFalse(transport.disconnecting)
        clock.advance(0.2)
        self.assertTrue(transport.disconnecting)
        [event] = [e for e in self.events if "not finished" in e.get("log_format", "")]
        self.assertEqual(event["peer"], "[2001:db8::9]:4444")

    def test_finishedHandshakeKept(self) -> None:
        """
        A connection whose handshake finished stays open past the timeout.
        """
        clock = Clock()
        server, client = Recorder(client=False), Recorder(client=True)
        pump = connectTLS(
            serverContextFactory(self.pki.settings("ls1"), [Role.MA]),
            server,
            clientContextFactory(self.pki.settings("ma1"), Role.LS),
            client,
            clock=clock,
            handshakeTimeout=10.0,
        )
        pump.flush()
        self.assertTrue(server.handshakeDone)
        clock.advance(60)
        pump.flush()
        self.assertIsNone(server.lostReason)
        self.assertIsNone(client.lostReason)
        self.assertEqual(clock.getDelayedCalls(), [])


class PeerRoleTests(SynchronousTestCase):
    """
    L{peerRole} on transports without a verified certificate.
    """

    def test_notTLS(self) -> None:
        """
        A plain transport has no role.
        """
        self.assertRaises(PeerRoleError, peerRole, object())

    def test_noCertificate(self) -> None:
        """
        A TLS transport without a peer certificate has no role.
        """

        class Transport:
            def getPeerCertificate(self) -> None:
                return None

        self.assertRaises(PeerRoleError, peerRole, Transport())


class TLSSettingsTests(SynchronousTestCase):
    """
    L{TLSSettings.load} checks the three files.
    """

    def setUp(self) -> None:
        self.dir = Path(self.mktemp())
        self.pki = makeTestPKI(self.dir / "a")
        self.other = makeTestPKI(self.dir / "b")

    def assertTLSError(self, field: str, ca: Path, cert: Path, key: Path) -> TLSError:
        error: TLSError = self.assertRaises(TLSError, TLSSettings.load, ca, cert, key)
        self.assertEqual(error.field, field)
        return error

    def test_good(self) -> None:
        """
        Matching files load, with the certificate's role.
        """
        settings = TLSSettings.load(
            self.pki.caFile, self.pki.certFile("ma1"), self.pki.keyFile("ma1")
        )
        self.assertEqual(settings.role, Role.MA)

    def test_missing(self) -> None:
        """
        Missing files are named with their field.
        """
        p = self.pki
        e = self.assertTLSError("ca", self.dir / "x.pem", p.certFile("ls1"), p.keyFile("ls1"))
        self.assertIn("no such file", e.reason)
        self.assertTLSError("cert", p.caFile, self.dir / "x.pem", p.keyFile("ls1"))
        self.assertTLSError("key", p.caFile, p.certFile("ls1"), self.dir / "x.key")

    def test_notPEM(self) -> None:
        """
        Files of the wrong kind are refused.
        """
        p = self.pki
        e = self.assertTLSError("ca", p.keyFile("ls1"), p.certFile("ls1"), p.keyFile("ls1"))
        self.assertIn("is not a PEM certificate", e.reason)
        e = self.assertTLSError("key", p.caFile, p.certFile("ls1"), p.certFile("ls1"))
        self.assertIn("is not a PEM private key", e.reason)

    def test_caNotCA(self) -> None:
        """
        A role certificate cannot serve as the CA.
        """
        p = self.pki
        e = self.assertTLSError("ca", p.certFile("ma1"), p.certFile("ls1"), p.keyFile("ls1"))
        self.assertIn("is not a CA certificate", e.reason)

    def test_otherCA(self) -> None:
        """
        A certificate from another CA is refused.
        """
        e = self.assertTLSError(
            "cert", self.pki.caFile, self.other.certFile("ls1"), self.other.keyFile("ls1")
        )
        self.assertIn("is not issued by the CA", e.reason)

    def test_mismatchedKey(self) -> None:
        """
        A key that is not the certificate's is refused.
        """
        p = self.pki
        e = self.assertTLSError("key", p.caFile, p.certFile("ls1"), p.keyFile("ma1"))
        self.assertIn("is not the key of", e.reason)

    def test_encryptedKey(self) -> None:
        """
        An encrypted key is refused with a clear reason.
        """
        key = serialization.load_pem_private_key(self.pki.keyFile("ls1").read_bytes(), None)
        encrypted = self.dir / "enc.key"
        encrypted.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            )
        )
        e = self.assertTLSError("key", self.pki.caFile, self.pki.certFile("ls1"), encrypted)
        self.assertIn("encrypted", e.reason)

    def test_caAsOwn(self) -> None:
        """
        The CA certificate has no role, so it cannot be a daemon's.
        """
        p = self.pki
        e = self.assertTLSError("cert", p.caFile, p.caFile, p.directory / "ca.key")
        self.assertIn("no subjectAltName", e.reason)

    def test_opensslObjects(self) -> None:
        """
        The loaded certificate converts to pyOpenSSL (as the context needs).
        """
        settings = self.pki.settings("ls1")
        self.assertEqual(
            crypto.X509.from_cryptography(settings.certificate).get_subject().CN, "ls1"
        )

    def test_initAfterIssue(self) -> None:
        """
        Re-initialising the CA with C{overwrite} invalidates old
        certificates.
        """
        initCA(self.pki.directory, overwrite=True)
        self.assertTLSError(
            "cert", self.pki.caFile, self.pki.certFile("ls1"), self.pki.keyFile("ls1")
        )
