"""
Integration test in network namespaces: real C{lin6-dns}, C{lin6-ls}, two
C{lin6-ma} and three C{lin6-resolvd} (two content servers sharing the
service's LIN6 address, one mobile node), all as C{twistd} processes with
the eBPF dataplane.

The mobile node resolves C{stream.lin6.example}, asks the LS for an MA (the
LS probes RTTs through the MAs), registers, and opens a TCP stream to the
shared LIN6 address: it reaches the content server in the box of the MA the
LS chose.  Then it moves to another access network (another /64, another
router interface) and the stream continues; the test prints the gap.

Topology (all links through one router namespace C{r})::

    inf  2001:db8:53::10   DNS :53, LS (query :7403, MA channel :7101)
    s1   2001:db8:1::10    MA1 :7300 + S1 (resolvd, server role, stream :8080)
    s2   2001:db8:2::10    MA2 :7300 + S2
    mn   eth0 2001:db8:a::/64  --move-->  eth1 2001:db8:b::/64
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import DEFAULT_SPACE, NodeID
from lin6twisted.netns import Namespace, Topology, isRoot
from lin6twisted.testing.processes import Daemon, twistdArgv

REPO = Path(__file__).resolve().parents[3]
SAMPLE_LDIF = REPO / "etc" / "subscribers.ldif"
MN = NodeID.fromString("201:4a00:0:2")
MN_KEY = "1a72a4d28b76537882cfcb9d04ab3f216e56d2a8c3e7169319db21fb267270c5"
SERVICE = NodeID.fromString("201:4a00:0:100")
# The shared service entry of the sample directory (etc/subscribers.ldif).
SERVICE_KEY = "4125d74c8641742bf50663abf7233890fcfa1b67ad5d475b4eadf3fc01f5835c"
SERVICE_ADDRESS = str(DEFAULT_SPACE.address(SERVICE))
LS_ADDRESS = "2001:db8:53::10"
SITES = {"s1": "2001:db8:1", "s2": "2001:db8:2"}
STREAMTOOL = [sys.executable, "-m", "lin6twisted.resolvd.test.streamtool"]


FORWARD_ZONE = f"""$ORIGIN lin6.example.
$TTL 60
@       IN SOA  ns1 hostmaster ( 1 1h 15m 1w 30 )
        IN NS   ns1
ns1     IN AAAA {LS_ADDRESS}
stream  IN AAAA {SERVICE_ADDRESS}
"""

REVERSE_ZONE = f"""$ORIGIN 9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa.
$TTL 60
@       IN SOA  ns1.lin6.example. hostmaster.lin6.example. ( 1 1h 15m 1w 30 )
        IN NS   ns1.lin6.example.
0.0.1.0.0.0.0.0.0.0.a.4.1.0.2.0  IN TXT  "lin6 ls=[{LS_ADDRESS}]:7403"
"""


class AttachAndMoveTests(SynchronousTestCase):
    """
    The whole node path, with real daemons.
    """

    def setUp(self) -> None:
        if not isRoot():
            self.skipTest("network namespaces need root")
        self.base = Path(self.mktemp()).absolute()
        self.base.mkdir(parents=True)
        self.daemons: list[Daemon] = []
        # UNIX socket paths must be short: keep the status sockets apart.
        self.sockets = Path(tempfile.mkdtemp(prefix="l6rd"))
        self.addCleanup(shutil.rmtree, self.sockets, True)

    def daemon(
        self, ns: Namespace, name: str, argv: list[str], ready: str, timeout: float = 30.0
    ) -> Daemon:
        d = Daemon(argv, self.base / f"{name}.log", netns=ns, cwd=str(self.base))
        d.start()
        self.daemons.append(d)
        self.addCleanup(d.stop)
        d.waitForLog(ready, timeout=timeout)
        return d

    def writeConfigs(self, pki: Any) -> None:
        b = self.base
        (b / "subscribers.ldif").write_text(SAMPLE_LDIF.read_text())
        (b / "lin6.example.zone").write_text(FORWARD_ZONE)
        (b / "reverse.zone").write_text(REVERSE_ZONE)
        directory = f'[directory]\nkind = "embedded"\nldif = "{b / "subscribers.ldif"}"\n'
        (b / "ls.conf").write_text(
            f"""
[ls]
name = "ls1"
ma_listen = "tcp6:port=7101"
peer_listen = "tcp6:port=7102"
query_port = 7403
query_interface = "::"
query_tcp = "tcp6:port=7403"
status_listen = "tcp6:port=8100:interface=\\\\:\\\\:1"
ma_timeout = "5s"
rtt_timeout = "2s"
[tls]
ca = "{pki.caFile}"
cert = "{pki.certFile("ls1")}"
key = "{pki.keyFile("ls1")}"
{directory}"""
        )
        for site, net in SITES.items():
            (b / f"ma-{site}.conf").write_text(
                f"""
