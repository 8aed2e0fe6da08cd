"""
Tests for L{lin6twisted.lab.paper}: the pure parts (header templates, tc
commands, the stream receiver's reports, the figures and the table, the
options).  The namespace runs are in L{test_integration_paper}.
"""

from __future__ import annotations

import math
import os
import struct
from ipaddress import IPv6Address

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.lab.config import DADMode
from lin6twisted.lab.paper import (
    FILE_SIZE,
    PAPER,
    Handover,
    Options,
    PaperError,
    PaperResults,
    Transfer,
    _lastJSON,
    _Lines,
    _subscriberLDIF,
    encapConfig,
    movePlan,
    outerHeader,
    parseIGMP6,
    parseSwitch,
    shaperCommands,
    solicitedNode,
    toolPath,
)

SRC = IPv6Address("2001:db8:a::100")
DST = IPv6Address("2001:db8:b::100")


class HeaderTests(SynchronousTestCase):
    """
    L{outerHeader} and L{encapConfig} build what the encap program pushes.
    """

    def test_ipv6InIPv6(self) -> None:
        """
        With 40 bytes of overhead the template is a bare IPv6 header (version
        6, payload length 0 until the program fills it, next header 41, hop
        limit 64) from the source to the destination.
        """
        h = outerHeader(SRC, DST, 40)
        self.assertEqual(len(h), 40)
        self.assertEqual(h[0] >> 4, 6)
        self.assertEqual((h[4:6], h[6], h[7]), (b"\x00\x00", 41, 64))
        self.assertEqual((h[8:24], h[24:40]), (SRC.packed, DST.packed))

    def test_gre(self) -> None:
        """
        With 44 bytes the IPv6 header carries GRE (47), followed by a basic
        GRE header (no flags, version 0) for protocol 0x86DD.
        """
        h = outerHeader(SRC, DST, 44)
        self.assertEqual(len(h), 44)
        self.assertEqual(h[6], 47)
        self.assertEqual(h[40:], b"\x00\x00\x86\xdd")

    def test_badOverhead(self) -> None:
        """
        Any other overhead is a L{PaperError}.
        """
        for overhead in (0, 8, 41, 48):
            self.assertRaises(PaperError, outerHeader, SRC, DST, overhead)

    def test_config(self) -> None:
        """
        The map value is the template padded to 44 bytes, its length and
        the peer's inner address, as C{struct l6pap_cfg} lays them out (64
        bytes, native order).
        """
        inner = IPv6Address("2001:db8:e::b")
        for overhead in (40, 44):
            value = encapConfig(SRC, DST, overhead, inner)
            self.assertEqual(len(value), 64)
            self.assertEqual(value[:overhead], outerHeader(SRC, DST, overhead))
            self.assertEqual(value[overhead:44], bytes(44 - overhead))
            self.assertEqual(struct.unpack("=I", value[44:48]), (overhead,))
            self.assertEqual(value[48:], inner.packed)


class ShaperTests(SynchronousTestCase):
    """
    L{shaperCommands} limits a device with HTB.
    """

    def test_commands(self) -> None:
        """
        One HTB root, one class at the rate (ceiling too, so it never
        borrows), a bounded FIFO under it.
        """
        cmds = shaperCommands("eth1", "6mbit", limit=50)
        self.assertEqual(len(cmds), 3)
        self.assertIn("dev eth1 root handle 1: htb default 10", cmds[0])
        self.assertIn("htb rate 6mbit ceil 6mbit", cmds[1])
        self.assertIn("pfifo limit 50", cmds[2])


