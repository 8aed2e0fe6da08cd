"""
Run benchmark groups: C{python -m lin6twisted.bench [GROUP [ARGS...]] ...}.

With no group, every group in L{GROUPS} runs.  A group name may be followed
by arguments meant for it (anything that is not itself a group name).
"""

from __future__ import annotations

import importlib
import sys

from lin6twisted.bench import GROUPS, Recorder


def parse(argv: list[str]) -> list[tuple[str, list[str]]]:
    """
    Split C{argv} into (group, arguments) pairs.
    """
    if not argv:
        return [(g, []) for g in GROUPS]
    plan: list[tuple[str, list[str]]] = []
    for word in argv:
        if word in GROUPS:
            plan.append((word, []))
        elif plan:
            plan[-1][1].append(word)
        else:
            raise SystemExit(f"unknown benchmark group {word!r}; groups: {', '.join(GROUPS)}")
    return plan


def main(argv: list[str]) -> int:
    recorder = Recorder()
    failed = []
    for group, args in parse(argv):
        recorder.note(f"group {group}")
        try:
            module = importlib.import_module(f"lin6twisted.bench.{group}")
        except ModuleNotFoundError as e:
            if e.name != f"lin6twisted.bench.{group}":
                raise
            recorder.note(f"group {group} is not built yet; skipped")
            continue
        try:
            module.run(recorder, args)
        except Exception as e:  # one broken group must not hide the others' figures
            recorder.note(f"group {group} failed: {e!r}")
            failed.append(group)
    recorder.save()
    recorder.note(f"{len(recorder.figures)} figures written to bench-results.json")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
