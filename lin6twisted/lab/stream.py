# -*- test-case-name: lin6twisted.lab.test.test_stream -*-
"""
A media-like live stream over HTTP for the lab: content servers serve it,
mobile nodes play it and record throughput, gaps and continuity.

The body of C{GET /live} is a sequence of frames::

    magic "L6SF" (4) | sequence u64 | sender time u64 (ns, sender's clock)
    | payload length u32 | payload (bytes derived from the sequence number)

The server offers frames at a fixed bitrate and honours TCP back-pressure
(a push producer), so what a client receives is the smaller of the offered
rate and what the path (and the MA's per-level tc class) lets through.  The
player checks every frame: sequence continuity and payload content, so a lost,
duplicated or corrupted byte is counted.

Run as C{python -m lin6twisted.lab.stream serve --port 8080 --rate 10e6} and
C{python -m lin6twisted.lab.stream play URL --seconds 20 --out stats.json}.
The player prints one JSON line per interval (bytes, frames, gap) to stdout
while it plays, for progress displays.
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Callable
from typing import Any

from attrs import define, field
from twisted.internet import defer, task
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import resource, server
from twisted.web.client import Agent
from twisted.web.iweb import IResponse
from zope.interface import implementer

__all__ = [
    "FRAME_HEADER",
    "LiveStream",
    "StreamError",
    "StreamParser",
    "StreamStats",
    "encodeFrame",
    "play",
]

MAGIC = b"L6SF"
FRAME_HEADER = struct.Struct("!4sQQI")
PAYLOAD = 1376
MAX_PAYLOAD = 65536


class StreamError(ValueError):
    """
    The stream's bytes are not a valid frame sequence.
    """


def _payload(seq: int, length: int) -> bytes:
    block = seq.to_bytes(8, "big")
    return (block * (length // 8 + 1))[:length]


def encodeFrame(seq: int, nowNs: int, length: int = PAYLOAD) -> bytes:
    """
    One frame with sequence number C{seq} stamped C{nowNs}.
    """
    return FRAME_HEADER.pack(MAGIC, seq, nowNs, length) + _payload(seq, length)


@define
class StreamParser:
    """
    Sans-IO frame parser: L{feed} bytes, get C{(seq, senderNs, length)}.

    @raise StreamError: on a bad magic, an oversized payload, or a payload
        that does not match its sequence number.
    """

    _buffer: bytearray = field(factory=bytearray)

    def feed(self, data: bytes) -> list[tuple[int, int, int]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= FRAME_HEADER.size:
            magic, seq, sent, length = FRAME_HEADER.unpack_from(self._buffer)
            if magic != MAGIC:
                raise StreamError(f"bad frame magic {bytes(magic)!r}")
            if length > MAX_PAYLOAD:
                raise StreamError(f"frame payload of {length} bytes is too large")
            end = FRAME_HEADER.size + length
            if len(self._buffer) < end:
                break
            if bytes(self._buffer[FRAME_HEADER.size : end]) != _payload(seq, length):
                raise StreamError(f"frame {seq} payload is corrupt")
            del self._buffer[:end]
            frames.append((seq, sent, length + FRAME_HEADER.size))
        return frames


@define
class StreamStats:
    """
    What a player saw: bytes per interval, continuity, longest silence.

    @ivar interval: the sampling interval in seconds.
    """

    interval: float = 0.1
    gapThreshold: float = 0.05
    started: float | None = None
    lastArrival: float | None = None
    bytes: int = 0
    frames: int = 0
    nextSeq: int | None = None
    missingFrames: int = 0
    duplicateFrames: int = 0
    gaps: list[tuple[float, float]] = field(factory=list)
    samples: list[tuple[float, int]] = field(factory=list)
    _bin: int = 0
    _binStart: float = 0.0

    def arrived(self, now: float, seq: int, size: int) -> None:
        """
        Record a frame that arrived at C{now}.
        """
        if self.started is None:
            self.started = self._binStart = now
        self._roll(now)
        if self.lastArrival is not None:
            self.gaps.append((self.lastArrival, now - self.lastArrival))
        self.lastArrival = now
        if self.nextSeq is not None and seq != self.nextSeq:
            if seq > self.nextSeq:
                self.missingFrames += seq - self.nextSeq
            else:
                self.duplicateFrames += 1
                return
        self.nextSeq = seq + 1
        self.frames += 1
        self.bytes += size
        self._bin += size

    def _roll(self, now: float) -> None:
        while now - self._binStart >= self.interval:
            self.samples.append((self._binStart, self._bin))
            self._bin = 0
            self._binStart += self.interval

    def finish(self, now: float) -> None:
        """
        Close the last interval at C{now}.
        """
        if self.started is not None:
            self._roll(now)

    def rateBps(self, start: float | None = None, end: float | None = None) -> float:
        """
        Mean received bit rate over the samples between C{start} and C{end}.
        """
        chosen = [
            b for t, b in self.samples
            if (start is None or t >= start) and (end is None or t + self.interval <= end)
        ]  # fmt: skip
        if not chosen:
            return 0.0
        return sum(chosen) * 8 / (len(chosen) * self.interval)

    def longestGap(self, start: float | None = None, end: float | None = None) -> float:
        """
        The longest time between two frames arriving in C{[start, end]}.
        """
        chosen = [
            g for t, g in self.gaps
            if (start is None or t >= start) and (end is None or t <= end)
        ]  # fmt: skip
        return max(chosen, default=0.0)

    def asDict(self) -> dict[str, Any]:
        """
        A JSON-able summary.
        """
        return {
            "started": self.started,
            "bytes": self.bytes,
            "frames": self.frames,
            "missing_frames": self.missingFrames,
            "duplicate_frames": self.duplicateFrames,
            "interval": self.interval,
            "samples": self.samples,
            "gaps_over_50ms": [(t, g) for t, g in self.gaps if g > 0.05],
            "gap_threshold": self.gapThreshold,
            "gaps": [(t, g) for t, g in self.gaps if g > self.gapThreshold],
        }


@implementer(IPushProducer)
@define
class _Feeder:
    """
    Writes frames to one request at the offered rate, pausing with TCP.
    """

    request: server.Request
    clock: IReactorTime
    rateBps: float
    nowNs: Callable[[], int]
    seq: int = 0
    paused: bool = False
    call: Any = None
    credit: float = 0.0
    last: float = 0.0
    tick: float = 0.01

    def start(self) -> None:
        self.last = self.clock.seconds()
        self.request.registerProducer(self, True)
        self._schedule()

    def _schedule(self) -> None:
        if self.call is None or not self.call.active():
            self.call = self.clock.callLater(self.tick, self._send)

    def _send(self) -> None:
        self.call = None
        if self.paused:
            return
        now = self.clock.seconds()
        # Credit accrues at the offered rate; at most 100 ms of burst.
        self.credit = min(self.credit + (now - self.last) * self.rateBps / 8, self.rateBps / 80)
        self.last = now
        size = FRAME_HEADER.size + PAYLOAD
        while self.credit >= size and not self.paused:
            self.request.write(encodeFrame(self.seq, self.nowNs()))
            self.seq += 1
            self.credit -= size
        self._schedule()

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        if self.paused:
            self.paused = False
            self.last = self.clock.seconds()
            self._schedule()

    def stopProducing(self) -> None:
        self.paused = True
        if self.call is not None and self.call.active():
            self.call.cancel()


class LiveStream(resource.Resource):
    """
    C{GET /live}: an endless frame stream at C{rateBps} bits per second.
    """

    isLeaf = True
    log = Logger()

    def __init__(self, clock: IReactorTime, rateBps: float, nowNs: Callable[[], int]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.clock = clock
        self.rateBps = rateBps
        self.nowNs = nowNs
        self.active = 0

    def render_GET(self, request: server.Request) -> int:
        request.setHeader(b"content-type", b"application/x-lin6-stream")
        feeder = _Feeder(request, self.clock, self.rateBps, self.nowNs)
        self.active += 1
        peer = request.getClientAddress()
        self.log.info("stream to {peer} started at {rate} bit/s", peer=peer, rate=self.rateBps)

        def done(reason: object) -> None:
            self.active -= 1
            feeder.stopProducing()
            self.log.info("stream to {peer} ended after {n} frames", peer=peer, n=feeder.seq)

        request.notifyFinish().addBoth(done)
        feeder.start()
        return server.NOT_DONE_YET


class _Player(Protocol):
    def __init__(self, stats: StreamStats, clock: IReactorTime, done: defer.Deferred[None]):
        self.stats = stats
        self.clock = clock
        self.done = done
        self.parser = StreamParser()

    def dataReceived(self, data: bytes) -> None:
        now = self.clock.seconds()
        try:
            frames = self.parser.feed(data)
        except StreamError as e:
            if not self.done.called:
                self.done.errback(e)
            assert self.transport is not None
            self.transport.loseConnection()
            return
        for seq, _, size in frames:
            self.stats.arrived(now, seq, size)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.done.called:
            self.done.callback(None)


async def play(
    reactor: Any, url: str, seconds: float, stats: StreamStats, progress: Callable[[], None]
) -> StreamStats:
    """
    Play C{url} for C{seconds}, recording into C{stats}; call C{progress}
    every interval.
    """
    agent = Agent(reactor)
    response: IResponse = await agent.request(b"GET", url.encode("ascii"))
    if response.code != 200:
        raise StreamError(f"{url} answered HTTP {response.code}")
    done: defer.Deferred[None] = defer.Deferred()
    player = _Player(stats, reactor, done)
    response.deliverBody(player)
    ticker = task.LoopingCall(progress)
    ticker.clock = reactor
    ticker.start(1.0, now=False)

    def timeUp() -> None:
        if not done.called:
            done.callback(None)

    timer = reactor.callLater(seconds, timeUp)
    try:
        await done
    finally:
        ticker.stop()
        if timer.active():
            timer.cancel()
        if player.transport is not None:
            player.transport.stopProducing()  # type: ignore[attr-defined]
    stats.finish(reactor.seconds())
    return stats


def _main(argv: list[str]) -> int:
    import argparse
    import time

    from twisted.internet import endpoints, reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    p = argparse.ArgumentParser(prog="python -m lin6twisted.lab.stream")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve /live")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--interface", default="::")
    s.add_argument("--rate", type=float, default=10e6, help="offered bit rate")
    c = sub.add_parser("play", help="play a stream URL")
    c.add_argument("url")
    c.add_argument("--seconds", type=float, default=20.0)
    c.add_argument("--out", help="write the stats as JSON here")
    c.add_argument(
        "--gap-threshold", type=float, default=0.05, help="record silences longer than this (s)"
    )
    args = p.parse_args(argv)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    clock: Any = reactor
    if args.cmd == "serve":
        root = resource.Resource()
        root.putChild(b"live", LiveStream(clock, args.rate, time.time_ns))
        ep = endpoints.TCP6ServerEndpoint(clock, args.port, interface=args.interface)
        ep.listen(server.Site(root))
        print(f"serving /live on [{args.interface}]:{args.port}", flush=True)
        clock.run()
        return 0
    stats = StreamStats(gapThreshold=args.gap_threshold)
    last = [0]

    def progress() -> None:
        now = clock.seconds()
        print(
            json.dumps(
                {
                    "t": now,
                    "bytes": stats.bytes,
                    "delta": stats.bytes - last[0],
                    "missing": stats.missingFrames,
                }
            ),
            flush=True,
        )
        last[0] = stats.bytes

    result: dict[str, Any] = {}

    async def run() -> None:
        try:
            await play(clock, args.url, args.seconds, stats, progress)
        except Exception as e:
            result["error"] = repr(e)
        finally:
            if clock.running:
                clock.stop()

    # SIGTERM and SIGINT stop the reactor (twistd-style); the stats so far
    # are written all the same.
    clock.callWhenRunning(lambda: defer.ensureDeferred(run()))
    clock.run()
    stats.finish(time.time())
    doc = {"url": args.url, **stats.asDict(), **result}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(doc, f)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
