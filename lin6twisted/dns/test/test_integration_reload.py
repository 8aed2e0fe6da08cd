"""
Integration test: C{twistd -n lin6-dns} as a subprocess, reloading its
zones on SIGHUP while C{dig} and a query loop keep asking.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from twisted.names import dns
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.testing.processes import Daemon, freePort, twistdArgv

ROOT = Path(__file__).resolve().parents[3]
ZONES = ROOT / "etc" / "zones"
OLD = "3ffe:501:1830:1999:201:4a00:0:100"
NEW = "3ffe:501:1830:1999:201:4a00:0:101"
BULK = 5000


class QueryLoop(threading.Thread):
    """
    Asks C{stream.lin6.example AAAA} over UDP in a loop, one query at a
    time, and counts answers, losses and the slowest answer.
    """

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stopping = threading.Event()
        self.answered = 0
        self.lost = 0
        self.slowest = 0.0
        self.seen: set[str] = set()

    def run(self) -> None:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.settimeout(2.0)
            messageID = 0
            while not self.stopping.is_set():
                messageID = (messageID + 1) % 65536
                query = dns.Message(id=messageID)
                query.queries = [dns.Query("stream.lin6.example", dns.AAAA)]
                started = time.monotonic()
                s.sendto(query.toStr(), ("::1", self.port))
                try:
                    while True:
                        data, _ = s.recvfrom(4096)
                        answer = dns.Message()
                        answer.fromStr(data)
                        if answer.id == messageID:
                            break
                except TimeoutError:
                    self.lost += 1
                    continue
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.answered += 1
                for rr in answer.answers:
                    payload: Any = rr.payload
                    self.seen.add(str(ipaddress.IPv6Address(payload.address)))


class ReloadTests(SynchronousTestCase):
    """
    SIGHUP reloads the zones without dropping queries; a broken zone file
    keeps the old zone.
    """

    def setUp(self) -> None:
        if shutil.which("dig") is None:
            if os.getuid() == 0:
                self.fail("dig is not installed (Debian package dnsutils)")
            self.skipTest("dig is not installed and we are not root")
        self.directory = Path(self.mktemp()).resolve()
        (self.directory / "zones").mkdir(parents=True)
        self.forward = self.directory / "zones" / "lin6.example.zone"
        shutil.copy(ZONES / "lin6.example.zone", self.forward)
        # A larger zone, so that a reload takes a while.
        bulk = ["$ORIGIN bulk.test.", "@ SOA ns hm 1 2 3 4 5"]
        bulk += [f"h{i} AAAA 2001:db8::{i:x}" for i in range(1, BULK + 1)]
        (self.directory / "zones" / "bulk.test.zone").write_text("\n".join(bulk) + "\n")
        self.port = freePort()
        config = self.directory / "dns.conf"
        config.write_text(
            '[dns]\nzones = ["zones/lin6.example.zone", "zones/bulk.test.zone"]\n'
            f'port = {self.port}\ninterface = "::1"\n'
        )
        self.daemon = Daemon(
            twistdArgv("lin6-dns", "--config", str(config)),
            self.directory / "dns.log",
            cwd=str(ROOT),
        ).start()
        self.addCleanup(self.daemon.stop)
        self.daemon.waitForPort("::1", self.port, timeout=20)

    def dig(self, name: str, rrtype: str = "AAAA") -> list[str]:
        result = subprocess.run(
            ["dig", "@::1", "-p", str(self.port), "+short", "+time=2", "+tries=1", name, rrtype],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result.stdout.split()

    def edit(self, old: str, new: str) -> None:
        text = self.forward.read_text()
        self.assertIn(old, text)
        self.forward.write_text(text.replace(old, new))

    def test_reloadWhileAnswering(self) -> None:
        """
        After the zone file changes and the daemon gets SIGHUP, C{dig} sees
        the new data, and a query loop running all along loses nothing.
        """
        self.assertEqual(self.dig("stream.lin6.example"), [OLD])
        self.assertEqual(self.dig("h5000.bulk.test"), ["2001:db8::1388"])
        loop = QueryLoop(self.port)
        loop.start()
        self.addCleanup(loop.stopping.set)
        time.sleep(0.3)
        self.edit(f"stream          IN AAAA {OLD}", f"stream          IN AAAA {NEW}")
        self.edit("2026120401 ; serial", "2026120402 ; serial")
        mark = len(self.daemon.log())
        sighup = time.monotonic()
        self.daemon.signal(signal.SIGHUP)
        self.daemon.waitForLog(r"Serving zone lin6\.example serial 2026120402", after=mark)
        deadline = time.monotonic() + 10
        while self.dig("stream.lin6.example") != [NEW]:
            self.assertLess(time.monotonic(), deadline, "dig never saw the new address")
            time.sleep(0.05)
        visible = time.monotonic() - sighup
        time.sleep(0.3)
        loop.stopping.set()
        loop.join(5)
        self.assertEqual(loop.lost, 0, self.daemon.tail())
        self.assertGreater(loop.answered, 10)
        self.assertIn(OLD, loop.seen)
        self.assertIn(NEW, loop.seen)
        self.assertEqual(self.dig("h5000.bulk.test"), ["2001:db8::1388"])
        slowest = loop.slowest * 1000
        print(
            f"\nreload: {loop.answered} queries answered, 0 lost, slowest {slowest:.1f} ms,"
            f" new data visible {visible * 1000:.0f} ms after SIGHUP"
        )

    def test_brokenZoneKeepsOld(self) -> None:
        """
        A zone file broken by an edit is reported on SIGHUP and the old zone
        stays served; fixing it and SIGHUP again loads it.
        """
        self.edit(f"stream          IN AAAA {OLD}", "stream          IN AAAA not-an-address")
        mark = len(self.daemon.log())
        self.daemon.signal(signal.SIGHUP)
        self.daemon.waitForLog(
            r"keeping the old zone: .*lin6\.example\.zone, line \d+", after=mark
        )
        self.assertEqual(self.dig("stream.lin6.example"), [OLD])
        self.assertTrue(self.daemon.running())
        self.edit("stream          IN AAAA not-an-address", f"stream          IN AAAA {NEW}")
        mark = len(self.daemon.log())
        self.daemon.signal(signal.SIGHUP)
        self.daemon.waitForLog(r"Serving zone lin6\.example", after=mark)
        self.assertEqual(self.dig("stream.lin6.example"), [NEW])
