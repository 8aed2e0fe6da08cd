"""
Integration tests of the eBPF dataplane in network namespaces: two LIN6
hosts in different /64s through a router (see L{_topology}).  Root only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from typing import Any

from twisted.internet import defer, reactor, task
from twisted.trial.unittest import TestCase

from lin6twisted.address import Locator, NodeID, Prefix
from lin6twisted.dataplane.bpf import BPFDataplane
from lin6twisted.dataplane.kernel import CONFIG, GENERATION
from lin6twisted.dataplane.test._topology import (
    GW_B,
    NODE_A,
    NODE_B,
    PREFIX_A,
    SPACE,
    Pair,
    runApp,
)
from lin6twisted.netns import Namespace, Topology, isRoot


def _sleep(seconds: float) -> defer.Deferred[None]:
    return task.deferLater(reactor, seconds, lambda: None)


class _Capture:
    """
    tcpdump -vv on a router interface, for checksum verdicts.
    """

    def __init__(self, ns: Namespace, dev: str, path: str) -> None:
        self.path = path
        self._out = open(path, "w")  # noqa: SIM115
        self.proc = ns.popen(
            ["tcpdump", "-l", "-n", "-vv", "-i", dev, "ip6"],
            stdout=self._out,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        self.proc.stderr.readline()  # "listening on ..."

    def stop(self) -> str:
        time.sleep(0.2)
        self.proc.terminate()
        self.proc.wait(5)
        self._out.close()
        with open(self.path) as f:
            return f.read()


class DataplaneIntegrationTests(TestCase):
    """
    The dataplane maps LIN6 traffic between two hosts through a router.
    """

    timeout = 90
    strict = False
    reroute = False

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("needs root (network namespaces, BPF)")
        self.pair = Pair(reactor, strict=self.strict, reroute=self.reroute)
        self.addCleanup(self.pair.destroy)

    def build(self, mapped: bool = True) -> Pair:
        self.pair.build(mapped=mapped)
        return self.pair

    @defer.inlineCallbacks
    def tcp(self, size: int, *clientArgs: str, port: int = 5001) -> Any:
        """
        Send C{size} bytes over TCP from C{a} to C{b}'s LIN6 address; return
        (server result, client result).
        """
        p = self.pair
        server = runApp(reactor, p.b, "tcpserver", str(port))
        yield server.ready
        client = runApp(reactor, p.a, "tcpclient", str(p.lin6B), str(port), str(size), *clientArgs)
        c = yield client.done
        s = yield server.done
        self.assertNotIn("error", c, c)
        self.assertNotIn("error", s, s)
        return s, c

    @defer.inlineCallbacks
    def test_pingTCPAndChecksums(self) -> Any:
        """
        Ping, TCP and UDP to a LIN6 address work; the receiver sees the
        sender's LIN6 address; the wire between the router and the receiver
        carries locators only, and every L4 checksum there is correct.
        """
        p = self.build()
        cap = _Capture(p.r, "eth1", self.mktemp())
        ping = p.a.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", str(p.lin6B)], check=False)
        self.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
        s, c = yield self.tcp(300_000)
        self.assertEqual(
            (s["peer"], s["local"], s["received"], s["inOrder"]),
            (str(p.lin6A), str(p.lin6B), 300_000, True),
        )
        self.assertEqual((c["local"], c["peer"]), (str(p.lin6A), str(p.lin6B)))
        udpServer = runApp(reactor, p.b, "udpserver", "5002", "--echo")
        yield udpServer.ready
        u = yield runApp(reactor, p.a, "udpclient", str(p.lin6B), "5002", "hello", "--wait").done
        self.assertEqual((u["reply"], u["from"]), ("hello", str(p.lin6B)))
        us = yield udpServer.done
        self.assertEqual(us["received"], [{"from": str(p.lin6A), "data": "hello"}])
        text = cap.stop()
        self.assertNotIn("3ffe:501:1830:1999", text)
        self.assertNotRegex(text, r"incorrect|bad .*cksum")
        la, lb = str(p.locA), str(p.locB)
        tcpOk = len(re.findall(rf"{la}\.\d+ > {lb}\.5001: .*cksum 0x[0-9a-f]+ \(correct\)", text))
        self.assertGreater(tcpOk, 20)
        self.assertGreaterEqual(text.count("[icmp6 sum ok] ICMP6, echo request"), 2)
        self.assertGreaterEqual(len(re.findall(r"\[udp sum ok\]", text)), 2)
        ca, cb = p.dpA.counters(), p.dpB.counters()
        self.assertGreater(ca["egress_mapped"], 5)
        self.assertGreater(cb["ingress_mapped"], 20)
        self.assertEqual(ca["egress_dropped"] + cb["ingress_dropped"], 0)

    @defer.inlineCallbacks
    def test_statefulFirewall(self) -> Any:
        """
        A router that drops C{ct state invalid} (conntrack checks checksums
        and TCP state) passes LIN6 flows, and counts nothing invalid.
        """
        p = self.build()
        p.r.run(["nft", "-f", "-"], input=(
            "table inet l6dpfw {\n"
            " chain filt { type filter hook forward priority 0; policy accept;\n"
            "  ct state invalid counter drop\n"
            "  ct state established,related counter accept\n }\n"
            "}\n"
        ))  # fmt: skip
        p.r.sysctl("net.netfilter.nf_conntrack_checksum", 1)
        s, _ = yield self.tcp(500_000)
        self.assertEqual((s["received"], s["inOrder"]), (500_000, True))
        rules = p.r.run(["nft", "list", "chain", "inet", "l6dpfw", "filt"]).stdout
        counts = [int(n) for n in re.findall(r"counter packets (\d+)", rules)]
        self.assertEqual(counts[0], 0, rules)
        self.assertGreater(counts[1], 20, rules)

    @defer.inlineCallbacks
    def test_pathMTU(self) -> Any:
        """
        Across a 1280-byte link, the router's Packet Too Big (addressed to the
        locator, quoting locators) is mapped back and reaches the LIN6 socket:
        the transfer completes and the LIN6 route learns the smaller MTU.
        """
        p = self.build()
        p.r.ip("link set eth1 mtu 1280")
        s, _ = yield self.tcp(300_000)
        self.assertEqual((s["received"], s["inOrder"]), (300_000, True))
        self.assertGreaterEqual(p.dpA.counters()["ingress_icmp_mapped"], 1)
        route = p.a.run(["ip", "-6", "route", "get", str(p.lin6B)]).stdout
        self.assertIn("mtu 1280", route)

    @defer.inlineCallbacks
    def moveDuringStream(self, breakFirst: bool) -> Any:
        p = self.build()
        server = runApp(reactor, p.b, "tcpserver", "5003")
        yield server.ready
        client = runApp(
            reactor, p.a, "tcpclient", str(p.lin6B), "5003", "600000",
            "--chunk", "6000", "--interval", "0.01",
        )  # fmt: skip
        yield _sleep(0.4)
        before = _rxPackets(p.r, "eth2")
        p.moveB(breakFirst=breakFirst)
        c = yield client.done
        s = yield server.done
        self.assertNotIn("error", c, c)
        self.assertEqual((s["received"], s["inOrder"], s["peer"]), (600_000, True, str(p.lin6A)))
        self.assertGreater(_rxPackets(p.r, "eth2") - before, 30)
        self.assertEqual(p.dpA.mappings()[NODE_B], p.locBMoved)

    def test_moveKeepsTCP(self) -> Any:
        """
        A live TCP stream survives a move of the receiver to a new /64
        (make-before-break); all data arrives in order, and after the move
        it flows over the new link.
        """
        return self.moveDuringStream(breakFirst=False)

    def test_moveBreakBeforeMake(self) -> Any:
        """
        The stream also survives when the old link goes down before the new
        locator is set up.
        """
        return self.moveDuringStream(breakFirst=True)

    @defer.inlineCallbacks
    def test_firstPacketUDP(self) -> Any:
        """
        With no mappings at all, the first datagram is held on both sides,
        reported as a miss, and delivered once the mapping is installed; the
        reply comes back.
        """
        p = self.build(mapped=False)
        misses = self._resolveAfter(0.05)
        server = runApp(reactor, p.b, "udpserver", "5004", "--echo")
        yield server.ready
        u = yield runApp(reactor, p.a, "udpclient", str(p.lin6B), "5004", "first", "--wait").done
        s = yield server.done
        self.assertEqual(s["received"], [{"from": str(p.lin6A), "data": "first"}])
        self.assertEqual((u["reply"], u["from"]), ("first", str(p.lin6B)))
        self.assertEqual(sorted(misses), [("a", NODE_B), ("b", NODE_A)])
        ca, cb = p.dpA.counters(), p.dpB.counters()
        self.assertEqual((ca["egress_missed"], cb["ingress_missed"]), (1, 1))
        self.assertEqual((ca["held_released"], cb["held_released"]), (1, 1))

    @defer.inlineCallbacks
    def test_firstPacketTCP(self) -> Any:
        """
        The first SYN to an unmapped node is not lost: the connection is up
        well before the 1-second SYN retransmission.
        """
        p = self.build(mapped=False)
        self._resolveAfter(0.02)
        s, c = yield self.tcp(10_000, port=5005)
        self.assertLess(c["connectSeconds"], 0.9)
        self.assertEqual((s["peer"], s["received"]), (str(p.lin6A), 10_000))

    def _resolveAfter(self, delay: float) -> list[tuple[str, NodeID]]:
        p = self.pair
        seen: list[tuple[str, NodeID]] = []

        def handler(label: str, dp: Any) -> Any:
            def onMiss(nodeID: NodeID) -> None:
                seen.append((label, nodeID))
                reactor.callLater(delay, dp.installMapping, nodeID, p.locatorOf(nodeID))

            return onMiss

        p.dpA.setMissHandler(handler("a", p.dpA))
        p.dpB.setMissHandler(handler("b", p.dpB))
        return seen

    @defer.inlineCallbacks
    def test_nonLIN6Untouched(self) -> Any:
        """
        Traffic with a host that is not a LIN6 node (here the router) keeps
        its addresses both ways, and the programs only count it as passed.
        """
        p = self.build()
        before = p.dpB.counters()
        server = runApp(reactor, p.b, "tcpserver", "5007")
        yield server.ready
        c = yield runApp(reactor, p.r, "tcpclient", str(p.locB), "5007", "50000").done
        s = yield server.done
        self.assertEqual((s["peer"], s["local"]), (str(GW_B), str(p.locB)))
        self.assertEqual((c["peer"], c["local"]), (str(p.locB), str(GW_B)))
        rserver = runApp(reactor, p.r, "tcpserver", "5008")
        yield rserver.ready
        c2 = yield runApp(
            reactor, p.a, "tcpclient", "2001:db8:a::1", "5008", "50000", "--bind", str(p.locA)
        ).done
        s2 = yield rserver.done
        self.assertEqual(s2["peer"], str(p.locA))
        self.assertEqual(c2["local"], str(p.locA))
        after = p.dpB.counters()
        self.assertEqual(after["ingress_mapped"], before["ingress_mapped"])
        self.assertGreater(after["ingress_passed"], before["ingress_passed"] + 20)
        self.assertEqual(p.dpA.counters()["egress_mapped"], 0)

    def test_pinsVisibleAndCleanup(self) -> None:
        """
        Maps are pinned where C{bpftool} finds them, also under
        C{ip netns exec}; L{stop} removes the route, the filters, the own
        address and the pins.
        """
        p = self.build()
        pinned = os.path.join(p.dpA.pinDir, "lin6_map")
        dump = p.a.run(["bpftool", "-j", "map", "dump", "pinned", pinned]).stdout
        self.assertIn('"prefix"', dump)
        p.dpA.stop()
        self.assertFalse(os.path.exists(p.dpA.pinDir))
        self.assertNotIn("3ffe:501:1830:1999", p.a.run(["ip", "-6", "route"]).stdout)
        self.assertNotIn("3ffe:501:1830:1999", p.a.run(["ip", "-6", "addr"]).stdout)
        self.assertNotIn("bpf", p.a.run(["tc", "filter", "show", "dev", "eth0", "ingress"]).stdout)
        self.assertNotIn("lin6hold", p.a.run(["ip", "link"]).stdout)

    def test_generationFollowsMapChanges(self) -> None:
        """
        Every mapping installed or removed moves the generation in
        C{lin6_cfg} (the stamp the programs' per-CPU mapping cache checks),
        and it is never 0 while running (0 would turn the cache off).  Read
        through bpf(2), as any tool would see it.
        """
        p = self.build()
        pinned = os.path.join(p.dpA.pinDir, "lin6_cfg")

        def generation() -> int:
            out = p.a.run(["bpftool", "-j", "map", "lookup", "pinned", pinned, "key", *"0000"])
            raw = bytes(int(b, 16) for b in json.loads(out.stdout)["value"])
            self.assertEqual(len(raw), CONFIG.size)
            value: int = GENERATION.unpack_from(raw)[0]
            return value

        first = generation()
        self.assertGreater(first, 0)
        stranger = SPACE.nodeID(0x77, mobile=True)
        p.dpA.installMapping(stranger, Locator(Prefix.fromString("2001:db8:77::/64"), stranger))
        self.assertEqual(generation(), first + 1)
        p.dpA.removeMapping(stranger)
        self.assertEqual(generation(), first + 2)

    def test_prefixesOnTheRoute(self) -> None:
        """
        The LIN6 /64 route carries the egress program, goes via the gateway
        and prefers the own LIN6 address as source.
        """
        p = self.build()
        route = p.a.run(["ip", "-6", "route", "show", "3ffe:501:1830:1999::/64"]).stdout
        self.assertIn("encap bpf xmit lin6_egress", route)
        self.assertIn(f"via {PREFIX_A.network.network_address}1", route)
        self.assertIn(f"src {p.lin6A}", route)


class StrictModeTests(DataplaneIntegrationTests):
    """
    Everything above also holds in strict mode, and a packet spoofed from a
    wrong locator is dropped and counted.
    """

    strict = True

    @defer.inlineCallbacks
    def test_spoofDropped(self) -> Any:
        self.build()
        got, counters = yield spoof(self.pair)
        self.assertEqual(got, [])
        self.assertEqual(counters["ingress_strict_dropped"], 1)


class RerouteModeTests(TestCase):
    """
    In C{BPF_LWT_REROUTE} mode (multihomed nodes: the route is looked up
    again on the locator) LIN6 traffic flows the same way.
    """

    timeout = 60

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("needs root (network namespaces, BPF)")
        self.pair = Pair(reactor, reroute=True)
        self.addCleanup(self.pair.destroy)

    @defer.inlineCallbacks
    def test_pingAndTCP(self) -> Any:
        p = self.pair
        p.build()
        ping = p.a.run(["ping", "-c", "1", "-W", "2", str(p.lin6B)], check=False)
        self.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
        server = runApp(reactor, p.b, "tcpserver", "5009")
        yield server.ready
        yield runApp(reactor, p.a, "tcpclient", str(p.lin6B), "5009", "200000").done
        s = yield server.done
        self.assertEqual((s["peer"], s["received"], s["inOrder"]), (str(p.lin6A), 200_000, True))
        self.assertGreater(p.dpA.counters()["egress_mapped"], 3)


class OnLinkTests(TestCase):
    """
    Two LIN6 hosts on one link, no gateway: egress reroutes on the locator
    (an on-link LIN6 route cannot go C{via} anything).
    """

    timeout = 60

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("needs root (network namespaces, BPF)")

    @defer.inlineCallbacks
    def test_onLink(self) -> Any:
        topo = Topology("l6dp")
        self.addCleanup(topo.destroy)
        a, b = topo.addNamespace("a"), topo.addNamespace("b")
        topo.link(a, "eth0", b, "eth0", offload=False)
        prefix = Prefix.fromString("2001:db8:5::/64")
        locA, locB = Locator(prefix, NODE_A), Locator(prefix, NODE_B)
        a.addAddress("eth0", f"{locA}/64")
        b.addAddress("eth0", f"{locB}/64")
        dps = []
        for ns, me, loc, peer in ((a, NODE_A, locA, locB), (b, NODE_B, locB, locA)):
            dp = BPFDataplane(reactor, netns=ns.name)
            self.addCleanup(dp.stop)
            dp.start()
            dp.setOwnLocator(SPACE.address(me), loc, None, "eth0")
            dp.installMapping(peer.nodeID, peer)
            dps.append(dp)
        server = runApp(reactor, b, "tcpserver", "5010")
        yield server.ready
        yield runApp(reactor, a, "tcpclient", str(SPACE.address(NODE_B)), "5010", "100000").done
        s = yield server.done
        self.assertEqual((s["peer"], s["received"]), (str(SPACE.address(NODE_A)), 100_000))
        self.assertGreater(dps[0].counters()["egress_mapped"], 0)


def _mirror(topo: Topology, ns: Namespace, devs: tuple[str, ...]) -> None:
    """
    Copy every IPv6 packet arriving on C{devs} of C{ns}, after its tc
    ingress programs (an nftables netdev ingress hook runs after tc), out
    through a veth C{mon0} with checksum and segmentation offloads off, so
    C{CHECKSUM_PARTIAL} packets get their checksums computed in software
    from the partial sum they carry: a capture on C{mon0} shows whether
    that seed was right.  C{mon1} (its peer) has IPv6 off.
    """
    topo.link(ns, "mon0", ns, "mon1", offload=False)
    ns.sysctl("net.ipv6.conf.mon1.disable_ipv6", 1)
    chains = "".join(
        f' chain in_{dev} {{ type filter hook ingress device "{dev}" priority 0;\n'
        '  meta protocol ip6 dup to "mon0"\n }\n'
        for dev in devs
    )
    ns.run(["nft", "-f", "-"], input=f"table netdev l6dpmon {{\n{chains}}}\n")


def _verdicts(text: str) -> tuple[int, int]:
    """
    (correct, incorrect) L4 checksum verdicts in C{tcpdump -vv} output.
    """
    good = len(re.findall(r"cksum 0x[0-9a-f]+ \(correct\)|\[(?:udp|icmp6) sum ok\]", text))
    bad = len(re.findall(r"incorrect|bad (?:udp |icmp6 )?cksum", text))
    return good, bad


class OffloadTests(TestCase):
    """
    With the veth offloads on (checksum offload, TSO/GSO), sockets hand the
    programs C{CHECKSUM_PARTIAL} packets whose checksum field holds only the
    pseudo-header sum, which the programs fix differently.  A receiver
    trusts such packets without checking, so delivery alone would not show a
    wrong fix: copies of the packets are checksummed in software (see
    L{_mirror}) on the router (the sender's egress result) and on the
    receiver after its ingress program.
    """

    timeout = 90

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("needs root (network namespaces, BPF)")
        self.pair = Pair(reactor, offload=True)
        self.addCleanup(self.pair.destroy)

    @defer.inlineCallbacks
    def test_partialChecksums(self) -> Any:
        """
        Ping, TCP and UDP between the LIN6 addresses work, and the checksums
        computed from what the programs left are right on the wire (egress)
        and at the receiver (ingress), in both directions.
        """
        p = self.pair
        p.build()
        _mirror(p.topo, p.r, ("eth0", "eth1"))
        _mirror(p.topo, p.a, ("eth0",))
        _mirror(p.topo, p.b, ("eth0",))
        caps = {ns.label: _Capture(ns, "mon0", self.mktemp()) for ns in (p.r, p.a, p.b)}
        raw = _Capture(p.b, "eth0", self.mktemp())
        ping = p.a.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", str(p.lin6B)], check=False)
        self.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
        server = runApp(reactor, p.b, "tcpserver", "5011")
        yield server.ready
        c = yield runApp(reactor, p.a, "tcpclient", str(p.lin6B), "5011", "300000").done
        s = yield server.done
        self.assertNotIn("error", c, c)
        self.assertEqual((s["peer"], s["received"], s["inOrder"]), (str(p.lin6A), 300_000, True))
        udpServer = runApp(reactor, p.b, "udpserver", "5012", "--echo")
        yield udpServer.ready
        u = yield runApp(reactor, p.a, "udpclient", str(p.lin6B), "5012", "hello", "--wait").done
        self.assertEqual((u["reply"], u["from"]), ("hello", str(p.lin6B)))
        us = yield udpServer.done
        self.assertEqual(us["received"], [{"from": str(p.lin6A), "data": "hello"}])
        texts = {label: cap.stop() for label, cap in caps.items()}
        # The receiver did get partial checksums (tcpdump before the
        # programs calls them incorrect): the case under test happened.
        self.assertGreater(_verdicts(raw.stop())[1], 5)
        la, lb = str(p.locA), str(p.locB)
        self.assertNotIn("3ffe:501:1830:1999", texts["r"])
        for label, least in (("r", 20), ("b", 20), ("a", 4)):
            good, bad = _verdicts(texts[label])
            self.assertEqual(bad, 0, f"{label}:\n{texts[label][-3000:]}")
            self.assertGreater(good, least, f"{label}:\n{texts[label][-3000:]}")
        r = texts["r"]
        self.assertGreater(len(re.findall(rf"{la}\.\d+ > {lb}\.5011: .*\(correct\)", r)), 20)
        self.assertGreater(len(re.findall(rf"{lb}\.5011 > {la}\.\d+: .*\(correct\)", r)), 2)
        self.assertGreaterEqual(r.count("[icmp6 sum ok] ICMP6, echo request"), 2)
        self.assertGreaterEqual(r.count("[icmp6 sum ok] ICMP6, echo reply"), 2)
        self.assertGreaterEqual(r.count("[udp sum ok]"), 2)
        lin6A, lin6B = str(p.lin6A), str(p.lin6B)
        for label, src, dst in (("b", lin6A, lin6B), ("a", lin6B, lin6A)):
            text = texts[label]
            self.assertGreaterEqual(text.count("[icmp6 sum ok] ICMP6, echo"), 2, label)
            self.assertGreaterEqual(text.count("[udp sum ok]"), 1, label)
            self.assertRegex(text, rf"{src}\.\d+ > {dst}\.\d+: .*\(correct\)")
        ca, cb = p.dpA.counters(), p.dpB.counters()
        self.assertGreater(ca["egress_mapped"], 5)
        self.assertGreater(cb["ingress_mapped"], 5)
        self.assertEqual(ca["egress_dropped"] + cb["ingress_dropped"], 0)


class NonStrictSpoofTests(TestCase):
    """
    Without strict mode the same datagram is accepted (so the strict test
    can fail).
    """

    timeout = 60

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("needs root (network namespaces, BPF)")
        self.pair = Pair(reactor)
        self.addCleanup(self.pair.destroy)

    @defer.inlineCallbacks
    def test_spoofAccepted(self) -> Any:
        self.pair.build()
        got, counters = yield spoof(self.pair)
        self.assertEqual(got, [{"from": str(self.pair.lin6A), "data": "spoof"}])
        self.assertEqual(counters["ingress_strict_dropped"], 0)


@defer.inlineCallbacks
def spoof(p: Pair) -> Any:
    """
    Send one datagram to b's locator from a's Node ID at a locator b has
    not mapped; return what b's server got and b's counters.
    """
    fake = f"2001:db8:d:0:{NODE_A!s}"
    p.a.addAddress("eth0", f"{fake}/128")
    server = runApp(reactor, p.b, "udpserver", "5006", "--timeout", "1.5")
    yield server.ready
    yield runApp(reactor, p.a, "udpclient", str(p.locB), "5006", "spoof", "--bind", fake).done
    s = yield server.done
    return s["received"], p.dpB.counters()


def _rxPackets(ns: Namespace, dev: str) -> int:
    return int(ns.run(["cat", f"/sys/class/net/{dev}/statistics/rx_packets"]).stdout)
