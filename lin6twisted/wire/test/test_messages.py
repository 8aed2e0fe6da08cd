"""
Tests for the messages of L{lin6twisted.wire.ls} and
L{lin6twisted.wire.mapping}: round trips, bad input, construction checks.
"""

from __future__ import annotations

import enum
import struct
import unittest
from ipaddress import IPv6Address
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from lin6twisted.address import NodeID, Prefix
from lin6twisted.wire import (
    LS_TYPES,
    MAPPING_TYPES,
    MAX_FRAME,
    AnswerEntry,
    AnswerTableUpdate,
    Assignment,
    BadLength,
    BadVersion,
    CookieChallenge,
    Heartbeat,
    InvalidField,
    LSError,
    LSErrorCode,
    LSMessage,
    MAEntry,
    MalformedBody,
    MappingMessage,
    MapQuery,
    MapReply,
    MapStatus,
    MAReply,
    MARequest,
    MATableUpdate,
    Notify,
    OversizedFrame,
    Register,
    RegisterAck,
    RegisterFlags,
    RegisterStatus,
    Relay,
    Report,
    RTTReply,
    RTTRequest,
    RTTStatus,
    SyncRequest,
    TruncatedFrame,
    UnknownType,
    WireError,
    decodeLSMessage,
    decodeMappingMessage,
)
from lin6twisted.wire.test.strategies import (
    LS_MESSAGES,
    MAPPING_MESSAGES,
    answerEntries,
    maEntries,
)
from lin6twisted.wire.test.vectors import VECTORS

_ADDR = IPv6Address("2001:db8::1")
_NODE = NodeID.fromString("201:4a00:0:2")
_KEY = b"k" * 32


def _roundTrip(case: unittest.TestCase, message: Any) -> None:
    data = message.encode()
    case.assertEqual(len(data), int.from_bytes(data[2:4], "big"))
    case.assertEqual(type(message).decode(data), message)
    dispatch = decodeLSMessage if data[1] < 0x20 else decodeMappingMessage
    decoded = dispatch(data)
    case.assertEqual(decoded, message)
    case.assertIs(type(decoded), type(message))
    case.assertEqual(decoded.encode(), data)


class RoundTripPropertyTests(unittest.TestCase):
    """
    Every message type survives encode then decode, for any valid values.
    """

    def test_coverage(self) -> None:
        """
        The strategies cover every message class of both protocols.
        """
        self.assertEqual(set(LS_MESSAGES), set(LS_TYPES.values()))
        self.assertEqual(set(MAPPING_MESSAGES), set(MAPPING_TYPES.values()))


def _makePropertyTest(cls: type, strategy: Any) -> Any:
    @settings(max_examples=60, deadline=None)
    @given(strategy)
    def test(self: unittest.TestCase, message: Any) -> None:
        _roundTrip(self, message)

    test.__name__ = f"test_roundTrip{cls.__name__}"
    test.__doc__ = f"L{{{cls.__name__}}} round-trips through its codec and the dispatcher."
    return test


for _cls, _strategy in {**LS_MESSAGES, **MAPPING_MESSAGES}.items():
    setattr(
        RoundTripPropertyTests,
        f"test_roundTrip{_cls.__name__}",
        _makePropertyTest(_cls, _strategy),
    )


class EntryPropertyTests(unittest.TestCase):
    """
    Table entries round-trip inside their update messages.
    """

    @settings(max_examples=50, deadline=None)
    @given(st.lists(maEntries, min_size=1, max_size=3))
    def test_maEntries(self, entries: list[MAEntry]) -> None:
        """
        L{MAEntry} rows round-trip.
        """
        _roundTrip(self, MATableUpdate(1, entries))

    @settings(max_examples=50, deadline=None)
    @given(st.lists(answerEntries, min_size=1, max_size=3))
    def test_answerEntries(self, entries: list[AnswerEntry]) -> None:
        """
        L{AnswerEntry} rows round-trip.
        """
        _roundTrip(self, AnswerTableUpdate(1, entries))


