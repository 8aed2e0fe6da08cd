"""
Integration tests of the operator commands C{lin6 ls query} and
C{lin6 ma status} against a real C{twistd -n lin6-ls} and a real
C{twistd -n lin6-ma} heartbeating to it over mutual TLS on loopback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import time
import tomllib
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.cli import main
from lin6twisted.ls.query import askLS
from lin6twisted.ma.test.mastub import (
    MappingClient,
    freePort,
    sampleSubscribers,
    startMA,
    writeConfig,
)
from lin6twisted.ma.test.test_integration_ls import lsStatus, startLS
from lin6twisted.pki import Role, makeTestPKI
from lin6twisted.wire import LSError, LSErrorCode, MAReply
from lin6twisted.wire.mapping import RegisterStatus

MN = NodeID.fromString("201:4a00:0:2")
DISABLED = NodeID.fromString("201:4a00:0:4")
UNKNOWN = NodeID.fromString("201:4a00:0:99")
LOCATOR = "2001:db8:a:1:201:4a00:0:2"


def lin6(*argv: str) -> tuple[int, str, str]:
    """
    Run the C{lin6} command line in this process; return its exit status,
    stdout and stderr.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


class OperatorCommandTests(SynchronousTestCase):
    """
    One LS, one MA heartbeating to it; the commands ask them.
    """

    def setUp(self) -> None:
        if os.geteuid() != 0:
            # The MA measures RTTs for the LS with a raw ICMPv6 socket.
            raise self.skipTest("needs root (raw ICMPv6 socket in the MA)")
        base = Path(self.mktemp()).absolute()
        base.mkdir(parents=True)
        pki = makeTestPKI(base / "pki", {"ls1": Role.LS, "ma1": Role.MA})
        ls, maPort, self.lsStatusPort = startLS(base / "ls", pki)
        self.addCleanup(ls.stop)
        self.ls = ls
        conf = tomllib.loads((base / "ls" / "ls.conf").read_text())
        self.queryPort = int(conf["ls"]["query_port"])
        self.maPort = freePort(kind=socket.SOCK_DGRAM)
        self.maStatusPort = freePort()
        extra = f"""advertise = "::1"
capacity = 10
[ma.ls]
servers = ["::1"]
ls_port = {maPort}
heartbeat_interval = "200ms"
retry_max = "1s"
[tls]
ca = "{pki.caFile}"
cert = "{pki.certFile("ma1")}"
key = "{pki.keyFile("ma1")}"
"""
        config = writeConfig(base / "ma", self.maPort, self.maStatusPort, extra=extra)
        self.ma = startMA(base / "ma", config, self.maPort)
        self.addCleanup(self.ma.stop)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            mas = lsStatus(self.lsStatusPort)["mas"]
            if any(m["port"] == self.maPort and m["active"] for m in mas):
                break
            time.sleep(0.1)
        else:
            self.fail(f"the MA never became active at the LS:\n{self.ma.tail()}")

    def test_lsQuery(self) -> None:
        """
        C{lin6 ls query} does the cookie round trip over UDP and TCP and
        prints the MA the LS chose (exit 0), or the LS's refusal (exit 1).
        """
        ls = f"[::1]:{self.queryPort}"
        status, out, err = lin6("ls", "query", "--ls", ls, str(MN), "--timeout", "5")
        self.assertEqual(status, 0, out + err + self.ls.log()[-2000:])
        self.assertRegex(
            out,
            rf"^{MN}: MA \[::1\]:{self.maPort} \(lifetime \d+ s, "
            r"(rtt \d+\.\d{3} ms|from history, no rtt)\)\n$",
        )
        status, out, err = lin6("ls", "query", "--ls", ls, str(MN), "--tcp")
        self.assertEqual(status, 0, out + err)
        self.assertIn(f"MA [::1]:{self.maPort}", out)
        status, out, _ = lin6("ls", "query", "--ls", ls, str(UNKNOWN))
        self.assertEqual((status, out), (1, "LS error UNKNOWN_NODE: unknown Node ID\n"))
        status, out, _ = lin6("ls", "query", "--ls", ls, "--tcp", str(DISABLED))
        self.assertEqual((status, out), (1, "LS error DISABLED_NODE: Node ID disabled\n"))
        counters = lsStatus(self.lsStatusPort)["counters"]
        self.assertGreaterEqual(counters["query_challenged"], 4)

    def test_askLSDirect(self) -> None:
        """
        L{askLS} returns the decoded answers; a port where nothing answers
        is a L{QueryError} after the timeout.
        """
        reply = askLS("::1", self.queryPort, MN, timeout=5.0)
        assert isinstance(reply, MAReply), reply
        self.assertEqual((str(reply.maAddress), reply.maPort), ("::1", self.maPort))
        error = askLS("::1", self.queryPort, UNKNOWN, timeout=5.0, tcp=True)
        assert isinstance(error, LSError), error
        self.assertEqual(error.code, LSErrorCode.UNKNOWN_NODE)
        silent = freePort(kind=socket.SOCK_DGRAM)
        started = time.monotonic()
        status, _, err = lin6("ls", "query", "--ls", f"[::1]:{silent}", str(MN), "-t", "0.3")
        self.assertEqual(status, 1)
        self.assertIn("lin6 ls query:", err)
        self.assertLess(time.monotonic() - started, 3)

    def test_maStatus(self) -> None:
        """
        C{lin6 ma status} shows the LS link up, the bindings and counters;
        C{--json} prints the document itself.
        """
        client = MappingClient(self.maPort)
        self.addCleanup(client.close)
        ack = client.register(sampleSubscribers()[MN], 1, LOCATOR, lifetime=120)
        self.assertEqual(ack.status, RegisterStatus.OK)
        url = f"http://[::1]:{self.maStatusPort}"
        status, out, err = lin6("ma", "status", "--url", url)
        self.assertEqual(status, 0, err)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("LS link: up to "), out)
        self.assertEqual(lines[1], "Bindings by level (not pinned): 1 normal, 0 premium")
        [row] = [line for line in lines if LOCATOR in line]
        fields = row.split()
        self.assertEqual(fields[:3], [str(MN), "normal", LOCATOR])
        self.assertLessEqual(int(fields[3]), 120)
        self.assertIn("registrations  1", out)
        status, out, err = lin6("ma", "status", "--url", url + "/", "--json")
        self.assertEqual(status, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["counts"], {"normal": 1, "premium": 0})
        self.assertTrue(doc["ls"]["connected"])
