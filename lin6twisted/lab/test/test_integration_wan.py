"""
Integration tests for the lab's WAN delay emulator (root; real namespaces).
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.lab.wan import Spoke, WANCore, WANError
from lin6twisted.netns import Namespace, Topology, isRoot

# A UDP sender at a fixed rate, run inside a namespace while the RTT is measured.
_BLAST = """
import socket, sys, time
dst, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
payload = b"x" * 1200
interval = len(payload) * 8 / rate
end = time.monotonic() + seconds
nxt = time.monotonic()
while time.monotonic() < end:
    s.sendto(payload, (dst, 9))
    nxt += interval
    pause = nxt - time.monotonic()
    if pause > 0:
        time.sleep(pause)
"""


def pingRTTs(ns: Namespace, dst: str, count: int) -> list[float]:
    """
    Ping C{dst} from C{ns} and return each RTT in milliseconds.
    """
    out = ns.run(["ping", "-6", "-c", str(count), "-i", "0.05", "-W", "2", dst], timeout=60).stdout
    return [float(m) for m in re.findall(r"time=([0-9.]+) ms", out)]


class WANCoreTests(SynchronousTestCase):
    """
    L{WANCore} delays traffic by the configured per-pair one-way delays.
    """

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("network namespaces need root")
        self.topo = Topology("l6wan")
        self.addCleanup(self.topo.destroy)
        core = self.topo.addNamespace("core", router=True)
        self.hosts = {}
        for i, name in enumerate(["a", "b", "c"], start=1):
            ns = self.topo.addNamespace(name)
            self.topo.link(ns, "eth0", core, f"s{name}")
            ns.addAddress("eth0", f"2001:db8:{i}::2/64")
            core.addAddress(f"s{name}", f"2001:db8:{i}::1/64")
            ns.addRoute("default", via=f"2001:db8:{i}::1", dev="eth0")
            self.hosts[name] = ns
        self.core = core
        self.spokes = [
            Spoke(name, f"s{name}", (f"2001:db8:{i}::/64",))
            for i, name in enumerate(["a", "b", "c"], start=1)
        ]

    def startWAN(self, delays: dict[tuple[str, str], float]) -> WANCore:
        wan = WANCore(self.core, self.spokes, delays, Path(self.mktemp()))
        wan.start()
        self.addCleanup(wan.stop)
        return wan

    def test_perPairDelays(self) -> None:
        """
        The RTT between two spokes is twice the configured one-way delay,
        within 10%, and differs per pair.
        """
        self.startWAN({("a", "b"): 20.0, ("a", "c"): 45.0, ("b", "c"): 5.0})
        ab = statistics.median(pingRTTs(self.hosts["a"], "2001:db8:2::2", 10))
        ac = statistics.median(pingRTTs(self.hosts["a"], "2001:db8:3::2", 10))
        bc = statistics.median(pingRTTs(self.hosts["b"], "2001:db8:3::2", 10))
        for measured, configured in ((ab, 40.0), (ac, 90.0), (bc, 10.0)):
            self.assertLess(abs(measured - configured) / configured, 0.10, (measured, configured))

    def test_asymmetric(self) -> None:
        """
        One-way delays may differ per direction; the RTT is their sum.
        """
        self.startWAN({("a", "b"): 30.0, ("b", "a"): 10.0})
        rtt = statistics.median(pingRTTs(self.hosts["a"], "2001:db8:2::2", 10))
        self.assertLess(abs(rtt - 40.0) / 40.0, 0.10, rtt)

    def test_delayUnderLoad(self) -> None:
        """
        While a 20 Mbit/s stream crosses the core (more than the lab's
        streams), the RTT on another pair stays within 10% of the
        configured one and the stream's packets are forwarded, not dropped.
        """
        wan = self.startWAN({("a", "b"): 25.0, ("c", "b"): 15.0})
        blast = self.hosts["c"].popen([sys.executable, "-c", _BLAST, "2001:db8:2::2", "20e6", "4"])
        self.addCleanup(blast.kill)
        rtts = pingRTTs(self.hosts["a"], "2001:db8:2::2", 40)
        blast.wait(30)
        self.assertGreaterEqual(len(rtts), 38)
        median = statistics.median(rtts)
        self.assertLess(abs(median - 50.0) / 50.0, 0.10, median)
        counters = wan.stop()
        m = re.search(r"w2 -> w1 delay_ms=15.000 packets=(\d+) bytes=\d+ dropped=(\d+)", counters)
        self.assertIsNotNone(m, counters)
        assert m is not None
        self.assertGreater(int(m.group(1)), 5000)
        self.assertEqual(int(m.group(2)), 0)

    def test_badConfig(self) -> None:
        """
        A delay naming an unknown spoke is refused before anything starts.
        """
        wan = WANCore(self.core, self.spokes, {("a", "zz"): 1.0}, Path(self.mktemp()))
        self.assertRaises(WANError, wan.start)
