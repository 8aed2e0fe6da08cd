"""
Tests for L{lin6twisted.dataplane.kernel} and the parts of
L{lin6twisted.dataplane.bpf} that need no kernel.
"""

from __future__ import annotations

import mmap
import re
import struct

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from lin6twisted.address import DEFAULT_SPACE, Locator, NodeID, Prefix
from lin6twisted.dataplane import DataplaneError, IDataplane
from lin6twisted.dataplane.bpf import BPFDataplane
from lin6twisted.dataplane.interfaces import COUNTER_NAMES, KERNEL_COUNTERS
from lin6twisted.dataplane.kernel import (
    CONFIG,
    MAPPING,
    MISS_EVENT,
    STATS_SLOTS,
    Config,
    MissEvent,
    decodeMapping,
    encodeMapping,
    loadGeneration,
    netnsName,
    objectPath,
    storeGeneration,
)

A = DEFAULT_SPACE.nodeID(1, mobile=True)
P1 = Prefix.fromString("2001:db8:1::/64")
P2 = Prefix.fromString("2001:db8:2::/64")


class LayoutTests(SynchronousTestCase):
    """
    The byte layouts match C{dataplane_c/lin6_dp.h}.
    """

    def test_sizes(self) -> None:
        """
        The structs have the C sizes.
        """
        self.assertEqual((MAPPING.size, CONFIG.size, MISS_EVENT.size), (24, 80, 24))

    def test_headerMatches(self) -> None:
        """
        The C header declares the fields in the order the Python structs pack them.
        """
        header = (objectPath().parent / "lin6_dp.h").read_text()

        def fields(struct: str) -> list[str]:
            body = header[header.index(f"struct {struct} {{") :]
            body = body[: body.index("};")]
            return re.findall(r"__u\d+ (\w+)(?:\[\d+\])?;", body)

        self.assertEqual(
            fields("lin6_config"),
            ["gen", "lin6_prefix", "own_nodeid", "own_lin6_prefix", "own_prefix", "flags", "oui",
             "own_prev_prefix", "own_prev_until", "miss_interval_ns", "hold_ifindex", "pad"],
        )  # fmt: skip
        self.assertEqual(fields("lin6_mapping"), ["prefix", "prev_prefix", "prev_until"])
        self.assertEqual(fields("lin6_miss_event"), ["nodeid", "prefix", "direction", "ifindex"])

    def test_counterOrder(self) -> None:
        """
        The kernel counters are named in the order of C{enum lin6_counter}.
        """
        header = (objectPath().parent / "lin6_dp.h").read_text()
        body = header[header.index("enum lin6_counter {") :]
        names = re.findall(r"C_(\w+?)(?: = 0)?,", body[: body.index("};")])
        self.assertEqual(
            [n.lower() for n in names if n != "MAX"], list(COUNTER_NAMES[:KERNEL_COUNTERS])
        )
        self.assertLessEqual(KERNEL_COUNTERS, STATS_SLOTS)

    def test_mapping(self) -> None:
        """
        A mapping value carries the prefixes' network-order bytes and the grace end.
        """
        value = encodeMapping(Locator(P2, A), Locator(P1, A), 77)
        self.assertEqual(value, P2.packed + P1.packed + struct.pack("<Q", 77))
        self.assertEqual(encodeMapping(Locator(P2, A), None, 77), P2.packed + bytes(16))
        self.assertEqual(decodeMapping(A.packed, value), (A, Locator(P2, A)))

    def test_config(self) -> None:
        """
        The configuration packs the generation first, the OUI into its
        padded slot, and everything a mapped packet reads into the first 64
        bytes (one cache line: the mappable array's value starts a page).
        """
        raw = Config(
            DEFAULT_SPACE.prefix,
            ownNodeID=A,
            ownPreviousPrefix=P1,
            ownPreviousUntil=5,
            flags=9,
            holdIfindex=4,
            generation=7,
        ).encode()
        self.assertEqual(raw[:24], struct.pack("<Q", 7) + DEFAULT_SPACE.prefix.packed + A.packed)
        self.assertEqual(
            struct.unpack_from("<I4s8sQ", raw, 40), (9, b"\x00\x01\x4a\x00", P1.packed, 5)
        )
        self.assertEqual(struct.unpack_from("<QI", raw, 64), (100_000_000, 4))

    def test_generation(self) -> None:
        """
        L{storeGeneration} writes the first 8 bytes of a mapped value and
        nothing else; L{loadGeneration} reads them.
        """
        with mmap.mmap(-1, mmap.PAGESIZE) as value:
            value[: CONFIG.size] = Config(DEFAULT_SPACE.prefix, ownNodeID=A).encode()
            rest = value[8 : CONFIG.size]
            storeGeneration(value, 2**64 - 2)
            self.assertEqual(loadGeneration(value), 2**64 - 2)
            self.assertEqual(value[:8], struct.pack("<Q", 2**64 - 2))
            self.assertEqual(value[8 : CONFIG.size], rest)

    def test_missEvent(self) -> None:
        """
        Miss events decode; short or unknown ones raise L{DataplaneError}.
        """
        ev = MissEvent.decode(MISS_EVENT.pack(A.packed, P1.packed, 2, 3))
        self.assertEqual(ev, MissEvent(A, P1, False, 3))
        ev = MissEvent.decode(MISS_EVENT.pack(A.packed, bytes(8), 1, 3))
        self.assertEqual(ev, MissEvent(A, None, True, 3))
        self.assertRaises(DataplaneError, MissEvent.decode, b"short")
        self.assertRaises(
            DataplaneError, MissEvent.decode, MISS_EVENT.pack(A.packed, bytes(8), 9, 0)
        )


