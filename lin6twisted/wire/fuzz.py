# -*- test-case-name: lin6twisted.wire.test.test_fuzz -*-
"""
A fuzzer for every wire decoder: random frames and mutations of valid ones.

For each decoder (every message class's C{decode}, the two dispatchers,
L{splitDatagram} and L{StreamDecoder}) it feeds a reproducible sequence of
inputs, drawn from a seeded L{random.Random}:

    - valid frames of random messages, unchanged;
    - valid frames mutated: bits flipped, bytes overwritten with boundary
      values, cut, extended, spliced with another frame, type or version
      changed, often with the length field fixed up afterwards so that the
      body parser (not just the header check) sees the damage;
    - frames with a sound header and a random body;
    - random bytes.

Only L{WireError} may escape a decoder.  A frame a decoder accepts must
also re-encode to exactly the same bytes and pass the message's own
construction checks (so decoding never builds a value that construction
would refuse).  Anything else raises L{FuzzFailure} with the input and seed.

This module has no Twisted imports.
"""

from __future__ import annotations

import random
import secrets
import struct
from collections.abc import Callable, Iterator
from ipaddress import IPv6Address
from typing import Any, Final

import attrs
from attrs import field, frozen

from lin6twisted.address import NodeID, Prefix
from lin6twisted.wire._frame import HEADER_SIZE, StreamDecoder, WireError, splitDatagram
from lin6twisted.wire.ls import (
    LS_TYPES,
    MAX_COOKIE,
    AnswerEntry,
    AnswerTableUpdate,
    Assignment,
    CookieChallenge,
    Heartbeat,
    LSError,
    LSErrorCode,
    MAEntry,
    MAReply,
    MARequest,
    MATableUpdate,
    Relay,
    RTTReply,
    RTTRequest,
    RTTStatus,
    SyncDone,
    SyncRequest,
    decodeLSMessage,
)
from lin6twisted.wire.mapping import (
    HMAC_SIZE,
    MAPPING_TYPES,
    MAX_LOCATORS,
    MapQuery,
    MapReply,
    MapStatus,
    Notify,
    NotifyAck,
    Register,
    RegisterAck,
    RegisterFlags,
    RegisterStatus,
    Report,
    decodeMappingMessage,
)

__all__ = [
    "DECODERS",
    "FuzzFailure",
    "FuzzReport",
    "fuzzAll",
    "fuzzDecoder",
    "newSeed",
    "randomMessage",
]

_ALL_TYPES: Final[dict[int, type]] = {**LS_TYPES, **MAPPING_TYPES}
_INTERESTING: Final = (0, 1, 2, 7, 8, 9, 16, 31, 32, 33, 0x7F, 0x80, 0xFE, 0xFF)


class FuzzFailure(AssertionError):
    """
    A decoder let something other than L{WireError} escape, or accepted a
    frame that does not re-encode identically or is not a valid value.

    @ivar decoder: the decoder's name in L{DECODERS}.
    @ivar data: the input.
    @ivar seed: the seed of the run (with the decoder name and case count,
        enough to reproduce it).
    """

    def __init__(self, decoder: str, data: bytes, seed: int, problem: str) -> None:
        super().__init__(
            f"fuzzing {decoder} (seed {seed}): {problem}; input {data.hex() or '(empty)'}"
        )
        self.decoder = decoder
        self.data = data
        self.seed = seed


@frozen
class FuzzReport:
    """
    The outcome of fuzzing one decoder.

    @ivar decoder: the decoder's name in L{DECODERS}.
    @ivar cases: inputs fed.
    @ivar accepted: inputs decoded successfully (and checked).
    @ivar rejected: per L{WireError} subclass name, how many inputs it
        rejected.
    @ivar seed: the seed of the run.
    """

    decoder: str
    cases: int
    accepted: int
    rejected: dict[str, int] = field(eq=False)
    seed: int


def newSeed() -> int:
    """
    A fresh random 32-bit seed.
    """
    return secrets.randbits(32)


# ---------------------------------------------------------------- random valid messages


def _u(rng: random.Random, bits: int) -> int:
    # Boundary values are where bugs live; mix them in.
    pick = rng.random()
    if pick < 0.15:
        return 0
    if pick < 0.3:
        return (1 << bits) - 1
    return rng.getrandbits(bits)


