"""
Run the test suite with each integration module in a process of its own.

C{python -m lin6twisted.testing.runner [PACKAGE_OR_MODULE ...]} (what C{tox -e
tests} runs) runs every unit test module in one C{trial} process, then each
C{test_integration_*} module in its own C{trial} process.  Integration tests
drive real daemons, namespaces and eBPF programs through the global reactor;
running each module in a fresh process keeps one module's leftovers (a
descriptor a subprocess or library closed behind the reactor's back, a
signal disposition) from failing another.  It prints trial's usual summary
for the whole run at the end, and exits non-zero if any process failed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "modulesUnder"]

_SUMMARY = re.compile(r"^(PASSED|FAILED) \((.*)\)\s*$", re.MULTILINE)
_COUNT = re.compile(r"(\w+)=(\d+)")


def modulesUnder(target: str) -> tuple[list[str], list[str]]:
    """
    The unit and integration test modules under a package or module name.
    """
    root = Path(__file__).resolve().parents[2]
    path = root / Path(*target.split("."))
    if path.with_suffix(".py").is_file():
        name = target.rsplit(".", 1)[-1]
        return ([], [target]) if name.startswith("test_integration_") else ([target], [])
    if not path.is_dir():
        raise SystemExit(f"no package or module {target!r} under {root}")
    unit: list[str] = []
    integration: list[str] = []
    for file in sorted(path.rglob("test_*.py")):
        if file.parent.name != "test":
            continue
        module = ".".join(file.relative_to(root).with_suffix("").parts)
        (integration if file.stem.startswith("test_integration_") else unit).append(module)
    return unit, integration


def _trial(modules: Sequence[str]) -> tuple[int, dict[str, int]]:
    argv = [sys.executable, "-m", "twisted.trial", "--random=0", *modules]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(proc.stdout)
    sys.stdout.flush()
    counts: dict[str, int] = {}
    found = _SUMMARY.findall(proc.stdout)
    if found:
        for key, value in _COUNT.findall(found[-1][1]):
            counts[key] = int(value)
    elif proc.returncode != 0:
        counts["errors"] = 1
    return proc.returncode, counts


def main(argv: Sequence[str]) -> int:
    """
    Run the suite; the exit status is 0 only if every process passed.
    """
    targets = list(argv) or ["lin6twisted"]
    unit: list[str] = []
    integration: list[str] = []
    for target in targets:
        u, i = modulesUnder(target)
        unit += u
        integration += i
    total: dict[str, int] = {}
    failed = []
    start = time.monotonic()
    batches = ([unit] if unit else []) + [[m] for m in integration]
    for batch in batches:
        code, counts = _trial(batch)
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
        if code != 0:
            failed.append(batch[0] if len(batch) == 1 else "unit tests")
    ran = sum(total.values())
    keys = ["skips", "expectedFailures", "failures", "errors", "unexpectedSuccesses", "successes"]
    detail = ", ".join(f"{k}={total[k]}" for k in keys if total.get(k))
    elapsed = time.monotonic() - start
    print("=" * 79)
    print(f"{len(batches)} trial processes ({len(unit)} unit modules, "
          f"{len(integration)} integration modules), {ran} tests in {elapsed:.1f}s")  # fmt: skip
    if failed:
        print("failed: " + ", ".join(failed))
    print(f"{'FAILED' if failed else 'PASSED'} ({detail})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