class BPFDataplaneTests(SynchronousTestCase):
    """
    L{BPFDataplane} without a kernel: construction and miss dispatch.
    """

    def test_interface(self) -> None:
        """
        It provides L{IDataplane}.
        """
        self.assertTrue(verifyObject(IDataplane, BPFDataplane(MemoryReactorClock())))

    def test_badArguments(self) -> None:
        """
        Bad reactors, capacities and names raise L{DataplaneError}.
        """
        self.assertRaises(DataplaneError, BPFDataplane, object())
        self.assertRaises(DataplaneError, BPFDataplane, MemoryReactorClock(), capacity=0)
        self.assertRaises(DataplaneError, BPFDataplane, MemoryReactorClock(), name="../x")

    def test_defaultName(self) -> None:
        """
        By default the pins go under the network namespace's name.
        """
        self.assertEqual(BPFDataplane(MemoryReactorClock(), netns="l6dpzz").name, "l6dpzz")
        self.assertEqual(BPFDataplane(MemoryReactorClock()).name, netnsName())
        self.assertTrue(netnsName())

    def test_notRunning(self) -> None:
        """
        Before L{start}, map changes raise and reads are empty; L{stop} is harmless.
        """
        dp = BPFDataplane(MemoryReactorClock())
        self.assertRaises(DataplaneError, dp.installMapping, A, Locator(P1, A))
        self.assertEqual(dp.mappings(), {})
        self.assertEqual(dp.counters()["egress_mapped"], 0)
        dp.stop()
        self.assertFalse(dp.running)

    def test_missDispatch(self) -> None:
        """
        A ring-buffer record reaches the miss handler as a Node ID; a bad
        record or a failing handler is logged, not raised.
        """
        dp = BPFDataplane(MemoryReactorClock())
        seen: list[NodeID] = []
        dp.setMissHandler(seen.append)
        dp._missRecord(MISS_EVENT.pack(A.packed, bytes(8), 1, 0))
        dp._missRecord(b"bad")
        self.assertEqual(seen, [A])

        def boom(nodeID: NodeID) -> None:
            raise RuntimeError("handler bug")

        dp.setMissHandler(boom)
        dp._missRecord(MISS_EVENT.pack(A.packed, bytes(8), 1, 0))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