def _addr(rng: random.Random) -> IPv6Address:
    return IPv6Address(rng.getrandbits(128))


def _node(rng: random.Random) -> NodeID:
    return NodeID(_u(rng, 64))


def _locators(rng: random.Random) -> tuple[IPv6Address, ...]:
    return tuple(_addr(rng) for _ in range(rng.randint(1, MAX_LOCATORS)))


def _bytes(rng: random.Random, low: int, high: int) -> bytes:
    return rng.randbytes(rng.randint(low, high))


def _text(rng: random.Random) -> str:
    alphabet = "abc xyz-éß€😀\n\x00"
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
    return text.encode("utf-8")[:512].decode("utf-8", "ignore")


def _maEntry(rng: random.Random) -> MAEntry:
    return MAEntry(
        _addr(rng),
        _u(rng, 16),
        _u(rng, 64),
        _u(rng, 64),
        _u(rng, 32),
        _u(rng, 32),
        _u(rng, 32),
        _u(rng, 16),
        rng.random() < 0.5,
        _u(rng, 32),
    )


def _answerEntry(rng: random.Random) -> AnswerEntry:
    return AnswerEntry(
        Prefix(_u(rng, 64)),
        _addr(rng),
        _u(rng, 16),
        _u(rng, 64),
        _u(rng, 32),
        _u(rng, 32),
        rng.choice((1, 2)),
    )


_MAKERS: Final[dict[type, Callable[[random.Random, int], Any]]] = {
    Heartbeat: lambda r, i: Heartbeat(
        i,
        _addr(r),
        _u(r, 16),
        _u(r, 64),
        _u(r, 64),
        _u(r, 32),
        _u(r, 32),
        _u(r, 32),
        _u(r, 16),
    ),
    RTTRequest: lambda r, i: RTTRequest(i, _addr(r), r.randint(1, 255), _u(r, 16)),
    RTTReply: lambda r, i: RTTReply(i, _addr(r), r.choice(list(RTTStatus)), _u(r, 32), _u(r, 8)),
    MARequest: lambda r, i: MARequest(i, _node(r), _bytes(r, 0, MAX_COOKIE)),
    MAReply: lambda r, i: MAReply(i, _node(r), _addr(r), _u(r, 16), _u(r, 32), _u(r, 32)),
    MATableUpdate: lambda r, i: MATableUpdate(
        i, [_maEntry(r) for _ in range(r.choice((0, 1, 1, 2, 3, 5)))]
    ),
    AnswerTableUpdate: lambda r, i: AnswerTableUpdate(
        i, [_answerEntry(r) for _ in range(r.choice((0, 1, 1, 2, 3, 5)))]
    ),
    SyncRequest: lambda r, i: SyncRequest(i, r.randbytes(16), _u(r, 64)),
    LSError: lambda r, i: LSError(i, r.choice(list(LSErrorCode)), _text(r)),
    Assignment: lambda r, i: Assignment(i, _node(r), r.choice((1, 2)), Prefix(_u(r, 64))),
    CookieChallenge: lambda r, i: CookieChallenge(i, _bytes(r, 1, MAX_COOKIE)),
    SyncDone: lambda r, i: SyncDone(i, _u(r, 32), _u(r, 32)),
    Relay: lambda r, i: Relay(
        i, _addr(r), randomMessage(r, r.choice((RTTRequest, RTTReply, Assignment)))
    ),
    Register: lambda r, i: Register(
        i,
        _node(r),
        _locators(r),
        _u(r, 32),
        _u(r, 32),
        _u(r, 64),
        r.choice((RegisterFlags(0), RegisterFlags.PINNED)),
    ).sign(r.randbytes(32)),
    RegisterAck: lambda r, i: RegisterAck(
        i, _node(r), r.choice(list(RegisterStatus)), _u(r, 32), _u(r, 64)
    ),
    MapQuery: lambda r, i: MapQuery(i, _node(r)),
    MapReply: lambda r, i: (
        MapReply(i, _node(r), MapStatus.FOUND, _u(r, 32), _locators(r))
        if r.random() < 0.7
        else MapReply(i, _node(r), MapStatus.NOT_FOUND, _u(r, 32))
    ),
    Notify: lambda r, i: Notify(i, _node(r), _locators(r)),
    NotifyAck: lambda r, i: NotifyAck(i, _node(r)),
    Report: lambda r, i: Report(
        i,
        _node(r),
        _u(r, 64),
        _u(r, 32),
        _u(r, 64),
        _u(r, 64),
        _u(r, 32),
        _u(r, 32),
        _u(r, 32),
        r.randbytes(HMAC_SIZE),
    ),
}


