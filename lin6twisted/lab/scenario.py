# -*- test-case-name: lin6twisted.lab.test.test_integration_lab -*-
"""
The lab's scenario: attach both mobile nodes, stream, move each one, kill
and restart an LS replica (with fresh attaches while it is down), stop an
MA, and collect what happened into a L{LabReport}.

Runs synchronously; every wait is bounded.  The caller owns the L{Lab} and
destroys it whatever happens (see L{lin6twisted.lab.cli}).
"""

from __future__ import annotations

import json
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import define, field

from lin6twisted.address import Locator
from lin6twisted.lab.config import DADMode, MoveMode
from lin6twisted.lab.deploy import Lab, LabError
from lin6twisted.lab.report import Event, LabReport, MNReport
from lin6twisted.lab.stream import FRAME_HEADER, PAYLOAD
from lin6twisted.netns import Namespace

__all__ = ["Scenario"]

FRAME_SIZE = FRAME_HEADER.size + PAYLOAD
GAP_THRESHOLD = 0.005


def pingRTT(ns: Namespace, dst: str, count: int = 3) -> float | None:
    """
    The median RTT in milliseconds from C{ns} to C{dst}, or C{None}.
    """
    r = ns.run(
        ["ping", "-6", "-n", "-c", str(count), "-i", "0.2", "-W", "2", dst],
        check=False,
        timeout=30,
    )
    values = [float(v) for v in re.findall(r"time=([0-9.]+) ms", r.stdout)]
    return statistics.median(values) if values else None


@define
class _Player:
    mn: str
    process: subprocess.Popen[bytes]
    out: Path
    progress: Path


