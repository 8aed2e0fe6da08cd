"""
Bandwidth per service level in network namespaces: two mobile nodes
(normal and premium) register with the MA beside S (C{twistd lin6-ma} with
C{[ma.bandwidth]}, in S's namespace), then pull a TCP stream from S at the
same time through S's shaped egress interface, and each receives its
level's rate.

Topology::

    S + MA (eth0, shaped) --- R --- MN1 (normal,  201:4a00:0:2)
                                \\--- MN2 (premium, 201:4a00:0:3)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase, TestCase

from lin6twisted.address import Locator, NodeID, Prefix
from lin6twisted.directory import ServiceLevel
from lin6twisted.ma.bandwidth import HTBShaper, ShaperSettings
from lin6twisted.ma.test.mastub import SAMPLE_LDIF
from lin6twisted.netns import Namespace, Topology, isRoot
from lin6twisted.testing.processes import Daemon, twistdArgv

MN1 = NodeID.fromString("201:4a00:0:2")  # normal in etc/subscribers.ldif
MN2 = NodeID.fromString("201:4a00:0:3")  # premium
MA_PORT = 7300
NORMAL_RATE = 2_000_000
PREMIUM_RATE = 6_000_000
PORT = 8700
# HTB counts whole Ethernet frames; the sinks count TCP payload, which is
# 1428 of every 1514 bytes on the wire (IPv6, TCP timestamps on): 94.3%.
PAYLOAD_SHARE = 1428 / 1514


def buildTopology(test: SynchronousTestCase) -> tuple[Topology, dict[str, str]]:
    """
    Build S, R, MN1, MN2 (cleaned up with the test); return the topology
    and the addresses of S, MN1 and MN2.
    """
    topo = Topology("l6ma")
    test.addCleanup(topo.destroy)
    s, r = topo.addNamespace("s"), topo.addNamespace("r", router=True)
    m1, m2 = topo.addNamespace("m1"), topo.addNamespace("m2")
    topo.link(s, "eth0", r, "s0", offload=False)
    topo.link(m1, "eth0", r, "m1", offload=False)
    topo.link(m2, "eth0", r, "m2", offload=False)
    addr = {
        "s": "2001:db8:50::2",
        "m1": str(Locator(Prefix.fromString("2001:db8:51::/64"), MN1)),
        "m2": str(Locator(Prefix.fromString("2001:db8:52::/64"), MN2)),
    }
    s.addAddress("eth0", "2001:db8:50::2/64")
    r.addAddress("s0", "2001:db8:50::1/64")
    m1.addAddress("eth0", addr["m1"] + "/64")
    r.addAddress("m1", "2001:db8:51::1/64")
    m2.addAddress("eth0", addr["m2"] + "/64")
    r.addAddress("m2", "2001:db8:52::1/64")
    s.addRoute("default", via="2001:db8:50::1", dev="eth0")
    m1.addRoute("default", via="2001:db8:51::1", dev="eth0")
    m2.addRoute("default", via="2001:db8:52::1", dev="eth0")
    return topo, addr


def pullBoth(
    test: SynchronousTestCase, topo: Topology, addr: dict[str, str], seconds: float = 4.0
) -> tuple[float, float]:
    """
    Start the stream source in S and pull from MN1 and MN2 at once; return
    their payload rates in bits per second.
    """
    server = topo["s"].popen(
        [sys.executable, "-m", "lin6twisted.ma.test.streaming", "serve", str(PORT)]
    )

    def stop() -> None:
        server.kill()
        server.wait()

    test.addCleanup(stop)
    topo["m1"].run(["ping", "-6", "-c1", "-W2", addr["s"]])
    topo["m2"].run(["ping", "-6", "-c1", "-W2", addr["s"]])
    time.sleep(0.3)
    argv = [sys.executable, "-m", "lin6twisted.ma.test.streaming", "pull", addr["s"], str(PORT)]
    argv += ["3", str(seconds)]
    pulls = [
        topo[n].popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in ("m1", "m2")
    ]
    rates = []
    for p in pulls:
        out, err = p.communicate(timeout=seconds + 20)
        test.assertEqual(p.returncode, 0, err.decode())
        rates.append(float(out))
    return rates[0], rates[1]


class HTBShaperTests(SynchronousTestCase):
    """
    L{HTBShaper} against a real kernel.
    """

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("network namespaces need root")

    def test_installChangeRemove(self) -> None:
        """
        A class and a u32 filter on the Node ID's two words appear per node,
        follow a level change and disappear with the binding.
        """
        topo, _ = buildTopology(self)
        s = topo["s"]
        shaper = HTBShaper(
            ShaperSettings(
                "eth0", {ServiceLevel.NORMAL: NORMAL_RATE, ServiceLevel.PREMIUM: PREMIUM_RATE}
            ),
            netns=s.name,
        )
        shaper.start()
        self.addCleanup(shaper.stop)
        shaper.install(MN1, ServiceLevel.NORMAL)
        shaper.install(MN1, ServiceLevel.NORMAL)  # idempotent
        filters = s.run(["tc", "filter", "show", "dev", "eth0"]).stdout
        self.assertIn("match 02014a00/ffffffff at 32", filters)
        self.assertIn("match 00000002/ffffffff at 36", filters)
        self.assertIn("rate 2Mbit", s.run(["tc", "class", "show", "dev", "eth0"]).stdout)
        shaper.install(MN1, ServiceLevel.PREMIUM)
        classes = s.run(["tc", "class", "show", "dev", "eth0"]).stdout
        self.assertIn("rate 6Mbit", classes)
        self.assertNotIn("rate 2Mbit", classes)
        shaper.remove(MN1)
        self.assertNotIn("rate 6Mbit", s.run(["tc", "class", "show", "dev", "eth0"]).stdout)
        self.assertEqual(s.run(["tc", "filter", "show", "dev", "eth0"]).stdout, "")
        shaper.stop()
        self.assertNotIn("htb", s.run(["tc", "qdisc", "show", "dev", "eth0"]).stdout)


class MABandwidthTests(SynchronousTestCase):
    """
    The MA installs each registered node's class; the rates hold.
    """

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("network namespaces need root")

    def register(
        self, topo: Topology, addr: dict[str, str], ns: str, node: NodeID, seq: int, life: int
    ) -> str:
        argv = [sys.executable, "-m", "lin6twisted.ma.test.regclient", "2001:db8:50::2"]
        argv += [str(MA_PORT), str(node), str(seq), addr[ns], str(life)]
        return topo[ns].run(argv).stdout.strip()

    def test_twoLevels(self) -> None:
        """
        A normal and a premium node, registered with the MA, pulling at the
        same time each receive within 10% of their level's rate; a
        deregistration removes the class.
        """
        topo, addr = buildTopology(self)
        base = Path(self.mktemp()).absolute()
        base.mkdir(parents=True)
        config = base / "ma.conf"
        config.write_text(
            f"""
