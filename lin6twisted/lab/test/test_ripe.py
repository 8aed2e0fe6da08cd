"""
Tests for L{lin6twisted.lab.ripe}.
"""

from __future__ import annotations

import gzip

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.lab.ripe import MatrixError, RTTMatrix

HEADER = ["cty1", "cty2", "rtt_cnt", "rtt_avg", "rtt_std", "rtt_min", "rtt_max"]


class RTTMatrixTests(SynchronousTestCase):
    """
    The shipped matrix loads; pairs are symmetric; bad rows are refused.
    """

    def test_shipped(self) -> None:
        """
        The shipped file has thousands of pairs and is symmetric.
        """
        m = RTTMatrix.load()
        self.assertGreater(len(m.stats), 6000)
        self.assertGreater(len(m.countries()), 150)
        self.assertEqual(m.rtt("JP", "DE"), m.rtt("de", "jp"))
        self.assertAlmostEqual(m.rtt("DE", "JP"), 173.737, places=2)
        self.assertAlmostEqual(m.oneWay("DE", "JP"), m.rtt("DE", "JP") / 2)
        self.assertLess(m.rtt("DE", "JP", "min"), m.rtt("DE", "JP"))

    def test_singleMeasurement(self) -> None:
        """
        A pair measured once has an empty standard deviation, read as 0.
        """
        m = RTTMatrix.fromRows([HEADER, ["AE", "AL", "1", "41.2", "", "41.2", "41.2"]])
        self.assertEqual(m.stat("AL", "AE").std, 0.0)

    def test_unknownCountrySkipped(self) -> None:
        """
        Rows for probes without a country ("None") are counted and left out.
        """
        m = RTTMatrix.fromRows([HEADER, ["AE", "None", "5", "1", "1", "1", "1"]])
        self.assertEqual((len(m.stats), m.skipped), (0, 1))

    def test_errors(self) -> None:
        """
        Bad headers, bad numbers, missing pairs and unreadable files raise
        L{MatrixError}.
        """
        self.assertRaises(MatrixError, RTTMatrix.fromRows, [["a", "b"]])
        self.assertRaises(
            MatrixError, RTTMatrix.fromRows, [HEADER, ["AE", "AL", "x", "1", "1", "1", "1"]]
        )
        self.assertRaises(
            MatrixError, RTTMatrix.fromRows, [HEADER, ["AE", "AL", "1", "inf", "1", "1", "1"]]
        )
        m = RTTMatrix.fromRows([HEADER])
        self.assertRaises(MatrixError, m.rtt, "AE", "AL")
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"not gzip")
        self.assertRaises(MatrixError, RTTMatrix.load, path)
        with open(path, "wb") as f:
            f.write(gzip.compress(b"cty1,cty2,rtt_cnt,rtt_avg\nAE,AL,1,2,3,4\n"))
        self.assertRaises(MatrixError, RTTMatrix.load, path)
        self.assertRaises(MatrixError, RTTMatrix.load().rtt, "DE", "JP", "p99")
