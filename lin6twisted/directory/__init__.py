"""
The subscriber directory used by the LS and the MA (DESIGN.md section 6).

  - L{lin6twisted.directory.interfaces}: L{IDirectory}, L{Subscriber},
    L{ServiceLevel}, the errors and L{FakeDirectory} (re-exported here);
  - L{lin6twisted.directory.entry}: LDAP entry -> L{Subscriber}, strictly
    validated (schema in C{etc/lin6.schema} / C{etc/lin6-schema.ldif});
  - L{lin6twisted.directory.embedded}: ldaptor's in-memory tree loaded from
    LDIF, answered in-process or served read-only over LDAP;
  - L{lin6twisted.directory.ldap}: a reconnecting ldaptor client for a real
    LDAP server (OpenLDAP slapd);
  - L{lin6twisted.directory.cache}: TTL cache with coalescing and stale
    grace during outages;
  - L{lin6twisted.directory.settings}: the C{[directory]} configuration
    table and L{directoryFromSettings};
  - L{lin6twisted.directory.cli}: C{lin6 directory serve|check};
  - L{lin6twisted.directory.testing}: sample data, an in-memory LDAP
    endpoint and a real-slapd harness for tests.
"""

from lin6twisted.directory.interfaces import (
    BadDirectoryEntry,
    DirectoryError,
    DirectoryUnavailable,
    FakeDirectory,
    IDirectory,
    ServiceLevel,
    Subscriber,
)

__all__ = [
    "BadDirectoryEntry",
    "DirectoryError",
    "DirectoryUnavailable",
    "FakeDirectory",
    "IDirectory",
    "ServiceLevel",
    "Subscriber",
]
