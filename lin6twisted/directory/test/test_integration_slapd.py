"""
Integration tests against a real OpenLDAP C{slapd} started by the test with
its own configuration under a temporary directory (see
L{lin6twisted.directory.testing.Slapd}).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import attrs
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import Clock, deferLater
from twisted.trial.unittest import TestCase

from lin6twisted.address import NodeID
from lin6twisted.directory import (
    BadDirectoryEntry,
    DirectoryUnavailable,
    ServiceLevel,
    Subscriber,
)
from lin6twisted.directory.cache import CachingDirectory
from lin6twisted.directory.settings import DirectoryKind, DirectorySettings, directoryFromSettings
from lin6twisted.directory.testing import (
    SAMPLE_BASE_DN,
    SAMPLE_CS1,
    SAMPLE_DISABLED,
    SAMPLE_LDIF,
    SAMPLE_NORMAL,
    SAMPLE_PREMIUM,
    SAMPLE_READER_DN,
    SAMPLE_READER_PASSWORD,
    Slapd,
    sampleDirectory,
)

# Entries slapd's schema accepts but the lin6 rules refuse.
BAD_ENTRIES = """\
dn: lin6NodeID=201:4a00:0:10,ou=subscribers,dc=lin6,dc=example
objectClass: lin6Subscriber
lin6NodeID: 201:4a00:0:10
lin6ServiceLevel: gold
lin6KeyID: 1
lin6Key: 00112233445566778899aabbccddeeff
lin6Enabled: TRUE

