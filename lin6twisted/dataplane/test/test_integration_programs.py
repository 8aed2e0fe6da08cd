"""
The BPF programs run on crafted packets with C{BPF_PROG_TEST_RUN}: address
mapping, checksums (verified here independently), ICMPv6 errors, strict
mode, misses.  Needs root (loading BPF), not namespaces.
"""

from __future__ import annotations

import mmap
import os
import random
import struct
import time
from ipaddress import IPv6Address

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import DEFAULT_SPACE, Locator, NodeID, Prefix
from lin6twisted.dataplane import _libbpf
from lin6twisted.dataplane.interfaces import COUNTER_NAMES
from lin6twisted.dataplane.kernel import (
    CONFIG,
    FLAG_ACTIVE,
    FLAG_HOLD_INGRESS,
    FLAG_REROUTE,
    FLAG_STRICT,
    MAPPING,
    Config,
    MissEvent,
    buildObject,
    encodeMapping,
    loadGeneration,
    storeGeneration,
)
from lin6twisted.dataplane.test._packets import (
    CSUM_OFFSET,
    DSTOPTS,
    ETH,
    FRAG,
    HOPOPTS,
    ICMP6,
    TCP,
    UDP,
    addresses,
    checksum,
    freshChecksum,
    ipv6,
    l4,
    l4Checksum,
    l4Valid,
    packet,
    pseudo,
)
from lin6twisted.netns import isRoot

BPF_OK, BPF_DROP, BPF_REDIRECT, BPF_LWT_REROUTE = 0, 2, 7, 128
TC_ACT_OK, TC_ACT_SHOT = 0, 2

ME = DEFAULT_SPACE.nodeID(1, mobile=True)
PEER = DEFAULT_SPACE.nodeID(2, mobile=True)
STRANGER = DEFAULT_SPACE.nodeID(3, mobile=True)
MY_PREFIX = Prefix.fromString("2001:db8:a::/64")
OLD_PREFIX = Prefix.fromString("2001:db8:e::/64")
PEER_PREFIX = Prefix.fromString("2001:db8:b::/64")
PEER_OLD = Prefix.fromString("2001:db8:f::/64")
MY_LIN6 = DEFAULT_SPACE.address(ME).address
PEER_LIN6 = DEFAULT_SPACE.address(PEER).address
MY_LOC = Locator(MY_PREFIX, ME).address
PEER_LOC = Locator(PEER_PREFIX, PEER).address


def _now() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _zeroSumPayload(proto: int, src: IPv6Address, dst: IPv6Address) -> bytes:
    """
    A payload with which the checksum of the C{proto} segment over C{src}
    and C{dst} computes to 0 (the sum is all ones): the case where an
    incremental update must give 0x0000 (TCP, ICMPv6) or 0xffff (UDP,
    whose 0 means "no checksum").
    """
    base = b"x" * 20
    seg = bytearray(l4(proto, src, dst, base + bytes(2)))
    off = CSUM_OFFSET[proto]
    seg[off : off + 2] = bytes(2)
    return base + checksum(pseudo(src, dst, len(seg), proto) + bytes(seg)).to_bytes(2, "big")


def _withChecksum(frame: bytes, value: int) -> bytes:
    """
    The frame (no extension headers) with its L4 checksum field set to
    C{value}.
    """
    out = bytearray(frame)
    struct.pack_into("!H", out, 14 + 40 + CSUM_OFFSET[frame[14 + 6]], value)
    return bytes(out)


class _GenerationMap:
    """
    C{lin6_map} as the control writes it: every change followed by an
    increment of the generation in C{lin6_cfg}, which keeps the programs'
    per-CPU mapping cache on.
    """

    def __init__(self, mapping: _libbpf.MapFD, config: mmap.mmap) -> None:
        self.mapping = mapping
        self.config = config
        self.generation = 0
        self.bump()

    def bump(self) -> None:
        self.generation += 1
        storeGeneration(self.config, self.generation)

    def update(self, key: bytes, value: bytes) -> None:
        self.mapping.update(key, value)
        self.bump()

    def delete(self, key: bytes) -> bool:
        try:
            return self.mapping.delete(key)
        finally:
            self.bump()