[ma]
listen = "::"
advertise = "{net}::10"
port = 7300
journal = "{b / f"ma-{site}.journal"}"
max_lifetime = "10m"
reply_ttl = "60s"
negative_ttl = "2s"
[ma.ls]
servers = ["{LS_ADDRESS}"]
ls_port = 7101
heartbeat_interval = "200ms"
retry_max = "1s"
[tls]
ca = "{pki.caFile}"
cert = "{pki.certFile("ma-" + site)}"
key = "{pki.keyFile("ma-" + site)}"
{directory}"""
            )
            (b / f"resolvd-{site}.conf").write_text(
                f"""
[resolvd]
node_id = "{SERVICE}"
key = "{SERVICE_KEY}"
role = "server"
ma = ["[{net}::10]:7300"]
interface = "eth0"
port = 7420
state_file = "{b / f"resolvd-{site}.state"}"
control = "{self.sockets / f"{site}.sock"}"
lifetime = "60s"
report_interval = "5s"
"""
            )
        (b / "resolvd-mn.conf").write_text(
            f"""
[resolvd]
node_id = "{MN}"
key = "{MN_KEY}"
role = "mobile"
service = "stream.lin6.example"
dns = ["[{LS_ADDRESS}]:53"]
port = 7420
state_file = "{b / "resolvd-mn.state"}"
control = "{self.sockets / "mn.sock"}"
lifetime = "60s"
request_timeout = "500ms"
report_interval = "5s"
"""
        )

    def buildTopology(self) -> Topology:
        topo = Topology("l6rd")
        self.addCleanup(topo.destroy)
        r = topo.addNamespace("r", router=True)
        inf = topo.addNamespace("inf")
        topo.link(inf, "eth0", r, "rinf")
        inf.addAddress("eth0", f"{LS_ADDRESS}/64")
        r.addAddress("rinf", "2001:db8:53::1/64")
        inf.addRoute("default", via="2001:db8:53::1", dev="eth0")
        for site, net in SITES.items():
            ns = topo.addNamespace(site)
            topo.link(ns, "eth0", r, f"r{site}")
            ns.addAddress("eth0", f"{net}::10/64")
            r.addAddress(f"r{site}", f"{net}::1/64")
            ns.addRoute("default", via=f"{net}::1", dev="eth0")
        mn = topo.addNamespace("mn")
        topo.link(mn, "eth0", r, "ra")
        topo.link(mn, "eth1", r, "rb")
        r.addAddress("ra", "2001:db8:a::1/64")
        r.addAddress("rb", "2001:db8:b::1/64")
        mn.addAddress("eth0", "2001:db8:a::1234/64")
        mn.addRoute("default", via="2001:db8:a::1", dev="eth0")
        return topo

    def deploy(self) -> tuple[Topology, Daemon, str, str]:
        """
        Start DNS, LS, both MAs, both content servers and the mobile node,
        and wait until the mobile node is registered.

        @return: the topology, the mobile node's daemon, the site whose MA
            the LS chose and that MA's address.
        """
        from lin6twisted.pki import Role, makeTestPKI

        pki = makeTestPKI(self.base / "pki", {"ls1": Role.LS, "ma-s1": Role.MA, "ma-s2": Role.MA})
        self.writeConfigs(pki)
        topo = self.buildTopology()
        b = self.base
        inf = topo["inf"]
        zones = ["--bindzone", str(b / "lin6.example.zone"), "--bindzone", str(b / "reverse.zone")]
        self.daemon(
            inf,
            "dns",
            twistdArgv("lin6-dns", *zones, "--port", "53"),
            r"(?i)starting on|listening|serving",
        )
        self.daemon(inf, "ls", twistdArgv("lin6-ls", "--config", str(b / "ls.conf")), "7403")
        for site in SITES:
            self.daemon(
                topo[site],
                f"ma-{site}",
                twistdArgv("lin6-ma", "--config", str(b / f"ma-{site}.conf")),
                "LS link up",
            )
        for site in SITES:
            self.daemon(
                topo[site],
                f"resolvd-{site}",
                twistdArgv("lin6-resolvd", "--config", str(b / f"resolvd-{site}.conf")),
                "registered .* with MA",
            )
            server = Daemon(
                [*STREAMTOOL, "serve", "8080"],
                b / f"stream-{site}.log",
                netns=topo[site],
                cwd=str(REPO),
            )
            server.start()
            self.addCleanup(server.stop)
            server.waitForLog("serving on", timeout=10)
        mnd = self.daemon(
            topo["mn"],
            "resolvd-mn",
            twistdArgv("lin6-resolvd", "--config", str(b / "resolvd-mn.conf")),
            "registered .* with MA",
            timeout=45,
        )
        chosen = re.search(r"LS \S+ chose MA \[([0-9a-f:]+)\]", mnd.log())
        assert chosen is not None, mnd.tail()
        site = next(s for s, net in SITES.items() if chosen.group(1).startswith(net + ":"))
        return topo, mnd, site, chosen.group(1)

    def streamAcrossMove(self, makeBeforeBreak: bool) -> None:
        """
        Stream for 8 s from the shared LIN6 address, move the mobile node
        to the other access network after 3 s, and check the stream went
        on, the node re-registered and the content server follows it.
        """
        topo, mnd, site, ma = self.deploy()
        b = self.base
        mn = topo["mn"]
        out = b / "play.json"
        player = Daemon(
            [*STREAMTOOL, "play", SERVICE_ADDRESS, "8080", "8", str(out)],
            b / "play.log",
            netns=mn,
            cwd=str(REPO),
        )
        player.start()
        started = time.monotonic()
        self.addCleanup(player.stop)
        time.sleep(3.0)
        moveAt = time.monotonic()
        if makeBeforeBreak:
            # The new access network comes up, then the old one goes.
            mn.addAddress("eth1", "2001:db8:b::1234/64")
            mn.replaceRoute("default", via="2001:db8:b::1", dev="eth1")
            mn.delAddress("eth0", "2001:db8:a::1234/64")
        else:
            # The old access network goes (link down), then the new one comes.
            mn.ip("link set eth0 down")
            time.sleep(0.05)
            mn.addAddress("eth1", "2001:db8:b::1234/64")
            mn.replaceRoute("default", via="2001:db8:b::1", dev="eth1")
        mnd.waitForLog(r"handover to 2001:db8:b:0:201:4a00:0:2 done in \d+ms", timeout=10)
        assert player.process is not None
        player.process.wait(20)
        result = json.loads(out.read_text())
        handover = re.search(r"handover to \S+ done in (\d+)ms", mnd.log())
        assert handover is not None
        moveOffset = moveAt - started
        window = (moveOffset - 0.05, moveOffset + 3.0)
        nearMove = [g for t, g in result.pop("gaps_over_5ms") if window[0] <= t <= window[1]]
        moveGap = max(nearMove, default=0.0)
        kind = "make_before_break" if makeBeforeBreak else "break_before_make"
        sys.stdout.write(
            f"\nBENCH resolvd.{kind}.handover_signalling_ms {handover.group(1)} ms\n"
            f"BENCH resolvd.{kind}.stream_gap_ms {moveGap * 1000:.1f} ms"
            f" (longest pause in the 3 s after the move; {len(nearMove)} pauses over 5 ms)\n"
            f"stream via MA at {ma} ({site}), move at {moveOffset:.2f}s: "
            f"{json.dumps(result)}\n"
        )
        self.assertTrue(result["intact"], result)
        self.assertEqual(result["peer"], SERVICE_ADDRESS)
        self.assertGreater(result["records"], 1000, result)
        # Records kept arriving until the player stopped, well after the move.
        self.assertGreater(result["last_at_s"], moveOffset + 4.0, result)
        served = (b / f"stream-{site}.log").read_text()
        self.assertIn("client 3ffe:501:1830:1999:201:4a00:0:2", served)
        mnStatus = self.control(mn, "mn", "status")
        self.assertEqual(mnStatus["state"], "registered")
        self.assertEqual(mnStatus["locator"], "2001:db8:b:0:201:4a00:0:2")
        self.assertEqual(mnStatus["interface"], "eth1")
        self.assertEqual(mnStatus["stats"]["handovers"], 1)
        # The content server learnt the new locator from its MA's NOTIFY.
        rows = self.control(topo[site], site, "cache")
        mine = [r for r in rows if r["node_id"] == str(MN)]
        self.assertEqual(
            [(r["locator"], r["installed"]) for r in mine],
            [("2001:db8:b:0:201:4a00:0:2", "2001:db8:b:0:201:4a00:0:2")],
        )
        serverStatus = self.control(topo[site], site, "status")
        self.assertGreaterEqual(serverStatus["stats"]["notifies"], 1)

    def test_streamSurvivesMove(self) -> None:
        """
        Make-before-break: the mobile node attaches, streams from the shared
        LIN6 address through the MA the LS chose, moves to another /64
        while the old link still works, and the stream goes on with every
        record in order.
        """
        self.streamAcrossMove(makeBeforeBreak=True)

    def test_streamSurvivesBreakBeforeMake(self) -> None:
        """
        Break-before-make: the old link goes down before the new one comes
        up; the stream still goes on, every record in order (TCP
        retransmits what was lost in between).
        """
        self.streamAcrossMove(makeBeforeBreak=False)

    def control(self, ns: Namespace, name: str, command: str) -> Any:
        """
        Ask a node daemon through C{lin6 node}, inside its namespace.
        """
        argv = [sys.executable, "-m", "lin6twisted.cli", "node"]
        argv += ["--socket", str(self.sockets / f"{name}.sock"), command, "--json"]
        return json.loads(ns.run(argv).stdout)