class BadInputTests(unittest.TestCase):
    """
    Decoders reject truncated, padded and mislabelled frames with the
    right error, for every vector.
    """

    def test_everyPrefixRejected(self) -> None:
        """
        Every proper prefix of every vector raises a L{WireError}:
        L{TruncatedFrame} while the header's length is not reached.
        """
        for name, message in VECTORS.items():
            data = message.encode()
            for size in range(len(data)):
                with self.subTest(vector=name, size=size), self.assertRaises(TruncatedFrame):
                    type(message).decode(data[:size])

    def test_trailingByte(self) -> None:
        """
        A byte after the frame raises L{BadLength}.
        """
        for name, message in VECTORS.items():
            with self.subTest(vector=name), self.assertRaises(BadLength):
                type(message).decode(message.encode() + b"\x00")

    def test_lengthFieldLies(self) -> None:
        """
        A length field that disagrees with the body raises L{BadLength}
        (frame shortened and length fixed up to match).
        """
        for name, message in VECTORS.items():
            data = message.encode()
            short = data[:2] + struct.pack("!H", len(data) - 1) + data[4:-1]
            with self.subTest(vector=name), self.assertRaises((BadLength, MalformedBody)):
                type(message).decode(short)

    def test_wrongVersion(self) -> None:
        """
        A version other than 1 raises L{BadVersion}.
        """
        for name, message in VECTORS.items():
            data = message.encode()
            with self.subTest(vector=name), self.assertRaises(BadVersion):
                type(message).decode(b"\x02" + data[1:])

    def test_wrongType(self) -> None:
        """
        A class decoder given another type raises L{UnknownType}.
        """
        query = MapQuery(1, _NODE).encode()
        for cls in [*LS_TYPES.values(), *MAPPING_TYPES.values()]:
            if cls is MapQuery:
                continue
            with self.subTest(cls=cls.__name__), self.assertRaises(UnknownType):
                cls.decode(query)

    def test_dispatchUnknown(self) -> None:
        """
        The dispatchers reject the other protocol's and unassigned codes.
        """
        for code in [0x00, 0x0E, 0x1F, 0x7F, 0xFF, *MAPPING_TYPES]:
            with self.assertRaises(UnknownType):
                decodeLSMessage(bytes([1, code, 0, 8, 0, 0, 0, 1]))
        for code in [0x00, 0x27, 0x7F, *LS_TYPES]:
            with self.assertRaises(UnknownType):
                decodeMappingMessage(bytes([1, code, 0, 8, 0, 0, 0, 1]))

    def test_dispatchShort(self) -> None:
        """
        The dispatchers reject input shorter than a header.
        """
        for decode in (decodeLSMessage, decodeMappingMessage):
            with self.assertRaises(TruncatedFrame):
                decode(b"\x01")

    def test_oversizedInput(self) -> None:
        """
        Input longer than L{MAX_FRAME} raises L{OversizedFrame}.
        """
        data = bytes([1, 6, 0xFF, 0xFF, 0, 0, 0, 1]) + bytes(MAX_FRAME)
        with self.assertRaises(OversizedFrame):
            decodeLSMessage(data)

    def test_unknownEnums(self) -> None:
        """
        Undefined status and code values raise L{MalformedBody}.
        """
        cases: list[tuple[LSMessage | MappingMessage, int]] = [
            (RTTReply(1, _ADDR, RTTStatus.OK, 1, 1), 24),
            (RegisterAck(1, _NODE, RegisterStatus.OK, 1, 1), 16),
            (MapReply(1, _NODE, MapStatus.NOT_FOUND, 1), 16),
        ]
        for message, offset in cases:
            data = bytearray(message.encode())
            data[offset] = 0xEE
            with self.subTest(message=type(message).__name__):
                with self.assertRaises(MalformedBody) as caught:
                    type(message).decode(bytes(data))
                self.assertEqual(caught.exception.offset, offset)
                self.assertEqual(caught.exception.requestId, 1)
        data = bytearray(LSError(1, LSErrorCode.INTERNAL).encode())
        data[9] = 0
        with self.assertRaises(MalformedBody):
            LSError.decode(bytes(data))

    def test_rttRequestZeroCount(self) -> None:
        """
        An RTT_REQUEST for zero probes is malformed.
        """
        data = bytearray(RTTRequest(1, _ADDR).encode())
        data[24] = 0
        with self.assertRaises(MalformedBody):
            RTTRequest.decode(bytes(data))

    def test_cookieTooLong(self) -> None:
        """
        Cookie lengths above 32 are malformed.
        """
        data = MARequest(1, _NODE).encode()
        long = data[:2] + struct.pack("!H", 17 + 33) + data[4:16] + b"\x21" + bytes(33)
        with self.assertRaises(MalformedBody):
            MARequest.decode(long)
        with self.assertRaises(MalformedBody):
            CookieChallenge.decode(bytes([1, 0x0B, 0, 42, 0, 0, 0, 1, 33]) + bytes(33))
        with self.assertRaises(MalformedBody):
            CookieChallenge.decode(bytes([1, 0x0B, 0, 10, 0, 0, 0, 1, 0, 0]))

    def test_errorMessageTooLong(self) -> None:
        """
        An ERROR message length above 512 is malformed.
        """
        data = bytes([1, 9]) + struct.pack("!HIHH", 12 + 513, 1, 1, 513) + b"a" * 513
        with self.assertRaises(MalformedBody):
            LSError.decode(data)

    def test_tooManyLocators(self) -> None:
        """
        More than 8 locators is malformed.
        """
        message = Notify(1, _NODE, [_ADDR])
        data = message.encode()
        nine = data[:2] + struct.pack("!H", 17 + 9 * 16) + data[4:16] + b"\x09" + bytes(9 * 16)
        with self.assertRaises(MalformedBody):
            Notify.decode(nine)


