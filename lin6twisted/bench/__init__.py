"""
Benchmarks: C{python -m lin6twisted.bench [GROUP ...]} (what C{tox -e bench} runs).

Each group is a module C{lin6twisted.bench.<group>} with a function
C{run(recorder: Recorder, args: list[str]) -> None}.  Every figure is printed
as one line C{BENCH <name> <value> <unit>} and all figures of a run are
written to C{bench-results.json} in the working directory.  Figures are
measured, never copied.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from attrs import define, field

__all__ = ["GROUPS", "Figure", "Recorder", "median", "timeRate"]

GROUPS: tuple[str, ...] = (
    "wire", "fuzz", "directory", "ls", "ma", "resolvd", "dp", "paper", "selection",
)  # fmt: skip
"""Every group, in the order C{tox -e bench} runs them."""


@define
class Figure:
    """
    One measured figure.
    """

    name: str
    value: float
    unit: str
    detail: dict[str, Any] = field(factory=dict)


@define
class Recorder:
    """
    Collects figures, prints each as it comes, and saves them all.
    """

    figures: list[Figure] = field(factory=list)
    write: Callable[[str], object] = field(default=lambda line: print(line, flush=True))

    def record(self, name: str, value: float, unit: str, **detail: Any) -> Figure:
        """
        Record and print a figure as C{BENCH <name> <value> <unit>}.
        """
        fig = Figure(name, float(value), unit, dict(detail))
        self.figures.append(fig)
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        extra = "".join(f" {k}={v}" for k, v in detail.items())
        self.write(f"BENCH {name} {shown} {unit}{extra}")
        return fig

    def note(self, text: str) -> None:
        """
        Print a line of context that is not a figure.
        """
        self.write(f"# {text}")

    def save(self, path: str = "bench-results.json") -> None:
        """
        Write all figures of this run as JSON.
        """
        doc = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "figures": [
                {"name": f.name, "value": f.value, "unit": f.unit, **f.detail}
                for f in self.figures
            ],
        }
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)


def median(values: list[float]) -> float:
    """
    The median of C{values}.
    """
    return float(statistics.median(values))


def timeRate(fn: Callable[[], object], count: int, repeats: int = 5) -> tuple[float, list[float]]:
    """
    Call C{fn} C{count} times per repeat; return the median rate (calls per
    second) over C{repeats} repeats and the per-repeat rates.
    """
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(count):
            fn()
        elapsed = time.perf_counter() - start
        rates.append(count / elapsed)
    return median(rates), rates
