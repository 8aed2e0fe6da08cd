"""
Tests for L{lin6twisted.pki._certs}.
"""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.pki import (
    PKIError,
    Role,
    certificateRole,
    initCA,
    issueCertificate,
    loadCA,
    loadCertificate,
    makeTestPKI,
)


def _certWithNames(names: list[x509.GeneralName] | None) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256())


class RoleTests(SynchronousTestCase):
    """
    L{Role} and L{certificateRole}.
    """

    def test_uris(self) -> None:
        """
        Roles are carried as C{urn:lin6:role:} URIs.
        """
        self.assertEqual(Role.LS.uri, "urn:lin6:role:ls")
        self.assertEqual(Role.MA.uri, "urn:lin6:role:ma")

    def test_role(self) -> None:
        """
        The role URI is found among other names.
        """
        cert = _certWithNames(
            [x509.DNSName("a.example"), x509.UniformResourceIdentifier("urn:lin6:role:ma")]
        )
        self.assertEqual(certificateRole(cert), Role.MA)

    def test_noSAN(self) -> None:
        """
        No subjectAltName, no role.
        """
        e = self.assertRaises(PKIError, certificateRole, _certWithNames(None))
        self.assertIn("no subjectAltName", str(e))

    def test_noRoleURI(self) -> None:
        """
        Other URIs do not make a role.
        """
        cert = _certWithNames([x509.UniformResourceIdentifier("urn:other:ls")])
        self.assertRaises(PKIError, certificateRole, cert)

    def test_severalRoles(self) -> None:
        """
        A certificate with two roles is refused.
        """
        cert = _certWithNames(
            [
                x509.UniformResourceIdentifier("urn:lin6:role:ls"),
                x509.UniformResourceIdentifier("urn:lin6:role:ma"),
            ]
        )
        e = self.assertRaises(PKIError, certificateRole, cert)
        self.assertIn("several", str(e))

    def test_unknownRole(self) -> None:
        """
        An unknown role value is refused.
        """
        cert = _certWithNames([x509.UniformResourceIdentifier("urn:lin6:role:root")])
        e = self.assertRaises(PKIError, certificateRole, cert)
        self.assertIn("unknown lin6 role 'root'", str(e))


class CATests(SynchronousTestCase):
    """
    L{initCA} and L{loadCA}.
    """

    def setUp(self) -> None:
        self.dir = Path(self.mktemp()) / "pki"

    def test_init(self) -> None:
        """
        The CA is a self-signed, path-length-0 CA; its key is private.
        """
        ca = initCA(self.dir, "Test CA", days=10)
        cert = loadCertificate(self.dir / "ca.pem")
        self.assertEqual(cert, ca.certificate)
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        self.assertTrue(constraints.ca)
        self.assertEqual(constraints.path_length, 0)
        self.assertEqual(cert.subject, cert.issuer)
        cert.verify_directly_issued_by(cert)
        self.assertEqual(
            cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, "Test CA"
        )
        self.assertEqual(stat.S_IMODE((self.dir / "ca.key").stat().st_mode), 0o600)
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        self.assertEqual(lifetime, datetime.timedelta(days=10, minutes=5))
        self.assertEqual(loadCA(self.dir).certificate, cert)

    def test_noOverwrite(self) -> None:
        """
        An existing CA is kept unless C{overwrite}.
        """
        first = initCA(self.dir)
        e = self.assertRaises(PKIError, initCA, self.dir)
        self.assertIn("exists already", str(e))
        self.assertEqual(loadCA(self.dir).certificate, first.certificate)
        second = initCA(self.dir, overwrite=True)
        self.assertNotEqual(second.certificate, first.certificate)
        self.assertEqual(loadCA(self.dir).certificate, second.certificate)

    def test_badDays(self) -> None:
        """
        The validity must be positive.
        """
        self.assertRaises(PKIError, initCA, self.dir, days=0)

    def test_loadMissing(self) -> None:
        """
        Loading from an empty directory fails clearly.
        """
        self.dir.mkdir(parents=True)
        e = self.assertRaises(PKIError, loadCA, self.dir)
        self.assertIn("no such file", str(e))

    def test_loadMismatch(self) -> None:
        """
        A CA key that does not match its certificate is refused.
        """
        pki = makeTestPKI(self.dir)
        (self.dir / "ca.key").write_bytes(pki.keyFile("ls1").read_bytes())
        e = self.assertRaises(PKIError, loadCA, self.dir)
        self.assertIn("is not the key of", str(e))