def randomMessage(rng: random.Random, cls: type | None = None) -> Any:
    """
    A valid message of class C{cls} (or of a random class) with random
    field values, boundary values favoured.
    """
    if cls is None:
        cls = rng.choice(list(_MAKERS))
    return _MAKERS[cls](rng, _u(rng, 32))


# ---------------------------------------------------------------- mutations


def _fixLength(data: bytearray) -> None:
    if len(data) >= 4 and len(data) <= 0xFFFF:
        struct.pack_into("!H", data, 2, len(data))


def _mutate(rng: random.Random, frame: bytes, corpus: list[bytes]) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(11)
        size = len(data)
        if op == 0 and size:  # flip bits
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(size)] ^= 1 << rng.randrange(8)
        elif op == 1 and size:  # boundary value in a body byte (counts, lengths, enums)
            low = HEADER_SIZE if size > HEADER_SIZE else 0
            data[rng.randrange(low, size)] = rng.choice(_INTERESTING)
        elif op == 2:  # cut
            del data[rng.randrange(size + 1) :]
        elif op == 3:  # extend
            data += rng.randbytes(rng.choice((1, 1, 2, 16, 32, 53)))
        elif op == 4 and size:  # delete a run
            start = rng.randrange(size)
            del data[start : start + rng.randint(1, 16)]
        elif op == 5:  # insert a run
            at = rng.randrange(size + 1)
            data[at:at] = rng.randbytes(rng.randint(1, 16))
        elif op == 6 and size > 1:  # another type code
            data[1] = rng.choice(list(_ALL_TYPES)) if rng.random() < 0.8 else rng.randrange(256)
        elif op == 7 and size:  # another version
            data[0] = rng.choice((0, 2, 255))
        elif op == 8:  # splice with another frame
            other = rng.choice(corpus)
            cut = rng.randrange(min(size, len(other)) + 1)
            data = bytearray(data[:cut] + other[cut:])
        elif op == 9 and size > 3:  # a lying length field
            struct.pack_into("!H", data, 2, rng.choice((0, 7, 8, size - 1, size + 1, 0xFFFF)))
        elif op == 10 and size > HEADER_SIZE:  # random overwrite of a run in the body
            start = rng.randrange(HEADER_SIZE, size)
            run = rng.randbytes(min(rng.randint(1, 8), size - start))
            data[start : start + len(run)] = run
    if rng.random() < 0.6:
        _fixLength(data)
    return bytes(data)


def _randomBody(rng: random.Random) -> bytes:
    mtype = rng.choice(list(_ALL_TYPES)) if rng.random() < 0.9 else rng.randrange(256)
    body = rng.randbytes(rng.choice((0, 1, 8, 9, 13, 16, 17, 21, 22, 48, 53, 80, 120)))
    return struct.pack("!BBHI", 1, mtype, HEADER_SIZE + len(body), rng.getrandbits(32)) + body


def _inputs(rng: random.Random, corpus: list[bytes], own: list[bytes]) -> Iterator[bytes]:
    """
    An endless sequence of fuzz inputs; C{own} are valid frames of the
    decoder's own type(s), C{corpus} valid frames of every type.
    """
    while True:
        pick = rng.random()
        if pick < 0.08:
            yield rng.choice(own)
        elif pick < 0.70:
            yield _mutate(rng, rng.choice(own), corpus)
        elif pick < 0.80:
            yield _mutate(rng, rng.choice(corpus), corpus)
        elif pick < 0.92:
            yield _randomBody(rng)
        else:
            yield rng.randbytes(rng.randrange(0, 64))


# ---------------------------------------------------------------- decoders


