"""
The C{paper} benchmark group: the original paper's Table 5 and handover
timing (see L{lin6twisted.lab.paper}).

C{python -m lin6twisted.bench paper [lin6 lab paper options]} (root only).
By default: the paper's 53,850,039-byte file over a 6 Mbit/s HTB
bottleneck, 3 rounds of plain IPv6 / LIN6 / a 44-byte encapsulating tunnel
(path order alternating each round; medians), and 20 moves with optimistic
DAD and 20 with standard DAD.  It takes about 15 minutes.

Figures: C{paper.plain_s}, C{paper.lin6_s}, C{paper.encap_s},
C{paper.lin6_over_plain} (median of per-round ratios; target <= 1.01),
C{paper.encap_over_plain}, C{paper.handover_median_ms} and
C{paper.handover_p95_ms} (optimistic DAD), C{paper.handover_dad_median_ms}
and C{paper.handover_dad_p95_ms} (standard DAD).
"""

from __future__ import annotations

from twisted.python import usage

from lin6twisted.bench import Recorder
from lin6twisted.lab.paper import Options, PaperError, measure
from lin6twisted.netns import isRoot

__all__ = ["run"]


def run(recorder: Recorder, args: list[str]) -> None:
    """
    Measure and record the figures.

    @raise PaperError: if not root, the options are wrong, or a run fails.
    """
    if not isRoot():
        raise PaperError("the paper group needs root (network namespaces, BPF, tc)")
    options = Options()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(args)  # type: ignore[no-untyped-call]
    except usage.UsageError as e:
        raise PaperError(f"paper: {e}") from None
    results = measure(options, recorder.note)
    for line in results.table().splitlines():
        recorder.note(line)
    for name, value, unit, detail in results.figures():
        recorder.record(f"paper.{name}", value, unit, **detail)