class SwitchTests(SynchronousTestCase):
    """
    L{parseSwitch} reads the stream receiver's reports.
    """

    def test_switch(self) -> None:
        """
        A switch report becomes a L{Switch}.
        """
        s = parseSwitch('{"switch":3,"t":10.5,"seq":42,"prevT":10.25,"prevSeq":40}\n')
        assert s is not None
        self.assertEqual(
            (s.ifindex, s.at, s.seq, s.previousAt, s.previousSeq), (3, 10.5, 42, 10.25, 40)
        )

    def test_other(self) -> None:
        """
        Lines that are not switch reports are C{None}.
        """
        self.assertIsNone(parseSwitch("listening"))
        self.assertIsNone(parseSwitch('{"received":10,"lost":0}'))
        self.assertIsNone(parseSwitch("[1, 2]"))

    def test_malformed(self) -> None:
        """
        A broken JSON line, or a switch report with missing or bad fields,
        is a L{PaperError}.
        """
        for line in (
            '{"switch":',
            '{"switch":1,"t":2}',
            '{"switch":"x","t":1,"seq":1,"prevT":0,"prevSeq":0}',
        ):
            self.assertRaises(PaperError, parseSwitch, line)


def _handover(dad: DADMode, gap: float, dadMs: float = 1.0, lost: int = 0) -> Handover:
    return Handover(dad, 100.0, 100.0 + dadMs / 1000, 100.002, 100.0 + gap / 1000, 99.99, lost)


class HandoverTests(SynchronousTestCase):
    """
    L{Handover} derives its figures from the times.
    """

    def test_figures(self) -> None:
        """
        The gap runs from link up to the first datagram on the new link, the
        DAD time to the address being usable, the outage from the last
        datagram on the old link.
        """
        h = Handover(DADMode.OPTIMISTIC, 10.0, 10.002, 10.003, 10.007, 9.99, 5)
        self.assertAlmostEqual(h.gapMs, 7.0, places=6)
        self.assertAlmostEqual(h.dadMs, 2.0, places=6)
        self.assertAlmostEqual(h.outageMs, 17.0, places=6)


class ResultsTests(SynchronousTestCase):
    """
    L{PaperResults} turns runs into the bench's figures and the table.
    """

    def results(self) -> PaperResults:
        r = PaperResults(FILE_SIZE, "6mbit", 44)
        for plain, lin6, encap in ((72.0, 72.2, 74.5), (73.0, 72.9, 75.0), (71.0, 71.1, 73.5)):
            r.transfers += [
                Transfer("plain", plain, plain, FILE_SIZE, 1428),
                Transfer("lin6", lin6, lin6, FILE_SIZE, 1428),
                Transfer("encap", encap, encap, FILE_SIZE, 1384),
            ]
        r.handovers += [_handover(DADMode.OPTIMISTIC, g) for g in (5.0, 7.0, 9.0, 30.0)]
        r.handovers += [_handover(DADMode.STANDARD, g, 1000.0, 3) for g in (1100.0, 1500.0)]
        return r

    def test_figures(self) -> None:
        """
        Every figure of the issue is there: medians of the transfer times,
        medians of the per-round ratios, handover median and p95 per DAD
        mode.
        """
        figures = {name: value for name, value, _, _ in self.results().figures()}
        self.assertEqual(figures["plain_s"], 72.0)
        self.assertEqual(figures["lin6_s"], 72.2)
        self.assertEqual(figures["encap_s"], 74.5)
        self.assertAlmostEqual(figures["lin6_over_plain"], 71.1 / 71.0)
        self.assertAlmostEqual(figures["encap_over_plain"], 74.5 / 72.0)
        self.assertAlmostEqual(figures["handover_median_ms"], 8.0, places=6)
        self.assertAlmostEqual(figures["handover_p95_ms"], 30.0, places=6)
        self.assertAlmostEqual(figures["handover_dad_median_ms"], 1300.0, places=6)
        self.assertAlmostEqual(figures["handover_dad_p95_ms"], 1500.0, places=6)

    def test_ratioPerRound(self) -> None:
        """
        Ratios pair each path with plain of the same round, so a slow round
        does not count against one path only.
        """
        r = PaperResults(1000, "6mbit", 44)
        r.transfers += [
            Transfer("plain", 10.0, 10.0, 1000, 1428),
            Transfer("lin6", 10.0, 10.0, 1000, 1428),
            Transfer("plain", 20.0, 20.0, 1000, 1428),
            Transfer("lin6", 20.0, 20.0, 1000, 1428),
        ]
        figures = {name: value for name, value, _, _ in r.figures()}
        self.assertEqual(figures["lin6_over_plain"], 1.0)
        self.assertNotIn("encap_s", figures)
        self.assertNotIn("handover_median_ms", figures)

    def test_empty(self) -> None:
        """
        Without runs there are no figures, and the medians are NaN.
        """
        r = PaperResults(1000, "6mbit", 40)
        self.assertEqual(r.figures(), [])
        self.assertTrue(math.isnan(r.medianSeconds("plain")))
        self.assertTrue(math.isnan(r.ratio("lin6")))

    def test_table(self) -> None:
        """
        The table shows this lab's and the paper's figures side by side.
        """
        text = self.results().table()
        for expected in ("70.7s", "70.8s", "74.9s", "199ms / 534ms", "72.00s", "1384", "44"):
            self.assertIn(expected, text)
        self.assertIn("optimistic DAD", text)
        self.assertIn("standard DAD", text)

    def test_json(self) -> None:
        """
        The JSON document holds the figures, the paper's, and every run.
        """
        doc = self.results().toJSON()
        self.assertEqual(doc["paper"], PAPER)
        self.assertEqual(len(doc["transfers"]), 9)
        self.assertEqual(len(doc["handovers"]), 6)
        self.assertEqual(doc["figures"]["plain_s"], 72.0)
        self.assertEqual(doc["handovers"][-1]["dad"], "standard")


