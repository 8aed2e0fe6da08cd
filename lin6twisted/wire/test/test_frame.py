"""
Tests for L{lin6twisted.wire._frame}: the header, datagram and stream
framing, and the error types.
"""

from __future__ import annotations

import ast
import ipaddress
import unittest
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lin6twisted import wire
from lin6twisted.address import NodeID
from lin6twisted.wire import (
    HEADER_SIZE,
    MAX_FRAME,
    BadLength,
    BadVersion,
    InvalidField,
    MapQuery,
    OversizedFrame,
    StreamDecoder,
    TruncatedFrame,
    WireError,
    _codec,
    peekHeader,
    splitDatagram,
)
from lin6twisted.wire.test.strategies import anyMessage

_QUERY = MapQuery(0x01020304, NodeID(0x02014A0000000002)).encode()


class ErrorTypeTests(unittest.TestCase):
    """
    The error hierarchy.
    """

    def test_hierarchy(self) -> None:
        """
        Every error is a L{WireError}, itself a L{ValueError}.
        """
        for cls in (
            TruncatedFrame,
            BadVersion,
            wire.UnknownType,
            BadLength,
            OversizedFrame,
            wire.MalformedBody,
            InvalidField,
        ):
            self.assertTrue(issubclass(cls, WireError))
        self.assertTrue(issubclass(WireError, ValueError))

    def test_carriesHeader(self) -> None:
        """
        An error raised after the header was read carries the type and
        request id, so a server can answer the request.
        """
        with self.assertRaises(BadLength) as caught:
            splitDatagram(_QUERY + b"\x00")
        self.assertEqual(caught.exception.requestId, 0x01020304)
        self.assertEqual(caught.exception.messageType, 0x22)
        self.assertEqual(caught.exception.offset, 16)


class HeaderTests(unittest.TestCase):
    """
    L{peekHeader} and L{splitDatagram}.
    """

    def test_peek(self) -> None:
        """
        L{peekHeader} returns the four header fields.
        """
        self.assertEqual(peekHeader(_QUERY), (1, 0x22, 16, 0x01020304))

    def test_peekShort(self) -> None:
        """
        Fewer than 8 bytes is a L{TruncatedFrame}.
        """
        for size in range(HEADER_SIZE):
            with self.assertRaises(TruncatedFrame):
                peekHeader(_QUERY[:size])

    def test_datagram(self) -> None:
        """
        A datagram holding exactly one frame is returned as bytes.
        """
        self.assertEqual(splitDatagram(bytearray(_QUERY)), _QUERY)
        self.assertIs(type(splitDatagram(memoryview(_QUERY))), bytes)

    def test_datagramTruncated(self) -> None:
        """
        Any prefix of a frame is rejected.
        """
        for size in range(len(_QUERY)):
            with self.assertRaises(TruncatedFrame):
                splitDatagram(_QUERY[:size])

    def test_datagramTrailing(self) -> None:
        """
        Bytes after the frame's length are rejected.
        """
        with self.assertRaises(BadLength):
            splitDatagram(_QUERY + _QUERY)

    def test_datagramVersion(self) -> None:
        """
        Any version but 1 is rejected.
        """
        for version in (0, 2, 255):
            with self.assertRaises(BadVersion):
                splitDatagram(bytes([version]) + _QUERY[1:])

    def test_datagramLengthBelowHeader(self) -> None:
        """
        A length below the header size is rejected.
        """
        for length in range(HEADER_SIZE):
            data = _QUERY[:2] + length.to_bytes(2, "big") + _QUERY[4:8]
            with self.assertRaises(BadLength):
                splitDatagram(data)

    def test_datagramOversized(self) -> None:
        """
        More than L{MAX_FRAME} bytes is rejected.
        """
        data = _QUERY[:2] + b"\xff\xff" + _QUERY[4:8] + bytes(MAX_FRAME - 7)
        with self.assertRaises(OversizedFrame):
            splitDatagram(data)


