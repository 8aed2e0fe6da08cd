# -*- test-case-name: lin6twisted.pki.test.test_certs -*-
"""
The deployment CA and role certificates, made with C{cryptography}.

A deployment has one CA (C{ca.pem}, C{ca.key}); it signs one certificate
per daemon (C{NAME.pem}, C{NAME.key}).  Keys are EC P-256 (fast to make,
supported by every TLS 1.2 and 1.3 stack); signatures use SHA-256.

The role of a daemon is carried in its certificate as exactly one
subjectAltName URI C{urn:lin6:role:<role>} (C{urn:lin6:role:ls},
C{urn:lin6:role:ma}); a certificate without one, or with several, has no
role and is refused.  Role certificates also carry basicConstraints
C{CA:FALSE}, keyUsage C{digitalSignature} and extendedKeyUsage
C{serverAuth, clientAuth}, because every daemon is both a TLS server and a
TLS client.  Peers are addressed by IP address, so a peer's role (checked
against the deployment CA's signature) replaces the usual host name check;
the optional IP and DNS subjectAltNames are informative.
"""

from __future__ import annotations

import datetime
import enum
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from attrs import frozen
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from lin6twisted.pki._tls import TLSSettings

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "ROLE_URI_PREFIX",
    "IssuedFiles",
    "PKIError",
    "Role",
    "TestPKI",
    "certificateRole",
    "initCA",
    "issueCertificate",
    "loadCA",
    "makeTestPKI",
]

ROLE_URI_PREFIX: Final = "urn:lin6:role:"
CA_CERT_FILE: Final = "ca.pem"
CA_KEY_FILE: Final = "ca.key"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class Role(enum.Enum):
    """
    The role a certificate grants.  The value is the text used on the
    command line and in the certificate's role URI.
    """

    LS = "ls"
    MA = "ma"

    @property
    def uri(self) -> str:
        """
        The subjectAltName URI carrying this role.
        """
        return ROLE_URI_PREFIX + self.value


class PKIError(Exception):
    """
    Making, loading or reading a CA or certificate failed; the message
    says why in one sentence.
    """


