"""
Tests for L{lin6twisted.directory.settings}.
"""

from __future__ import annotations

from pathlib import Path

from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from lin6twisted.address import LIN6Space
from lin6twisted.config import ConfigError, loadTOMLString
from lin6twisted.directory import BadDirectoryEntry, IDirectory
from lin6twisted.directory.cache import CachingDirectory
from lin6twisted.directory.embedded import EmbeddedDirectory, LDIFLoadError
from lin6twisted.directory.ldap import LDAPDirectory
from lin6twisted.directory.settings import (
    DEFAULT_BASE_DN,
    DirectoryKind,
    DirectorySettings,
    directoryFromSettings,
    parseDirectorySettings,
)
from lin6twisted.directory.testing import SAMPLE_COUNT, SAMPLE_LDIF, SAMPLE_NORMAL


class ParseTests(SynchronousTestCase):
    """
    L{parseDirectorySettings} reads the C{[directory]} table.
    """

    def setUp(self) -> None:
        self.base = Path(self.mktemp())
        self.base.mkdir()
        (self.base / "subscribers.ldif").write_bytes(SAMPLE_LDIF.read_bytes())
        (self.base / "ldap.password").write_text("s3cret\n")

    def parse(self, text: str) -> DirectorySettings:
        root = loadTOMLString(text, str(self.base / "test.conf"), self.base)
        settings = parseDirectorySettings(root.section("directory", required=True))
        root.finish()
        return settings

    def assertConfigError(self, text: str, *fragments: str) -> None:
        e = self.assertRaises(ConfigError, self.parse, text)
        for fragment in fragments:
            self.assertIn(fragment, str(e))

    def test_embedded(self) -> None:
        """
        The embedded kind needs an existing LDIF file, relative to the config.
        """
        settings = self.parse('[directory]\nkind = "embedded"\nldif = "subscribers.ldif"\n')
        self.assertEqual(settings.kind, DirectoryKind.EMBEDDED)
        self.assertEqual(settings.ldif, self.base / "subscribers.ldif")

    def test_embeddedDefaultKind(self) -> None:
        """
        The kind defaults to embedded.
        """
        settings = self.parse('[directory]\nldif = "subscribers.ldif"\n')
        self.assertEqual(settings.kind, DirectoryKind.EMBEDDED)

    def test_embeddedMissingFile(self) -> None:
        """
        A missing LDIF file is a L{ConfigError} naming the key.
        """
        self.assertConfigError('[directory]\nldif = "nope.ldif"\n', "ldif", "existing file")
        self.assertConfigError("[directory]\n", "ldif", "required")

    def test_ldapFull(self) -> None:
        """
        Every LDAP key is read; the password comes from its file without the
        trailing newline.
        """
        settings = self.parse(
            "[directory]\n"
            'kind = "ldap"\n'
            'url = "ldap://[::1]:3890"\n'
            'base_dn = "ou=people,dc=x"\n'
            'bind_dn = "cn=reader,dc=x"\n'
            'password_file = "ldap.password"\n'
            'timeout = "2s"\n'
            'retry_max = "3s"\n'
            'cache_ttl = "1m"\n'
            'negative_ttl = "5s"\n'
            'stale_grace = "10m"\n'
        )
        self.assertEqual(
            settings,
            DirectorySettings(
                kind=DirectoryKind.LDAP,
                url="ldap://[::1]:3890",
                baseDN="ou=people,dc=x",
                bindDN="cn=reader,dc=x",
                password=b"s3cret",
                timeout=2.0,
                retryMax=3.0,
                cacheTTL=60.0,
                negativeTTL=5.0,
                staleGrace=600.0,
            ),
        )
        self.assertNotIn("s3cret", repr(settings))

    def test_ldapDefaults(self) -> None:
        """
        Only the server is required; the base DN defaults to the sample's.
        """
        settings = self.parse(
            '[directory]\nkind = "ldap"\nendpoint = "tcp:host=127.0.0.1:port=389"\n'
        )
        self.assertEqual(
            (settings.baseDN, settings.bindDN, settings.cacheTTL, settings.staleGrace),
            (DEFAULT_BASE_DN, None, 60.0, 300.0),
        )

    def test_ldapErrors(self) -> None:
        """
        Bad LDAP settings are L{ConfigError}s naming the key.
        """
        ldap = '[directory]\nkind = "ldap"\n'
        self.assertConfigError(ldap, "exactly one of url and endpoint")
        self.assertConfigError(
            ldap + 'url = "ldap://a"\nendpoint = "tcp:host=a:port=1"\n', "exactly one"
        )
        self.assertConfigError(ldap + 'url = "http://a"\n', "url", "ldap://")
        self.assertConfigError(ldap + 'url = "ldaps://a"\n', "url", "tls")
        self.assertConfigError(ldap + 'url = "ldap://a/dc=x?cn"\n', "url", "without DN")
        self.assertConfigError(ldap + 'url = "ldap://a:99999"\n', "url", "port")
        self.assertConfigError(ldap + 'url = "ldap://"\n', "url", "host")
        self.assertConfigError(ldap + 'endpoint = "bogus:x"\n', "endpoint")
        self.assertConfigError(
            ldap + 'url = "ldap://a"\nbind_dn = "cn=x"\n', "bind_dn", "password_file"
        )
        self.assertConfigError(
            ldap + 'url = "ldap://a"\npassword_file = "ldap.password"\n',
            "password_file",
            "bind_dn",
        )
        self.assertConfigError(
            ldap + 'url = "ldap://a"\nbind_dn = "cn=x"\npassword_file = "none"\n', "password_file"
        )
        self.assertConfigError(ldap + 'url = "ldap://a"\ntimeout = 0\n', "timeout")
        self.assertConfigError(ldap + 'url = "ldap://a"\ncache_ttl = -1\n', "cache_ttl")
        self.assertConfigError('[directory]\nkind = "x500"\n', "kind", "'embedded'")

    def test_keysOfTheOtherKind(self) -> None:
        """
        Keys of the other kind are refused with a sentence saying so.
        """
        self.assertConfigError(
            '[directory]\nldif = "subscribers.ldif"\nurl = "ldap://a"\n',
            "url",
            'only for kind = "ldap"',
        )
        self.assertConfigError(
            '[directory]\nkind = "ldap"\nurl = "ldap://a"\nldif = "subscribers.ldif"\n',
            "ldif",
            'only for kind = "embedded"',
        )

    def test_unknownKey(self) -> None:
        """
        A key the parser does not know is refused by C{finish}.
        """
        self.assertConfigError(
            '[directory]\nldif = "subscribers.ldif"\ncache_tll = 5\n', "cache_tll", "unknown"
        )


