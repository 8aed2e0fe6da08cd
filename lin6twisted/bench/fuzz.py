"""
The full fuzz run of the wire decoders: C{python -m lin6twisted.bench fuzz}
(also C{tox -e fuzz}).

Feeds at least 100,000 random and mutated frames to every decoder of
L{lin6twisted.wire.fuzz.DECODERS}; only the typed L{WireError} may escape
(a L{FuzzFailure} fails the group, printing the input and the seed).
Figures:

  - C{fuzz.<decoder>}: inputs fed to that decoder, with the accepted and
    rejected counts and the seed;
  - C{wire.fuzz_cases}: inputs fed in all, with the seed.

Arguments: C{per-decoder=N} (default 100,000; smaller values are raised to
it unless C{allow-small=1}), C{seed=N} (default: a fresh random seed,
printed).
"""

from __future__ import annotations

import time

from lin6twisted.bench import Recorder
from lin6twisted.wire.fuzz import DECODERS, FuzzReport, fuzzDecoder, newSeed

MIN_PER_DECODER = 100_000


def parseArgs(args: list[str]) -> dict[str, int]:
    """
    Parse C{key=integer} arguments.

    @raise SystemExit: for anything else.
    """
    options: dict[str, int] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not value.isdigit():
            raise SystemExit(f"bad benchmark argument {arg!r} (expected key=integer)")
        options[key] = int(value)
    return options


def runFuzz(
    recorder: Recorder, perDecoder: int, seed: int, perDecoderFigures: bool = True
) -> list[FuzzReport]:
    """
    Fuzz every decoder with C{perDecoder} inputs and record the figures.
    """
    recorder.note(f"fuzzing {len(DECODERS)} decoders, {perDecoder} inputs each, seed={seed}")
    reports = []
    start = time.perf_counter()
    for name in DECODERS:
        began = time.perf_counter()
        report = fuzzDecoder(name, perDecoder, seed)
        elapsed = time.perf_counter() - began
        reports.append(report)
        if perDecoderFigures:
            rejected = ",".join(f"{k}:{v}" for k, v in sorted(report.rejected.items()))
            recorder.record(
                f"fuzz.{name}",
                report.cases,
                "frames",
                seed=seed,
                accepted=report.accepted,
                rejected=rejected,
                seconds=round(elapsed, 2),
            )
    total = sum(r.cases for r in reports)
    recorder.record(
        "wire.fuzz_cases",
        total,
        "frames",
        seed=seed,
        decoders=len(reports),
        per_decoder=perDecoder,
        accepted=sum(r.accepted for r in reports),
        seconds=round(time.perf_counter() - start, 1),
    )
    return reports


def run(recorder: Recorder, args: list[str]) -> None:
    """
    Run the fuzz group.
    """
    options = parseArgs(args)
    perDecoder = options.get("per-decoder", MIN_PER_DECODER)
    if not options.get("allow-small"):
        perDecoder = max(perDecoder, MIN_PER_DECODER)
    seed = options.get("seed", newSeed())
    runFuzz(recorder, perDecoder, seed)