class RelayTests(unittest.TestCase):
    """
    The relay envelope carries RTT and assignment messages between LSs.
    """

    def test_innerChecked(self) -> None:
        """
        Only RTT_REQUEST, RTT_REPLY and ASSIGNMENT are relayed.
        """
        with self.assertRaises(InvalidField):
            Relay(1, _ADDR, MapQuery(1, _NODE))  # type: ignore[arg-type]
        inner = Heartbeat(1, _ADDR, 1, 1, 1, 1, 1, 1, 1).encode()
        data = bytes([1, 0x0D]) + struct.pack("!HI", 24 + len(inner), 1) + _ADDR.packed + inner
        with self.assertRaises(MalformedBody) as caught:
            Relay.decode(data)
        self.assertEqual(caught.exception.offset, 25)

    def test_innerErrorOffsets(self) -> None:
        """
        An error in the inner frame keeps its class and counts offsets from
        the outer frame.
        """
        frame = bytearray(Relay(7, _ADDR, RTTReply(1, _ADDR, RTTStatus.OK, 1, 1)).encode())
        frame[24 + 24] = 0xEE  # the inner status byte
        with self.assertRaises(MalformedBody) as caught:
            Relay.decode(bytes(frame))
        self.assertEqual(caught.exception.offset, 48)
        self.assertEqual(caught.exception.requestId, 7)
        frame = bytearray(Relay(7, _ADDR, RTTRequest(1, _ADDR)).encode())
        frame[24] = 2  # the inner version
        with self.assertRaises(BadVersion):
            Relay.decode(bytes(frame))