class MovePlanTests(SynchronousTestCase):
    """
    L{movePlan} sends each move to a new /64 on the other link.
    """

    def test_plan(self) -> None:
        """
        Moves alternate between C{b}'s links (router side matching), every
        prefix is new, and the gateway is in it.
        """
        plan = movePlan(20)
        self.assertEqual(len(plan), 20)
        self.assertEqual([d for d, _, _, _ in plan[:3]], ["eth1", "eth0", "eth1"])
        self.assertEqual([r for _, r, _, _ in plan[:2]], ["eth2", "eth1"])
        self.assertEqual(len({p for _, _, p, _ in plan}), 20)
        for _, _, prefix, gw in plan:
            self.assertEqual(int(gw) >> 64, prefix.value)
            self.assertTrue(str(gw).startswith("2001:db8:f0:"))
        self.assertEqual(movePlan(3, 20), movePlan(23)[20:])


class OptionsTests(SynchronousTestCase):
    """
    L{Options} parses and checks C{lin6 lab paper}'s arguments.
    """

    def parse(self, *args: str) -> Options:
        o = Options()
        o.parseOptions(list(args))
        return o

    def test_defaults(self) -> None:
        """
        By default: the paper's file, 3 rounds, 20 moves, 6 Mbit/s, 44 bytes.
        """
        o = self.parse()
        self.assertEqual(
            (o["size"], o["rounds"], o["moves"], o["rate"], o["overhead"]),
            (FILE_SIZE, 3, 20, "6mbit", 44),
        )
        self.assertFalse(o["no-transfer"])

    def test_values(self) -> None:
        """
        Options convert to their types.
        """
        o = self.parse("--size", "1000", "-n", "1", "--moves", "2", "--rate", "500Kbit",
                       "--overhead", "40", "--no-handover", "--json", "x.json")  # fmt: skip
        self.assertEqual(
            (o["size"], o["rounds"], o["moves"], o["rate"], o["overhead"], o["json"]),
            (1000, 1, 2, "500kbit", 40, "x.json"),
        )
        self.assertTrue(o["no-handover"])

    def test_bad(self) -> None:
        """
        Out-of-range or malformed values are usage errors.
        """
        for args in (
            ["--size", "0"],
            ["--rounds", "0"],
            ["--moves", "-1"],
            ["--overhead", "48"],
            ["--interval", "5"],
            ["--rate", "fast"],
            ["--rate", "0mbit"],
            ["--size", "many"],
        ):
            self.assertRaises(usage.UsageError, self.parse, *args)


