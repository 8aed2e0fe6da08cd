"""
Tests for L{lin6twisted.ma.journal}.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.directory import ServiceLevel
from lin6twisted.ma.core import MappingTable
from lin6twisted.ma.journal import (
    BadRecord,
    Journal,
    bindRecord,
    decodeRecord,
    encodeBind,
    encodeRecord,
    unbindRecord,
)
from lin6twisted.ma.test.helpers import MN1, MN2, NET_A, NET_B, SERVER, loc


class RecordTests(SynchronousTestCase):
    """
    Journal lines carry a checksum and a known record.
    """

    def test_roundTrip(self) -> None:
        rec = {"op": "seq", "node": "201:4a00:0:1", "seq": 3}
        line = encodeRecord(rec)
        self.assertEqual(line, b'013a376c {"node":"201:4a00:0:1","op":"seq","seq":3}\n')
        self.assertEqual(decodeRecord(line), rec)

    def test_bad(self) -> None:
        """
        Flipped bits, bad JSON, unknown records and short lines raise
        L{BadRecord}.
        """
        good = encodeRecord({"op": "seq", "node": "201:4a00:0:1", "seq": 3})
        for bad in [
            good.replace(b"3}", b"4}"),
            b"zzzzzzzz " + good[9:],
            good[:5],
            encodeRecord({"op": "drop", "node": "x", "seq": 1}),
            encodeRecord({"op": "seq", "node": "x", "seq": True}),
            encodeRecord([1, 2]),  # type: ignore[arg-type]
            b"00000000 {",
        ]:
            self.assertRaises(BadRecord, decodeRecord, bad)


class JournalTests(SynchronousTestCase):
    """
    L{Journal} brings bindings and sequences back after a restart.
    """

    def setUp(self) -> None:
        self.path = os.path.join(self.mktemp(), "ma.journal")
        self.table = MappingTable()
        self.journal = Journal(self.path)
        self.addCleanup(self.journal.close)
        self.assertEqual(self.journal.load(self.table, 0).records, 0)

    def register(self, nodeID, seq, prefix, lifetime=100.0, now=0.0, pinned=False):  # type: ignore[no-untyped-def]
        r = self.table.register(
            nodeID, [loc(prefix, nodeID)], lifetime, seq, ServiceLevel.PREMIUM, now, pinned
        )
        if r.binding:
            self.journal.append(bindRecord(r.binding), self.table)
        else:
            self.journal.append(unbindRecord(nodeID, seq), self.table)
        return r

    def reload(self, now: float = 1.0) -> tuple[MappingTable, object]:
        self.journal.close()
        table = MappingTable()
        report = Journal(self.path).load(table, now)
        return table, report

    def test_replay(self) -> None:
        """
        Bindings, pinned bindings and the last sequences (also of Node IDs
        without a binding) are replayed.
        """
        self.register(MN1, 1, NET_A)
        self.register(MN1, 2, NET_B)
        self.register(MN2, 5, NET_A)
        self.register(MN2, 6, NET_A, lifetime=0)
        self.register(SERVER, 1, NET_A, pinned=True)
        table, report = self.reload()
        self.assertEqual(report.records, 5)  # type: ignore[attr-defined]
        self.assertEqual(report.bad, ())  # type: ignore[attr-defined]
        self.assertEqual(table.query(MN1, 1).locators, (loc(NET_B, MN1),))
        self.assertFalse(table.query(MN2, 1).found)
        self.assertEqual(table.lastSequence(MN1), 2)
        self.assertEqual(table.lastSequence(MN2), 6)
        server = table.lookup(SERVER, 1e9)
        assert server is not None
        self.assertTrue(server.pinned)
        self.assertEqual(list(self.table.bindings()), list(table.bindings()))

    def test_expiredWhileDown(self) -> None:
        """
        Bindings whose lifetime ran out while the MA was down are dropped
        but their sequences are kept.
        """
        self.register(MN1, 1, NET_A, lifetime=10)
        table, report = self.reload(now=11)
        self.assertEqual([b.nodeID for b in report.expired], [MN1])  # type: ignore[attr-defined]
        self.assertFalse(table.query(MN1, 11).found)
        self.assertEqual(table.lastSequence(MN1), 1)

    def test_corruptTail(self) -> None:
        """
        A record cut short by a crash, and a corrupted line, are reported
        and skipped; everything else is replayed and the file is rewritten
        clean.
        """
        self.register(MN1, 1, NET_A)
        self.register(MN2, 1, NET_A)
        self.journal.close()
        with open(self.path, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        lines[0] = lines[0].replace(b"2001", b"2002")
        with open(self.path, "wb") as f:
            f.write(
                b"".join(lines) + encodeRecord({"op": "seq", "node": "1:2:3:4", "seq": 9})[:20]
            )
        table, report = self.reload()
        self.assertEqual(
            report.bad,  # type: ignore[attr-defined]
            ((1, "checksum mismatch"), (3, "truncated record (no end of line)")),
        )
        self.assertFalse(table.query(MN1, 1).found)
        self.assertTrue(table.query(MN2, 1).found)
        again, report2 = self.reload()
        self.assertEqual(report2.bad, ())  # type: ignore[attr-defined]
        self.assertTrue(again.query(MN2, 1).found)

    def test_garbageFile(self) -> None:
        """
        A file of garbage loads as empty, never fatally.
        """
        self.journal.close()
        with open(self.path, "wb") as f:
            f.write(os.urandom(300) + b"\n\xff\n")
        table, report = self.reload()
        self.assertEqual(len(table), 0)
        self.assertTrue(report.bad)  # type: ignore[attr-defined]

    def test_compaction(self) -> None:
        """
        The journal is rewritten once it holds many more records than the
        live state; the state read back is the same.
        """
        self.journal.compactAfter = 10
        for seq in range(1, 40):
            self.register(MN1, seq, NET_A if seq % 2 else NET_B)
        with open(self.path, "rb") as f:
            self.assertLess(len(f.read().splitlines()), 12)
        table, _ = self.reload()
        self.assertEqual(table.lastSequence(MN1), 39)
        self.assertEqual(table.query(MN1, 1).locators, (loc(NET_A, MN1),))


class JournalPropertyTests(SynchronousTestCase):
    """
    Whatever happens to the table, replaying its journal gives it back.
    """

    def test_replayMatches(self) -> None:
        from hypothesis import given, settings
        from hypothesis import strategies as st

        nodes = [MN1, MN2, SERVER]
        prefixes = [NET_A, NET_B]
        op = st.tuples(
            st.sampled_from(["reg", "dereg", "expire"]),
            st.integers(0, 2),
            st.integers(0, 1),
            st.integers(0, 120),
            st.floats(0, 50),
        )

        @settings(max_examples=60, deadline=None)
        @given(st.lists(op, max_size=40), st.integers(3, 20))
        def check(ops: list[tuple[str, int, int, int, float]], compactAfter: int) -> None:
            path = os.path.join(self.mktemp(), "j")
            table = MappingTable()
            journal = Journal(path, compactAfter=compactAfter)
            journal.load(table, 0)
            now = 0.0
            seqs = dict.fromkeys(nodes, 0)
            for kind, n, p, lifetime, dt in ops:
                now += dt
                node = nodes[n]
                if kind == "expire":
                    for b in table.expire(now):
                        journal.append(unbindRecord(b.nodeID, b.sequence), table)
                    continue
                seqs[node] += 1
                life = 0 if kind == "dereg" else lifetime
                r = table.register(
                    node, [loc(prefixes[p], node)], life, seqs[node], ServiceLevel.NORMAL, now,
                    pinned=node == SERVER,
                )  # fmt: skip
                if r.binding:
                    journal.append(encodeBind(r.binding), table)
                else:
                    journal.append(unbindRecord(node, seqs[node]), table)
            journal.close()
            again = MappingTable()
            report = Journal(path).load(again, now)
            self.assertEqual(report.bad, ())
            table.expire(now)
            self.assertEqual(
                sorted(map(repr, table.bindings())), sorted(map(repr, again.bindings()))
            )
            self.assertEqual(table.sequences(), again.sequences())

        check()
