"""
Benchmarks of the wire codecs: C{python -m lin6twisted.bench wire}.

Figures (median of 5 repeats, one core, pure Python):

  - C{wire.heartbeat_codec_per_s}: HEARTBEAT encode + decode per second;
  - C{wire.register_codec_per_s}: REGISTER sign (HMAC-SHA256) + encode +
    decode + verify per second;
  - C{wire.ma_request_codec_per_s}, C{wire.map_reply_codec_per_s}: the
    other hot messages, encode + decode;
  - C{wire.stream_frames_per_s}: frames split out of a TLS-like byte
    stream by L{StreamDecoder} and decoded, per second;
  - C{wire.fuzz_cases}: the full fuzz run (see L{lin6twisted.bench.fuzz}),
    with its seed.

Arguments: C{count=N} (codec operations per repeat, default 50,000),
C{per-decoder=N} and C{seed=N} for the fuzz run, C{fuzz=0} to skip it.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from lin6twisted.address import DEFAULT_SPACE
from lin6twisted.bench import Recorder, timeRate
from lin6twisted.bench.fuzz import MIN_PER_DECODER, parseArgs, runFuzz
from lin6twisted.wire import (
    Heartbeat,
    MapReply,
    MapStatus,
    MARequest,
    Register,
    StreamDecoder,
    decodeLSMessage,
)
from lin6twisted.wire.fuzz import newSeed

_MA = IPv6Address("2001:db8:a::1")
_LOC = IPv6Address("2001:db8:100:1:201:4a00:0:2")
_NODE = DEFAULT_SPACE.nodeID(2, mobile=True)
_KEY = bytes(range(32))


def run(recorder: Recorder, args: list[str]) -> None:
    """
    Run the wire group.
    """
    options = parseArgs(args)
    count = options.get("count", 50_000)

    heartbeat = Heartbeat(42, _MA, 7100, 0x0102030405060708, 17, 12, 3, 100, 5)

    def heartbeatCodec() -> None:
        if Heartbeat.decode(heartbeat.encode()) is None:
            raise AssertionError("unreachable")

    rate, _ = timeRate(heartbeatCodec, count)
    recorder.record("wire.heartbeat_codec_per_s", round(rate), "msg/s", count=count)

    register = Register(0x1000, _NODE, (_LOC,), 300, 1, 1)

    def registerCodec() -> None:
        received = Register.decode(register.sign(_KEY).encode())
        if not received.verify(_KEY):
            raise AssertionError("HMAC does not verify")

    rate, _ = timeRate(registerCodec, count)
    recorder.record("wire.register_codec_per_s", round(rate), "msg/s", count=count)

    request = MARequest(7, _NODE, bytes(8))
    rate, _ = timeRate(lambda: MARequest.decode(request.encode()), count)
    recorder.record("wire.ma_request_codec_per_s", round(rate), "msg/s", count=count)

    reply = MapReply(9, _NODE, MapStatus.FOUND, 30, (_LOC, _LOC))
    rate, _ = timeRate(lambda: MapReply.decode(reply.encode()), count)
    recorder.record("wire.map_reply_codec_per_s", round(rate), "msg/s", count=count)

    frame = heartbeat.encode()
    stream = frame * 1000
    chunks = [stream[i : i + 1400] for i in range(0, len(stream), 1400)]

    def streamBurst() -> None:
        decoder = StreamDecoder()
        for chunk in chunks:
            for data in decoder.feed(chunk):
                decodeLSMessage(data)

    bursts = max(1, count // 1000)
    rate, _ = timeRate(streamBurst, bursts)
    recorder.record("wire.stream_frames_per_s", round(rate * 1000), "frames/s", chunk=1400)

    if options.get("fuzz", 1):
        perDecoder = max(options.get("per-decoder", MIN_PER_DECODER), MIN_PER_DECODER)
        runFuzz(recorder, perDecoder, options.get("seed", newSeed()), perDecoderFigures=False)
