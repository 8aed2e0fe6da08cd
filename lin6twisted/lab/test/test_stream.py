"""
Tests for the lab's stream format, parser and statistics.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from lin6twisted.lab.stream import (
    FRAME_HEADER,
    PAYLOAD,
    LiveStream,
    StreamError,
    StreamParser,
    StreamStats,
    encodeFrame,
)


class ParserTests(SynchronousTestCase):
    """
    L{StreamParser} reassembles frames from any chunking and rejects damage.
    """

    @given(st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=40))
    def test_anyChunking(self, cuts: list[int]) -> None:
        """
        Frames split anywhere come out whole and in order.
        """
        data = b"".join(encodeFrame(i, 1000 + i) for i in range(5))
        parser = StreamParser()
        got = []
        pos = 0
        for cut in cuts:
            got += parser.feed(data[pos : pos + cut])
            pos += cut
        got += parser.feed(data[pos:])
        self.assertEqual([(s, t) for s, t, _ in got], [(i, 1000 + i) for i in range(5)])
        self.assertEqual({size for _, _, size in got}, {FRAME_HEADER.size + PAYLOAD})

    def test_corruption(self) -> None:
        """
        A flipped payload byte, a bad magic and an absurd length are errors.
        """
        frame = bytearray(encodeFrame(7, 0))
        frame[-1] ^= 1
        self.assertRaises(StreamError, StreamParser().feed, bytes(frame))
        self.assertRaises(StreamError, StreamParser().feed, b"XXXX" + bytes(frame[4:]))
        self.assertRaises(
            StreamError, StreamParser().feed, FRAME_HEADER.pack(b"L6SF", 1, 1, 1 << 30)
        )


class StatsTests(SynchronousTestCase):
    """
    L{StreamStats} counts bytes per interval, gaps and continuity.
    """

    def test_rateAndGaps(self) -> None:
        """
        Ten 1000-byte frames per 100 ms is 800 kbit/s; a 300 ms silence is
        the longest gap; a skipped sequence is a missing frame.
        """
        stats = StreamStats(interval=0.1)
        t = 0.0
        seq = 0
        for _ in range(20):
            for _ in range(10):
                stats.arrived(t, seq, 1000)
                seq += 1
                t += 0.01
        t += 0.3
        stats.arrived(t, seq + 2, 1000)
        stats.finish(t + 0.1)
        self.assertAlmostEqual(stats.rateBps(0.0, 2.0), 800_000, delta=1)
        self.assertAlmostEqual(stats.longestGap(), 0.31, places=6)
        self.assertEqual(stats.missingFrames, 2)
        stats.arrived(t + 0.2, 3, 1000)
        self.assertEqual(stats.duplicateFrames, 1)
        self.assertEqual(stats.asDict()["missing_frames"], 2)


class _Request(DummyRequest):
    """
    A request that keeps its push producer (L{DummyRequest} drives producers
    as pull producers, forever).
    """

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer: Any = producer
        self.streaming = streaming


class LiveStreamTests(SynchronousTestCase):
    """
    L{LiveStream} paces frames at the offered rate and honours back-pressure.
    """

    def test_pacing(self) -> None:
        """
        Over one simulated second at 1.4 Mbit/s about 1.4 Mbit is written;
        nothing is written while the transport is paused.
        """
        clock = Clock()
        stream = LiveStream(clock, 1_400_000, lambda: int(clock.seconds() * 1e9))
        request = _Request([b"live"])
        stream.render_GET(request)  # type: ignore[arg-type]
        for _ in range(100):
            clock.advance(0.01)
        written = sum(len(w) for w in request.written)
        self.assertAlmostEqual(written * 8 / 1_400_000, 1.0, delta=0.05)
        self.assertTrue(request.streaming)
        producer = request.producer
        producer.pauseProducing()
        before = len(request.written)
        clock.advance(1.0)
        self.assertEqual(len(request.written), before)
        producer.resumeProducing()
        clock.advance(0.5)
        self.assertGreater(len(request.written), before)
        frames = StreamParser().feed(b"".join(request.written))
        self.assertEqual([s for s, _, _ in frames], list(range(len(frames))))
