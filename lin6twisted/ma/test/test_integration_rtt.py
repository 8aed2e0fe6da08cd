"""
RTT probing inside network namespaces: the MA's pinger measures a real
round trip to a mobile node behind a router.

The MN's kernel echo replies are switched off and a user-space responder
answers each echo request after 25 ms, so the round trip is known::

    MA (ns) --- R (ns) --- MN (ns, replies after 25 ms)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.ma.test.mastub import SAMPLE_LDIF
from lin6twisted.netns import Topology, isRoot
from lin6twisted.pki import Role, makeTestPKI
from lin6twisted.testing.processes import Daemon, twistdArgv

DELAY_MS = 25
MN_ADDR = "2001:db8:61::201:4a00:0:2"


def buildTopology(test: SynchronousTestCase) -> Topology:
    topo = Topology("l6ma")
    test.addCleanup(topo.destroy)
    ma, r, mn = (
        topo.addNamespace("ma"),
        topo.addNamespace("r", router=True),
        topo.addNamespace("mn"),
    )
    topo.link(ma, "eth0", r, "ma0")
    topo.link(mn, "eth0", r, "mn0")
    ma.addAddress("eth0", "2001:db8:60::5/64")
    r.addAddress("ma0", "2001:db8:60::1/64")
    mn.addAddress("eth0", MN_ADDR + "/64")
    r.addAddress("mn0", "2001:db8:61::1/64")
    ma.addRoute("default", via="2001:db8:60::1", dev="eth0")
    mn.addRoute("default", via="2001:db8:61::1", dev="eth0")
    mn.sysctl("net.ipv6.icmp.echo_ignore_all", 1)
    return topo


def probe(topo: Topology, target: str, count: int = 4) -> tuple[str, int, int, int]:
    out = topo["ma"].run([sys.executable, "-m", "lin6twisted.ma.rtt", target, str(count)])
    status, mean, received, sent = out.stdout.split()
    return status, int(mean), int(received), int(sent)


class RTTProbeTests(SynchronousTestCase):
    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("network namespaces need root")

    def test_realRoundTrip(self) -> None:
        """
        Four echo requests cross the router; the mean RTT is the
        responder's delay plus the (tiny) path time.  Without a responder
        the measurement times out.
        """
        topo = buildTopology(self)
        self.assertEqual(probe(topo, MN_ADDR, 2)[0], "TIMEOUT")
        echoer = topo["mn"].popen(
            [sys.executable, "-m", "lin6twisted.ma.test.echoer", str(DELAY_MS)],
            stdout=subprocess.PIPE,
        )

        def stop() -> None:
            echoer.kill()
            echoer.wait()

        self.addCleanup(stop)
        assert echoer.stdout is not None
        self.assertEqual(echoer.stdout.readline().strip(), b"ready")
        status, mean, received, sent = probe(topo, MN_ADDR)
        self.assertEqual((status, received, sent), ("OK", 4, 4))
        self.assertGreaterEqual(mean, DELAY_MS * 1000)
        self.assertLess(mean, (DELAY_MS + 20) * 1000)


class LSDrivenProbeTests(SynchronousTestCase):
    """
    The whole RTT flow in namespaces: an MN asks a real C{lin6-ls} for an
    MA; the LS sends RTT_REQUEST to a real C{lin6-ma}, which pings the MN
    (4 echoes, 25 ms each way round) and answers; the LS replies to the MN
    with that RTT and notifies the MA of the assignment::

        LS (ns) ---\\
        MA (ns) --- R (ns) --- MN (ns, replies after 25 ms)
    """

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("network namespaces need root")

    def test_lsAsksMAToProbe(self) -> None:
        """
        The MN gets the MA with the RTT the MA measured to it.
        """
        topo = Topology("l6ma")
        self.addCleanup(topo.destroy)
        ls, ma = topo.addNamespace("ls"), topo.addNamespace("ma")
        r, mn = topo.addNamespace("r", router=True), topo.addNamespace("mn")
        for ns, dev, net, host in [
            (ls, "ls0", "70", "10"),
            (ma, "ma0", "72", "5"),
        ]:
            topo.link(ns, "eth0", r, dev)
            ns.addAddress("eth0", f"2001:db8:{net}::{host}/64")
            r.addAddress(dev, f"2001:db8:{net}::1/64")
            ns.addRoute("default", via=f"2001:db8:{net}::1", dev="eth0")
        topo.link(mn, "eth0", r, "mn0")
        mnAddr = "2001:db8:71::201:4a00:0:2"
        mn.addAddress("eth0", mnAddr + "/64")
        r.addAddress("mn0", "2001:db8:71::1/64")
        mn.addRoute("default", via="2001:db8:71::1", dev="eth0")
        mn.sysctl("net.ipv6.icmp.echo_ignore_all", 1)

        base = Path(self.mktemp()).absolute()
        base.mkdir(parents=True)
        pki = makeTestPKI(base / "pki", {"ls1": Role.LS, "ma1": Role.MA})
        tls = 'ca = "{}"\ncert = "{}"\nkey = "{}"\n'
        (base / "ls.conf").write_text(
            '[ls]\nname = "ls1"\nma_listen = "tcp6:port=7101"\npeer_listen = "tcp6:port=7102"\n'
            'query_port = 7100\nquery_interface = "::"\nquery_tcp = "tcp6:port=7100"\n'
            'status_listen = "tcp6:port=8100"\nrtt_timeout = "2s"\nrtt_count = 4\n'
            "[tls]\n" + tls.format(pki.caFile, pki.certFile("ls1"), pki.keyFile("ls1"))
            + f'[directory]\nkind = "embedded"\nldif = "{SAMPLE_LDIF}"\n'
        )  # fmt: skip
        (base / "ma.conf").write_text(
            '[ma]\nlisten = "::"\nport = 7300\nadvertise = "2001:db8:72::5"\n'
            '[ma.ls]\nservers = ["2001:db8:70::10"]\nls_port = 7101\n'
            'heartbeat_interval = "300ms"\nretry_max = "1s"\n'
            "[tls]\n" + tls.format(pki.caFile, pki.certFile("ma1"), pki.keyFile("ma1"))
            + f'[directory]\nkind = "embedded"\nldif = "{SAMPLE_LDIF}"\n'
        )  # fmt: skip
        lsd = Daemon(twistdArgv("lin6-ls", "--config", str(base / "ls.conf")), base / "ls.log", ls)
        lsd.start()
        self.addCleanup(lsd.stop)
        lsd.waitForPort("2001:db8:70::10", 7101, timeout=20)
        mad = Daemon(twistdArgv("lin6-ma", "--config", str(base / "ma.conf")), base / "ma.log", ma)
        mad.start()
        self.addCleanup(mad.stop)
        mad.waitForLog("LS link up to", timeout=20)
        echoer = mn.popen(
            [sys.executable, "-m", "lin6twisted.ma.test.echoer", str(DELAY_MS)],
            stdout=subprocess.PIPE,
        )

        def stop() -> None:
            echoer.kill()
            echoer.wait()

        self.addCleanup(stop)
        assert echoer.stdout is not None
        self.assertEqual(echoer.stdout.readline().strip(), b"ready")
        time.sleep(0.5)  # a heartbeat or two: the LS knows the MA
        out = mn.run(
            [sys.executable, "-m", "lin6twisted.ma.test.askls", "2001:db8:70::10", "7100",
             "201:4a00:0:2"],
            check=False,
        )  # fmt: skip
        words = out.stdout.split()
        self.assertEqual(
            words[:3],
            ["MA_REPLY", "2001:db8:72::5", "7300"],
            out.stdout + out.stderr + mad.tail() + lsd.tail(),
        )
        rtt = int(words[3])
        Logger().info("LS-driven RTT to the MN: {rtt} us", rtt=rtt)
        self.assertGreaterEqual(rtt, DELAY_MS * 1000)
        self.assertLess(rtt, (DELAY_MS + 20) * 1000)
        mad.waitForLog("LS assigned 201:4a00:0:2 \\(normal\\)", timeout=5)
