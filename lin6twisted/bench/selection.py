"""
The LS's decision quality: C{python -m lin6twisted.bench selection}.

Runs a selection scenario (L{lin6twisted.lab.selection}; the shipped
C{etc/lab/selection.toml} by default) and records, for the mean client RTT
of each policy divided by the optimal capacity-respecting assignment's:

  - C{selection.ls_over_optimal} (the LS core; target <= 1.10),
  - C{selection.greedy_over_optimal} (oracle: true RTTs, no cache),
  - C{selection.rr_over_optimal} (LVS round robin),
  - C{selection.random_over_optimal},

then C{selection.max_load_over_threshold} (the LS's highest site load over
that site's limit C{min(TH_load, capacity)}; must be <= 1.0), the LS's
refusals and history hits, and every policy's mean and p95 RTT
(C{selection.<policy>_mean_ms}, C{selection.<policy>_p95_ms}).

These come from the scenario's own seed.  So that one lucky or unlucky
draw does not decide, the scenario is then run with C{seeds} consecutive
seeds (the scenario's and the next ones) and the spread is recorded:
C{selection.ls_over_optimal_seeds_mean}, C{..._seeds_max} and
C{selection.max_load_over_threshold_seeds_max}.

Arguments (C{key=value} or C{--key value}): C{scenario=FILE}, C{matrix=FILE}
(a gzipped RTT matrix instead of the shipped one), C{seeds=N} (default 5;
1 skips the spread).
"""

from __future__ import annotations

import attrs

from lin6twisted.bench import Recorder
from lin6twisted.lab.ripe import RTTMatrix
from lin6twisted.lab.selection import (
    defaultScenarioPath,
    loadScenario,
    runScenario,
)

_RATIOS = (
    ("ls", "ls"),
    ("greedy", "greedy"),
    ("round-robin", "rr"),
    ("random", "random"),
)


def parseArgs(args: list[str]) -> dict[str, str]:
    """
    Read C{key=value} and C{--key value} arguments (C{scenario}, C{matrix}).

    @raise SystemExit: on an unknown or incomplete argument.
    """
    values: dict[str, str] = {}
    words = iter(args)
    for word in words:
        if word.startswith("--"):
            key, value = word[2:], next(words, None)
            if value is None:
                raise SystemExit(f"selection: {word} needs a value")
        elif "=" in word:
            key, value = word.split("=", 1)
        else:
            raise SystemExit(f"selection: unexpected argument {word!r}")
        if key not in ("scenario", "matrix", "seeds"):
            raise SystemExit(f"selection: unknown argument {key!r} (scenario, matrix, seeds)")
        if key == "seeds" and not (value.isdigit() and int(value) >= 1):
            raise SystemExit(f"selection: seeds must be a positive integer, got {value!r}")
        values[key] = value
    return values


def run(recorder: Recorder, args: list[str]) -> None:
    """
    Run the scenario and record its figures.
    """
    options = parseArgs(args)
    matrix = RTTMatrix.load(options.get("matrix"))
    path = options.get("scenario", str(defaultScenarioPath()))
    scenario = loadScenario(path, matrix)
    report = runScenario(scenario, matrix)
    for line in report.formatTable().splitlines():
        recorder.note(line)
    for policy, short in _RATIOS:
        recorder.record(f"selection.{short}_over_optimal", report.overOptimal(policy), "ratio")
    ls = report.results["ls"]
    recorder.record("selection.max_load_over_threshold", ls.maxLoadRatio, "ratio")
    recorder.record("selection.ls_refused", ls.refused, "clients")
    recorder.record("selection.ls_history_hits", ls.detail["counters"]["hits"], "queries")
    for policy, short in (("optimal", "optimal"), *_RATIOS):
        result = report.results[policy]
        recorder.record(f"selection.{short}_mean_ms", result.meanMs, "ms")
        recorder.record(f"selection.{short}_p95_ms", result.p95Ms, "ms")
    seeds = int(options.get("seeds", "5"))
    if seeds > 1:
        ratios, loads = [report.overOptimal("ls")], [ls.maxLoadRatio]
        for seed in range(scenario.seed + 1, scenario.seed + seeds):
            other = runScenario(attrs.evolve(scenario, seed=seed), matrix)
            ratios.append(other.overOptimal("ls"))
            loads.append(other.results["ls"].maxLoadRatio)
        recorder.note(
            f"ls_over_optimal for seeds {scenario.seed}..{scenario.seed + seeds - 1}: "
            + ", ".join(f"{r:.3f}" for r in ratios)
        )
        recorder.note(
            "max_load_over_threshold for the same seeds: " + ", ".join(f"{x:.4f}" for x in loads)
        )
        recorder.record(
            "selection.ls_over_optimal_seeds_mean", sum(ratios) / len(ratios), "ratio", seeds=seeds
        )
        recorder.record("selection.ls_over_optimal_seeds_max", max(ratios), "ratio", seeds=seeds)
        recorder.record(
            "selection.max_load_over_threshold_seeds_max", max(loads), "ratio", seeds=seeds
        )
    # The same clients under the paper's own rule (load_price 0, lin6-ls's default), so
    # the effect of the scenario's load price is visible side by side.
    paperRule = attrs.evolve(scenario, settings=attrs.evolve(scenario.settings, loadPrice=0.0))
    paperRatios = []
    for seed in range(scenario.seed, scenario.seed + max(1, seeds)):
        run = runScenario(attrs.evolve(paperRule, seed=seed), matrix)
        paperRatios.append(run.overOptimal("ls"))
    recorder.record("selection.ls_paper_rule_over_optimal", paperRatios[0], "ratio", load_price=0)
    recorder.record(
        "selection.ls_paper_rule_over_optimal_seeds_mean",
        sum(paperRatios) / len(paperRatios),
        "ratio",
        seeds=len(paperRatios),
    )
    recorder.record("selection.ls_load_price", scenario.settings.loadPrice, "factor")
