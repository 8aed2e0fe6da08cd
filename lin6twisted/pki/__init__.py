# -*- test-case-name: lin6twisted.pki.test -*-
"""
The deployment PKI and mutual TLS between lin6 daemons.

  - L{initCA}, L{issueCertificate}, L{makeTestPKI}: make a deployment CA and
    role certificates (also C{lin6 pki init} / C{lin6 pki issue}).
  - L{TLSSettings}: a daemon's CA, certificate and key, loaded and checked
    (from a C{[tls]} table by L{lin6twisted.config.parseTLS}).
  - L{serverContextFactory}, L{clientContextFactory}, L{tlsServerEndpoint},
    L{tlsClientEndpoint}: mutual TLS (1.2+, 1.3 preferred) with the peer's
    role checked from its certificate.
  - L{peerRole}: the verified role of a connection's peer.

Typical use in a daemon (C{settings} from L{lin6twisted.config.parseTLS})::

    endpoint = tlsServerEndpoint(
        serverFromString(reactor, "tcp6:port=7001"), settings, [Role.MA, Role.LS]
    )
    StreamServerEndpointService(endpoint, factory).setServiceParent(parent)

    lsEndpoint = tlsClientEndpoint(
        TCP6ClientEndpoint(reactor, "2001:db8::10", 7001), settings, Role.LS
    )
    ClientService(lsEndpoint, factory, clock=reactor).setServiceParent(parent)

    # in a protocol, once data arrives (the handshake is over):
    role = peerRole(self.transport)

Unit tests can run real TLS in memory with
L{lin6twisted.pki.testing.connectTLS}.

The role is a subjectAltName URI C{urn:lin6:role:ls} / C{urn:lin6:role:ma}
(see L{lin6twisted.pki._certs}); peers are addressed by IP address, so the
role check replaces host name verification (see L{lin6twisted.pki._tls}).
"""

from lin6twisted.pki._certs import (
    CA,
    CA_CERT_FILE,
    CA_KEY_FILE,
    ROLE_URI_PREFIX,
    IssuedFiles,
    PKIError,
    Role,
    TestPKI,
    certificateRole,
    initCA,
    issueCertificate,
    loadCA,
    loadCertificate,
    loadPrivateKey,
    makeTestPKI,
)
from lin6twisted.pki._tls import (
    PeerRoleError,
    RoleCheckingCreator,
    TLSError,
    TLSPrivateKey,
    TLSServerEndpoint,
    TLSSettings,
    clientContextFactory,
    peerCertificate,
    peerRole,
    serverContextFactory,
    tlsClientEndpoint,
    tlsServerEndpoint,
)

__all__ = [
    "CA",
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "ROLE_URI_PREFIX",
    "IssuedFiles",
    "PKIError",
    "PeerRoleError",
    "Role",
    "RoleCheckingCreator",
    "TLSError",
    "TLSPrivateKey",
    "TLSServerEndpoint",
    "TLSSettings",
    "TestPKI",
    "certificateRole",
    "clientContextFactory",
    "initCA",
    "issueCertificate",
    "loadCA",
    "loadCertificate",
    "loadPrivateKey",
    "makeTestPKI",
    "peerCertificate",
    "peerRole",
    "serverContextFactory",
    "tlsClientEndpoint",
    "tlsServerEndpoint",
]