class ProgramTests(SynchronousTestCase):
    """
    C{lin6_egress} and C{lin6_ingress} on single packets, with the per-CPU
    mapping cache off (generation 0: every packet looks up C{lin6_map}).
    """

    cached = False

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("needs root (BPF)")
        self.obj = _libbpf.BPFObject(str(buildObject()), {"lin6_map": 1024})
        self.addCleanup(self.obj.close)
        self.rawMap = _libbpf.MapFD(self.obj.mapFD("lin6_map"), 8, MAPPING.size)
        self.cfg = _libbpf.MapFD(self.obj.mapFD("lin6_cfg"), 4, CONFIG.size)
        self.cfgMemory = _libbpf.mapMemory(self.obj.mapFD("lin6_cfg"), CONFIG.size)
        self.addCleanup(self.cfgMemory.close)
        self.map: _libbpf.MapFD | _GenerationMap = (
            _GenerationMap(self.rawMap, self.cfgMemory) if self.cached else self.rawMap
        )
        self.ncpu = _libbpf.numPossibleCPUs()
        self.stats = _libbpf.MapFD(self.obj.mapFD("lin6_stats"), 4, 8 * self.ncpu)
        self.configure()
        self.map.update(PEER.packed, encodeMapping(Locator(PEER_PREFIX, PEER), None, 0))
        self.events: list[MissEvent] = []
        self.ring = _libbpf.RingBuffer(
            self.obj.mapFD("lin6_events"), lambda d: self.events.append(MissEvent.decode(d))
        )
        self.addCleanup(self.ring.close)

    def configure(
        self, flags: int = 0, ownPrevious: int = 0, me: NodeID = ME, ownPrefix: Prefix = MY_PREFIX
    ) -> None:
        self.cfg.update(
            bytes(4),
            Config(
                DEFAULT_SPACE.prefix,
                ownNodeID=me,
                ownLIN6Prefix=DEFAULT_SPACE.prefix,
                ownPrefix=ownPrefix,
                ownPreviousPrefix=OLD_PREFIX if ownPrevious else None,
                ownPreviousUntil=ownPrevious,
                flags=flags | FLAG_ACTIVE,
                generation=loadGeneration(self.cfgMemory),
            ).encode(),
        )

    def counter(self, name: str) -> int:
        raw = self.stats.lookup(struct.pack("<I", COUNTER_NAMES.index(name)))
        assert raw is not None
        return sum(struct.unpack(f"<{self.ncpu}Q", raw))

    def runProg(self, prog: str, frame: bytes) -> tuple[int, bytes]:
        ret, _, out = _libbpf.testRun(self.obj.progFD(prog), frame, 1)
        return ret, out

    def test_egressMapsAndFixesChecksums(self) -> None:
        """
        Egress maps both LIN6 addresses to locators and leaves a valid L4
        checksum, for TCP, UDP and ICMPv6.
        """
        for proto in (TCP, UDP, ICMP6):
            frame = packet(proto, MY_LIN6, PEER_LIN6)
            ret, out = self.runProg("lin6_egress", frame)
            self.assertEqual(ret, BPF_OK)
            self.assertEqual(addresses(out), (MY_LOC, PEER_LOC))
            self.assertTrue(l4Valid(out), proto)
            self.assertEqual(out[14 + 40 :][20:], frame[14 + 40 :][20:])
        self.assertEqual(self.counter("egress_mapped"), 3)

    def test_egressFragments(self) -> None:
        """
        Behind a fragment header, the first fragment's checksum is fixed and
        later fragments' bytes are left alone.
        """
        body = l4(UDP, MY_LIN6, PEER_LIN6, b"y" * 64)
        first = ETH + ipv6(MY_LIN6, PEER_LIN6, FRAG, bytes([UDP, 0, 0, 1, 0, 0, 0, 7]) + body)
        ret, out = self.runProg("lin6_egress", first)
        self.assertEqual((ret, addresses(out)), (BPF_OK, (MY_LOC, PEER_LOC)))
        self.assertTrue(l4Valid(out))
        later = ETH + ipv6(MY_LIN6, PEER_LIN6, FRAG, bytes([UDP, 0, 0, 0x19, 0, 0, 0, 7]) + body)
        ret, out = self.runProg("lin6_egress", later)
        self.assertEqual(out[14 + 48 :], body)

    def test_egressOtherSource(self) -> None:
        """
        A source that is not our LIN6 address keeps its prefix; only the
        destination is mapped.
        """
        other = IPv6Address("2001:db8:99::5")
        _, out = self.runProg("lin6_egress", packet(TCP, other, PEER_LIN6))
        self.assertEqual(addresses(out), (other, PEER_LOC))
        self.assertTrue(l4Valid(out))

    def test_egressReroute(self) -> None:
        """
        In reroute mode egress asks for a new route lookup.
        """
        self.configure(FLAG_REROUTE)
        ret, _ = self.runProg("lin6_egress", packet(TCP, MY_LIN6, PEER_LIN6))
        self.assertEqual(ret, BPF_LWT_REROUTE)

    def test_egressNotLIN6(self) -> None:
        """
        A destination outside the LIN6 prefix passes unchanged.
        """
        frame = packet(TCP, MY_LOC, IPv6Address("2001:db8:b::9"))
        ret, out = self.runProg("lin6_egress", frame)
        # (LWT test runs hand back a zeroed link-layer header)
        self.assertEqual((ret, out[14:]), (BPF_OK, frame[14:]))
        self.assertEqual(self.counter("egress_passed"), 1)

    def test_egressMiss(self) -> None:
        """
        A destination without a mapping is reported once per interval and,
        with no hold device, dropped.
        """
        frame = packet(UDP, MY_LIN6, DEFAULT_SPACE.address(STRANGER).address)
        for _ in range(3):
            ret, _ = self.runProg("lin6_egress", frame)
            self.assertEqual(ret, BPF_DROP)
        self.ring.consume()
        self.assertEqual([(e.nodeID, e.egress) for e in self.events], [(STRANGER, True)])
        self.assertEqual((self.counter("egress_missed"), self.counter("miss_reported")), (3, 1))

    def test_ingressMapsBack(self) -> None:
        """
        Ingress maps the peer's locator and ours back to LIN6 addresses with
        valid checksums, for TCP, UDP and ICMPv6.
        """
        for proto in (TCP, UDP, ICMP6):
            ret, out = self.runProg("lin6_ingress", packet(proto, PEER_LOC, MY_LOC))
            self.assertEqual(ret, TC_ACT_OK)
            self.assertEqual(addresses(out), (PEER_LIN6, MY_LIN6))
            self.assertTrue(l4Valid(out), proto)
        self.assertEqual(self.counter("ingress_mapped"), 3)

    def test_roundTrip(self) -> None:
        """
        Egress then ingress gives back the original packet byte for byte.
        """
        frame = packet(TCP, MY_LIN6, PEER_LIN6, b"z" * 101)
        _, wire = self.runProg("lin6_egress", frame)
        # the receiver sees the same bytes with itself as "me"
        self.configure(me=PEER, ownPrefix=PEER_PREFIX)
        self.map.update(ME.packed, encodeMapping(Locator(MY_PREFIX, ME), None, 0))
        _, back = self.runProg("lin6_ingress", ETH + wire[14:])
        self.assertEqual(back, frame)

    def test_ingressUnknownPeer(self) -> None:
        """
        From a mobile LIN6 Node ID without a mapping: reported and (no hold
        device) dropped; from anyone else: passed untouched.  Without the
        hold-ingress flag such packets pass unmapped.
        """
        src = Locator(PEER_PREFIX, STRANGER).address
        frame = packet(TCP, src, MY_LOC)
        self.assertEqual(self.runProg("lin6_ingress", frame), (TC_ACT_OK, frame))
        self.configure(FLAG_HOLD_INGRESS)
        ret, _ = self.runProg("lin6_ingress", packet(TCP, src, MY_LOC))
        self.assertEqual(ret, TC_ACT_SHOT)
        self.ring.consume()
        self.assertEqual([(e.nodeID, e.egress, e.senderPrefix) for e in self.events],
                         [(STRANGER, False, PEER_PREFIX)])  # fmt: skip
        plain = packet(TCP, IPv6Address("2001:db8:b::1"), MY_LOC)
        ret, out = self.runProg("lin6_ingress", plain)
        self.assertEqual((ret, out), (TC_ACT_OK, plain))

    def test_ingressNotForUs(self) -> None:
        """
        A packet to another address passes untouched.
        """
        frame = packet(TCP, PEER_LOC, IPv6Address("2001:db8:a::77"))
        self.assertEqual(self.runProg("lin6_ingress", frame), (TC_ACT_OK, frame))

    def test_strict(self) -> None:
        """
        In strict mode a mapped Node ID from another locator is dropped and
        counted; the previous locator is accepted only during the grace.
        """
        self.configure(FLAG_STRICT)
        wrong = Locator(PEER_OLD, PEER).address
        self.assertEqual(self.runProg("lin6_ingress", packet(UDP, wrong, MY_LOC))[0], TC_ACT_SHOT)
        self.assertEqual(self.counter("ingress_strict_dropped"), 1)
        loc, old = Locator(PEER_PREFIX, PEER), Locator(PEER_OLD, PEER)
        self.map.update(PEER.packed, encodeMapping(loc, old, _now() + 10**9))
        ret, out = self.runProg("lin6_ingress", packet(UDP, wrong, MY_LOC))
        self.assertEqual((ret, addresses(out)), (TC_ACT_OK, (PEER_LIN6, MY_LIN6)))
        self.map.update(PEER.packed, encodeMapping(loc, old, _now() - 1))
        self.assertEqual(self.runProg("lin6_ingress", packet(UDP, wrong, MY_LOC))[0], TC_ACT_SHOT)

    def test_notStrict(self) -> None:
        """
        Without strict mode the same packet is mapped.
        """
        wrong = Locator(PEER_OLD, PEER).address
        ret, out = self.runProg("lin6_ingress", packet(UDP, wrong, MY_LOC))
        self.assertEqual((ret, addresses(out)), (TC_ACT_OK, (PEER_LIN6, MY_LIN6)))

    def test_ownPreviousLocator(self) -> None:
        """
        After our own move, packets to the previous locator are mapped
        during the grace window only.
        """
        old = Locator(OLD_PREFIX, ME).address
        self.configure(ownPrevious=_now() + 10**9)
        _, out = self.runProg("lin6_ingress", packet(TCP, PEER_LOC, old))
        self.assertEqual(addresses(out), (PEER_LIN6, MY_LIN6))
        self.configure(ownPrevious=_now() - 1)
        frame = packet(TCP, PEER_LOC, old)
        self.assertEqual(self.runProg("lin6_ingress", frame), (TC_ACT_OK, frame))

    def test_icmpError(self) -> None:
        """
        A Packet Too Big from a router to our locator quoting a mapped packet
        gets its destination and quoted addresses mapped back, with a valid
        ICMPv6 checksum.
        """
        router = IPv6Address("2001:db8:a::1")
        quoted = ipv6(MY_LOC, PEER_LOC, TCP, l4(TCP, MY_LOC, PEER_LOC, b"q" * 200))
        body = bytearray(struct.pack("!BBHI", 2, 0, 0, 1280) + quoted)
        struct.pack_into("!H", body, 2, checksum(pseudo(router, MY_LOC, len(body), ICMP6) + body))
        ret, out = self.runProg("lin6_ingress", ETH + ipv6(router, MY_LOC, ICMP6, bytes(body)))
        self.assertEqual(ret, TC_ACT_OK)
        self.assertEqual(addresses(out), (router, MY_LIN6))
        inner = out[14 + 48 :]
        self.assertEqual(
            (IPv6Address(inner[8:24]), IPv6Address(inner[24:40])), (MY_LIN6, PEER_LIN6)
        )
        self.assertTrue(l4Valid(out))
        self.assertEqual(self.counter("ingress_icmp_mapped"), 1)

    def test_randomPrefixes(self) -> None:
        """
        For many random prefixes and payloads (carries in every position of
        the one's-complement sum), egress and ingress leave valid checksums
        and the round trip restores the packet.
        """
        rng = random.Random(5)  # noqa: S311 (test data, not crypto)
        for i in range(300):
            proto = (TCP, UDP, ICMP6)[i % 3]
            mine = Prefix(rng.getrandbits(64))
            theirs = Prefix(rng.getrandbits(64))
            payload = rng.randbytes(rng.randrange(0, 200))
            self.configure(ownPrefix=mine)
            self.map.update(PEER.packed, encodeMapping(Locator(theirs, PEER), None, 0))
            frame = packet(proto, MY_LIN6, PEER_LIN6, payload)
            ret, wire = self.runProg("lin6_egress", frame)
            self.assertEqual(ret, BPF_OK)
            self.assertEqual(
                addresses(wire), (Locator(mine, ME).address, Locator(theirs, PEER).address)
            )
            self.assertTrue(l4Valid(wire), (i, proto))
            back = ETH + ipv6(
                Locator(theirs, PEER).address,
                Locator(mine, ME).address,
                proto,
                wire[14 + 40 :],
            )
            ret, out = self.runProg("lin6_ingress", back)
            self.assertEqual(addresses(out), (PEER_LIN6, MY_LIN6))
            self.assertTrue(l4Valid(out), (i, proto))
            self.assertEqual(out[14 + 40 :], frame[14 + 40 :])

    def test_checksumFieldExact(self) -> None:
        """
        The fixed checksum field is exactly what a full computation gives
        (and what C{bpf_l4_csum_replace} leaves): in 0..0xfffe, UDP's 0 sent
        as 0xffff, for random prefixes and payloads in both directions.
        """
        rng = random.Random(11)  # noqa: S311 (test data, not crypto)
        for i in range(150):
            proto = (TCP, UDP, ICMP6)[i % 3]
            theirs = Prefix(rng.getrandbits(64))
            self.map.update(PEER.packed, encodeMapping(Locator(theirs, PEER), None, 0))
            payload = rng.randbytes(rng.randrange(0, 100))
            _, wire = self.runProg("lin6_egress", packet(proto, MY_LIN6, PEER_LIN6, payload))
            self.assertEqual(l4Checksum(wire), freshChecksum(wire), (i, proto))
            back = packet(proto, Locator(theirs, PEER).address, MY_LOC, payload)
            _, out = self.runProg("lin6_ingress", back)
            self.assertEqual(addresses(out), (PEER_LIN6, MY_LIN6))
            self.assertEqual(l4Checksum(out), freshChecksum(out), (i, proto))

    def test_checksumResultZero(self) -> None:
        """
        When the new checksum computes to zero, TCP and ICMPv6 get 0x0000
        and UDP 0xffff (0 would mean "no checksum"), both directions.
        """
        for proto, want in ((TCP, 0), (ICMP6, 0), (UDP, 0xFFFF)):
            payload = _zeroSumPayload(proto, MY_LOC, PEER_LOC)
            ret, out = self.runProg("lin6_egress", packet(proto, MY_LIN6, PEER_LIN6, payload))
            self.assertEqual((ret, addresses(out)), (BPF_OK, (MY_LOC, PEER_LOC)))
            self.assertEqual(l4Checksum(out), want, proto)
            self.assertTrue(l4Valid(out), proto)
            payload = _zeroSumPayload(proto, PEER_LIN6, MY_LIN6)
            ret, out = self.runProg("lin6_ingress", packet(proto, PEER_LOC, MY_LOC, payload))
            self.assertEqual((ret, addresses(out)), (TC_ACT_OK, (PEER_LIN6, MY_LIN6)))
            self.assertEqual(l4Checksum(out), want, proto)
            self.assertTrue(l4Valid(out), proto)

    def test_udpZeroChecksum(self) -> None:
        """
        A UDP datagram without a checksum (field 0) is mapped and keeps the
        0, both directions.
        """
        frame = _withChecksum(packet(UDP, MY_LIN6, PEER_LIN6), 0)
        ret, out = self.runProg("lin6_egress", frame)
        self.assertEqual((ret, addresses(out), l4Checksum(out)), (BPF_OK, (MY_LOC, PEER_LOC), 0))
        self.assertEqual(out[14 + 40 :], frame[14 + 40 :])
        frame = _withChecksum(packet(UDP, PEER_LOC, MY_LOC), 0)
        ret, out = self.runProg("lin6_ingress", frame)
        self.assertEqual(
            (ret, addresses(out), l4Checksum(out)), (TC_ACT_OK, (PEER_LIN6, MY_LIN6), 0)
        )
        self.assertEqual(out[14 + 40 :], frame[14 + 40 :])

    def test_extensionHeaders(self) -> None:
        """
        Behind hop-by-hop and destination options headers the checksum is
        fixed too (exactly), both directions.
        """
        for proto in (TCP, UDP, ICMP6):
            for ext in (HOPOPTS, DSTOPTS):
                opts = bytes([proto, 0, 1, 4, 0, 0, 0, 0])  # PadN
                body = l4(proto, MY_LIN6, PEER_LIN6, b"e" * 33)
                ret, out = self.runProg(
                    "lin6_egress", ETH + ipv6(MY_LIN6, PEER_LIN6, ext, opts + body)
                )
                self.assertEqual((ret, addresses(out)), (BPF_OK, (MY_LOC, PEER_LOC)))
                self.assertTrue(l4Valid(out), (proto, ext))
                self.assertEqual(l4Checksum(out), freshChecksum(out), (proto, ext))
                body = l4(proto, PEER_LOC, MY_LOC, b"e" * 33)
                ret, out = self.runProg(
                    "lin6_ingress", ETH + ipv6(PEER_LOC, MY_LOC, ext, opts + body)
                )
                self.assertEqual((ret, addresses(out)), (TC_ACT_OK, (PEER_LIN6, MY_LIN6)))
                self.assertTrue(l4Valid(out), (proto, ext))
                self.assertEqual(l4Checksum(out), freshChecksum(out), (proto, ext))

    def test_cost(self) -> None:
        """
        C{BPF_PROG_TEST_RUN} with repeat reports a per-packet time.
        """
        _, ns, _ = _libbpf.testRun(
            self.obj.progFD("lin6_egress"), packet(UDP, MY_LIN6, PEER_LIN6), 1000
        )
        self.assertGreater(ns, 0)


