"""
The lab stream served and played over real loopback sockets.
"""

from __future__ import annotations

import json
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.testing.processes import freePort, waitForPort


class StreamLoopbackTests(SynchronousTestCase):
    """
    C{python -m lin6twisted.lab.stream serve/play} work end to end.
    """

    def test_playAtOfferedRate(self) -> None:
        """
        A 4 Mbit/s stream played for 2 s arrives at 4 Mbit/s (within 10%),
        complete and in order.
        """
        port = freePort()
        server = subprocess.Popen(
            [sys.executable, "-m", "lin6twisted.lab.stream", "serve", "--port", str(port),
             "--interface", "::1", "--rate", "4e6"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.addCleanup(server.kill)
        waitForPort("::1", port)
        out = self.mktemp()
        subprocess.run(
            [sys.executable, "-m", "lin6twisted.lab.stream", "play",
             f"http://[::1]:{port}/live", "--seconds", "2.5", "--out", out],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        with open(out) as f:
            doc = json.load(f)
        self.assertNotIn("error", doc)
        self.assertEqual(doc["missing_frames"], 0)
        self.assertEqual(doc["duplicate_frames"], 0)
        samples = [b for _, b in doc["samples"]][3:-1]
        rate = sum(samples) * 8 / (len(samples) * doc["interval"])
        self.assertLess(abs(rate - 4e6) / 4e6, 0.10, rate)
