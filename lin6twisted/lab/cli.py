# -*- test-case-name: lin6twisted.lab.test.test_cli -*-
"""
C{lin6 lab}: build the whole deployment in network namespaces, run the
scenario, print the report and tear everything down (also on Ctrl-C,
SIGTERM or failure).

    lin6 lab [--config etc/lab/default.toml] [--report lab-report.json]
             [--plot lab-report.png] [--dad optimistic|standard|off]
    lin6 lab paper ...        (when lin6twisted.lab.paper is present)
    lin6 lab selection ...    (when lin6twisted.lab.selection is present)
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from attrs import evolve
from twisted.python import usage

from lin6twisted._cliutil import Command
from lin6twisted.config import ConfigError
from lin6twisted.lab.config import DADMode, LabConfig, MoveMode, loadLabConfig

__all__ = ["Interrupted", "Options", "Progress", "run", "runLab"]

_EXTRA = ("paper", "selection")


class Interrupted(Exception):
    """
    SIGINT or SIGTERM arrived; the lab is being torn down.
    """


def _subCommands() -> list[tuple[str, None, Any, str]]:
    found = []
    for name in _EXTRA:
        try:
            module = importlib.import_module(f"lin6twisted.lab.{name}")
        except Exception:  # noqa: S112 - a broken extra must not break `lin6 lab`
            continue
        if hasattr(module, "Options") and hasattr(module, "run"):
            doc = (module.__doc__ or name).strip().splitlines()[0]
            found.append((name, None, module.Options, doc))
    return found


class Options(Command):
    """
    Options of C{lin6 lab}.
    """

    synopsis = "[options] | lin6 lab (paper | selection) [options]"
    optParameters = [
        ["config", "c", None, "The lab configuration [default: etc/lab/default.toml]."],
        ["report", "r", "lab-report.json", "Where to write the JSON report."],
        ["plot", "p", None, "Where to write the PNG plot [default: the report's name, .png]."],
        ["dad", None, None, "DAD on the new access network: optimistic, standard or off."],
        ["move", None, None, "make-before-break or break-before-make."],
        ["workdir", "w", None, "Keep configs and daemon logs here [default: a temporary dir]."],
    ]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.subCommands = _subCommands()

    def postOptions(self) -> None:
        if self.subCommand is not None:
            return
        try:
            config = loadLabConfig(self["config"])
        except ConfigError as e:
            raise usage.UsageError(str(e)) from None
        if self["dad"] is not None:
            try:
                dad = DADMode(self["dad"])
            except ValueError:
                raise usage.UsageError(
                    f"--dad must be optimistic, standard or off, not {self['dad']!r}"
                ) from None
            config = evolve(config, scenario=evolve(config.scenario, dad=dad))
        if self["move"] is not None:
            try:
                move = MoveMode(self["move"])
            except ValueError:
                raise usage.UsageError(
                    f"--move must be make-before-break or break-before-make, not {self['move']!r}"
                ) from None
            config = evolve(config, scenario=evolve(config.scenario, move=move))
        self["labConfig"] = config
        report = Path(self["report"])
        self["reportPath"] = report
        self["plotPath"] = Path(self["plot"]) if self["plot"] else report.with_suffix(".png")


class Progress:
    """
    The progress display: one line per step with the elapsed time, and a
    status line rewritten in place on a terminal.
    """

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.start = time.monotonic()
        self.tty = out.isatty()
        self._status = False
        self._lastPrinted = 0.0

    def step(self, text: str) -> None:
        self._clear()
        self.out.write(f"[{time.monotonic() - self.start:6.1f}s] {text}\n")
        self.out.flush()

    def status(self, text: str) -> None:
        line = f"[{time.monotonic() - self.start:6.1f}s]   {text}"
        if self.tty:
            self.out.write("\r" + line[:150].ljust(150))
            self._status = True
        elif time.monotonic() - self._lastPrinted >= 5:
            self.out.write(line + "\n")
            self._lastPrinted = time.monotonic()
        self.out.flush()

    def _clear(self) -> None:
        if self._status:
            self.out.write("\r" + " " * 150 + "\r")
            self._status = False


def runLab(
    config: LabConfig,
    reportPath: Path,
    plotPath: Path | None,
    workDir: Path | None = None,
    out: TextIO = sys.stdout,
) -> Any:
    """
    Build the lab, run the scenario, write the report, tear down.

    @return: the L{LabReport}.
    @raise Interrupted: on SIGINT/SIGTERM (after tearing down).
    """
    from lin6twisted.lab.deploy import Lab, cleanupLeftovers
    from lin6twisted.lab.plan import makePlan
    from lin6twisted.lab.ripe import RTTMatrix
    from lin6twisted.lab.scenario import Scenario

    progress = Progress(out)
    gone = cleanupLeftovers()
    if gone:
        progress.step(f"removed {len(gone)} namespaces left by an earlier lab")
    matrix = RTTMatrix.load(config.matrix)
    plan = makePlan(config, matrix)
    ownDir = workDir is None
    work = Path(tempfile.mkdtemp(prefix="lin6-lab-")) if workDir is None else workDir
    lab = Lab(plan, work, progress.step)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupted: list[int] = []

    def onSignal(signum: int, frame: FrameType | None) -> None:
        if interrupted:
            return
        interrupted.append(signum)
        raise Interrupted(signal.Signals(signum).name)

    for s in previous:
        signal.signal(s, onSignal)
    started = time.monotonic()
    ok = False
    try:
        progress.step(f"lab in {work} (namespaces {lab.topo.prefix}{os.getpid()}x...)")
        lab.build()
        lab.writeFiles()
        lab.startDNS()
        lab.startLS()
        lab.startMA()
        lab.startStreams()
        lab.startServerNodes()
        lab.startMobileNodes()
        scenario = Scenario(lab, status=progress.status)
        report = scenario.run()
        report.durationS = time.monotonic() - started
        ok = True
    except Interrupted:
        progress.step("interrupted: tearing everything down")
        raise
    finally:
        # No second signal may cut the teardown short.
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        try:
            if not ok and not interrupted:
                progress.step(f"failed: tearing everything down (logs in {work / 'logs'})")
            else:
                progress.step("tearing everything down")
            lab.destroy()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    reportPath.parent.mkdir(parents=True, exist_ok=True)
    report.durationS = time.monotonic() - started
    report.write(reportPath)
    plotted = plotPath is not None and report.plot(plotPath)
    out.write("\n" + report.text() + "\n\n")
    out.write(f"report written to {reportPath}")
    out.write(f", plot to {plotPath}\n" if plotted else " (no plot: matplotlib missing)\n")
    if ownDir and ok:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return report


def run(options: usage.Options) -> int:
    """
    Run C{lin6 lab} (or its C{paper}/C{selection} subcommand).
    """
    if options.subCommand is not None:
        module = importlib.import_module(f"lin6twisted.lab.{options.subCommand}")
        return int(module.run(options.subOptions))
    if os.geteuid() != 0:
        sys.stderr.write("lin6 lab: needs root (network namespaces, eBPF)\n")
        return 1
    try:
        report = runLab(
            options["labConfig"],
            options["reportPath"],
            options["plotPath"],
            Path(options["workdir"]) if options["workdir"] else None,
        )
    except Interrupted as e:
        sys.stderr.write(f"lin6 lab: interrupted by {e}; everything was torn down\n")
        return 130
    except Exception as e:
        sys.stderr.write(f"lin6 lab: failed: {type(e).__name__}: {e}\n")
        return 1
    return 0 if all(report.checks().values()) else 3