class CachedProgramTests(ProgramTests):
    """
    The same with the per-CPU mapping cache on (as the control runs the
    programs), and what the cache itself must get right.
    """

    cached = True

    def egressTo(self, node: NodeID) -> IPv6Address:
        """
        Send a UDP packet to C{node}'s LIN6 address through egress; the
        destination it leaves with.
        """
        frame = packet(UDP, MY_LIN6, DEFAULT_SPACE.address(node).address)
        ret, out = self.runProg("lin6_egress", frame)
        self.assertEqual(ret, BPF_OK)
        self.assertTrue(l4Valid(out))
        return addresses(out)[1]

    def onOneCPU(self) -> None:
        """
        Keep this process (and so the test runs) on one CPU for the test.
        """
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(before)})
        self.addCleanup(os.sched_setaffinity, 0, before)

    def test_cacheFollowsGeneration(self) -> None:
        """
        A CPU may keep using its copy of a mapping changed behind the
        generation's back; once the generation moves, the next packet takes the
        new mapping (whoever writes C{lin6_map} must increment it after).
        """
        self.onOneCPU()
        self.assertEqual(self.egressTo(PEER), PEER_LOC)
        moved = Locator(PEER_OLD, PEER)
        self.rawMap.update(PEER.packed, encodeMapping(moved, None, 0))
        self.assertEqual(self.egressTo(PEER), PEER_LOC)
        assert isinstance(self.map, _GenerationMap)
        self.map.bump()
        self.assertEqual(self.egressTo(PEER), moved.address)
        back = Locator(PEER_PREFIX, PEER)
        self.map.update(PEER.packed, encodeMapping(back, None, 0))
        self.assertEqual(self.egressTo(PEER), PEER_LOC)

    def test_cacheRemoved(self) -> None:
        """
        A removed mapping is a miss on the next packet, copy or not.
        """
        self.onOneCPU()
        self.assertEqual(self.egressTo(PEER), PEER_LOC)
        self.map.delete(PEER.packed)
        ret, _ = self.runProg("lin6_egress", packet(UDP, MY_LIN6, PEER_LIN6))
        self.assertEqual(ret, BPF_DROP)
        self.assertEqual(self.counter("egress_missed"), 1)

    def test_cacheSlotShared(self) -> None:
        """
        Two Node IDs that share a cache slot each get their own mapping,
        alternately, in both directions.
        """
        self.onOneCPU()
        other = DEFAULT_SPACE.nodeID(0x0103, mobile=True)
        self.assertEqual(PEER.packed[6] ^ PEER.packed[7], other.packed[6] ^ other.packed[7])
        otherLoc = Locator(PEER_OLD, other)
        self.map.update(other.packed, encodeMapping(otherLoc, None, 0))
        for _ in range(3):
            self.assertEqual(self.egressTo(PEER), PEER_LOC)
            self.assertEqual(self.egressTo(other), otherLoc.address)
            ret, out = self.runProg("lin6_ingress", packet(TCP, otherLoc.address, MY_LOC))
            self.assertEqual(
                (ret, addresses(out)), (TC_ACT_OK, (DEFAULT_SPACE.address(other).address, MY_LIN6))
            )

    def test_cacheEmptySlot(self) -> None:
        """
        An empty slot (all zeros) is never taken for the mapping of Node
        ID 0: a packet to it is a miss.
        """
        self.onOneCPU()
        nowhere = DEFAULT_SPACE.prefix.network.network_address
        ret, _ = self.runProg("lin6_egress", packet(UDP, MY_LIN6, nowhere))
        self.assertEqual(ret, BPF_DROP)
        self.assertEqual(self.counter("egress_missed"), 1)


class NodeIDKeyTests(SynchronousTestCase):
    """
    Keys are the Node ID's network-order bytes.
    """

    def test_key(self) -> None:
        self.assertEqual(NodeID(0x0201_4A00_0000_0002).packed, bytes.fromhex("02014a0000000002"))