dn: lin6NodeID=201:4a00:0:11,ou=subscribers,dc=lin6,dc=example
objectClass: lin6Subscriber
lin6NodeID: 201:4a00:0:11
lin6ServiceLevel: normal
lin6KeyID: 1
lin6Key: not-hex-at-all
lin6Enabled: TRUE
"""

BAD_GOLD = NodeID.fromString("201:4a00:0:10")
BAD_KEY = NodeID.fromString("201:4a00:0:11")


class SlapdSchemaTests(TestCase):
    """
    Both forms of the schema load into slapd.
    """

    def test_schemaFileForm(self) -> None:
        """
        C{etc/lin6.schema} passes C{slaptest} in a slapd.conf, and slapadd
        accepts the sample data with it.
        """
        root = Path(self.mktemp())
        (root / "db").mkdir(parents=True)
        conf = root / "slapd.conf"
        conf.write_text(
            "include /etc/ldap/schema/core.schema\n"
            f"include {SAMPLE_LDIF.parent / 'lin6.schema'}\n"
            f"pidfile {root}/slapd.pid\n"
            "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
            'database mdb\nsuffix "dc=lin6,dc=example"\n'
            f"directory {root}/db\nmaxsize 16777216\n"
        )
        for argv in (
            ["/usr/sbin/slaptest", "-u", "-f", str(conf)],
            ["/usr/sbin/slapadd", "-f", str(conf), "-l", str(SAMPLE_LDIF)],
        ):
            result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
            self.assertEqual(result.returncode, 0, result.stderr)


class SlapdDirectoryTests(TestCase):
    """
    The LDAP directory against a real slapd loaded with the sample LDIF and
    a few entries that break the lin6 rules.
    """

    timeout = 60

    def setUp(self) -> None:
        root = Path(self.mktemp()).absolute()
        root.mkdir(parents=True)
        bad = root / "bad.ldif"
        bad.write_text(BAD_ENTRIES)
        self.slapd = Slapd(root / "slapd", [SAMPLE_LDIF, bad])
        self.addCleanup(self.slapd.stop)
        self.slapd.start()

    def directory(self, **changes: Any) -> Any:
        settings = DirectorySettings(
            kind=DirectoryKind.LDAP,
            url=self.slapd.url,
            baseDN=SAMPLE_BASE_DN,
            bindDN=SAMPLE_READER_DN,
            password=SAMPLE_READER_PASSWORD,
            timeout=3.0,
            retryMax=0.5,
            cacheTTL=0,
        )
        settings = attrs.evolve(settings, **changes)
        service = directoryFromSettings(settings, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        return service

    @inlineCallbacks
    def test_sameAnswersAsEmbedded(self) -> Any:
        """
        Every sample subscriber read from slapd equals the one the embedded
        directory reads from the same LDIF (keys included); unknown Node IDs
        give C{None}.
        """
        directory = self.directory()
        embedded = sampleDirectory()
        for nodeID, expected in embedded.entries().items():
            got = yield directory.lookup(nodeID)
            self.assertEqual(got, expected)
            self.assertEqual(got.key, expected.key)  # type: ignore[union-attr]
        unknown = yield directory.lookup(NodeID.fromString("201:4a00:0:77"))
        self.assertIsNone(unknown)
        premium = yield directory.lookup(SAMPLE_PREMIUM)
        self.assertEqual((premium.level, premium.keyID), (ServiceLevel.PREMIUM, 7))
        disabled = yield directory.lookup(SAMPLE_DISABLED)
        self.assertFalse(disabled.enabled)

    @inlineCallbacks
    def test_badEntries(self) -> Any:
        """
        Entries breaking the lin6 rules fail with L{BadDirectoryEntry}; the
        good ones keep being served on the same connection.
        """
        directory = self.directory()
        with self.assertRaises(BadDirectoryEntry) as raised:
            yield directory.lookup(BAD_GOLD)
        self.assertIn("gold", str(raised.exception))
        with self.assertRaises(BadDirectoryEntry) as raised:
            yield directory.lookup(BAD_KEY)
        self.assertIn("lin6Key", str(raised.exception))
        good = yield directory.lookup(SAMPLE_NORMAL)
        self.assertEqual(good.nodeID, SAMPLE_NORMAL)

    @inlineCallbacks
    def test_keyProtectedByACL(self) -> Any:
        """
        Anonymously, slapd's ACL hides C{lin6Key}: the entry is refused as
        lacking it (a clear error rather than a key-less subscriber).
        """
        directory = self.directory(bindDN=None, password=None)
        with self.assertRaises(BadDirectoryEntry) as raised:
            yield directory.lookup(SAMPLE_NORMAL)
        self.assertIn("lin6Key is missing", str(raised.exception))

    @inlineCallbacks
    def test_wrongPassword(self) -> Any:
        """
        A refused bind fails lookups with L{DirectoryUnavailable}.
        """
        directory = self.directory(password=b"wrong")
        with self.assertRaises(DirectoryUnavailable) as raised:
            yield directory.lookup(SAMPLE_NORMAL)
        self.assertIn("invalidCredentials".lower(), str(raised.exception).lower())

    @inlineCallbacks
    def test_outageAndRecovery(self) -> Any:
        """
        Stopping slapd makes lookups fail with L{DirectoryUnavailable},
        quickly; a cache in front keeps answering entries within their TTL
        and stale grace and refuses the rest; when slapd is back on the same
        port the directory reconnects by itself.
        """
        service = self.directory()
        clock = Clock()
        cache = CachingDirectory(service, clock, ttl=60, negativeTTL=10, staleGrace=30)
        first: Subscriber = yield cache.lookup(SAMPLE_NORMAL)
        yield cache.lookup(SAMPLE_CS1)

        self.slapd.stop()
        started = time.monotonic()
        with self.assertRaises(DirectoryUnavailable):
            yield service.lookup(SAMPLE_PREMIUM)
        self.assertLess(time.monotonic() - started, 3.5)

        # Fresh: from the cache.  Expired within grace: stale answer.
        self.assertEqual((yield cache.lookup(SAMPLE_NORMAL)), first)
        clock.advance(75)
        self.assertEqual((yield cache.lookup(SAMPLE_NORMAL)), first)
        self.assertEqual(cache.stats.stale, 1)
        # Never cached, or past the grace: refused.
        with self.assertRaises(DirectoryUnavailable):
            yield cache.lookup(SAMPLE_PREMIUM)
        clock.advance(20)
        with self.assertRaises(DirectoryUnavailable):
            yield cache.lookup(SAMPLE_CS1)

        self.slapd.start()
        found = yield _eventually(lambda: service.lookup(SAMPLE_PREMIUM), 15.0)
        self.assertEqual(found.nodeID, SAMPLE_PREMIUM)
        self.assertEqual((yield cache.lookup(SAMPLE_CS1)).nodeID, SAMPLE_CS1)


@inlineCallbacks
def _eventually(attempt: Any, timeout: float) -> Any:
    """
    Retry C{attempt()} while it fails with L{DirectoryUnavailable}, for up
    to C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = yield attempt()
        except DirectoryUnavailable:
            if time.monotonic() > deadline:
                raise
            yield deferLater(reactor, 0.2, lambda: None)
        else:
            return result