[ma]
listen = "::"
port = {MA_PORT}
journal = "ma.journal"
[ma.bandwidth]
interface = "eth0"
normal = {NORMAL_RATE}
premium = {PREMIUM_RATE}
[directory]
kind = "embedded"
ldif = "{SAMPLE_LDIF}"
"""
        )
        ma = Daemon(twistdArgv("lin6-ma", "--config", str(config)), base / "ma.log", topo["s"])
        ma.cwd = str(base)
        ma.start()
        self.addCleanup(ma.stop)
        ma.waitForLog("HTB tree on eth0", timeout=20)
        ma.waitForLog("MappingProtocol starting", timeout=20)
        self.assertEqual(self.register(topo, addr, "m1", MN1, 1, 300), "OK")
        self.assertEqual(self.register(topo, addr, "m2", MN2, 1, 300), "OK")
        normal, premium = pullBoth(self, topo, addr)
        Logger().info(
            "Measured {normal:.0f} bit/s (normal), {premium:.0f} bit/s (premium)",
            normal=normal,
            premium=premium,
        )
        for got, want in ((normal, NORMAL_RATE), (premium, PREMIUM_RATE)):
            # Payload received, against the configured (on-wire) rate.
            self.assertTrue(0.9 * want <= got <= 1.1 * want, f"{got:.0f} bit/s, want {want}")
            # And against the payload share of it: the shaper is exact.
            share = got / (want * PAYLOAD_SHARE)
            self.assertTrue(0.93 <= share <= 1.07, f"{got:.0f} bit/s is {share:.3f}")
        self.assertEqual(self.register(topo, addr, "m1", MN1, 2, 0), "OK")
        classes = topo["s"].run(["tc", "class", "show", "dev", "eth0"]).stdout
        self.assertNotIn("rate 2Mbit", classes)
        self.assertIn("rate 6Mbit", classes)
        ma.stop()
        self.assertNotIn("htb", topo["s"].run(["tc", "qdisc", "show", "dev", "eth0"]).stdout)


def pull(test: SynchronousTestCase, ns: Namespace, server: str, seconds: float = 3.0) -> float:
    """
    Pull the stream from C{server} inside C{ns}; return the payload rate.
    """
    argv = [sys.executable, "-m", "lin6twisted.ma.test.streaming", "pull", server, str(PORT)]
    out = ns.run([*argv, "2", str(seconds)], timeout=seconds + 20)
    return float(out.stdout)


class DataplaneBandwidthTests(TestCase):
    """
    The shaping works with the kernel dataplane's address rewriting: S
    sends to the MN's LIN6 address, the dataplane maps it to the MN's
    locator, and the Node ID filter still picks the MN's class, before and
    after the MN moves to another prefix.
    """

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("network namespaces need root")

    def test_lin6Stream(self) -> None:
        from twisted.internet import reactor

        from lin6twisted.dataplane.testbed import NODE_B, Pair

        pair = Pair(reactor, prefix="l6ma")
        self.addCleanup(pair.destroy)
        pair.build()
        shaper = HTBShaper(
            ShaperSettings(
                "eth0", {ServiceLevel.NORMAL: NORMAL_RATE, ServiceLevel.PREMIUM: PREMIUM_RATE}
            ),
            netns=pair.a.name,
        )
        shaper.start()
        self.addCleanup(shaper.stop)
        shaper.install(NODE_B, ServiceLevel.NORMAL)
        server = pair.a.popen(
            [sys.executable, "-m", "lin6twisted.ma.test.streaming", "serve", str(PORT)]
        )

        def stop() -> None:
            server.kill()
            server.wait()

        self.addCleanup(stop)
        time.sleep(0.3)
        before = pull(self, pair.b, str(pair.lin6A))
        # The stream went through the dataplane's mapping, and through the class.
        self.assertGreater(pair.dpA.counters()["egress_mapped"], 10)
        stats = pair.a.run(["tc", "-s", "class", "show", "dev", "eth0", "classid", "1:10"]).stdout
        sent = int(stats.split("Sent ", 1)[1].split()[0])
        self.assertGreater(sent, 500_000)
        pair.moveB()
        after = pull(self, pair.b, str(pair.lin6A))
        Logger().info(
            "Through the dataplane: {before:.0f} bit/s, after the move {after:.0f} bit/s",
            before=before,
            after=after,
        )
        for got in (before, after):
            self.assertTrue(0.9 * NORMAL_RATE <= got <= 1.1 * NORMAL_RATE, f"{got:.0f} bit/s")