class IssueTests(SynchronousTestCase):
    """
    L{issueCertificate}.
    """

    def setUp(self) -> None:
        self.dir = Path(self.mktemp())
        self.ca = initCA(self.dir)

    def test_issue(self) -> None:
        """
        The certificate carries the role URI, IPs, DNS names, both EKUs and
        CA:FALSE, and is signed by the CA.
        """
        files = issueCertificate(
            self.ca,
            self.dir,
            Role.LS,
            "ls1",
            ips=[ipaddress.ip_address("2001:db8::1")],
            dnsNames=["ls1.example"],
        )
        self.assertEqual(files.certificate, self.dir / "ls1.pem")
        self.assertEqual(stat.S_IMODE(files.key.stat().st_mode), 0o600)
        cert = loadCertificate(files.certificate)
        cert.verify_directly_issued_by(self.ca.certificate)
        self.assertEqual(certificateRole(cert), Role.LS)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(
            san.get_values_for_type(x509.IPAddress), [ipaddress.ip_address("2001:db8::1")]
        )
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["ls1.example"])
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(
            set(eku), {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
        )
        self.assertFalse(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)

    def test_cappedAtCA(self) -> None:
        """
        A certificate never outlives its CA.
        """
        files = issueCertificate(self.ca, self.dir, Role.MA, "ma1", days=100000)
        cert = loadCertificate(files.certificate)
        self.assertEqual(cert.not_valid_after_utc, self.ca.certificate.not_valid_after_utc)

    def test_badNames(self) -> None:
        """
        Names that would make odd file names are refused.
        """
        for name in ("", "ca", "../x", "a/b", ".hidden", "x" * 64, "a b"):
            self.assertRaises(PKIError, issueCertificate, self.ca, self.dir, Role.LS, name)

    def test_noOverwrite(self) -> None:
        """
        An existing certificate is kept unless C{overwrite}.
        """
        issueCertificate(self.ca, self.dir, Role.LS, "ls1")
        before = (self.dir / "ls1.pem").read_bytes()
        self.assertRaises(PKIError, issueCertificate, self.ca, self.dir, Role.MA, "ls1")
        self.assertEqual((self.dir / "ls1.pem").read_bytes(), before)
        issueCertificate(self.ca, self.dir, Role.MA, "ls1", overwrite=True)
        self.assertEqual(certificateRole(loadCertificate(self.dir / "ls1.pem")), Role.MA)


class TestPKITests(SynchronousTestCase):
    """
    L{makeTestPKI}.
    """

    def test_default(self) -> None:
        """
        By default there is one LS and one MA.
        """
        pki = makeTestPKI(Path(self.mktemp()))
        self.assertEqual(dict(pki.roles), {"ls1": Role.LS, "ma1": Role.MA})
        self.assertEqual(pki.settings("ls1").role, Role.LS)
        self.assertEqual(pki.settings("ma1").role, Role.MA)

    def test_configTable(self) -> None:
        """
        The C{[tls]} table it writes loads with L{parseTLS}.
        """
        from lin6twisted.config import loadTOMLString, parseTLS

        pki = makeTestPKI(Path(self.mktemp()), [("a", Role.MA)])
        root = loadTOMLString(pki.configTable("a"), "x.conf")
        self.assertEqual(parseTLS(root.section("tls")).role, Role.MA)
        root.finish()
