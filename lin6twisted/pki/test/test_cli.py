"""
Tests for C{lin6 pki}, through L{lin6twisted.cli.main} with real argument
lists.
"""

from __future__ import annotations

import io
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.cli import main
from lin6twisted.pki import Role, TLSSettings, certificateRole, loadCertificate


class PKICommandTests(SynchronousTestCase):
    """
    C{lin6 pki init} and C{lin6 pki issue}.
    """

    def setUp(self) -> None:
        self.dir = Path(self.mktemp()) / "pki"
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.patch(sys, "stdout", self.stdout)
        self.patch(sys, "stderr", self.stderr)

    def lin6(self, *args: str) -> int:
        return main(list(args))

    def test_initAndIssue(self) -> None:
        """
        C{init} then C{issue} make files that load as TLS settings.
        """
        self.assertEqual(self.lin6("pki", "init", "--dir", str(self.dir)), 0)
        self.assertIn("ca.pem", self.stdout.getvalue())
        status = self.lin6(
            "pki",
            "issue",
            "--dir",
            str(self.dir),
            "--role",
            "ma",
            "--name",
            "ma1",
            "--ip",
            "2001:db8::5",
            "--ip",
            "10.0.0.5",
            "--dns",
            "ma1.example",
        )
        self.assertEqual(status, 0, self.stderr.getvalue())
        self.assertIn("(role ma)", self.stdout.getvalue())
        settings = TLSSettings.load(
            self.dir / "ca.pem", self.dir / "ma1.pem", self.dir / "ma1.key"
        )
        self.assertEqual(settings.role, Role.MA)
        san = settings.certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
        self.assertEqual(
            san.get_values_for_type(x509.IPAddress),
            [ipaddress.ip_address("2001:db8::5"), ipaddress.ip_address("10.0.0.5")],
        )
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["ma1.example"])

    def test_shortOptions(self) -> None:
        """
        Short options and C{--days} work.
        """
        self.assertEqual(self.lin6("pki", "init", "-d", str(self.dir), "-n", "Lab CA"), 0)
        self.assertEqual(
            self.lin6("pki", "issue", "-d", str(self.dir), "-r", "ls", "-n", "x", "--days", "2"),
            0,
        )
        cert = loadCertificate(self.dir / "x.pem")
        self.assertEqual(certificateRole(cert), Role.LS)
        self.assertLessEqual((cert.not_valid_after_utc - cert.not_valid_before_utc).days, 2)

    def test_initTwice(self) -> None:
        """
        A second C{init} fails with one line and keeps the CA; C{--force}
        replaces it.
        """
        self.lin6("pki", "init", "--dir", str(self.dir))
        before = (self.dir / "ca.pem").read_bytes()
        self.assertEqual(self.lin6("pki", "init", "--dir", str(self.dir)), 1)
        self.assertIn("exists already", self.stderr.getvalue())
        self.assertEqual(self.stderr.getvalue().count("\n"), 1)
        self.assertEqual((self.dir / "ca.pem").read_bytes(), before)
        self.assertEqual(self.lin6("pki", "init", "--dir", str(self.dir), "--force"), 0)
        self.assertNotEqual((self.dir / "ca.pem").read_bytes(), before)

    def test_issueWithoutCA(self) -> None:
        """
        Issuing without a CA fails with a message.
        """
        self.dir.mkdir(parents=True)
        status = self.lin6("pki", "issue", "--dir", str(self.dir), "--role", "ls", "--name", "a")
        self.assertEqual(status, 1)
        self.assertIn("no such file", self.stderr.getvalue())

    def assertUsageError(self, message: str, *args: str) -> None:
        self.assertEqual(self.lin6(*args), 2)
        self.assertIn(message, self.stderr.getvalue())

    def test_usageErrors(self) -> None:
        """
        Missing and malformed options are usage errors (status 2).
        """
        d = str(self.dir)
        self.assertUsageError("needs a subcommand", "pki")
        self.assertUsageError("--dir is required", "pki", "init")
        self.assertUsageError(
            "--days must be at least 1", "pki", "init", "--dir", d, "--days", "0"
        )
        self.assertUsageError(
            "--days must be a whole number", "pki", "init", "--dir", d, "--days", "x"
        )
        self.assertUsageError("--role is required", "pki", "issue", "--dir", d, "--name", "a")
        self.assertUsageError("--name is required", "pki", "issue", "--dir", d, "--role", "ls")
        self.assertUsageError(
            "--role must be one of ls, ma, got 'dns'",
            *("pki", "issue", "--dir", d, "--role", "dns", "--name", "a"),
        )
        self.assertUsageError(
            "--ip: not an IP address: 'ls1'",
            *("pki", "issue", "--dir", d, "--role", "ls", "--name", "a", "--ip", "ls1"),
        )
        self.assertFalse(self.dir.exists())

    def test_badName(self) -> None:
        """
        A name that would escape the directory is refused.
        """
        self.lin6("pki", "init", "--dir", str(self.dir))
        status = self.lin6(
            "pki", "issue", "--dir", str(self.dir), "--role", "ls", "--name", "../evil"
        )
        self.assertEqual(status, 1)
        self.assertFalse((self.dir.parent / "evil.pem").exists())