def _streamDecode(data: bytes) -> list[bytes]:
    decoder = StreamDecoder()
    frames: list[bytes] = []
    # Feed in two uneven pieces; the frames must tile a prefix of the input.
    cut = len(data) // 3
    frames += decoder.feed(data[:cut])
    frames += decoder.feed(data[cut:])
    if not data.startswith(b"".join(frames)):
        raise AssertionError("stream frames are not a prefix of the input")
    for frame in frames:
        splitDatagram(frame)
    return frames


DECODERS: Final[dict[str, Callable[[bytes], object]]] = {
    "ls": decodeLSMessage,
    "mapping": decodeMappingMessage,
    "datagram": splitDatagram,
    "stream": _streamDecode,
    **{f"ls.{cls.__name__}": cls.decode for cls in LS_TYPES.values()},
    **{f"mapping.{cls.__name__}": cls.decode for cls in MAPPING_TYPES.values()},
}
"""Every decoder the fuzzer exercises, by name."""

_OWN_TYPES: Final[dict[str, list[type]]] = {
    "ls": list(LS_TYPES.values()),
    "mapping": list(MAPPING_TYPES.values()),
    "datagram": list(_ALL_TYPES.values()),
    "stream": list(_ALL_TYPES.values()),
    **{f"ls.{cls.__name__}": [cls] for cls in LS_TYPES.values()},
    **{f"mapping.{cls.__name__}": [cls] for cls in MAPPING_TYPES.values()},
}


def _checkAccepted(name: str, data: bytes, result: object, seed: int) -> None:
    if isinstance(result, bytes | list):
        return
    try:
        again = result.encode()  # type: ignore[attr-defined]
    except Exception as e:
        raise FuzzFailure(name, data, seed, f"decoded value does not encode: {e!r}") from e
    if again != data:
        raise FuzzFailure(name, data, seed, f"re-encodes differently: {again.hex()}")
    try:
        rebuilt = attrs.evolve(result)  # type: ignore[misc]
    except WireError as e:
        raise FuzzFailure(name, data, seed, f"decoded a value construction refuses: {e}") from e
    if rebuilt != result:
        raise FuzzFailure(name, data, seed, "decoded value changes when rebuilt")


def fuzzDecoder(
    name: str,
    count: int,
    seed: int,
    corpusSize: int = 64,
    decode: Callable[[bytes], object] | None = None,
) -> FuzzReport:
    """
    Feed C{count} fuzz inputs to the decoder called C{name}.

    @param seed: the run's seed; the same name, count and seed give the
        same inputs.
    @param corpusSize: valid frames generated per message type to mutate.
    @param decode: a decoder to use instead of C{DECODERS[name]} (fed the
        inputs meant for C{name}).
    @raise FuzzFailure: if the decoder misbehaves.
    @raise KeyError: if C{name} is not in L{DECODERS}.
    """
    if decode is None:
        decode = DECODERS[name]
    rng = random.Random(f"{seed}:{name}")  # noqa: S311 - reproducible fuzzing, not security
    byType = {
        cls: [randomMessage(rng, cls).encode() for _ in range(corpusSize)]
        for cls in _ALL_TYPES.values()
    }
    corpus = [frame for frames in byType.values() for frame in frames]
    own = [frame for cls in _OWN_TYPES[name] for frame in byType[cls]]
    if name == "stream":
        own = [b"".join(rng.sample(corpus, rng.randint(1, 4))) for _ in range(corpusSize * 4)]
    accepted = 0
    rejected: dict[str, int] = {}
    inputs = _inputs(rng, corpus, own)
    for _ in range(count):
        data = next(inputs)
        try:
            result = decode(data)
        except WireError as e:
            key = type(e).__name__
            rejected[key] = rejected.get(key, 0) + 1
            continue
        except Exception as e:
            raise FuzzFailure(name, data, seed, f"raised {e!r}") from e
        _checkAccepted(name, data, result, seed)
        accepted += 1
    return FuzzReport(name, count, accepted, rejected, seed)


def fuzzAll(count: int, seed: int | None = None) -> list[FuzzReport]:
    """
    Fuzz every decoder of L{DECODERS} with C{count} inputs each.

    @param seed: the run's seed; a fresh one (see the reports) if C{None}.
    @raise FuzzFailure: if a decoder misbehaves.
    """
    if seed is None:
        seed = newSeed()
    return [fuzzDecoder(name, count, seed) for name in DECODERS]