@define
class Scenario:
    """
    One run of the scenario on a built L{Lab}.

    @ivar status: called with a one-line status text now and then (the
        progress display).
    """

    lab: Lab
    status: Callable[[str], None] = lambda text: None
    events: list[Event] = field(factory=list)
    players: dict[str, _Player] = field(factory=dict)
    failedAttaches: int = 0
    attaches: int = 0
    notes: list[str] = field(factory=list)
    _probeCount: int = 0
    t0: float = field(factory=time.time)

    def event(self, kind: str, text: str) -> None:
        self.events.append(Event(time.time(), kind, text))
        self.lab.progress(text)

    # -- steps ------------------------------------------------------------

    def waitRegistered(self, key: str, timeout: float, locator: str | None = None) -> bool:
        """
        Wait until a node daemon is registered (with C{locator}, if given).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.lab.nodeStatus(key)
            if (
                s
                and s.get("state") == "registered"
                and (locator is None or s.get("registered_locator") == locator)
            ):
                return True
            time.sleep(0.01)
        return False

    def attachAll(self) -> None:
        for place in self.lab.plan.sitePlaces:
            if not self.waitRegistered(f"r-{place.name}", 30):
                raise LabError(
                    f"the content server at {place.name} did not register with its MA:\n"
                    + self.lab.daemons[f"r-{place.name}"].tail()
                )
        for mn in self.lab.plan.config.mns:
            self.attaches += 1
            if self.waitRegistered(f"r-{mn.name}", 30):
                s = self.lab.nodeStatus(f"r-{mn.name}") or {}
                self.event("attach", f"{mn.name} attached: MA {s.get('ma')}")
            else:
                self.failedAttaches += 1
                s = self.lab.nodeStatus(f"r-{mn.name}") or {}
                self.event(
                    "attach-failed",
                    f"{mn.name} did not attach (state {s.get('state')},"
                    f" {self.lab.controlErrors.get('r-' + mn.name)})",
                )

    def startPlayers(self, seconds: float) -> None:
        plan = self.lab.plan
        url = f"http://[{plan.serviceAddress}]:{plan.config.streamPort}/live"
        for mn in plan.config.mns:
            out = self.lab.workDir / f"play-{mn.name}.json"
            prog = self.lab.workDir / f"play-{mn.name}.progress"
            argv = [
                sys.executable, "-m", "lin6twisted.lab.stream", "play", url,
                "--seconds", str(seconds), "--out", str(out),
                "--gap-threshold", str(GAP_THRESHOLD),
            ]  # fmt: skip
            with (
                open(prog, "wb") as f,
                open(self.lab.workDir / "logs" / f"play-{mn.name}.log", "wb") as log,
            ):
                p = self.lab.ns[mn.name].popen(argv, stdout=f, stderr=log)
            self.lab.processes.append(p)
            self.players[mn.name] = _Player(mn.name, p, out, prog)
        self.event("stream", f"players started on {', '.join(self.players)} for {url}")

    def liveRates(self) -> dict[str, float]:
        """
        Each player's rate over its last second (bit/s), for the display.
        """
        rates = {}
        for name, p in self.players.items():
            try:
                lines = p.progress.read_text().strip().splitlines()
                rates[name] = json.loads(lines[-1])["delta"] * 8.0 if lines else 0.0
            except (OSError, ValueError, KeyError):
                rates[name] = 0.0
        return rates

    def stream(self, seconds: float, label: str) -> None:
        """
        Let the streams run, updating the status line every second.
        """
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            rates = self.liveRates()
            text = "  ".join(f"{k} {v / 1e6:5.2f} Mbit/s" for k, v in rates.items())
            self.status(f"{label}: {text}  ({left:4.1f}s left)")
            time.sleep(min(1.0, left))

    def move(self, mn: str) -> dict[str, Any]:
        """
        Move C{mn} to its second access network (make-before-break: the
        old link stays up for a second, as with a multi-radio handset).

        @return: timings in milliseconds from the new address: the MN
            registered, the content server switched to the new locator.
        """
        lab = self.lab
        old, new = lab.plan.mnNets[mn]
        node = lab.ns[mn]
        nodeID = next(m.nodeID for m in lab.plan.config.mns if m.name == mn)
        newLocator = str(Locator(new.prefix, nodeID))
        site = self.siteOf(mn)
        dad = lab.plan.config.scenario.dad
        flag = " optimistic" if dad is DADMode.OPTIMISTIC else ""
        flag = " nodad" if dad is DADMode.OFF else flag
        breakFirst = lab.plan.config.scenario.move is MoveMode.BREAK_BEFORE_MAKE
        t = time.time()
        node.ip(
            *(
                [f"address del {old.plainAddress}/64 dev a0", "link set a0 down"]
                if breakFirst
                else []
            ),
            f"address add {new.plainAddress}/64 dev a1{flag}",
            f"route replace default via {new.gateway} dev a1",
        )
        self.events.append(Event(t, "move", f"{mn} moves {old.place.name} -> {new.place.name}"))
        lab.progress(
            f"{mn} moves from {old.place.name} to {new.place.name}"
            f" ({dad.value} DAD, {lab.plan.config.scenario.move.value})"
        )
        registered = switched = None
        deadline = time.monotonic() + 10
        key = f"r-{site}" if site else None
        while time.monotonic() < deadline and (registered is None or switched is None):
            if registered is None:
                s = lab.nodeStatus(f"r-{mn}")
                if s and s.get("registered_locator") == newLocator:
                    registered = (time.time() - t) * 1000
            if switched is None and key is not None:
                rows = lab.nodeCache(key) or []
                if any(r.get("installed") == newLocator for r in rows):
                    switched = (time.time() - t) * 1000
            time.sleep(0.002)
        if not breakFirst:
            time.sleep(1.0)
            node.ip(f"address del {old.plainAddress}/64 dev a0", "link set a0 down")
        return {"mn": mn, "t": t, "registered_ms": registered, "switched_ms": switched}

    def siteOf(self, mn: str) -> str | None:
        s = self.lab.nodeStatus(f"r-{mn}") or {}
        ma = s.get("ma") or ""
        m = re.match(r"^\[([0-9a-fA-F:]+)\]:\d+$", ma)
        return self.lab.plan.siteOfBox(m.group(1)) if m else None

    def probeAttach(self, label: str) -> bool:
        """
        A fresh node attaches (DNS, TXT, LS with failover, MA) from the
        probe namespace; stopped again afterwards.
        """
        lab = self.lab
        self._probeCount += 1
        self.attaches += 1
        key = f"r-probe{self._probeCount}"
        nodeID = lab.probeNodeIDs[(self._probeCount - 1) % len(lab.probeNodeIDs)]
        lab.startProbe(key, nodeID)
        ok = self.waitRegistered(key, 15)
        s = lab.nodeStatus(key) or {}
        lab.daemons[key].stop(timeout=3)
        failovers = (s.get("stats") or {}).get("lsFailovers", 0)
        if ok:
            self.event(
                "probe", f"probe attach {label}: MA {s.get('ma')} ({failovers} LS failovers)"
            )
        else:
            self.failedAttaches += 1
            self.event("probe-failed", f"probe attach {label} FAILED: state {s.get('state')}")
        return ok

    def killLS(self) -> dict[str, Any]:
        lab = self.lab
        sc = lab.plan.config.scenario
        name = sc.killLS
        assert name is not None
        self.event("ls-kill", f"LS replica {name} killed (SIGKILL)")
        lab.daemons[name].kill()
        probes = [self.probeAttach(f"while {name} is down") for _ in range(sc.probeAttaches)]
        left = sc.lsDown - 0.0
        if left > 0:
            self.stream(left, f"{name} down")
        lab.startLS(only=name)
        self.event("ls-restart", f"LS replica {name} restarted")
        synced = False
        deadline = time.monotonic() + 15
        doc: Any = None
        while time.monotonic() < deadline:
            doc = lab.lsStatus(name)
            if doc and doc["counters"].get("syncs_received", 0) > 0 and doc.get("mas"):
                synced = True
                break
            time.sleep(0.2)
        probes.append(self.probeAttach(f"after {name} restarted"))
        return {
            "ls": name,
            "synced_after_restart": synced,
            "mas_known_after_restart": len(doc.get("mas", [])) if doc else 0,
            "probe_attaches": len(probes),
            "probe_attaches_ok": sum(probes),
        }

    def stopMA(self) -> dict[str, Any] | None:
        lab = self.lab
        sc = lab.plan.config.scenario
        site = sc.stopMA
        if site is None:
            return None
        place = lab.plan.places[site]
        self.event("ma-stop", f"MA at {site} stopped")
        lab.daemons[f"ma-{site}"].stop(timeout=5)
        deadline = time.monotonic() + sc.maTimeout + 10
        inactive: dict[str, bool] = {}
        while time.monotonic() < deadline:
            for ls in lab.plan.lsPlaces:
                doc = lab.lsStatus(ls.name)
                for m in (doc or {}).get("mas", []):
                    if m["address"] == place.boxAddress:
                        inactive[ls.name] = not m["active"]
            if inactive and all(inactive.values()) and len(inactive) == len(lab.plan.lsPlaces):
                break
            time.sleep(0.3)
        self.event("ma-inactive", f"LSs mark the MA at {site} inactive: {inactive}")
        ok = self.probeAttach(f"after the MA at {site} stopped")
        return {"site": site, "inactive_at": inactive, "probe_attach_ok": ok}

    def stopPlayers(self) -> dict[str, dict[str, Any]]:
        docs = {}
        for name, p in self.players.items():
            if p.process.poll() is None:
                p.process.send_signal(signal.SIGTERM)
            try:
                p.process.wait(10)
            except subprocess.TimeoutExpired:
                p.process.kill()
                p.process.wait(5)
            try:
                docs[name] = json.loads(p.out.read_text())
            except (OSError, ValueError):
                docs[name] = {"error": "the player wrote no statistics"}
        return docs

    # -- the whole run ----------------------------------------------------

    def run(self) -> LabReport:
        lab = self.lab
        plan = lab.plan
        sc = plan.config.scenario
        self.attachAll()
        rtts: dict[str, dict[str, float | None]] = {}
        for mn in plan.config.mns:
            rtts[mn.name] = {
                p.name: pingRTT(lab.ns[mn.name], p.boxAddress) for p in plan.sitePlaces
            }
        chosen = {mn.name: self.siteOf(mn.name) for mn in plan.config.mns}
        total = sc.warmup + sc.measure + len(plan.config.mns) * (sc.afterMove + 1) + 120
        self.startPlayers(total)
        self.stream(sc.warmup, "warming up")
        tMeasure = time.time()
        self.stream(sc.measure, "streaming")
        tMeasureEnd = time.time()
        moves = []
        for mn in plan.config.mns:
            moves.append(self.move(mn.name))
            self.stream(sc.afterMove, f"after moving {mn.name}")
        failover = self.killLS() if sc.killLS else None
        maStop = self.stopMA()
        self.stream(1.0, "finishing")
        docs = self.stopPlayers()
        self.event("done", "players stopped")
        return self.report(rtts, chosen, moves, failover, maStop, docs, tMeasure, tMeasureEnd)

    def report(
        self,
        rtts: dict[str, dict[str, float | None]],
        chosen: dict[str, str | None],
        moves: list[dict[str, Any]],
        failover: dict[str, Any] | None,
        maStop: dict[str, Any] | None,
        docs: dict[str, dict[str, Any]],
        tMeasure: float,
        tMeasureEnd: float,
    ) -> LabReport:
        plan = self.lab.plan
        mnReports = []
        gaps = []
        lost = 0
        for mn in plan.config.mns:
            doc = docs.get(mn.name, {})
            level = self.lab.subscribers[mn.nodeID].level.name.lower()
            interval = float(doc.get("interval", 0.1))
            samples = [(float(t), int(b)) for t, b in doc.get("samples", [])]
            window = [b for t, b in samples if tMeasure <= t and t + interval <= tMeasureEnd]
            rate = sum(window) * 8 / (len(window) * interval) if window else 0.0
            allGaps = [(float(t), float(g)) for t, g in doc.get("gaps", [])]
            mv = next((m for m in moves if m["mn"] == mn.name), None)
            gap = None
            if mv is not None:
                end = mv["t"] + plan.config.scenario.afterMove
                around = [g for t, g in allGaps if mv["t"] - 0.05 <= t <= end]
                gap = max(around, default=0.0) * 1000
                gaps.append(gap)
            steady = [g for t, g in allGaps if tMeasure <= t and t + g <= tMeasureEnd]
            afterMove = plan.config.scenario.afterMove
            stalls = [
                g * 1000
                for t, g in allGaps
                if g > 0.05 and not any(m["t"] - 0.05 <= t <= m["t"] + afterMove for m in moves)
            ]
            missing = int(doc.get("missing_frames", 0))
            lost += missing * FRAME_SIZE
            site = chosen.get(mn.name)
            mnRTTs = rtts.get(mn.name, {})
            mnReports.append(
                MNReport(
                    name=mn.name,
                    nodeID=str(mn.nodeID),
                    level=level,
                    configuredBps=plan.config.levels[level],
                    measuredBps=rate,
                    site=site,
                    siteRTTms=mnRTTs.get(site) if site else None,
                    alternativesRTTms={k: v for k, v in mnRTTs.items() if k != site},
                    configuredRTTms={
                        p.name: plan.rtt(plan.mnNets[mn.name][0].place.name, p.name)
                        for p in plan.sitePlaces
                    },
                    handoverGapMs=gap,
                    steadyMaxGapMs=max(steady, default=0.0) * 1000,
                    registeredMs=mv["registered_ms"] if mv else None,
                    switchedMs=mv["switched_ms"] if mv else None,
                    bytesReceived=int(doc.get("bytes", 0)),
                    missingFrames=missing,
                    duplicateFrames=int(doc.get("duplicate_frames", 0)),
                    error=doc.get("error"),
                    samples=samples,
                    stalls=stalls,
                )
            )
        return LabReport(
            config=str(plan.config.path),
            dad=plan.config.scenario.dad.value,
            move=plan.config.scenario.move.value,
            handoverGapsMs=gaps,
            bytesLost=lost,
            attaches=self.attaches,
            failedAttaches=self.failedAttaches,
            mns=mnReports,
            lsFailover=failover,
            maStop=maStop,
            events=self.events,
            wanCounters=self.lab.wan.counters if self.lab.wan else "",
            notes=self.notes,
        )
