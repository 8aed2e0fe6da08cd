# -*- test-case-name: lin6twisted.directory.test.test_settings -*-
"""
The C{[directory]} table of a daemon's configuration, and the directory it
describes.

Keys (durations as in L{lin6twisted.config})::

    [directory]
    kind = "embedded"             # or "ldap"; default "embedded"
    ldif = "subscribers.ldif"     # embedded: the LDIF file (required)

    # kind = "ldap":
    url = "ldap://127.0.0.1:389"  # or: endpoint = "tcp:host=...:port=..." (one of the two)
    base_dn = "ou=subscribers,dc=lin6,dc=example"   # default shown
    bind_dn = "cn=lin6-reader,dc=lin6,dc=example"   # optional; needs password_file
    password_file = "ldap.password"                 # the bind password (trailing newline dropped)
    timeout = "5s"                # per lookup, connecting included
    retry_max = "10s"             # longest pause between reconnection attempts
    cache_ttl = "60s"             # found subscribers; 0 disables the cache
    negative_ttl = "10s"          # unknown Node IDs and malformed entries
    stale_grace = "5m"            # answer expired entries this long while LDAP is down

L{parseDirectorySettings} reads the table; L{directoryFromSettings} builds
the L{IDirectory}: a L{DirectoryService} the daemon adds to its
C{MultiService} (for LDAP it owns the connection; a lookup before start
starts it).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from attrs import field, frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import HostnameEndpoint, clientFromString
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from zope.interface import implementer

from lin6twisted.address import DEFAULT_SPACE, LIN6Space, NodeID
from lin6twisted.config import ConfigError, Section
from lin6twisted.directory.cache import CachingDirectory
from lin6twisted.directory.embedded import EmbeddedDirectory
from lin6twisted.directory.interfaces import IDirectory, Subscriber
from lin6twisted.directory.ldap import LDAPDirectory

__all__ = [
    "DEFAULT_BASE_DN",
    "DirectoryKind",
    "DirectoryService",
    "DirectorySettings",
    "directoryFromSettings",
    "parseDirectorySettings",
]

DEFAULT_BASE_DN = "ou=subscribers,dc=lin6,dc=example"


class DirectoryKind(enum.Enum):
    """
    Which backend answers lookups.
    """

    EMBEDDED = "embedded"
    LDAP = "ldap"


@frozen
class DirectorySettings:
    """
    A parsed C{[directory]} table (see the module docstring).

    @ivar endpoint: for LDAP, a client endpoint description, or C{None}
        when C{url} is used.
    @ivar url: for LDAP, an C{ldap://host:port} URL, or C{None}.
    """

    kind: DirectoryKind = DirectoryKind.EMBEDDED
    ldif: Path | None = None
    url: str | None = None
    endpoint: str | None = None
    baseDN: str = DEFAULT_BASE_DN
    bindDN: str | None = None
    password: bytes | None = field(default=None, repr=False)
    timeout: float = 5.0
    retryMax: float = 10.0
    cacheTTL: float = 60.0
    negativeTTL: float = 10.0
    staleGrace: float = 300.0

    @property
    def server(self) -> str:
        """
        The LDAP server as configured, for messages.
        """
        return self.url or self.endpoint or "(embedded)"


def _splitURL(url: str) -> tuple[str, int]:
    """
    Host and port of an C{ldap://} URL.

    @raise ValueError: if it is not one, or has a path other than C{/}.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "ldap":
        raise ValueError('must be an ldap://host[:port] URL (for TLS use endpoint = "tls:...")')
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be an ldap://host[:port] URL without DN or query")
    try:
        port = parts.port or 389
    except ValueError:
        raise ValueError("has a bad port") from None
    host = unquote(parts.hostname or "")
    if not host:
        raise ValueError("must name a host")
    return host, port


_LDAP_KEYS = (
    "url",
    "endpoint",
    "base_dn",
    "bind_dn",
    "password_file",
    "timeout",
    "retry_max",
    "cache_ttl",
    "negative_ttl",
    "stale_grace",
)


def parseDirectorySettings(section: Section) -> DirectorySettings:
    """
    Read a C{[directory]} table.

    @raise ConfigError: on a missing, unknown or bad value.
    """
    kind = section.getEnum("kind", DirectoryKind, DirectoryKind.EMBEDDED)
    if kind is DirectoryKind.EMBEDDED:
        for key in _LDAP_KEYS:
            if key in section:
                raise section.error(key, 'is only for kind = "ldap"')
        ldif = section.getPath("ldif", mustExist=True)
        return DirectorySettings(kind=kind, ldif=ldif)
    if "ldif" in section:
        raise section.error("ldif", 'is only for kind = "embedded"')

    url = section.getString("url", None)
    endpoint = section.getEndpoint("endpoint", None, client=True)
    if (url is None) == (endpoint is None):
        raise section.error("url", 'give exactly one of url and endpoint for kind = "ldap"')
    if url is not None:
        try:
            _splitURL(url)
        except ValueError as e:
            raise section.error("url", str(e)) from None
    baseDN = section.getString("base_dn", DEFAULT_BASE_DN)
    bindDN = section.getString("bind_dn", None)
    passwordFile = section.getPath("password_file", None, mustExist=True)
    password = None
    if passwordFile is not None:
        if bindDN is None:
            raise section.error("password_file", "needs bind_dn")
        try:
            password = passwordFile.read_bytes().rstrip(b"\r\n")
        except OSError as e:
            raise section.error("password_file", f"cannot be read: {e.strerror or e}") from None
    elif bindDN is not None:
        raise section.error("bind_dn", "needs password_file")
    return DirectorySettings(
        kind=kind,
        url=url,
        endpoint=endpoint,
        baseDN=baseDN,
        bindDN=bindDN,
        password=password,
        timeout=section.getDuration("timeout", 5.0, above=0),
        retryMax=section.getDuration("retry_max", 10.0, above=0),
        cacheTTL=section.getDuration("cache_ttl", 60.0),
        negativeTTL=section.getDuration("negative_ttl", 10.0),
        staleGrace=section.getDuration("stale_grace", 300.0),
    )


@implementer(IDirectory)
class DirectoryService(Service):
    """
    The configured directory: an L{IDirectory} and a service owning the
    backend's connection (if any).

    @ivar directory: what lookups go to (the cache, or the backend).
    @ivar backend: the L{EmbeddedDirectory} or L{LDAPDirectory}.
    @ivar cache: the L{CachingDirectory}, or C{None} without one.
    """

    def __init__(
        self,
        backend: EmbeddedDirectory | LDAPDirectory,
        cache: CachingDirectory | None = None,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.directory: IDirectory = cache if cache is not None else backend

    def lookup(self, nodeID: NodeID) -> Deferred[Subscriber | None]:
        return self.directory.lookup(nodeID)

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        if isinstance(self.backend, LDAPDirectory) and not self.backend.running:
            self.backend.startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        if isinstance(self.backend, LDAPDirectory):
            return self.backend.stopService()
        return succeed(None)


def _endpoint(settings: DirectorySettings, reactor: Any) -> IStreamClientEndpoint:
    if settings.url is not None:
        host, port = _splitURL(settings.url)
        return HostnameEndpoint(reactor, host, port)
    if settings.endpoint is None:
        raise ConfigError("<directory>", "an LDAP directory needs url or endpoint")
    endpoint: IStreamClientEndpoint = clientFromString(reactor, settings.endpoint)
    return endpoint


def directoryFromSettings(
    settings: DirectorySettings, reactor: IReactorTime, space: LIN6Space = DEFAULT_SPACE
) -> DirectoryService:
    """
    Build the directory C{settings} describe.

    The embedded directory loads its LDIF now and answers in-process (no
    cache: it is an in-memory index).  The LDAP directory is wrapped in a
    L{CachingDirectory} unless C{cache_ttl} is 0.

    @param reactor: the reactor (time, and TCP for LDAP).
    @param space: the deployment; Node IDs must carry its OUI.
    @raise lin6twisted.directory.embedded.LDIFLoadError: if the LDIF
        cannot be loaded.
    """
    if settings.kind is DirectoryKind.EMBEDDED:
        if settings.ldif is None:
            raise ConfigError("<directory>", "an embedded directory needs ldif")
        return DirectoryService(EmbeddedDirectory.fromLDIF(settings.ldif, space))
    backend = LDAPDirectory(
        _endpoint(settings, reactor),
        settings.baseDN,
        reactor,
        bindDN=settings.bindDN,
        password=settings.password,
        timeout=settings.timeout,
        space=space,
        retryMaxDelay=settings.retryMax,
        name=settings.server,
    )
    cache = None
    if settings.cacheTTL > 0:
        cache = CachingDirectory(
            backend,
            reactor,
            ttl=settings.cacheTTL,
            negativeTTL=settings.negativeTTL,
            staleGrace=settings.staleGrace,
        )
    return DirectoryService(backend, cache)
