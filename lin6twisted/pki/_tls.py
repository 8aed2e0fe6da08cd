# -*- test-case-name: lin6twisted.pki.test.test_tls -*-
"""
Mutual TLS between lin6 daemons, on pyOpenSSL through Twisted's
C{TLSMemoryBIOProtocol}.

Every connection between daemons (MA -> LS, LS <-> LS) uses:

  - TLS 1.2 at least (1.3 is negotiated whenever both ends have it, which
    is always between lin6 daemons); TLS 1.2 only with ECDHE and AEAD
    ciphers; no compression, no renegotiation, no session resumption (every
    connection is fully verified);
  - a certificate on both sides: a server requires one from the client
    (C{VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT});
  - chain verification against the deployment CA only (the system trust
    store is never loaded);
  - a role check: the peer's certificate must carry an accepted role URI
    (see L{lin6twisted.pki._certs}).  Daemons connect to IP addresses, so
    the role takes the place of a host name check.

A peer failing any of these is refused during the handshake (the
verification callback returns false, OpenSSL sends an alert) and the
refusal is logged with the peer's address and the reason.  With TLS 1.3 a
client learns that the server refused its certificate only after the
handshake, when the server's alert arrives; its connection is then lost
before any application data is delivered.

Protocols find the authenticated role of their peer with
L{peerRole}C{(self.transport)}.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Final

from attrs import frozen
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from OpenSSL import SSL, crypto
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import wrapClientTLS
from twisted.internet.interfaces import (
    IDelayedCall,
    IListeningPort,
    IOpenSSLClientConnectionCreator,
    IOpenSSLServerConnectionCreator,
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted.pki._certs import PKIError, Role, certificateRole, isCA

__all__ = [
    "PeerRoleError",
    "TLSError",
    "TLSServerEndpoint",
    "TLSSettings",
    "clientContextFactory",
    "peerRole",
    "serverContextFactory",
    "tlsClientEndpoint",
    "tlsServerEndpoint",
]

TLSPrivateKey = (
    ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
"""The private key types usable for TLS here."""

log = Logger(namespace="lin6twisted.pki")

_CIPHERS_TLS12: Final = b"ECDHE+AESGCM:ECDHE+CHACHA20"
_SESSION_ID: Final = b"lin6twisted"


class TLSError(Exception):
    """
    The TLS files are missing, unreadable, malformed or do not belong
    together.

    @ivar field: which file is at fault: C{"ca"}, C{"cert"} or C{"key"}
        (the keys of the C{[tls]} configuration table).
    @ivar reason: what is wrong.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class PeerRoleError(Exception):
    """
    A transport has no verified peer certificate with a lin6 role.
    """


@frozen
class TLSSettings:
    """
    A daemon's TLS material, loaded and checked.

    @ivar caFile: the deployment CA certificate (PEM).
    @ivar certFile: this daemon's certificate (PEM).
    @ivar keyFile: this daemon's private key (PEM, unencrypted).
    @ivar ca: the loaded CA certificate.
    @ivar certificate: the loaded own certificate.
    @ivar key: the loaded private key.
    @ivar role: the role the own certificate grants.
    """

    caFile: Path
    certFile: Path
    keyFile: Path
    ca: x509.Certificate
    certificate: x509.Certificate
    key: TLSPrivateKey
    role: Role

    @classmethod
    def load(cls, caFile: Path | str, certFile: Path | str, keyFile: Path | str) -> TLSSettings:
        """
        Load the three files and check that they belong together: the CA is
        a CA, the certificate is signed by it, carries a lin6 role and
        matches the key.  (Validity dates are checked by OpenSSL at each
        handshake, on both ends.)

        @raise TLSError: naming the file at fault and the reason.
        """
        from lin6twisted.pki._certs import loadCertificate, loadPrivateKey

        caFile, certFile, keyFile = Path(caFile), Path(certFile), Path(keyFile)
        try:
            ca = loadCertificate(caFile)
        except PKIError as e:
            raise TLSError("ca", str(e)) from None
        if not isCA(ca):
            raise TLSError("ca", f"{caFile} is not a CA certificate")
        try:
            certificate = loadCertificate(certFile)
        except PKIError as e:
            raise TLSError("cert", str(e)) from None
        try:
            key = loadPrivateKey(keyFile)
        except PKIError as e:
            raise TLSError("key", str(e)) from None
        if not isinstance(key, TLSPrivateKey):
            raise TLSError("key", f"{keyFile} holds a key type TLS cannot use")
        try:
            certificate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise TLSError("cert", f"{certFile} is not issued by the CA in {caFile}") from None
        try:
            role = certificateRole(certificate)
        except PKIError as e:
            raise TLSError("cert", f"{certFile}: {e}") from None
        if certificate.public_key() != key.public_key():
            raise TLSError("key", f"{keyFile} is not the key of {certFile}")
        return cls(caFile, certFile, keyFile, ca, certificate, key, role)