class HelperTests(SynchronousTestCase):
    """
    The line reader and result parsing used with the tools.
    """

    def test_lines(self) -> None:
        """
        L{_Lines} returns whole lines, C{None} when nothing comes in time
        and at end of file; C{waitFor} raises when the word never comes.
        """
        r, w = os.pipe()
        reader = os.fdopen(r, "rb")
        self.addCleanup(reader.close)
        lines = _Lines(reader)
        os.write(w, b'listening\n{"a": 1}\npart')
        lines.waitFor("listening", 1)
        self.assertEqual(lines.readline(1), '{"a": 1}')
        self.assertIsNone(lines.readline(0.05))
        os.close(w)
        self.assertIsNone(lines.readline(1))
        self.assertRaises(PaperError, lines.waitFor, "never", 0.05)

    def test_lastJSON(self) -> None:
        """
        The last JSON line is the result; an error report, no result, or a
        broken one is a L{PaperError}.
        """
        self.assertEqual(_lastJSON('listening\n{"x": 1}\n{"y": 2}\n', "t"), {"y": 2})
        for text in ("", "nothing", '{"error": "connect: refused"}', "{broken", "[1]"):
            self.assertRaises(PaperError, _lastJSON, text, "t")

    def test_toolPath(self) -> None:
        """
        L{toolPath} finds the built tools (C{LIN6_WAN_BUILD} overrides the
        directory) and says how to build a missing one.
        """
        base = self.mktemp()
        os.makedirs(base)
        with open(os.path.join(base, "l6pap_xfer"), "w"):
            pass
        old = os.environ.get("LIN6_WAN_BUILD")
        os.environ["LIN6_WAN_BUILD"] = base
        try:
            self.assertEqual(str(toolPath("l6pap_xfer")), os.path.join(base, "l6pap_xfer"))
            e = self.assertRaises(PaperError, toolPath, "missing")
            self.assertIn("make -C wan_c", str(e))
        finally:
            if old is None:
                del os.environ["LIN6_WAN_BUILD"]
            else:
                os.environ["LIN6_WAN_BUILD"] = old


class DirectoryTests(SynchronousTestCase):
    """
    The handover's directory loads into the embedded directory.
    """

    def test_ldif(self) -> None:
        """
        Every node becomes an enabled normal subscriber with its key (key
        id 1), as C{lin6-ma} reads it.
        """
        from lin6twisted.address import NodeID
        from lin6twisted.directory import ServiceLevel
        from lin6twisted.directory.embedded import EmbeddedDirectory
        from lin6twisted.directory.interfaces import Subscriber

        a, b = NodeID.fromString("201:4a00:0:a1"), NodeID.fromString("201:4a00:0:b2")
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(_subscriberLDIF([(a, b"\x01" * 32), (b, b"\x02" * 32)]))
        entries = EmbeddedDirectory.fromLDIF(path).entries()
        self.assertEqual(set(entries), {a, b})
        for node, key in ((a, b"\x01" * 32), (b, b"\x02" * 32)):
            entry = entries[node]
            assert isinstance(entry, Subscriber)
            self.assertEqual(
                (entry.key, entry.keyID, entry.enabled, entry.level),
                (key, 1, True, ServiceLevel.NORMAL),
            )


class MulticastTests(SynchronousTestCase):
    """
    The readiness check of a new address reads the joined multicast groups.
    """

    def test_solicitedNode(self) -> None:
        """
        The solicited-node group keeps the address's last 24 bits.
        """
        self.assertEqual(
            solicitedNode(IPv6Address("2001:db8:f0:2:201:4a00:12:34b2")),
            IPv6Address("ff02::1:ff12:34b2"),
        )

    def test_parse(self) -> None:
        """
        Groups of the asked interface are read; other interfaces and
        malformed lines are not.
        """
        text = (
            "1    lo              ff020000000000000000000000000001     1 0000000C 0\n"
            "3    eth1            ff0200000000000000000001ff0000b2     1 00000004 0\n"
            "3    eth1            ff020000000000000000000000000001     1 0000000C 0\n"
            "3    eth1            nothex                               1 0 0\n"
            "3    eth1            ff02zz00000000000000000000000001     1 0 0\n"
            "garbage\n"
        )
        self.assertEqual(
            parseIGMP6(text, 3), {IPv6Address("ff02::1:ff00:b2"), IPv6Address("ff02::1")}
        )
        self.assertEqual(parseIGMP6(text, 1), {IPv6Address("ff02::1")})
        self.assertEqual(parseIGMP6(text, 9), set())