def certificateRole(certificate: x509.Certificate) -> Role:
    """
    The role a certificate grants, from its C{urn:lin6:role:} URI.

    @raise PKIError: if it carries no role URI, several, or an unknown one.
    """
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        raise PKIError("certificate has no subjectAltName, so no lin6 role") from None
    uris = [
        uri
        for uri in san.value.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(ROLE_URI_PREFIX)
    ]
    if not uris:
        raise PKIError("certificate has no lin6 role (no urn:lin6:role: URI)")
    if len(uris) > 1:
        raise PKIError(f"certificate has several lin6 roles ({', '.join(uris)})")
    value = uris[0][len(ROLE_URI_PREFIX) :]
    for role in Role:
        if role.value == value:
            return role
    raise PKIError(f"certificate has an unknown lin6 role {value!r}")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _newKey() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _writeNew(path: Path, data: bytes, private: bool, overwrite: bool) -> None:
    """
    Write a file, refusing to replace one unless C{overwrite}; private
    files are created mode 0600 from the start.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600 if private else 0o644)
    except FileExistsError:
        raise PKIError(f"{path} exists already; not overwriting it") from None
    except OSError as e:
        raise PKIError(f"cannot write {path}: {e.strerror or e}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _keyPEM(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@frozen
class CA:
    """
    A loaded deployment CA: its certificate and private key.
    """

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def initCA(
    directory: Path,
    commonName: str = "lin6 deployment CA",
    days: int = 3650,
    overwrite: bool = False,
    now: datetime.datetime | None = None,
) -> CA:
    """
    Create a deployment CA in C{directory} (created if needed):
    C{ca.pem} (self-signed certificate) and C{ca.key} (private key, mode
    0600).

    @raise PKIError: if a CA exists there already (unless C{overwrite}) or
        the files cannot be written.
    """
    if days < 1:
        raise PKIError(f"validity must be at least 1 day, got {days}")
    now = now or _now()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PKIError(f"cannot create {directory}: {e.strerror or e}") from None
    key = _newKey()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)])
    publicKey = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(publicKey)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(publicKey), critical=False)
        .sign(key, hashes.SHA256())
    )
    if not overwrite:
        for fileName in (CA_CERT_FILE, CA_KEY_FILE):
            if (directory / fileName).exists():
                raise PKIError(f"{directory / fileName} exists already; not overwriting it")
    _writeNew(directory / CA_KEY_FILE, _keyPEM(key), True, overwrite)
    _writeNew(
        directory / CA_CERT_FILE,
        certificate.public_bytes(serialization.Encoding.PEM),
        False,
        overwrite,
    )
    return CA(certificate, key)


def loadCA(directory: Path) -> CA:
    """
    Load the CA made by L{initCA} from C{directory}.

    @raise PKIError: if the files are missing, unreadable, malformed or do
        not belong together.
    """
    certPath = directory / CA_CERT_FILE
    keyPath = directory / CA_KEY_FILE
    certificate = loadCertificate(certPath)
    key = loadPrivateKey(keyPath)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PKIError(f"{keyPath}: the CA key must be an EC key")
    if key.public_key() != certificate.public_key():
        raise PKIError(f"{keyPath} is not the key of {certPath}")
    if not isCA(certificate):
        raise PKIError(f"{certPath} is not a CA certificate")
    return CA(certificate, key)


def isCA(certificate: x509.Certificate) -> bool:
    """
    Whether C{certificate} has basicConstraints C{CA:TRUE}.
    """
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def loadCertificate(path: Path) -> x509.Certificate:
    """
    Load one PEM certificate.

    @raise PKIError: if the file is missing, unreadable or not a PEM
        certificate.
    """
    data = _read(path)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise PKIError(f"{path} is not a PEM certificate") from None


def loadPrivateKey(path: Path) -> PrivateKeyTypes:
    """
    Load one unencrypted PEM private key.

    @raise PKIError: if the file is missing, unreadable, encrypted or not
        a PEM private key.
    """
    data = _read(path)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise PKIError(f"{path} is an encrypted key; lin6 needs it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise PKIError(f"{path} is not a PEM private key") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PKIError(f"{path}: no such file") from None
    except OSError as e:
        raise PKIError(f"cannot read {path}: {e.strerror or e}") from None


@frozen
class IssuedFiles:
    """
    The files L{issueCertificate} wrote.
    """

    certificate: Path
    key: Path


def issueCertificate(
    ca: CA,
    directory: Path,
    role: Role,
    name: str,
    ips: Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address] = (),
    dnsNames: Sequence[str] = (),
    days: int = 825,
    overwrite: bool = False,
    now: datetime.datetime | None = None,
) -> IssuedFiles:
    """
    Issue a role certificate signed by C{ca} and write C{NAME.pem} and
    C{NAME.key} (mode 0600) into C{directory}.

    @param name: the daemon's name (letters, digits, C{.-_}); also the
        certificate's commonName.
    @raise PKIError: if the name is malformed, the files exist (unless
        C{overwrite}) or cannot be written.
    """
    if not _NAME.match(name) or name in ("ca",):
        raise PKIError(
            f"name {name!r} must be 1-63 letters, digits, '.', '-' or '_' (not 'ca'), "
            "starting with a letter or digit"
        )
    if days < 1:
        raise PKIError(f"validity must be at least 1 day, got {days}")
    now = now or _now()
    certPath = directory / f"{name}.pem"
    keyPath = directory / f"{name}.key"
    if not overwrite:
        for path in (certPath, keyPath):
            if path.exists():
                raise PKIError(f"{path} exists already; not overwriting it")
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(role.uri)]
    names.extend(x509.IPAddress(ip) for ip in ips)
    try:
        names.extend(x509.DNSName(dns) for dns in dnsNames)
    except ValueError as e:
        raise PKIError(f"bad DNS name: {e}") from None
    key = _newKey()
    publicKey = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
                ]
            )
        )
        .issuer_name(ca.certificate.subject)
        .public_key(publicKey)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(
            min(now + datetime.timedelta(days=days), ca.certificate.not_valid_after_utc)
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(publicKey), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    certificate = builder.sign(ca.key, hashes.SHA256())
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PKIError(f"cannot create {directory}: {e.strerror or e}") from None
    _writeNew(keyPath, _keyPEM(key), True, overwrite)
    _writeNew(certPath, certificate.public_bytes(serialization.Encoding.PEM), False, overwrite)
    return IssuedFiles(certPath, keyPath)


@frozen
class TestPKI:
    """
    A throwaway PKI made by L{makeTestPKI}.

    @ivar directory: where the files are.
    @ivar caFile: the CA certificate.
    @ivar roles: daemon name -> role, for every issued certificate.
    """

    directory: Path
    caFile: Path
    roles: Mapping[str, Role]

    def certFile(self, name: str) -> Path:
        """
        The certificate file of daemon C{name}.
        """
        return self.directory / f"{name}.pem"

    def keyFile(self, name: str) -> Path:
        """
        The private key file of daemon C{name}.
        """
        return self.directory / f"{name}.key"

    def settings(self, name: str) -> TLSSettings:
        """
        The loaded L{TLSSettings} of daemon C{name}.
        """
        from lin6twisted.pki._tls import TLSSettings

        return TLSSettings.load(self.caFile, self.certFile(name), self.keyFile(name))

    def configTable(self, name: str) -> str:
        """
        A C{[tls]} TOML table for daemon C{name}, with absolute paths.
        """
        return (
            "[tls]\n"
            f"ca = {_tomlString(self.caFile)}\n"
            f"cert = {_tomlString(self.certFile(name))}\n"
            f"key = {_tomlString(self.keyFile(name))}\n"
        )


def _tomlString(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def makeTestPKI(
    directory: Path,
    roles: Mapping[str, Role] | Iterable[tuple[str, Role]] | None = None,
    ips: Mapping[str, Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address]] | None = None,
) -> TestPKI:
    """
    Make a whole throwaway PKI in C{directory}: a CA and one certificate
    per name (default: C{ls1} as LS and C{ma1} as MA).  Takes a few
    milliseconds per certificate.

    @param ips: optional IP subjectAltNames per name.
    """
    chosen = dict(roles) if roles is not None else {"ls1": Role.LS, "ma1": Role.MA}
    ca = initCA(directory)
    for name, role in chosen.items():
        issueCertificate(ca, directory, role, name, ips=(ips or {}).get(name, ()))
    return TestPKI(directory, directory / CA_CERT_FILE, chosen)
