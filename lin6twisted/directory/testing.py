"""
Test helpers for the directory, usable by other parts' tests.

    - L{SAMPLE_LDIF}: the path of C{etc/subscribers.ldif};
      L{sampleDirectory} loads it; the C{SAMPLE_*} Node IDs name its
      entries (their keys come from the loaded entries).
    - L{PumpEndpoint}: a client endpoint connecting to an in-memory server
      factory through L{twisted.test.iosim}, for LDAP client unit tests
      without sockets.
    - L{Slapd}: a real OpenLDAP server with the lin6 schema and the sample
      data, for integration tests (directory, MA, LS).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IProtocol, IProtocolFactory, IStreamClientEndpoint
from twisted.test import iosim
from zope.interface import implementer

from lin6twisted.address import NodeID
from lin6twisted.directory.embedded import EmbeddedDirectory
from lin6twisted.testing.processes import Daemon, DaemonError, freePort

__all__ = [
    "SAMPLE_ADMIN_DN",
    "SAMPLE_ADMIN_PASSWORD",
    "SAMPLE_BASE_DN",
    "SAMPLE_COUNT",
    "SAMPLE_CS1",
    "SAMPLE_CS2",
    "SAMPLE_DISABLED",
    "SAMPLE_LDIF",
    "SAMPLE_NORMAL",
    "SAMPLE_PREMIUM",
    "SAMPLE_READER_DN",
    "SAMPLE_READER_PASSWORD",
    "SAMPLE_SERVICE",
    "PumpEndpoint",
    "Slapd",
    "sampleDirectory",
]

SAMPLE_LDIF: Final = Path(__file__).resolve().parents[2] / "etc" / "subscribers.ldif"
SAMPLE_BASE_DN: Final = "ou=subscribers,dc=lin6,dc=example"
SAMPLE_READER_DN: Final = "cn=lin6-reader,dc=lin6,dc=example"
SAMPLE_READER_PASSWORD: Final = b"lin6-reader"
SAMPLE_CS1: Final = NodeID.fromString("1:4a00:0:1")
"""Content server 1: stationary, premium, enabled."""
SAMPLE_CS2: Final = NodeID.fromString("1:4a00:0:2")
"""Content server 2: stationary, premium, enabled."""
SAMPLE_NORMAL: Final = NodeID.fromString("201:4a00:0:2")
"""Mobile node, normal, enabled, key id 1."""
SAMPLE_PREMIUM: Final = NodeID.fromString("201:4a00:0:3")
"""Mobile node, premium, enabled, key id 7."""
SAMPLE_DISABLED: Final = NodeID.fromString("201:4a00:0:4")
"""Mobile node, normal, disabled."""
SAMPLE_SERVICE: Final = NodeID.fromString("201:4a00:0:100")
"""The content servers' shared service Node ID (stream.lin6.example), premium."""
SAMPLE_COUNT: Final = 6
"""How many subscriber entries the sample LDIF holds."""


def sampleDirectory() -> EmbeddedDirectory:
    """
    The embedded directory loaded from C{etc/subscribers.ldif}.
    """
    return EmbeddedDirectory.fromLDIF(SAMPLE_LDIF)


@implementer(IStreamClientEndpoint)
class PumpEndpoint:
    """
    Connects clients to C{serverFactory} over in-memory transports.

    Data moves only when the test calls L{flush}.  While C{refuse} is true,
    connection attempts fail with C{ConnectionRefusedError}.

    @ivar pumps: one L{iosim.IOPump} per connection made.
    @ivar servers: the server protocols, in order.
    """

    def __init__(self, serverFactory: IProtocolFactory) -> None:
        self.serverFactory = serverFactory
        self.refuse = False
        self.attempts = 0
        self.pumps: list[iosim.IOPump] = []
        self.servers: list[Any] = []

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[IProtocol]:
        self.attempts += 1
        if self.refuse:
            return fail(ConnectionRefusedError("refused by test"))  # type: ignore[no-untyped-call]
        client = protocolFactory.buildProtocol(None)  # type: ignore[arg-type]
        server = self.serverFactory.buildProtocol(None)  # type: ignore[arg-type]
        if client is None or server is None:
            refused = ConnectionRefusedError("no protocol")  # type: ignore[no-untyped-call]
            return fail(refused)
        self.servers.append(server)
        serverTransport = iosim.FakeTransport(server, isServer=True)  # type: ignore[no-untyped-call]
        clientTransport = iosim.FakeTransport(client, isServer=False)  # type: ignore[no-untyped-call]
        pump = iosim.connect(  # type: ignore[no-untyped-call]
            server, serverTransport, client, clientTransport, greet=False
        )
        self.pumps.append(pump)
        return succeed(client)

    def flush(self) -> None:
        """
        Move all pending data both ways, on every connection.
        """
        for pump in self.pumps:
            pump.flush()  # type: ignore[no-untyped-call]


