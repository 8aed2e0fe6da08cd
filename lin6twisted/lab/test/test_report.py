"""
Tests for L{lin6twisted.lab.report} and the C{lin6 lab} options.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.lab.cli import Options, Progress
from lin6twisted.lab.config import DADMode
from lin6twisted.lab.report import Event, LabReport, MNReport

TRIMMED = Path(__file__).parent / "trimmed.toml"


def mnReport(
    name: str = "mn1",
    rate: float = 1.9e6,
    site: str = "site1",
    rtt: float = 40.0,
    gap: float = 20.0,
    missing: int = 0,
) -> MNReport:
    return MNReport(
        name=name,
        nodeID="201:4a00:0:2",
        level="normal",
        configuredBps=2_000_000,
        measuredBps=rate,
        site=site,
        siteRTTms=rtt,
        alternativesRTTms={"site2": 100.0},
        configuredRTTms={"site1": 40.0, "site2": 100.0},
        handoverGapMs=gap,
        steadyMaxGapMs=10.0,
        registeredMs=5.0,
        switchedMs=6.0,
        bytesReceived=1000,
        missingFrames=missing,
        duplicateFrames=0,
        error=None,
        samples=[(100.0, 25000), (100.1, 25000)],
    )


def report(*mns: MNReport, failed: int = 0, lost: int = 0) -> LabReport:
    return LabReport(
        config="lab.toml",
        dad="optimistic",
        move="make-before-break",
        handoverGapsMs=[m.handoverGapMs or 0.0 for m in mns],
        bytesLost=lost,
        attaches=4,
        failedAttaches=failed,
        mns=list(mns),
        lsFailover={
            "ls": "ls1",
            "synced_after_restart": True,
            "mas_known_after_restart": 3,
            "probe_attaches": 2,
            "probe_attaches_ok": 2,
        },
        maStop={"site": "site3", "inactive_at": {"ls1": True}, "probe_attach_ok": True},
        events=[Event(99.0, "attach", "mn1 attached"), Event(100.05, "move", "mn1 moves")],
    )


class ReportTests(SynchronousTestCase):
    """
    L{LabReport} checks the targets and writes JSON, text and a plot.
    """

    def test_allPass(self) -> None:
        r = report(mnReport())
        self.assertEqual(set(r.checks().values()), {True})

    def test_failures(self) -> None:
        """
        Each target fails on its own figure.
        """
        checks = report(mnReport(rate=1.7e6, rtt=150.0, gap=60.0), failed=1, lost=1400).checks()
        self.assertEqual(set(checks.values()), {False})

    def test_json(self) -> None:
        """
        The JSON holds the keys the issue names, per MN its level, rates,
        chosen site and RTTs, and events relative to the first one.
        """
        path = Path(self.mktemp())
        report(mnReport()).write(path)
        doc = json.loads(path.read_text())
        self.assertEqual(doc["handover_gaps_ms"], [20.0])
        self.assertEqual((doc["bytes_lost"], doc["failed_attaches"]), (0, 0))
        mn = doc["mns"]["mn1"]
        self.assertEqual(mn["level"], "normal")
        self.assertEqual((mn["configured_bps"], mn["measured_bps"]), (2_000_000, 1_900_000))
        self.assertEqual((mn["site"], mn["site_rtt_ms"]), ("site1", 40.0))
        self.assertEqual(mn["alternatives_rtt_ms"], {"site2": 100.0})
        self.assertEqual([e["t"] for e in doc["events"]], [0.0, 1.05])

    def test_text(self) -> None:
        text = report(mnReport()).text()
        self.assertIn("site1 RTT 40.0 ms", text)
        self.assertIn("[PASS] zero failed attaches", text)

    def test_plot(self) -> None:
        """
        The plot is a PNG file.
        """
        path = Path(self.mktemp())
        if not report(mnReport()).plot(path):
            raise self.skipTest("matplotlib is not installed")
        self.assertEqual(path.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")


class OptionsTests(SynchronousTestCase):
    """
    C{lin6 lab} options.
    """

    def test_defaults(self) -> None:
        o = Options()
        o.parseOptions([])
        self.assertEqual(o["reportPath"], Path("lab-report.json"))
        self.assertEqual(o["plotPath"], Path("lab-report.png"))
        self.assertEqual(len(o["labConfig"].sites), 3)

    def test_dad(self) -> None:
        o = Options()
        o.parseOptions(["--config", str(TRIMMED), "--dad", "standard", "--report", "x/r.json"])
        self.assertEqual(o["labConfig"].scenario.dad, DADMode.STANDARD)
        self.assertEqual(o["plotPath"], Path("x/r.png"))

    def test_badDAD(self) -> None:
        self.assertRaises(usage.UsageError, Options().parseOptions, ["--dad", "fast"])

    def test_badConfig(self) -> None:
        e = self.assertRaises(
            usage.UsageError, Options().parseOptions, ["--config", "/nonexistent.toml"]
        )
        self.assertIn("nonexistent", str(e))


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class ProgressTests(SynchronousTestCase):
    """
    The progress display: step lines with the elapsed time; on a terminal
    the status line is rewritten in place and cleared before the next step.
    """

    def test_terminal(self) -> None:
        out = _TTY()
        p = Progress(out)
        p.status("streaming: mn1 1.9 Mbit/s")
        p.step("mn1 moves")
        text = out.getvalue()
        self.assertTrue(text.startswith("\r["))
        self.assertIn("streaming: mn1 1.9 Mbit/s", text)
        self.assertRegex(text, r"\r {150}\r\[ *[0-9.]+s\] mn1 moves\n$")

    def test_notTerminal(self) -> None:
        """
        Without a terminal, status lines are plain lines, at most one per
        five seconds.
        """
        out = io.StringIO()
        p = Progress(out)
        p.status("one")
        p.status("two")
        p.step("done")
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].endswith("  one"))
        self.assertTrue(lines[1].endswith("] done"))
