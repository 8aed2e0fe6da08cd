"""
Tests for L{lin6twisted.directory.ldap}, against ldaptor's in-memory server
over in-memory transports (no sockets) with a fake clock.
"""

from __future__ import annotations

from pathlib import Path

from twisted.internet.defer import CancelledError
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from lin6twisted.address import NodeID
from lin6twisted.directory import (
    BadDirectoryEntry,
    DirectoryUnavailable,
    IDirectory,
    ServiceLevel,
)
from lin6twisted.directory.embedded import DirectoryServerFactory, loadLDIF
from lin6twisted.directory.ldap import LDAPDirectory
from lin6twisted.directory.test.test_embedded import HEADER, subscriberLDIF
from lin6twisted.directory.testing import (
    SAMPLE_BASE_DN,
    SAMPLE_DISABLED,
    SAMPLE_LDIF,
    SAMPLE_NORMAL,
    SAMPLE_PREMIUM,
    SAMPLE_READER_DN,
    SAMPLE_READER_PASSWORD,
    PumpEndpoint,
)


class LDAPDirectoryTests(SynchronousTestCase):
    """
    L{LDAPDirectory} searches by Node ID, validates what it finds and maps
    every backend problem to L{DirectoryUnavailable}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.observer = EventLoggingObserver()
        globalLogPublisher.addObserver(self.observer)
        self.addCleanup(globalLogPublisher.removeObserver, self.observer)

    def directory(
        self,
        ldif: Path = SAMPLE_LDIF,
        requireBind: bool = False,
        baseDN: str = SAMPLE_BASE_DN,
        **kwargs: object,
    ) -> tuple[LDAPDirectory, PumpEndpoint]:
        factory = DirectoryServerFactory(loadLDIF(ldif), requireBind=requireBind)
        endpoint = PumpEndpoint(factory)
        directory = LDAPDirectory(endpoint, baseDN, self.clock, timeout=5, **kwargs)  # type: ignore[arg-type]
        directory.startService()
        self.addCleanup(directory.stopService)
        return directory, endpoint

    def lookup(self, directory: LDAPDirectory, endpoint: PumpEndpoint, nodeID: NodeID) -> object:
        d = directory.lookup(nodeID)
        endpoint.flush()
        return d

    def test_interface(self) -> None:
        """
        It provides L{IDirectory}.
        """
        directory, _ = self.directory()
        self.assertTrue(verifyObject(IDirectory, directory))

    def test_found(self) -> None:
        """
        A lookup finds the subscriber entries of the sample.
        """
        directory, endpoint = self.directory()
        d = directory.lookup(SAMPLE_PREMIUM)
        self.assertNoResult(d)
        endpoint.flush()
        s = self.successResultOf(d)
        assert s is not None
        self.assertEqual(
            (s.nodeID, s.level, s.keyID, s.enabled),
            (SAMPLE_PREMIUM, ServiceLevel.PREMIUM, 7, True),
        )
        d = directory.lookup(SAMPLE_DISABLED)
        endpoint.flush()
        s = self.successResultOf(d)
        assert s is not None
        self.assertFalse(s.enabled)
        self.assertEqual(endpoint.attempts, 1)

    def test_unknown(self) -> None:
        """
        No entry gives C{None}.
        """
        directory, endpoint = self.directory()
        d = directory.lookup(NodeID.fromString("201:4a00:0:99"))
        endpoint.flush()
        self.assertIsNone(self.successResultOf(d))

    def test_otherSpelling(self) -> None:
        """
        An entry whose Node ID is written as eight octets is found too.
        """
        path = Path(self.mktemp())
        path.write_text(HEADER + subscriberLDIF("02:01:4a:00:00:00:00:02", rdn="cn=mn"))
        directory, endpoint = self.directory(path)
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        s = self.successResultOf(d)
        assert s is not None
        self.assertEqual(s.nodeID, SAMPLE_NORMAL)

    def test_badEntry(self) -> None:
        """
        A malformed entry fails with L{BadDirectoryEntry} and is logged; the
        other entries are served on the same connection.
        """
        path = Path(self.mktemp())
        path.write_text(
            HEADER + subscriberLDIF("201:4a00:0:2") + subscriberLDIF("201:4a00:0:3", enabled="yes")
        )
        directory, endpoint = self.directory(path)
        d = directory.lookup(SAMPLE_PREMIUM)
        endpoint.flush()
        f = self.failureResultOf(d, BadDirectoryEntry)
        self.assertIn("lin6Enabled", str(f.value))
        self.assertIn(
            "Directory entry refused: {reason}", [e["log_format"] for e in self.observer]
        )
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        self.assertIsNotNone(self.successResultOf(d))

    def test_ambiguous(self) -> None:
        """
        Two entries for one Node ID fail with L{BadDirectoryEntry}.
        """
        path = Path(self.mktemp())
        path.write_text(
            HEADER
            + subscriberLDIF("201:4a00:0:2")
            + subscriberLDIF("201:4a00:0:2", rdn="cn=again")
            + subscriberLDIF("201:4a00:0:2", rdn="cn=third")
        )
        directory, endpoint = self.directory(path)
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        f = self.failureResultOf(d, BadDirectoryEntry)
        self.assertIn("more than one entry", str(f.value))

    def test_missingBase(self) -> None:
        """
        A base DN that does not exist makes lookups fail with
        L{DirectoryUnavailable} naming it.
        """
        directory, endpoint = self.directory(baseDN="ou=nobody,dc=lin6,dc=example")
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        f = self.failureResultOf(d, DirectoryUnavailable)
        self.assertIn("ou=nobody,dc=lin6,dc=example", str(f.value))

    def test_bind(self) -> None:
        """
        With a bind DN, the client binds before searching a server that
        requires it.
        """
        directory, endpoint = self.directory(
            requireBind=True, bindDN=SAMPLE_READER_DN, password=SAMPLE_READER_PASSWORD
        )
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        self.assertIsNotNone(self.successResultOf(d))

    def test_noBindRefused(self) -> None:
        """
        Without a bind, a server requiring one refuses the search:
        L{DirectoryUnavailable}.
        """
        directory, endpoint = self.directory(requireBind=True)
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        f = self.failureResultOf(d, DirectoryUnavailable)
        self.assertIn("failed the search", str(f.value))

    def test_wrongPassword(self) -> None:
        """
        A refused bind fails the lookup with L{DirectoryUnavailable} and
        drops the connection; lookups then fail at once until the service
        reconnects.
        """
        directory, endpoint = self.directory(bindDN=SAMPLE_READER_DN, password=b"wrong")
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        f = self.failureResultOf(d, DirectoryUnavailable)
        self.assertIn("refused bind", str(f.value).replace("bind as", "refused bind"))
        self.assertTrue(endpoint.pumps[0].clientIO.disconnected)
        self.failureResultOf(directory.lookup(SAMPLE_NORMAL), DirectoryUnavailable)

    def test_refused(self) -> None:
        """
        A refused connection fails the lookup with L{DirectoryUnavailable};
        further lookups fail at once without new attempts; once the server
        is back the service reconnects and lookups work.
        """
        factory = DirectoryServerFactory(loadLDIF(SAMPLE_LDIF))
        endpoint = PumpEndpoint(factory)
        endpoint.refuse = True
        directory = LDAPDirectory(endpoint, SAMPLE_BASE_DN, self.clock, timeout=5)
        directory.startService()
        self.addCleanup(directory.stopService)
        f = self.failureResultOf(directory.lookup(SAMPLE_NORMAL), DirectoryUnavailable)
        self.assertIn("refused", str(f.value))
        attempts = endpoint.attempts
        f = self.failureResultOf(directory.lookup(SAMPLE_NORMAL), DirectoryUnavailable)
        self.assertIn("reconnecting", str(f.value))
        self.assertEqual(endpoint.attempts, attempts)
        endpoint.refuse = False
        self.clock.advance(20)
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        self.assertIsNotNone(self.successResultOf(d))

    def test_timeout(self) -> None:
        """
        A server that does not answer within the timeout fails the lookup
        with L{DirectoryUnavailable}; the connection is dropped and a new one
        made for the next lookup.
        """
        directory, endpoint = self.directory()
        d = directory.lookup(SAMPLE_NORMAL)
        self.clock.advance(4.9)
        self.assertNoResult(d)
        self.clock.advance(0.1)
        f = self.failureResultOf(d, DirectoryUnavailable)
        self.assertIn("did not answer within 5s", str(f.value))
        endpoint.flush()  # delivers the abort
        self.clock.advance(20)
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        self.assertIsNotNone(self.successResultOf(d))
        self.assertEqual(endpoint.attempts, 2)

    def test_connectionLost(self) -> None:
        """
        A connection lost with a request outstanding fails it with
        L{DirectoryUnavailable}.
        """
        directory, endpoint = self.directory()
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.servers[0].transport.loseConnection()
        endpoint.flush()
        f = self.failureResultOf(d, DirectoryUnavailable)
        self.assertIn("unreachable", str(f.value))

    def test_serverGone(self) -> None:
        """
        When the connection is lost and reconnecting fails, lookups fail at
        once with L{DirectoryUnavailable}; when the server is back, the
        service reconnects by itself.
        """
        directory, endpoint = self.directory()
        endpoint.refuse = True
        endpoint.servers[0].transport.loseConnection()
        endpoint.flush()
        self.clock.advance(0)
        self.clock.advance(5)  # the first retry fails
        attempts = endpoint.attempts
        f = self.failureResultOf(directory.lookup(SAMPLE_NORMAL), DirectoryUnavailable)
        self.assertIn("reconnecting", str(f.value))
        self.assertEqual(endpoint.attempts, attempts)
        endpoint.refuse = False
        self.clock.advance(20)
        self.assertGreater(endpoint.attempts, attempts)
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        self.assertIsNotNone(self.successResultOf(d))
        messages = [e["log_format"] for e in self.observer]
        self.assertIn("Reconnected to LDAP server {endpoint}", messages)

    def test_endlessAnswer(self) -> None:
        """
        A server announcing an answer it never completes (a huge BER length)
        fails the lookup with L{DirectoryUnavailable} at the deadline and
        loses the connection; the next lookup works on a new connection.
        """

        class Endless(Protocol):
            def dataReceived(self, data: bytes) -> None:
                assert self.transport is not None
                self.transport.write(b"\x30\x84\x7f\xff\xff\xffnonsense")

        endpoint = PumpEndpoint(Factory.forProtocol(Endless))
        directory = LDAPDirectory(endpoint, SAMPLE_BASE_DN, self.clock, timeout=5)
        directory.startService()
        self.addCleanup(directory.stopService)
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        self.assertNoResult(d)
        self.clock.advance(5)
        self.failureResultOf(d, DirectoryUnavailable)
        endpoint.flush()
        self.assertTrue(endpoint.pumps[0].clientIO.disconnected)
        endpoint.serverFactory = DirectoryServerFactory(loadLDIF(SAMPLE_LDIF))
        self.clock.advance(20)
        d = directory.lookup(SAMPLE_NORMAL)
        endpoint.flush()
        self.assertIsNotNone(self.successResultOf(d))

    def test_callerCancels(self) -> None:
        """
        A caller cancelling its lookup gets L{CancelledError}; the
        connection stays and serves the next lookup.
        """
        directory, endpoint = self.directory()
        d = directory.lookup(SAMPLE_NORMAL)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        endpoint.flush()
        d = directory.lookup(SAMPLE_PREMIUM)
        endpoint.flush()
        self.assertIsNotNone(self.successResultOf(d))
        self.assertEqual(endpoint.attempts, 1)

    def test_lookupStartsService(self) -> None:
        """
        A lookup on a service never started starts it.
        """
        endpoint = PumpEndpoint(DirectoryServerFactory(loadLDIF(SAMPLE_LDIF)))
        directory = LDAPDirectory(endpoint, SAMPLE_BASE_DN, self.clock)
        self.addCleanup(directory.stopService)
        d = directory.lookup(SAMPLE_NORMAL)
        self.assertTrue(directory.running)
        endpoint.flush()
        self.assertIsNotNone(self.successResultOf(d))

    def test_stopped(self) -> None:
        """
        After C{stopService}, lookups fail with L{DirectoryUnavailable}.
        """
        directory, endpoint = self.directory()
        directory.stopService()
        endpoint.flush()
        f = self.failureResultOf(directory.lookup(SAMPLE_NORMAL), DirectoryUnavailable)
        self.assertIn("stopped", str(f.value))

    def test_badTimeout(self) -> None:
        """
        A timeout must be positive.
        """
        self.assertRaises(
            ValueError,
            LDAPDirectory,
            PumpEndpoint(DirectoryServerFactory(loadLDIF(SAMPLE_LDIF))),
            SAMPLE_BASE_DN,
            self.clock,
            timeout=0,
        )