class ConstructionTests(unittest.TestCase):
    """
    Messages check their fields when built.
    """

    def test_ranges(self) -> None:
        """
        Out-of-range integers raise L{InvalidField}, naming class and field.
        """
        with self.assertRaises(InvalidField) as caught:
            Heartbeat(1, _ADDR, 70000, 1, 1, 1, 1, 1, 1)
        self.assertIn("Heartbeat.maPort", str(caught.exception))
        for bad in (-1, 1 << 32, 1.5, True, "1", None):
            with self.subTest(requestId=bad), self.assertRaises(InvalidField):
                MapQuery(bad, _NODE)  # type: ignore[arg-type]

    def test_types(self) -> None:
        """
        Addresses, Node IDs and prefixes must be of their types.
        """
        with self.assertRaises(InvalidField):
            MAReply(1, _NODE, "2001:db8::1", 1, 1, 1)  # type: ignore[arg-type]
        with self.assertRaises(InvalidField):
            MapQuery(1, 5)  # type: ignore[arg-type]
        with self.assertRaises(InvalidField):
            Assignment(1, _NODE, 1, "2001:db8::/64")  # type: ignore[arg-type]
        with self.assertRaises(InvalidField):
            MATableUpdate(1, [object()])  # type: ignore[list-item]
        with self.assertRaises(InvalidField):
            MATableUpdate(1, 5)  # type: ignore[arg-type]

    def test_enums(self) -> None:
        """
        Enum fields take members or their values, nothing else.
        """
        self.assertIs(RTTReply(1, _ADDR, 1, 0, 0).status, RTTStatus.TIMEOUT)
        for bad in (99, -1, "OK", True):
            with self.assertRaises(InvalidField):
                RTTReply(1, _ADDR, bad, 0, 0)  # type: ignore[arg-type]
        with self.assertRaises(InvalidField):
            LSError(1, 0)

    def test_bytesFields(self) -> None:
        """
        Cookies and ids have bounded lengths.
        """
        with self.assertRaises(InvalidField):
            MARequest(1, _NODE, bytes(33))
        with self.assertRaises(InvalidField):
            MARequest(1, _NODE, "abc")  # type: ignore[arg-type]
        with self.assertRaises(InvalidField):
            CookieChallenge(1, b"")
        with self.assertRaises(InvalidField):
            SyncRequest(1, bytes(15), 1)

    def test_errorMessage(self) -> None:
        """
        ERROR messages are at most 512 bytes of UTF-8.
        """
        LSError(1, LSErrorCode.INTERNAL, "é" * 256)
        with self.assertRaises(InvalidField):
            LSError(1, LSErrorCode.INTERNAL, "é" * 257)
        with self.assertRaises(InvalidField):
            LSError(1, LSErrorCode.INTERNAL, "\ud800")
        with self.assertRaises(InvalidField):
            LSError(1, LSErrorCode.INTERNAL, b"x")  # type: ignore[arg-type]

    def test_levels(self) -> None:
        """
        ASSIGNMENT levels are 1 and 2.
        """
        prefix = Prefix.fromString("2001:db8::/64")
        self.assertEqual(Assignment(1, _NODE, 2, prefix).level, 2)
        for bad in (0, 3):
            with self.assertRaises(InvalidField):
                Assignment(1, _NODE, bad, prefix)

    def test_intEnumValues(self) -> None:
        """
        Integer fields take C{IntEnum} members (such as the directory's
        C{ServiceLevel}), which decode back as equal integers.
        """

        class Level(enum.IntEnum):
            NORMAL = 1
            PREMIUM = 2

        message = Assignment(1, _NODE, Level.PREMIUM, Prefix(5))
        decoded = Assignment.decode(message.encode())
        self.assertEqual(decoded, message)
        self.assertEqual(Level(decoded.level), Level.PREMIUM)

    def test_rttCount(self) -> None:
        """
        RTT requests ask for 1..255 probes (4 by default).
        """
        self.assertEqual(RTTRequest(1, _ADDR).count, 4)
        with self.assertRaises(InvalidField):
            RTTRequest(1, _ADDR, 0)

    def test_locators(self) -> None:
        """
        Locator lists hold 1..8 addresses (none for a negative reply) and
        any iterable becomes a tuple.
        """
        self.assertEqual(Notify(1, _NODE, [_ADDR]).locators, (_ADDR,))
        for bad in ([], [_ADDR] * 9, ["2001:db8::1"], "2001:db8::1", 5):
            with self.subTest(locators=bad), self.assertRaises(InvalidField):
                Notify(1, _NODE, bad)  # type: ignore[arg-type]
        with self.assertRaises(InvalidField):
            MapReply(1, _NODE, MapStatus.FOUND, 1)
        with self.assertRaises(InvalidField):
            MapReply(1, _NODE, MapStatus.NOT_FOUND, 1, [_ADDR])

    def test_flags(self) -> None:
        """
        REGISTER flags accept defined bits only, and become L{RegisterFlags}.
        """
        r = Register(1, _NODE, [_ADDR], 1, 1, 1, 1)  # type: ignore[arg-type]
        self.assertIs(type(r.flags), RegisterFlags)
        self.assertEqual(r.flags, RegisterFlags.PINNED)
        for bad in (2, 0x80, -1, True):
            with self.assertRaises(InvalidField):
                Register(1, _NODE, [_ADDR], 1, 1, 1, bad)  # type: ignore[arg-type]

    def test_hmacSize(self) -> None:
        """
        The HMAC field is 32 bytes.
        """
        with self.assertRaises(InvalidField):
            Register(1, _NODE, [_ADDR], 1, 1, 1, hmac=b"x")
        with self.assertRaises(InvalidField):
            Report(1, _NODE, 1, 1, 1, 1, 1, 1, hmac=b"x")

    def test_frozen(self) -> None:
        """
        Messages are immutable and hashable.
        """
        query = MapQuery(1, _NODE)
        with self.assertRaises(attrs.exceptions.FrozenInstanceError):
            query.requestId = 2  # type: ignore[misc]
        self.assertEqual(hash(query), hash(MapQuery(1, _NODE)))