def _peerDescription(tlsProtocol: TLSMemoryBIOProtocol | None) -> str:
    """
    The peer's address as C{host:port} (C{[host]:port} for IPv6), for logs.
    """
    transport = getattr(tlsProtocol, "transport", None)
    if transport is None:
        return "unknown peer"
    try:
        peer = transport.getPeer()
    except Exception:
        return "unknown peer"
    host = getattr(peer, "host", None)
    port = getattr(peer, "port", None)
    if isinstance(host, str) and isinstance(port, int):
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(peer)


def _makeContext(settings: TLSSettings, server: bool) -> SSL.Context:
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(
        SSL.OP_NO_COMPRESSION
        | SSL.OP_CIPHER_SERVER_PREFERENCE
        | SSL.OP_NO_RENEGOTIATION
        | SSL.OP_NO_TICKET
    )
    context.set_cipher_list(_CIPHERS_TLS12)
    context.use_certificate(settings.certificate)
    context.use_privatekey(settings.key)
    context.check_privatekey()
    store = context.get_cert_store()
    if store is None:  # pragma: no cover - OpenSSL always has one
        raise TLSError("ca", "OpenSSL context has no certificate store")
    store.add_cert(crypto.X509.from_cryptography(settings.ca))
    # No resumption: every connection runs the full verification (chain,
    # validity dates, role) at connect time.
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    if server:
        context.set_session_id(_SESSION_ID)
    return context


@implementer(IOpenSSLServerConnectionCreator, IOpenSSLClientConnectionCreator)
class RoleCheckingCreator:
    """
    Makes TLS connections that present our certificate, require and verify
    the peer's against the deployment CA, and accept only the given roles.

    Build with L{serverContextFactory} or L{clientContextFactory}.
    """

    def __init__(self, settings: TLSSettings, acceptRoles: Collection[Role], server: bool) -> None:
        if not acceptRoles:
            raise ValueError("at least one role must be accepted")
        self.settings = settings
        self.acceptRoles = frozenset(acceptRoles)
        self.server = server
        self._context = _makeContext(settings, server)

    def _verifier(
        self, tlsProtocol: TLSMemoryBIOProtocol | None
    ) -> Callable[[SSL.Connection, crypto.X509, int, int, int], bool]:
        def verify(
            connection: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int
        ) -> bool:
            side = "server" if self.server else "client"
            if not ok:
                log.warn(
                    "TLS {side} refused {peer}: certificate at depth {depth} failed "
                    "verification against the deployment CA ({error})",
                    side=side,
                    peer=_peerDescription(tlsProtocol),
                    depth=depth,
                    error=_verifyErrorText(errno),
                )
                return False
            if depth != 0:
                return True
            try:
                role = certificateRole(cert.to_cryptography())
            except PKIError as e:
                log.warn(
                    "TLS {side} refused {peer}: {reason}",
                    side=side,
                    peer=_peerDescription(tlsProtocol),
                    reason=str(e),
                )
                return False
            if role not in self.acceptRoles:
                log.warn(
                    "TLS {side} refused {peer}: its role is {role}, expected {expected}",
                    side=side,
                    peer=_peerDescription(tlsProtocol),
                    role=role.value,
                    expected=" or ".join(sorted(r.value for r in self.acceptRoles)),
                )
                return False
            return True

        return verify

    def _connection(self, tlsProtocol: TLSMemoryBIOProtocol | None) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tlsProtocol)
        mode = SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT
        connection.set_verify(mode, self._verifier(tlsProtocol))
        return connection

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        A server-side connection (L{IOpenSSLServerConnectionCreator}).
        """
        connection = self._connection(tlsProtocol)
        connection.set_accept_state()
        return connection

    def clientConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        A client-side connection (L{IOpenSSLClientConnectionCreator}).
        """
        connection = self._connection(tlsProtocol)
        connection.set_connect_state()
        return connection


_VERIFY_ERRORS: Final = {
    2: "unable to get issuer certificate",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    24: "invalid CA certificate",
    26: "unsupported certificate purpose",
}


def _verifyErrorText(errno: int) -> str:
    return _VERIFY_ERRORS.get(errno, f"X509 verify error {errno}")


def serverContextFactory(
    settings: TLSSettings, acceptRoles: Collection[Role]
) -> RoleCheckingCreator:
    """
    The TLS connection creator for a daemon's listening side: clients must
    present a certificate from the deployment CA with one of
    C{acceptRoles}.
    """
    return RoleCheckingCreator(settings, acceptRoles, server=True)


def clientContextFactory(
    settings: TLSSettings, expectRole: Role | Collection[Role]
) -> RoleCheckingCreator:
    """
    The TLS connection creator for a daemon's connecting side: the server
    must present a certificate from the deployment CA with role
    C{expectRole} (or one of several).
    """
    roles = {expectRole} if isinstance(expectRole, Role) else set(expectRole)
    return RoleCheckingCreator(settings, roles, server=False)


HANDSHAKE_TIMEOUT: Final = 10.0
"""Seconds a server gives a client to finish the TLS handshake."""


