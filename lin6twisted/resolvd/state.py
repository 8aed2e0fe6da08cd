# -*- test-case-name: lin6twisted.resolvd.test.test_state -*-
"""
The node's persistent sequence counter.

REGISTER and REPORT messages carry a sequence number that must grow
strictly across the node's whole life, restarts included (the MA refuses
replays).  L{SequenceStore} keeps a I{high-water mark} in a small state file:
numbers are handed out below the mark, and the mark is raised (written and
fsynced) I{before} a number above the old mark is handed out.  A restart
therefore starts above every number ever sent, at the cost of skipping at
most one block.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final, Protocol

__all__ = ["MemorySequenceStore", "SequenceSource", "SequenceStore", "SequenceStoreError"]

_MAX: Final = (1 << 64) - 1


class SequenceStoreError(Exception):
    """
    The state file cannot be read, parsed or written; the message says
    which file and why.
    """


class SequenceSource(Protocol):
    """
    What the node core needs: the next sequence number, already durable.
    """

    def reserve(self) -> int:
        """
        The next sequence number, strictly above every one returned before
        (also before a restart).

        @raise SequenceStoreError: if the number cannot be made durable.
        """

    def skip(self, count: int) -> None:
        """
        Jump ahead by C{count} (after the MA reported a replay: an earlier
        state was lost).
        """


class MemorySequenceStore:
    """
    A L{SequenceSource} without a file, for tests and for nodes that are
    told not to keep state.

    @ivar last: the last number handed out.
    @ivar failing: when true, L{reserve} raises, as a full disk would.
    """

    def __init__(self, start: int = 0) -> None:
        self.last = start
        self.failing = False

    def reserve(self) -> int:
        if self.failing:
            raise SequenceStoreError("state store is failing (test)")
        self.last += 1
        return self.last

    def skip(self, count: int) -> None:
        self.last += count


class SequenceStore:
    """
    A L{SequenceSource} backed by a JSON state file C{{"sequence_mark": N}}.

    @ivar path: the state file.
    @ivar block: how many numbers one write covers.
    """

    def __init__(self, path: Path | str, block: int = 64) -> None:
        if block < 1:
            raise ValueError(f"block must be at least 1, not {block}")
        self.path = Path(path)
        self.block = block
        self._mark = self._load()
        self._next = self._mark + 1

    def _load(self) -> int:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return 0
        except OSError as e:
            raise SequenceStoreError(f"{self.path}: cannot read the state file: {e}") from None
        try:
            data = json.loads(text)
        except ValueError as e:
            raise SequenceStoreError(f"{self.path}: state file is not JSON: {e}") from None
        mark = data.get("sequence_mark") if isinstance(data, dict) else None
        if not isinstance(mark, int) or isinstance(mark, bool) or not 0 <= mark <= _MAX:
            raise SequenceStoreError(
                f"{self.path}: state file needs an integer sequence_mark, got {mark!r}"
            )
        return mark

    def _write(self, mark: int) -> None:
        if mark > _MAX:
            raise SequenceStoreError(f"{self.path}: sequence space exhausted")
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"sequence_mark": mark}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            raise SequenceStoreError(f"{self.path}: cannot write the state file: {e}") from None
        self._mark = mark

    @property
    def mark(self) -> int:
        """
        The durable high-water mark: no number above it has been handed out.
        """
        return self._mark

    def reserve(self) -> int:
        value = self._next
        if value > self._mark:
            self._write(value + self.block - 1)
        self._next = value + 1
        return value

    def skip(self, count: int) -> None:
        self._next += count