class TableBatchTests(unittest.TestCase):
    """
    Long tables are split into frames that fit.
    """

    def _entry(self, i: int) -> MAEntry:
        return MAEntry(IPv6Address(i), 1, 1, i, 1, 1, 1, 1, True, 1)

    def test_maxEntries(self) -> None:
        """
        A full update fits in L{MAX_FRAME}; one entry more does not.
        """
        full = MATableUpdate(1, [self._entry(1)] * MATableUpdate.MAX_ENTRIES)
        self.assertLessEqual(len(full.encode()), MAX_FRAME)
        with self.assertRaises(OversizedFrame):
            MATableUpdate(1, [self._entry(1)] * (MATableUpdate.MAX_ENTRIES + 1))
        answer = AnswerEntry(Prefix(1), _ADDR, 1, 1, 1, 1)
        full2 = AnswerTableUpdate(1, [answer] * AnswerTableUpdate.MAX_ENTRIES)
        self.assertLessEqual(len(full2.encode()), MAX_FRAME)
        with self.assertRaises(OversizedFrame):
            AnswerTableUpdate(1, [answer] * (AnswerTableUpdate.MAX_ENTRIES + 1))

    def test_batches(self) -> None:
        """
        L{MATableUpdate.inBatches} keeps every entry, in order, in frames
        below the limit.
        """
        entries = [self._entry(i) for i in range(3000)]
        batches = MATableUpdate.inBatches(9, entries)
        self.assertEqual(len(batches), 3)
        self.assertEqual([e for b in batches for e in b.entries], entries)
        self.assertTrue(all(b.requestId == 9 for b in batches))
        small = MATableUpdate.inBatches(9, entries[:10], maxFrame=1200)
        self.assertTrue(all(len(b.encode()) <= 1200 for b in small))
        self.assertEqual([e for b in small for e in b.entries], entries[:10])
        self.assertEqual(MATableUpdate.inBatches(9, []), [])
        with self.assertRaises(InvalidField):
            MATableUpdate.inBatches(9, entries, maxFrame=20)

    def test_answerBatches(self) -> None:
        """
        L{AnswerTableUpdate.inBatches} likewise.
        """
        entries = [AnswerEntry(Prefix(i), _ADDR, 1, i, 1, 1) for i in range(2000)]
        batches = AnswerTableUpdate.inBatches(3, entries)
        self.assertEqual(len(batches), 2)
        self.assertEqual([e for b in batches for e in b.entries], entries)
        for b in batches:
            self.assertEqual(AnswerTableUpdate.decode(b.encode()), b)

    def test_entryChecks(self) -> None:
        """
        Entries check their fields.
        """
        with self.assertRaises(InvalidField):
            MAEntry(_ADDR, 1, 1, 1, 1, 1, 1, 1, 1, 1)  # type: ignore[arg-type]
        with self.assertRaises(InvalidField):
            AnswerEntry(Prefix(1), _ADDR, 1, -1, 1, 1)
        for level in (0, 3):
            with self.assertRaises(InvalidField):
                AnswerEntry(Prefix(1), _ADDR, 1, 1, 1, 1, level)

    def test_answerLevel(self) -> None:
        """
        An answer row carries the user's service level (1 normal, the
        default, or 2 premium) in its last byte; any other value makes the
        frame malformed, pointing at that byte.
        """
        rows = [
            AnswerEntry(Prefix(1), _ADDR, 1, 1, 1, 1),
            AnswerEntry(Prefix(2), _ADDR, 1, 1, 1, 1, 2),
        ]
        data = AnswerTableUpdate(7, rows).encode()
        self.assertEqual((data[10 + 42], data[10 + 43 + 42]), (1, 2))
        self.assertEqual([e.level for e in AnswerTableUpdate.decode(data).entries], [1, 2])
        bad = bytearray(data)
        bad[10 + 43 + 42] = 3
        with self.assertRaises(MalformedBody) as caught:
            AnswerTableUpdate.decode(bytes(bad))
        self.assertEqual((caught.exception.offset, caught.exception.requestId), (10 + 43 + 42, 7))