class _HandshakeDeadline(TLSMemoryBIOProtocol):
    """
    A server-side TLS connection that is closed when the handshake has not
    finished in time: a client that connects and says nothing (or stalls
    mid-handshake) would otherwise hold a descriptor forever.
    """

    factory: _DeadlineFactory
    _deadline: IDelayedCall | None = None

    def makeConnection(self, transport: Any) -> None:
        factory = self.factory
        self._deadline = factory.clock.callLater(factory.handshakeTimeout, self._tooSlow)
        super().makeConnection(transport)  # type: ignore[no-untyped-call]

    def _tooSlow(self) -> None:
        self._deadline = None
        if self._handshakeDone:
            return
        log.warn(
            "TLS handshake from {peer} not finished within {timeout} s; closing",
            peer=_peerDescription(self),
            timeout=self.factory.handshakeTimeout,
        )
        transport: Any = self.transport
        transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        super().connectionLost(reason)  # type: ignore[no-untyped-call]


class _DeadlineFactory(TLSMemoryBIOFactory):
    protocol = _HandshakeDeadline

    def __init__(
        self,
        creator: IOpenSSLServerConnectionCreator,
        wrapped: IProtocolFactory,
        clock: IReactorTime,
        handshakeTimeout: float,
    ) -> None:
        super().__init__(creator, False, wrapped, clock)
        self.clock = clock
        self.handshakeTimeout = handshakeTimeout


@implementer(IStreamServerEndpoint)
class TLSServerEndpoint:
    """
    A server endpoint that wraps every connection of another one in mutual
    TLS.  (Twisted has C{wrapClientTLS} for clients but nothing for
    servers.)  A connection whose handshake has not finished within
    C{handshakeTimeout} seconds is closed.
    """

    def __init__(
        self,
        wrapped: IStreamServerEndpoint,
        creator: IOpenSSLServerConnectionCreator,
        handshakeTimeout: float = HANDSHAKE_TIMEOUT,
        clock: IReactorTime | None = None,
    ) -> None:
        self.wrapped = wrapped
        self.creator = creator
        self.handshakeTimeout = handshakeTimeout
        self.clock = clock

    def factory(self, protocolFactory: IProtocolFactory) -> TLSMemoryBIOFactory:
        """
        The TLS-wrapping factory for C{protocolFactory}.
        """
        clock = self.clock
        if clock is None:
            from twisted.internet import reactor

            clock = reactor
        assert clock is not None
        return _DeadlineFactory(self.creator, protocolFactory, clock, self.handshakeTimeout)

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        """
        Listen on the wrapped endpoint with a TLS-wrapping factory.
        """
        result: Deferred[IListeningPort] = self.wrapped.listen(self.factory(protocolFactory))
        return result


def tlsServerEndpoint(
    wrapped: IStreamServerEndpoint,
    settings: TLSSettings,
    acceptRoles: Collection[Role],
    handshakeTimeout: float = HANDSHAKE_TIMEOUT,
    clock: IReactorTime | None = None,
) -> TLSServerEndpoint:
    """
    Wrap a server endpoint (e.g. from C{serverFromString(reactor,
    "tcp6:7001")}) in mutual TLS accepting C{acceptRoles}; clients get
    C{handshakeTimeout} seconds to finish the handshake.
    """
    return TLSServerEndpoint(
        wrapped, serverContextFactory(settings, acceptRoles), handshakeTimeout, clock
    )


def tlsClientEndpoint(
    wrapped: IStreamClientEndpoint, settings: TLSSettings, expectRole: Role | Collection[Role]
) -> IStreamClientEndpoint:
    """
    Wrap a client endpoint (e.g. C{TCP6ClientEndpoint(reactor, ip, port)})
    in mutual TLS expecting a server with C{expectRole}.
    """
    endpoint: IStreamClientEndpoint = wrapClientTLS(
        clientContextFactory(settings, expectRole), wrapped
    )
    return endpoint


def peerCertificate(transport: Any) -> x509.Certificate:
    """
    The verified certificate of the peer of a TLS transport.

    @param transport: a protocol's C{transport} under
        L{TLSMemoryBIOProtocol} (an C{ISSLTransport}).
    @raise PeerRoleError: if the transport is not TLS or the handshake
        has not produced a peer certificate yet.
    """
    getPeerCertificate = getattr(transport, "getPeerCertificate", None)
    if getPeerCertificate is None:
        raise PeerRoleError("the transport is not a TLS transport")
    cert = getPeerCertificate()
    if cert is None:
        raise PeerRoleError("no peer certificate (handshake not complete?)")
    if isinstance(cert, x509.Certificate):
        return cert
    return cert.to_cryptography()  # type: ignore[no-any-return]


def peerRole(transport: Any) -> Role:
    """
    The role of the peer of a TLS transport made by one of the factories
    here (already verified during the handshake).

    @raise PeerRoleError: if there is no peer certificate or it has no
        role.
    """
    try:
        return certificateRole(peerCertificate(transport))
    except PKIError as e:
        raise PeerRoleError(str(e)) from None
