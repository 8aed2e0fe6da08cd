"""
The trimmed lab: the whole scenario with the real daemons in namespaces
(root only), checked against the report's figures.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.lab.cli import runLab
from lin6twisted.lab.config import loadLabConfig
from lin6twisted.lab.deploy import NS_PREFIX
from lin6twisted.netns import isRoot, listNamespaces

TRIMMED = Path(__file__).parent / "trimmed.toml"


class TrimmedLabTests(SynchronousTestCase):
    """
    C{lin6 lab} on a trimmed configuration.
    """

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("the lab needs root (namespaces, eBPF)")

    def ours(self) -> list[str]:
        return [n for n in listNamespaces() if n.startswith(f"{NS_PREFIX}{os.getpid()}x")]

    def test_scenario(self) -> None:
        """
        Both mobile nodes attach to their lowest-RTT site, stream at their
        level's rate through the LIN6 dataplane, keep streaming across a
        move without losing a byte, fresh attaches survive an LS replica's
        crash, and nothing is left behind.
        """
        base = Path(self.mktemp()).absolute()
        base.mkdir(parents=True)
        out = io.StringIO()
        report = runLab(
            loadLabConfig(TRIMMED), base / "report.json", base / "report.png", base / "work", out
        )
        text = out.getvalue()
        self.assertEqual(self.ours(), [], "namespaces left behind")
        doc = json.loads((base / "report.json").read_text())
        self.assertEqual(doc["bytes_lost"], 0, text)
        self.assertEqual(doc["failed_attaches"], 0, text)
        self.assertGreaterEqual(doc["attaches"], 5)
        self.assertEqual(len(doc["handover_gaps_ms"]), 2)
        self.assertTrue(report.checks()["each MN served by its lowest-RTT site"], text)
        for name in ("mn1", "mn2"):
            # The full lab reports against 10%; a short CI window with one
            # TCP loss recovery in it may read a few percent lower.
            self.assertGreater(doc["mns"][name]["rate_ratio"], 0.85, text)
            self.assertLess(doc["mns"][name]["rate_ratio"], 1.10, text)
        for name, level, site in (("mn1", "normal", "site1"), ("mn2", "premium", "site2")):
            mn = doc["mns"][name]
            self.assertEqual((mn["level"], mn["site"]), (level, site), text)
            self.assertIsNone(mn["error"])
            self.assertIsNotNone(mn["handover_registered_ms"], text)
            self.assertIsNotNone(mn["handover_server_switched_ms"], text)
            self.assertLess(mn["handover_gap_ms"], 500, text)
        self.assertEqual(doc["ls_failover"]["probe_attaches_ok"], 2, text)
        self.assertTrue(doc["ls_failover"]["synced_after_restart"], text)
        self.assertTrue(all(doc["ma_stop"]["inactive_at"].values()), text)
        self.assertIn("report written to", text)


class InterruptTests(SynchronousTestCase):
    """
    C{lin6 lab} tears everything down on SIGINT (Ctrl-C) and SIGTERM.
    """

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("the lab needs root (namespaces, eBPF)")

    def interrupt(self, signum: int) -> None:
        base = Path(self.mktemp()).absolute()
        base.mkdir(parents=True)
        work = base / "work"
        argv = [
            sys.executable, "-c", "from lin6twisted.cli import main; raise SystemExit(main())",
            "lab", "--config", str(TRIMMED), "--workdir", str(work),
            "--report", str(base / "report.json"),
        ]  # fmt: skip
        with open(base / "out.log", "wb") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

        def reap() -> None:
            if p.poll() is None:
                p.kill()
                p.wait(10)

        self.addCleanup(reap)
        # Interrupt once daemons are up (the MAs are started after the LSs).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (work / "logs" / "ma-site1.log").exists():
            time.sleep(0.1)
        time.sleep(1.0)
        p.send_signal(signum)
        p.wait(60)
        out = (base / "out.log").read_text()
        self.assertEqual(p.returncode, 130, out)
        self.assertIn("interrupted", out)
        left = [n for n in listNamespaces() if n.startswith(f"{NS_PREFIX}{p.pid}x")]
        self.assertEqual(left, [])
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        self.assertNotIn(str(work), ps)
        self.assertFalse((base / "report.json").exists())

    def test_sigint(self) -> None:
        self.interrupt(signal.SIGINT)

    def test_sigterm(self) -> None:
        self.interrupt(signal.SIGTERM)
