"""
Tests for L{lin6twisted.resolvd.state}: the persisted sequence counter.
"""

from __future__ import annotations

import json
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.resolvd.state import MemorySequenceStore, SequenceStore, SequenceStoreError


class SequenceStoreTests(SynchronousTestCase):
    """
    L{SequenceStore} never hands out a number twice, across restarts.
    """

    def setUp(self) -> None:
        self.path = Path(self.mktemp()) / "resolvd.state"

    def test_strictlyIncreasingAcrossRestarts(self) -> None:
        """
        Numbers grow within a run and start above every earlier one after a
        restart, even one that did not use up its block.
        """
        store = SequenceStore(self.path, block=8)
        first = [store.reserve() for _ in range(3)]
        self.assertEqual(first, [1, 2, 3])
        restarted = SequenceStore(self.path, block=8)
        second = [restarted.reserve() for _ in range(20)]
        self.assertGreater(second[0], first[-1])
        self.assertEqual(second, sorted(set(second)))
        again = SequenceStore(self.path, block=8)
        self.assertGreater(again.reserve(), second[-1])

    def test_markWrittenBeforeUse(self) -> None:
        """
        The file's mark covers every number handed out, at the moment it is
        handed out.
        """
        store = SequenceStore(self.path, block=4)
        for _ in range(10):
            value = store.reserve()
            mark = json.loads(self.path.read_text())["sequence_mark"]
            self.assertGreaterEqual(mark, value)
        self.assertEqual(store.mark, mark)

    def test_skip(self) -> None:
        """
        L{SequenceStore.skip} jumps ahead, and the jump is persisted.
        """
        store = SequenceStore(self.path)
        store.reserve()
        store.skip(1000)
        value = store.reserve()
        self.assertGreater(value, 1000)
        self.assertGreater(SequenceStore(self.path).reserve(), value)

    def test_corruptFile(self) -> None:
        """
        A state file that is not ours is an error naming the file.
        """
        self.path.parent.mkdir(parents=True)
        for text in ["not json", '{"sequence_mark": "x"}', "[1]", '{"sequence_mark": -1}']:
            self.path.write_text(text)
            e = self.assertRaises(SequenceStoreError, SequenceStore, self.path)
            self.assertIn(str(self.path), str(e))

    def test_unwritable(self) -> None:
        """
        When the mark cannot be written, no number is handed out.
        """
        self.path.parent.mkdir(parents=True)
        self.path.mkdir()  # a directory where the file should be
        store = SequenceStore(self.path / "x" / "y")
        store.path = self.path
        self.assertRaises(SequenceStoreError, store.reserve)

    def test_badBlock(self) -> None:
        self.assertRaises(ValueError, SequenceStore, self.path, block=0)


class MemorySequenceStoreTests(SynchronousTestCase):
    def test_counts(self) -> None:
        store = MemorySequenceStore(10)
        self.assertEqual([store.reserve(), store.reserve()], [11, 12])
        store.skip(5)
        self.assertEqual(store.reserve(), 18)
        store.failing = True
        self.assertRaises(SequenceStoreError, store.reserve)