class DirectoryFromSettingsTests(SynchronousTestCase):
    """
    L{directoryFromSettings} builds the configured directory.
    """

    def test_embedded(self) -> None:
        """
        An embedded directory is loaded now and answers at once, uncached.
        """
        service = directoryFromSettings(
            DirectorySettings(kind=DirectoryKind.EMBEDDED, ldif=SAMPLE_LDIF), MemoryReactorClock()
        )
        self.assertTrue(verifyObject(IDirectory, service))
        self.assertIsInstance(service.backend, EmbeddedDirectory)
        self.assertIsNone(service.cache)
        self.assertIsNotNone(self.successResultOf(service.lookup(SAMPLE_NORMAL)))
        service.startService()
        self.successResultOf(service.stopService())

    def test_embeddedBadFile(self) -> None:
        """
        An LDIF that cannot be loaded raises L{LDIFLoadError}.
        """
        path = Path(self.mktemp())
        path.write_text("garbage\n")
        self.assertRaises(
            LDIFLoadError,
            directoryFromSettings,
            DirectorySettings(kind=DirectoryKind.EMBEDDED, ldif=path),
            MemoryReactorClock(),
        )

    def test_embeddedSpace(self) -> None:
        """
        The deployment's space decides which Node IDs are valid.
        """
        space = LIN6Space.fromStrings("3ffe:501:1830:1999::/64", "00:00:5e")
        service = directoryFromSettings(
            DirectorySettings(kind=DirectoryKind.EMBEDDED, ldif=SAMPLE_LDIF),
            MemoryReactorClock(),
            space,
        )
        assert isinstance(service.backend, EmbeddedDirectory)
        outcomes = service.backend.entries().values()
        self.assertEqual(
            [type(o).__name__ for o in outcomes], ["BadDirectoryEntry"] * SAMPLE_COUNT
        )
        f = self.failureResultOf(service.lookup(SAMPLE_NORMAL), BadDirectoryEntry)
        self.assertIn("00:00:5e", str(f.value))

    def test_ldap(self) -> None:
        """
        An LDAP directory is cached and connects when the service starts,
        to the configured host and port.
        """
        reactor = MemoryReactorClock()
        service = directoryFromSettings(
            DirectorySettings(kind=DirectoryKind.LDAP, url="ldap://127.0.0.1:3890", timeout=2),
            reactor,
        )
        self.assertIsInstance(service.backend, LDAPDirectory)
        self.assertIsInstance(service.cache, CachingDirectory)
        assert isinstance(service.backend, LDAPDirectory)
        self.assertIsInstance(service.backend.endpoint, HostnameEndpoint)
        self.assertEqual(service.backend.name, "ldap://127.0.0.1:3890")
        self.assertEqual(service.backend.timeout, 2)
        service.startService()
        self.assertTrue(service.backend.running)
        service.stopService()
        self.assertFalse(service.backend.running)

    def test_ldapEndpointNoCache(self) -> None:
        """
        An endpoint string is used as given; C{cache_ttl = 0} means no cache.
        """
        reactor = MemoryReactorClock()
        service = directoryFromSettings(
            DirectorySettings(
                kind=DirectoryKind.LDAP, endpoint="tcp:host=127.0.0.1:port=3890", cacheTTL=0
            ),
            reactor,
        )
        self.assertIsNone(service.cache)
        assert isinstance(service.backend, LDAPDirectory)
        self.assertIsInstance(service.backend.endpoint, TCP4ClientEndpoint)
        service.startService()
        self.assertEqual(reactor.tcpClients[0][:2], ("127.0.0.1", 3890))
        service.stopService()
