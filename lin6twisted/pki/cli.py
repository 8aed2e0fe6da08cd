# -*- test-case-name: lin6twisted.pki.test.test_cli -*-
"""
C{lin6 pki}: make a deployment CA and role certificates.

  - C{lin6 pki init --dir DIR [--name CN] [--days N] [--force]} writes
    C{DIR/ca.pem} and C{DIR/ca.key} (mode 0600).
  - C{lin6 pki issue --dir DIR --role ls|ma --name NAME [--ip ADDR ...]
    [--dns NAME ...] [--days N] [--force]} writes C{DIR/NAME.pem} and
    C{DIR/NAME.key} (mode 0600), signed by the CA in C{DIR}.

Existing files are never replaced without C{--force}.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from twisted.python import usage

from lin6twisted._cliutil import Command
from lin6twisted.pki._certs import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    PKIError,
    Role,
    initCA,
    issueCertificate,
    loadCA,
)

__all__ = ["Options", "run"]


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise usage.UsageError(f"--days must be a whole number of days, got {text!r}") from None
    if days < 1:
        raise usage.UsageError(f"--days must be at least 1, got {days}")
    return days


class InitOptions(Command):
    """
    C{lin6 pki init}: create the deployment CA.
    """

    synopsis = "--dir DIR [--name CN] [--days N] [--force]"
    optFlags = [["force", "f", "Replace an existing CA (invalidates every certificate)."]]
    optParameters = [
        ["dir", "d", None, "Directory for ca.pem and ca.key (created if needed)."],
        ["name", "n", "lin6 deployment CA", "Common name of the CA."],
        ["days", None, "3650", "Validity in days."],
    ]

    def postOptions(self) -> None:
        if not self["dir"]:
            raise usage.UsageError("--dir is required")
        self["dir"] = Path(self["dir"])
        self["days"] = _days(self["days"])


class IssueOptions(Command):
    """
    C{lin6 pki issue}: issue a role certificate.
    """

    synopsis = (
        "--dir DIR --role ls|ma --name NAME [--ip ADDR ...] [--dns NAME ...] [--days N] [--force]"
    )
    optFlags = [["force", "f", "Replace existing NAME.pem and NAME.key."]]
    optParameters = [
        ["dir", "d", None, "Directory holding the CA; NAME.pem and NAME.key go there."],
        ["role", "r", None, "Role of the certificate: " + ", ".join(r.value for r in Role) + "."],
        ["name", "n", None, "Name of the daemon (file names and common name)."],
        ["days", None, "825", "Validity in days (capped at the CA's)."],
    ]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["ips"] = []
        self["dnsNames"] = []

    def opt_ip(self, value: str) -> None:
        """
        An IP address of the daemon (repeatable; informative only).
        """
        try:
            self["ips"].append(ipaddress.ip_address(value))
        except ValueError:
            raise usage.UsageError(f"--ip: not an IP address: {value!r}") from None

    def opt_dns(self, value: str) -> None:
        """
        A DNS name of the daemon (repeatable; informative only).
        """
        if not value or any(c.isspace() for c in value):
            raise usage.UsageError(f"--dns: not a DNS name: {value!r}")
        self["dnsNames"].append(value)

    def postOptions(self) -> None:
        for required in ("dir", "role", "name"):
            if not self[required]:
                raise usage.UsageError(f"--{required} is required")
        self["dir"] = Path(self["dir"])
        for role in Role:
            if role.value == self["role"]:
                self["role"] = role
                break
        else:
            choices = ", ".join(r.value for r in Role)
            raise usage.UsageError(f"--role must be one of {choices}, got {self['role']!r}")
        self["days"] = _days(self["days"])


class Options(Command):
    """
    C{lin6 pki}: the subcommands.
    """

    synopsis = "(init | issue) [options]"
    subCommands = [
        ["init", None, InitOptions, "Create the deployment CA."],
        ["issue", None, IssueOptions, "Issue a role certificate signed by the CA."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("lin6 pki needs a subcommand: init or issue")


def run(options: Options) -> int:
    """
    Carry out C{lin6 pki}.

    @return: 0 on success, 1 (with a one-line message on stderr) on
        failure.
    """
    sub = options.subOptions
    try:
        if options.subCommand == "init":
            directory: Path = sub["dir"]
            initCA(directory, sub["name"], sub["days"], overwrite=sub["force"])
            sys.stdout.write(f"wrote {directory / CA_CERT_FILE} and {directory / CA_KEY_FILE}\n")
        else:
            ca = loadCA(sub["dir"])
            files = issueCertificate(
                ca,
                sub["dir"],
                sub["role"],
                sub["name"],
                ips=sub["ips"],
                dnsNames=sub["dnsNames"],
                days=sub["days"],
                overwrite=sub["force"],
            )
            sys.stdout.write(
                f"wrote {files.certificate} and {files.key} (role {sub['role'].value})\n"
            )
    except PKIError as e:
        sys.stderr.write(f"lin6 pki {options.subCommand}: {e}\n")
        return 1
    return 0
