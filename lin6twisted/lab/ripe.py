# -*- test-case-name: lin6twisted.lab.test.test_ripe -*-
"""
The RIPE Atlas country-to-country RTT matrix shipped in C{data/}.

The file holds one row per unordered country pair (upper triangle, and the
diagonal for in-country RTTs): C{cty1,cty2,rtt_cnt,rtt_avg,rtt_std,rtt_min,
rtt_max}, times in milliseconds.  L{RTTMatrix.rtt} is symmetric.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from attrs import frozen

__all__ = ["DEFAULT_MATRIX_PATH", "MatrixError", "RTTMatrix", "RTTStat"]

DEFAULT_MATRIX_PATH = "ripe-atlas-country-rtt.csv.gz"
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class MatrixError(ValueError):
    """
    The matrix file is malformed, or a country pair is missing.
    """


@frozen
class RTTStat:
    """
    Aggregated RTTs between two countries, in milliseconds.
    """

    count: int
    avg: float
    std: float
    min: float
    max: float


@frozen
class RTTMatrix:
    """
    Symmetric country-pair RTT statistics.

    @ivar stats: C{(a, b)} with C{a <= b} -> L{RTTStat}.
    @ivar skipped: rows left out because a country code was not two letters.
    """

    stats: dict[tuple[str, str], RTTStat]
    skipped: int = 0

    @classmethod
    def load(cls, path: str | Path | None = None) -> RTTMatrix:
        """
        Load a gzipped CSV matrix (the shipped one by default).

        @raise MatrixError: on a missing file or a malformed row.
        """
        try:
            if path is None:
                raw = resources.files("lin6twisted.lab") / "data" / DEFAULT_MATRIX_PATH
                data = raw.read_bytes()
            else:
                data = Path(path).read_bytes()
            text = gzip.decompress(data).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise MatrixError(
                f"cannot read RTT matrix {path or DEFAULT_MATRIX_PATH}: {e}"
            ) from None
        return cls.fromRows(csv.reader(io.StringIO(text)), str(path or DEFAULT_MATRIX_PATH))

    @classmethod
    def fromRows(cls, rows: Iterable[list[str]], name: str = "<rows>") -> RTTMatrix:
        """
        Build a matrix from CSV rows (the first is the header).

        @raise MatrixError: on a bad header or row.
        """
        it = iter(rows)
        header = next(it, None)
        if header is None or header[:4] != ["cty1", "cty2", "rtt_cnt", "rtt_avg"]:
            raise MatrixError(f"{name}: unexpected header {header!r}")
        stats: dict[tuple[str, str], RTTStat] = {}
        skipped = 0
        for lineno, row in enumerate(it, start=2):
            if len(row) < 7:
                raise MatrixError(f"{name}: line {lineno}: expected 7 columns, got {len(row)}")
            try:
                a, b = row[0].strip().upper(), row[1].strip().upper()
                # rtt_std is empty where a pair has a single measurement.
                values = [
                    float(v) if (v.strip() or i != 1) else 0.0 for i, v in enumerate(row[3:7])
                ]
                stat = RTTStat(int(row[2]), *values)
            except (IndexError, ValueError) as e:
                raise MatrixError(f"{name}: line {lineno}: {e}") from None
            if not all(math.isfinite(v) for v in values):
                raise MatrixError(f"{name}: line {lineno}: bad row {row!r}")
            if not (_COUNTRY.match(a) and _COUNTRY.match(b)):
                # The source aggregates probes without a country as "None".
                skipped += 1
                continue
            stats[(min(a, b), max(a, b))] = stat
        return cls(stats, skipped)

    def countries(self) -> set[str]:
        """
        Every country code in the matrix.
        """
        return {c for pair in self.stats for c in pair}

    def stat(self, a: str, b: str) -> RTTStat:
        """
        The statistics for a pair, in either order.

        @raise MatrixError: if the pair is not in the matrix.
        """
        a, b = a.upper(), b.upper()
        try:
            return self.stats[(min(a, b), max(a, b))]
        except KeyError:
            raise MatrixError(f"no RTT data between {a} and {b}") from None

    def rtt(self, a: str, b: str, measure: str = "avg") -> float:
        """
        The RTT in milliseconds between two countries.

        @param measure: C{avg} or C{min}.
        """
        s = self.stat(a, b)
        if measure == "avg":
            return s.avg
        if measure == "min":
            return s.min
        raise MatrixError(f"unknown RTT measure {measure!r} (avg or min)")

    def oneWay(self, a: str, b: str, measure: str = "avg") -> float:
        """
        Half the RTT: the one-way delay the lab emulates between a and b.
        """
        return self.rtt(a, b, measure) / 2.0
