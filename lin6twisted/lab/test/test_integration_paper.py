"""
Integration tests of the paper comparison (L{lin6twisted.lab.paper}) in
network namespaces, trimmed: small files, few moves.  Root only.
"""

from __future__ import annotations

import json
import os
import statistics

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from lin6twisted.lab.config import DADMode
from lin6twisted.lab.paper import KINDS, Options, PaperBed, runPaper
from lin6twisted.netns import isRoot

SIZE = 400_000


class PaperBedTests(TestCase):
    """
    The three transfer paths and the handover on the real test bed.
    """

    timeout = 120

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("needs root (network namespaces, BPF, tc)")

    def bed(self, encap: bool) -> PaperBed:
        bed = PaperBed(reactor, "6mbit", 44, encap=encap)
        self.addCleanup(bed.destroy)
        bed.build()
        return bed

    def test_transfers(self) -> None:
        """
        The file arrives intact on every path at about the bottleneck's
        rate; the tunnel really carries the encap path (both programs count
        packets, none fail) and its MSS is 44 bytes smaller; LIN6 adds no
        bytes (same MSS as plain IPv6).
        """
        bed = self.bed(encap=True)
        results = {kind: bed.transfer(kind, SIZE, 6300 + i, 60) for i, kind in enumerate(KINDS)}
        for t in results.values():
            # 400 kB at 6 Mbit/s take 0.53 s at least, and well under 3 s.
            self.assertTrue(0.5 < t.seconds < 3.0, t)
        self.assertEqual(results["lin6"].mss, results["plain"].mss)
        self.assertEqual(results["encap"].mss, results["plain"].mss - 44)
        encapA, failA, decapA, dfailA = bed.tunnels[0].counters()
        encapB, failB, decapB, dfailB = bed.tunnels[1].counters()
        # On the wire every packet carries at most 1384 bytes of the file
        # (the sender's skbs may be larger: segmentation follows the encap).
        self.assertGreater(encapA, 50)
        self.assertGreaterEqual(decapB, SIZE // 1384)
        self.assertGreater(encapB, 10)  # the ACKs come back through it
        self.assertGreater(decapA, 10)
        self.assertEqual(failA + dfailA + failB + dfailB, 0)
        self.assertGreater(bed.pair.dpA.counters()["egress_mapped"], 50)
        self.assertGreaterEqual(bed.pair.dpB.counters()["ingress_mapped"], SIZE // 1428)

    def test_handoverMA(self) -> None:
        """
        With optimistic DAD and the signalling through a real C{lin6-ma}
        (REGISTER, NOTIFY, MAP_QUERY), the stream flows again through the
        new link within tens of milliseconds; with standard DAD it waits for
        DAD (one probe, 1 s, after a random delay), so each move takes at
        least a second.  Nothing is lost beyond the outage.
        """
        bed = self.bed(encap=False)
        ma = bed.startMA()
        fast = bed.handovers(DADMode.OPTIMISTIC, 3, 6401)
        self.assertEqual(len(fast), 3)
        self.assertEqual({h.via for h in fast}, {"ma"})
        self.assertLess(statistics.median(h.gapMs for h in fast), 100)
        for h in fast:
            self.assertTrue(0 < h.dadMs < h.gapMs, h)
            self.assertTrue(h.usable < h.switched < h.arrived, h)
        slow = bed.handovers(DADMode.STANDARD, 2, 6402)
        for h in slow:
            self.assertGreater(h.dadMs, 900)
            self.assertGreaterEqual(h.gapMs, h.dadMs)
        log = ma.daemon.log()
        self.assertEqual(log.count("Registered 201:4a00:0:b2"), 1 + 3 + 2, log)

    def test_handoverDirect(self) -> None:
        """
        Without the MA, the correspondent's dataplane is updated directly;
        the stream resumes through each new link.
        """
        bed = self.bed(encap=False)
        moves = bed.handovers(DADMode.OPTIMISTIC, 2, 6403)
        self.assertEqual([h.via for h in moves], ["direct", "direct"])
        self.assertLess(max(h.gapMs for h in moves), 200)


class RunPaperTests(TestCase):
    """
    C{lin6 lab paper} from options to printed figures and JSON.
    """

    timeout = 120

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("needs root (network namespaces, BPF, tc)")

    def test_run(self) -> None:
        """
        A trimmed run prints the table with the paper's figures and every
        figure of the issue, and writes them as JSON.
        """
        path = os.path.abspath(self.mktemp())
        options = Options()
        options.parseOptions(
            ["--size", str(SIZE), "--rounds", "1", "--moves", "1", "--json", path]
        )
        lines: list[str] = []
        self.assertEqual(runPaper(options, lines.append), 0, "\n".join(lines))
        text = "\n".join(lines)
        self.assertIn("70.7s", text)
        printed = {line.split()[0] for line in lines if line.startswith("paper.")}
        self.assertEqual(
            printed,
            {
                f"paper.{name}"
                for name in (
                    "plain_s", "lin6_s", "encap_s", "lin6_over_plain", "encap_over_plain",
                    "handover_median_ms", "handover_p95_ms",
                    "handover_dad_median_ms", "handover_dad_p95_ms",
                )
            },
        )  # fmt: skip
        with open(path) as f:
            doc = json.load(f)
        self.assertEqual(len(doc["transfers"]), 3)
        self.assertEqual([h["dad"] for h in doc["handovers"]], ["optimistic", "standard"])