SLAPD: Final = "/usr/sbin/slapd"
SLAPADD: Final = "/usr/sbin/slapadd"
SCHEMA_LDIF: Final = SAMPLE_LDIF.parent / "lin6-schema.ldif"
SAMPLE_ADMIN_DN: Final = "cn=admin,dc=lin6,dc=example"
SAMPLE_ADMIN_PASSWORD: Final = "lin6-admin"  # noqa: S105 - test server only

_SLAPD_CONFIG = """\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {root}/slapd.pid
olcArgsFile: {root}/slapd.args

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file://{schema}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: dc=lin6,dc=example
olcRootDN: {admin}
olcRootPW: {password}
olcDbDirectory: {root}/db
olcDbMaxSize: 16777216
olcDbIndex: objectClass eq
olcDbIndex: lin6NodeID eq
olcAccess: {{0}}to attrs=userPassword by anonymous auth by * none
olcAccess: {{1}}to attrs=lin6Key by dn.exact="{reader}" read by * none
olcAccess: {{2}}to * by * read
"""


class Slapd:
    """
    A real OpenLDAP C{slapd} for integration tests, configured from scratch
    under its own directory: C{cn=config} built with C{slapadd -n 0} from
    C{etc/lin6-schema.ldif}, an MDB database for C{dc=lin6,dc=example}
    loaded with C{slapadd} from the given LDIF files, listening on
    C{ldap://127.0.0.1:PORT/} only.

    ACLs as a deployment would have them: C{lin6Key} is readable only by
    the reader account (L{SAMPLE_READER_DN}); C{userPassword} only for
    binding.

    Use L{start} and L{stop} (idempotent; add C{stop} as a cleanup).  The
    database stays, so a stopped server can be started again with the same
    data on the same port.

    @ivar root: the directory holding config, database and log.
    @ivar port: the TCP port (chosen at first start).
    """

    def __init__(self, root: Path, ldifs: Sequence[Path] = (SAMPLE_LDIF,)) -> None:
        self.root = root
        self.ldifs = list(ldifs)
        self.port = 0
        self.daemon: Daemon | None = None
        self._configured = False

    @property
    def url(self) -> str:
        """
        The server's LDAP URL.
        """
        return f"ldap://127.0.0.1:{self.port}"

    def _run(self, argv: list[str], what: str) -> None:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise DaemonError(
                f"{what} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
            )

    def configure(self) -> None:
        """
        Write the configuration and load the data (done by the first
        L{start}).
        """
        (self.root / "config").mkdir(parents=True)
        (self.root / "db").mkdir()
        config = self.root / "config.ldif"
        config.write_text(
            _SLAPD_CONFIG.format(
                root=self.root,
                schema=SCHEMA_LDIF,
                admin=SAMPLE_ADMIN_DN,
                password=SAMPLE_ADMIN_PASSWORD,
                reader=SAMPLE_READER_DN,
            )
        )
        confdir = str(self.root / "config")
        self._run([SLAPADD, "-n", "0", "-F", confdir, "-l", str(config)], "slapadd (config)")
        for ldif in self.ldifs:
            self._run(
                [SLAPADD, "-F", confdir, "-b", "dc=lin6,dc=example", "-l", str(ldif)],
                f"slapadd {ldif}",
            )
        self._configured = True

    def start(self, timeout: float = 10.0) -> None:
        """
        Start slapd in the foreground and wait until it accepts connections.

        @raise DaemonError: if it does not (the message has its log).
        """
        if not self._configured:
            self.configure()
        attempts = 3 if self.port == 0 else 1
        for attempt in range(attempts):
            if self.port == 0 or attempt:
                self.port = freePort(socket.AF_INET)
            argv = [
                SLAPD, "-d", "256", "-F", str(self.root / "config"),
                "-h", f"ldap://127.0.0.1:{self.port}/",
            ]  # fmt: skip
            self.daemon = Daemon(argv, self.root / "slapd.log").start()
            try:
                self.daemon.waitForPort("127.0.0.1", self.port, timeout)
                return
            except DaemonError:
                self.daemon.stop()
                if attempt == attempts - 1:
                    raise

    def stop(self) -> None:
        """
        Stop slapd (SIGTERM, then SIGKILL) and wait for it.
        """
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None