class SignatureTests(unittest.TestCase):
    """
    REGISTER and REPORT are signed with HMAC-SHA256 over the frame.
    """

    def _register(self, **changes: Any) -> Register:
        fields: dict[str, Any] = {
            "requestId": 1,
            "nodeID": _NODE,
            "locators": (_ADDR,),
            "lifetime": 300,
            "keyID": 1,
            "sequence": 5,
        }
        fields.update(changes)
        return Register(**fields)

    def test_signVerify(self) -> None:
        """
        A signed message verifies under its key only.
        """
        for message in (self._register(), Report(1, _NODE, 1, 1, 1, 1, 1, 1)):
            signed = message.sign(_KEY)
            self.assertNotEqual(signed.hmac, bytes(32))
            self.assertTrue(signed.verify(_KEY))
            self.assertFalse(signed.verify(b"other key"))
            self.assertFalse(message.verify(_KEY))
            decoded = type(message).decode(signed.encode())
            self.assertTrue(decoded.verify(_KEY))

    def test_coversEveryByte(self) -> None:
        """
        Changing any byte before the HMAC, header included, breaks it.
        """
        for message in (
            self._register(locators=(_ADDR, _ADDR)),
            Report(1, _NODE, 1, 1, 1, 1, 1, 1),
        ):
            data = message.sign(_KEY).encode()
            for i in range(len(data) - 32):
                tampered = bytearray(data)
                tampered[i] ^= 0x01
                try:
                    decoded = type(message).decode(bytes(tampered))
                except WireError:
                    continue
                with self.subTest(message=type(message).__name__, byte=i):
                    self.assertFalse(decoded.verify(_KEY))

    def test_requestIdCovered(self) -> None:
        """
        The header's request id is under the HMAC.
        """
        signed = self._register().sign(_KEY)
        moved = attrs.evolve(signed, requestId=2)
        self.assertFalse(moved.verify(_KEY))

    def test_knownDigest(self) -> None:
        """
        The tag is the standard HMAC-SHA256 of the bytes before it.
        """
        import hashlib
        import hmac

        data = self._register().sign(_KEY).encode()
        self.assertEqual(data[-32:], hmac.new(_KEY, data[:-32], hashlib.sha256).digest())

    def test_emptyKey(self) -> None:
        """
        An empty key is refused.
        """
        with self.assertRaises(InvalidField):
            self._register().sign(b"")
        with self.assertRaises(InvalidField):
            self._register().verify(b"")

    @settings(max_examples=30, deadline=None)
    @given(
        st.one_of(MAPPING_MESSAGES[Register], MAPPING_MESSAGES[Report]),
        st.binary(min_size=1, max_size=64),
    )
    def test_signatureRoundTrip(self, message: Any, key: bytes) -> None:
        """
        Signing then decoding keeps the signature valid.
        """
        self.assertTrue(type(message).decode(message.sign(key).encode()).verify(key))