class StreamDecoderTests(unittest.TestCase):
    """
    L{StreamDecoder} splits a byte stream into frames.
    """

    def test_whole(self) -> None:
        """
        Whole frames come out as they went in.
        """
        self.assertEqual(StreamDecoder().feed(_QUERY), [_QUERY])

    def test_merged(self) -> None:
        """
        Several frames in one chunk come out separately, in order.
        """
        self.assertEqual(StreamDecoder().feed(_QUERY * 3), [_QUERY] * 3)

    def test_byteByByte(self) -> None:
        """
        A frame fed a byte at a time comes out when its last byte arrives.
        """
        decoder = StreamDecoder()
        for i in range(len(_QUERY) - 1):
            self.assertEqual(decoder.feed(_QUERY[i : i + 1]), [])
            self.assertEqual(decoder.buffered, i + 1)
        self.assertEqual(decoder.feed(_QUERY[-1:]), [_QUERY])
        self.assertEqual(decoder.buffered, 0)

    def test_empty(self) -> None:
        """
        Feeding nothing returns nothing.
        """
        self.assertEqual(StreamDecoder().feed(b""), [])

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(anyMessage, min_size=1, max_size=8),
        st.lists(st.integers(1, 300), min_size=1, max_size=40),
    )
    def test_randomChunking(self, messages: list[object], cuts: list[int]) -> None:
        """
        However the stream is cut, the same frames come out in order.
        """
        frames = [m.encode() for m in messages]  # type: ignore[attr-defined]
        stream = b"".join(frames)
        decoder = StreamDecoder()
        out: list[bytes] = []
        pos = 0
        i = 0
        while pos < len(stream):
            size = cuts[i % len(cuts)]
            out += decoder.feed(stream[pos : pos + size])
            pos += size
            i += 1
        self.assertEqual(out, frames)
        self.assertEqual(decoder.buffered, 0)

    def test_badVersion(self) -> None:
        """
        A header of another version raises, and the stream stays dead.
        """
        decoder = StreamDecoder()
        self.assertEqual(decoder.feed(_QUERY), [_QUERY])
        with self.assertRaises(BadVersion) as caught:
            decoder.feed(b"\x02" + _QUERY[1:])
        self.assertEqual(caught.exception.offset, 16)
        with self.assertRaises(BadVersion):
            decoder.feed(_QUERY)

    def test_badLength(self) -> None:
        """
        A length below the header size raises L{BadLength}.
        """
        with self.assertRaises(BadLength):
            StreamDecoder().feed(_QUERY[:2] + b"\x00\x07" + _QUERY[4:])

    def test_errorAfterGoodFrames(self) -> None:
        """
        An error in a chunk raises even when good frames precede it in the
        same chunk (the connection is dropped anyway).
        """
        with self.assertRaises(BadVersion):
            StreamDecoder().feed(_QUERY + b"\x09" + _QUERY[1:])

    def test_oversized(self) -> None:
        """
        A frame longer than the decoder's limit raises L{OversizedFrame}
        as soon as its header arrives.
        """
        decoder = StreamDecoder(maxFrame=15)
        with self.assertRaises(OversizedFrame):
            decoder.feed(_QUERY[:8])

    def test_maxFrameRange(self) -> None:
        """
        The limit must lie between the header size and L{MAX_FRAME}.
        """
        for bad in (0, HEADER_SIZE - 1, MAX_FRAME + 1):
            with self.assertRaises(InvalidField):
                StreamDecoder(maxFrame=bad)

    def test_largeFrame(self) -> None:
        """
        A maximum-size frame goes through in pieces.
        """
        frame = _QUERY[:2] + b"\xff\xff" + _QUERY[4:8] + bytes(MAX_FRAME - 8)
        decoder = StreamDecoder()
        out: list[bytes] = []
        for i in range(0, len(frame), 4096):
            out += decoder.feed(frame[i : i + 4096])
        self.assertEqual(out, [frame])


class PackageTests(unittest.TestCase):
    """
    The wire package's public names, and its independence from Twisted.
    """

    def test_exports(self) -> None:
        """
        Every name in an C{__all__} of the package exists.
        """
        from lin6twisted.wire import _frame, fuzz, ls, mapping

        for module in (wire, _frame, ls, mapping, fuzz):
            missing = [name for name in module.__all__ if not hasattr(module, name)]
            self.assertEqual(missing, [], module.__name__)
        for module in (ls, mapping):
            for name in module.__all__:
                self.assertIs(getattr(wire, name), getattr(module, name))

    def test_noTwistedImports(self) -> None:
        """
        No module under C{lin6twisted/wire} imports C{twisted}.
        """
        root = Path(wire.__file__).parent
        offenders = []
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "twisted"]
        self.assertEqual(offenders, [])


class FastAddressTests(unittest.TestCase):
    """
    L{lin6twisted.wire._codec.fastAddress} shares decoded addresses.
    """

    def test_shared(self) -> None:
        """
        The same 16 bytes give the same (equal and identical) address.
        """
        packed = ipaddress.IPv6Address("2001:db8::7").packed
        first = _codec.fastAddress(packed)
        self.assertEqual(first, ipaddress.IPv6Address("2001:db8::7"))
        self.assertIs(_codec.fastAddress(bytes(packed)), first)

    def test_bounded(self) -> None:
        """
        The cache never holds more than C{ADDRESS_CACHE_SIZE} addresses,
        and what it returns after starting over is still right.
        """
        for i in range(_codec.ADDRESS_CACHE_SIZE + 10):
            address = _codec.fastAddress(i.to_bytes(16, "big"))
            self.assertLessEqual(len(_codec._ADDRESSES), _codec.ADDRESS_CACHE_SIZE)
        self.assertEqual(int(address), _codec.ADDRESS_CACHE_SIZE + 9)
