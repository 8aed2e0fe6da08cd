"""
Tests for L{lin6twisted.wire.fuzz}: a fixed-seed sample of the fuzz run
(the full run, 100,000 inputs per decoder, is C{tox -e bench -- fuzz}).
"""

from __future__ import annotations

import random
import unittest

from lin6twisted.wire import LS_TYPES, MAPPING_TYPES, Heartbeat, MalformedBody, MapQuery, WireError
from lin6twisted.wire.fuzz import (
    DECODERS,
    FuzzFailure,
    FuzzReport,
    fuzzAll,
    fuzzDecoder,
    newSeed,
    randomMessage,
)

SEED = 20261204
PER_DECODER = 200


class FuzzSampleTests(unittest.TestCase):
    """
    A small, reproducible fuzz run over every decoder.
    """

    def test_everyDecoder(self) -> None:
        """
        Every decoder survives the sample: only L{WireError} escapes, and
        what is accepted re-encodes identically (L{fuzzAll} raises
        L{FuzzFailure} otherwise).  Each decoder both accepts and rejects
        some inputs, so the sample reaches past the header checks.
        """
        reports = fuzzAll(PER_DECODER, seed=SEED)
        self.assertEqual([r.decoder for r in reports], list(DECODERS))
        total = sum(r.cases for r in reports)
        self.assertGreaterEqual(total, 4000)
        for report in reports:
            with self.subTest(decoder=report.decoder):
                self.assertEqual(report.seed, SEED)
                self.assertEqual(report.cases, PER_DECODER)
                self.assertEqual(report.accepted + sum(report.rejected.values()), PER_DECODER)
                self.assertGreater(report.accepted, 0)
                self.assertGreater(sum(report.rejected.values()), 0)

    def test_decodersCoverEveryType(self) -> None:
        """
        Every message class's decoder is fuzzed, plus the dispatchers and
        both framings.
        """
        for cls in LS_TYPES.values():
            self.assertIn(f"ls.{cls.__name__}", DECODERS)
        for mcls in MAPPING_TYPES.values():
            self.assertIn(f"mapping.{mcls.__name__}", DECODERS)
        for name in ("ls", "mapping", "datagram", "stream"):
            self.assertIn(name, DECODERS)

    def test_bodyErrorsReached(self) -> None:
        """
        The mutations reach the body checks, not only the header's.
        """
        report = fuzzDecoder("mapping", 2000, SEED)
        self.assertGreater(report.rejected.get("MalformedBody", 0), 0)

    def test_reproducible(self) -> None:
        """
        The same seed gives the same run; another seed another run.
        """
        first = fuzzDecoder("ls", 500, SEED)
        again = fuzzDecoder("ls", 500, SEED)
        other = fuzzDecoder("ls", 500, SEED + 1)
        self.assertEqual((first.accepted, first.rejected), (again.accepted, again.rejected))
        self.assertNotEqual((first.accepted, first.rejected), (other.accepted, other.rejected))

    def test_freshSeed(self) -> None:
        """
        Without a seed, a fresh one is drawn and reported.
        """
        seeds = {newSeed() for _ in range(5)}
        self.assertGreater(len(seeds), 1)
        reports = fuzzAll(5)
        self.assertEqual(len({r.seed for r in reports}), 1)


class FuzzDetectsBugsTests(unittest.TestCase):
    """
    The fuzzer catches decoders that misbehave.
    """

    def test_otherException(self) -> None:
        """
        A decoder raising anything but L{WireError} fails the run.
        """

        def broken(data: bytes) -> object:
            if len(data) > 20:
                raise IndexError("oops")
            raise MalformedBody("short")

        with self.assertRaises(FuzzFailure) as caught:
            fuzzDecoder("ls", 200, SEED, decode=broken)
        self.assertEqual(caught.exception.seed, SEED)
        self.assertIn("IndexError", str(caught.exception))

    def test_lossyDecoder(self) -> None:
        """
        A decoder accepting a frame that does not re-encode identically
        (here: ignoring bytes it should check) fails the run.
        """

        def lossy(data: bytes) -> object:
            # Decodes a MAP_QUERY from any 16 bytes, ignoring the header.
            if len(data) != 16:
                raise MalformedBody("size")
            return MapQuery.decode(b"\x01\x22\x00\x10" + data[4:])

        with self.assertRaises(FuzzFailure) as caught:
            fuzzDecoder("mapping.MapQuery", 500, SEED, decode=lossy)
        self.assertIn("re-encodes differently", str(caught.exception))

    def test_report(self) -> None:
        """
        A report's equality ignores the per-error breakdown.
        """
        self.assertEqual(FuzzReport("x", 1, 1, {"a": 1}, 2), FuzzReport("x", 1, 1, {}, 2))


class RandomMessageTests(unittest.TestCase):
    """
    The random message generator.
    """

    def test_everyType(self) -> None:
        """
        It builds valid messages of every type that round-trip.
        """
        rng = random.Random(SEED)  # noqa: S311
        for cls in [*LS_TYPES.values(), *MAPPING_TYPES.values()]:
            for _ in range(20):
                message = randomMessage(rng, cls)
                self.assertIs(type(message), cls)
                self.assertEqual(cls.decode(message.encode()), message)
        classes = (*LS_TYPES.values(), *MAPPING_TYPES.values())
        self.assertIsInstance(randomMessage(rng), classes)

    def test_heartbeatBoundaries(self) -> None:
        """
        Boundary values (0 and all ones) come up.
        """
        rng = random.Random(SEED)  # noqa: S311
        ports = {randomMessage(rng, Heartbeat).maPort for _ in range(200)}
        self.assertIn(0, ports)
        self.assertIn(0xFFFF, ports)
        self.assertTrue(issubclass(MalformedBody, WireError))
