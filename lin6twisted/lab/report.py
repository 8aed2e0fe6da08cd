# -*- test-case-name: lin6twisted.lab.test.test_report -*-
"""
The lab's report: JSON (C{lab-report.json}), a text summary, the checks
against the targets, and a PNG plot of throughput over time.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

__all__ = ["Event", "LabReport", "MNReport"]


@frozen
class Event:
    """
    Something the scenario did, at wall-clock time C{t}.

    @ivar kind: C{attach}, C{move}, C{ls-kill}, C{ls-restart}, C{ma-stop}, ...
    """

    t: float
    kind: str
    text: str


@frozen
class MNReport:
    name: str
    nodeID: str
    level: str
    configuredBps: int
    measuredBps: float
    site: str | None
    siteRTTms: float | None
    alternativesRTTms: dict[str, float | None]
    configuredRTTms: dict[str, float]
    handoverGapMs: float | None
    steadyMaxGapMs: float
    registeredMs: float | None
    switchedMs: float | None
    bytesReceived: int
    missingFrames: int
    duplicateFrames: int
    error: str | None
    samples: list[tuple[float, int]] = field(repr=False)
    stalls: list[float] = field(factory=list)

    def asDict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "node_id": self.nodeID,
            "level": self.level,
            "configured_bps": self.configuredBps,
            "measured_bps": round(self.measuredBps),
            "rate_ratio": round(self.measuredBps / self.configuredBps, 4),
            "site": self.site,
            "site_rtt_ms": self.siteRTTms,
            "alternatives_rtt_ms": self.alternativesRTTms,
            "configured_rtt_ms": {k: round(v, 1) for k, v in self.configuredRTTms.items()},
            "handover_gap_ms": self.handoverGapMs,
            "steady_max_gap_ms": self.steadyMaxGapMs,
            "handover_registered_ms": self.registeredMs,
            "handover_server_switched_ms": self.switchedMs,
            "bytes_received": self.bytesReceived,
            "missing_frames": self.missingFrames,
            "duplicate_frames": self.duplicateFrames,
            "error": self.error,
            "stalls_over_50ms_outside_moves_ms": [round(g, 1) for g in self.stalls],
        }

    @property
    def lowestRTT(self) -> bool:
        """
        Whether the chosen site has the lowest measured RTT.
        """
        if self.siteRTTms is None:
            return False
        others = [v for v in self.alternativesRTTms.values() if v is not None]
        return all(self.siteRTTms <= v for v in others)


@define
class LabReport:
    config: str
    dad: str
    move: str
    handoverGapsMs: list[float]
    bytesLost: int
    attaches: int
    failedAttaches: int
    mns: list[MNReport]
    lsFailover: dict[str, Any] | None
    maStop: dict[str, Any] | None
    events: list[Event]
    wanCounters: str = ""
    notes: list[str] = field(factory=list)
    durationS: float = 0.0

    def checks(self) -> dict[str, bool]:
        """
        The issue's targets, each passed or not.
        """
        gaps = self.handoverGapsMs
        return {
            "each MN served by its lowest-RTT site": all(m.lowestRTT for m in self.mns),
            "rates within 10% of configured": all(
                abs(m.measuredBps / m.configuredBps - 1) <= 0.10 for m in self.mns
            ),
            "median handover gap < 50 ms": bool(gaps) and statistics.median(gaps) < 50,
            "no bytes lost": self.bytesLost == 0 and all(m.error is None for m in self.mns),
            "zero failed attaches": self.failedAttaches == 0,
        }

    def asDict(self) -> dict[str, Any]:
        t0 = self.events[0].t if self.events else 0.0
        return {
            "config": self.config,
            "dad": self.dad,
            "move": self.move,
            "duration_s": round(self.durationS, 1),
            "handover_gaps_ms": self.handoverGapsMs,
            "bytes_lost": self.bytesLost,
            "attaches": self.attaches,
            "failed_attaches": self.failedAttaches,
            "mns": {m.name: m.asDict() for m in self.mns},
            "ls_failover": self.lsFailover,
            "ma_stop": self.maStop,
            "checks": self.checks(),
            "events": [
                {"t": round(e.t - t0, 3), "kind": e.kind, "text": e.text} for e in self.events
            ],
            "wan_counters": self.wanCounters.splitlines(),
            "notes": self.notes,
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.asDict(), indent=2) + "\n")

    def text(self) -> str:
        """
        The human-readable summary.
        """
        lines = [
            f"LIN6 lab report ({self.config}, {self.dad} DAD, {self.move},"
            f" {self.durationS:.0f} s)",
            "",
        ]
        for m in self.mns:
            alt = ", ".join(f"{k} {_ms(v)}" for k, v in sorted(m.alternativesRTTms.items()))
            lines += [
                f"{m.name} ({m.nodeID}, {m.level}):",
                f"  site        {m.site} RTT {_ms(m.siteRTTms)}  (alternatives: {alt})",
                f"  rate        {m.measuredBps / 1e6:.2f} Mbit/s of {m.configuredBps / 1e6:.2f}"
                f" configured ({100 * m.measuredBps / m.configuredBps:.1f}%)",
                f"  handover    gap {_ms(m.handoverGapMs)}"
                f" (steady-state max {_ms(m.steadyMaxGapMs)});"
                f" registered {_ms(m.registeredMs)}, server switched {_ms(m.switchedMs)}",
                f"  stream      {m.bytesReceived} bytes, {m.missingFrames} frames missing,"
                f" {m.duplicateFrames} duplicated" + (f", ERROR {m.error}" if m.error else ""),
                f"  stalls      {len(m.stalls)} silences > 50 ms away from the move"
                + (f" (longest {max(m.stalls):.0f} ms)" if m.stalls else ""),
            ]
        lines.append("")
        if self.lsFailover:
            f = self.lsFailover
            lines.append(
                f"LS failover: {f['ls']} killed; {f['probe_attaches_ok']}/{f['probe_attaches']}"
                f" fresh attaches succeeded; synced after restart: {f['synced_after_restart']}"
            )
        if self.maStop:
            lines.append(
                f"MA stop: {self.maStop['site']}; inactive at {self.maStop['inactive_at']};"
                f" attach afterwards ok: {self.maStop['probe_attach_ok']}"
            )
        lines.append(
            f"handover gaps {[round(g, 1) for g in self.handoverGapsMs]} ms;"
            f" bytes lost {self.bytesLost}; failed attaches {self.failedAttaches}/{self.attaches}"
        )
        lines.append("")
        for name, ok in self.checks().items():
            lines.append(f"  [{'PASS' if ok else 'FAIL'}] {name}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)

    def plot(self, path: Path) -> bool:
        """
        Write a PNG of each MN's throughput over time, marking the moves
        and failures.

        @return: C{False} if matplotlib is not installed.
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return False
        t0 = self.events[0].t if self.events else 0.0
        fig, ax = plt.subplots(figsize=(11, 5))
        for m in self.mns:
            if not m.samples:
                continue
            step = 0.5
            bins: dict[int, int] = {}
            for t, b in m.samples:
                bins[int((t - t0) / step)] = bins.get(int((t - t0) / step), 0) + b
            xs = sorted(bins)
            ax.plot(
                [x * step for x in xs],
                [bins[x] * 8 / step / 1e6 for x in xs],
                label=f"{m.name} ({m.level}, {m.site})",
            )
            ax.axhline(m.configuredBps / 1e6, linestyle=":", linewidth=0.8, color="grey")
        colours = {"move": "tab:green", "ls-kill": "tab:red", "ls-restart": "tab:blue",
                   "ma-stop": "tab:purple"}  # fmt: skip
        for e in self.events:
            if e.kind in colours:
                ax.axvline(e.t - t0, color=colours[e.kind], linestyle="--", linewidth=1)
                ax.text(e.t - t0, ax.get_ylim()[1] * 0.98, e.text, rotation=90, fontsize=7,
                        va="top", ha="right", color=colours[e.kind])  # fmt: skip
        ax.set_xlabel("time (s)")
        ax.set_ylabel("received (Mbit/s, 0.5 s bins)")
        ax.set_title("LIN6 lab: stream throughput per mobile node")
        ax.legend(loc="lower left")
        fig.tight_layout()
        fig.savefig(path, dpi=100, format="png")
        plt.close(fig)
        return True


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} ms"
