# -*- test-case-name: lin6twisted.wire.test.test_messages,lin6twisted.wire.test.test_vectors -*-
"""
The Load Sharing (LS) protocol: MA <-> LS, MN <-> LS and LS <-> LS messages.

Codes 0x01-0x08 are the paper's and fixed; 0x09-0x0D are ours.  Every
message is a frozen attrs value with a C{requestId}, an C{encode()} giving
the whole frame (header included) and a classmethod C{decode(data)} taking
exactly one frame.  L{decodeLSMessage} dispatches on the type code.  Byte
layouts are in C{docs/protocol.md}.

Construction checks every field and raises L{InvalidField} (or
L{OversizedFrame} for lists that do not fit in a frame); decoding raises
nothing but L{WireError} subclasses.

This module has no Twisted imports.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar, Final, Self, TypeAlias

from attrs import field, frozen

from lin6twisted.address import NodeID, Prefix
from lin6twisted.wire._codec import (
    ADDRESS,
    NODEID,
    PREFIX,
    U8,
    U16,
    U32,
    U64,
    Check,
    build,
    checkFields,
    checkSize,
    expectVariable,
    fastAddress,
    fastNodeID,
    fastPrefix,
    toEnum,
)
from lin6twisted.wire._codec import checkBytes as _checkBytes
from lin6twisted.wire._codec import expectEnd as _expectEnd
from lin6twisted.wire._codec import fixedError as _fixedError
from lin6twisted.wire._codec import malformed as _malformed
from lin6twisted.wire._frame import (
    HEADER_SIZE,
    MAX_FRAME,
    VERSION,
    BadLength,
    InvalidField,
    TruncatedFrame,
    UnknownType,
    WireError,
    checkFrame,
)

__all__ = [
    "LS_TYPES",
    "MAX_COOKIE",
    "MAX_ERROR_MESSAGE",
    "AnswerEntry",
    "AnswerTableUpdate",
    "Assignment",
    "CookieChallenge",
    "Heartbeat",
    "LSError",
    "LSErrorCode",
    "LSMessage",
    "LSType",
    "MAEntry",
    "MAReply",
    "MARequest",
    "MATableUpdate",
    "RTTReply",
    "RTTRequest",
    "RTTStatus",
    "Relay",
    "RelayedMessage",
    "SyncDone",
    "SyncRequest",
    "decodeLSMessage",
]

MAX_COOKIE: Final = 32
"""The longest address-validation cookie, in bytes."""

MAX_ERROR_MESSAGE: Final = 512
"""The longest L{LSError} message, in UTF-8 bytes."""

_IPv6 = fastAddress


class LSType(enum.IntEnum):
    """
    LS protocol type codes (0x01-0x08 are the paper's, fixed).
    """

    HEARTBEAT = 0x01
    RTT_REQUEST = 0x02
    RTT_REPLY = 0x03
    MA_REQUEST = 0x04
    MA_REPLY = 0x05
    MATBL_UPDATE = 0x06
    ANSTBL_UPDATE = 0x07
    SYNC_REQUEST = 0x08
    ERROR = 0x09
    ASSIGNMENT = 0x0A
    COOKIE_CHALLENGE = 0x0B
    SYNC_DONE = 0x0C
    RELAY = 0x0D


class RTTStatus(enum.IntEnum):
    """
    Outcome of an MA's RTT measurement towards a mobile node.
    """

    OK = 0
    TIMEOUT = 1
    RATE_LIMITED = 2
    ERROR = 3


class LSErrorCode(enum.IntEnum):
    """
    Reason codes of an L{LSError} reply.
    """

    MALFORMED = 1
    UNKNOWN_NODE = 2
    DISABLED_NODE = 3
    NO_CAPACITY = 4
    NO_MA_ANSWERED = 5
    RATE_LIMITED = 6
    DIRECTORY_UNAVAILABLE = 7
    NOT_AUTHORIZED = 8
    INTERNAL = 9
    UNSUPPORTED_VERSION = 10


_RTT_STATUS: Final = {m.value: m for m in RTTStatus}


def _toRTTStatus(value: int) -> RTTStatus:
    return toEnum(RTTStatus, value)


def _toLSErrorCode(value: int) -> LSErrorCode:
    return toEnum(LSErrorCode, value)


_ERROR_CODES: Final = {m.value: m for m in LSErrorCode}


# ---------------------------------------------------------------- HEARTBEAT

_HEARTBEAT: Final = struct.Struct("!BBHI16sHQQIIIH")


@frozen
class Heartbeat:
    """
    LSS_HEARTBEAT (0x01), MA -> LS: the MA's load and liveness.

    @ivar maAddress: the MA's mapping-service address.
    @ivar maPort: the MA's mapping-service UDP port.
    @ivar bootID: changes every time the MA starts.
    @ivar sequence: increases with every heartbeat of one boot.
    @ivar normal: normal-level nodes the MA currently serves.
    @ivar premium: premium-level nodes the MA currently serves.
    @ivar capacity: the MA's capacity in load-index units.
    @ivar interval: seconds until the next heartbeat.
    """

    TYPE: ClassVar[int] = LSType.HEARTBEAT
    NAME: ClassVar[str] = "HEARTBEAT"
    SIZE: ClassVar[int] = _HEARTBEAT.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("maAddress", ADDRESS),
        ("maPort", U16),
        ("bootID", U64),
        ("sequence", U64),
        ("normal", U32),
        ("premium", U32),
        ("capacity", U32),
        ("interval", U16),
    )

    requestId: int
    maAddress: ipaddress.IPv6Address
    maPort: int
    bootID: int
    sequence: int
    normal: int
    premium: int
    capacity: int
    interval: int

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _HEARTBEAT.pack(
            VERSION,
            0x01,
            56,
            self.requestId,
            self.maAddress.packed,
            self.maPort,
            self.bootID,
            self.sequence,
            self.normal,
            self.premium,
            self.capacity,
            self.interval,
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 56:
            raise _fixedError(data, cls, 56)
        v, t, n, rid, addr, port, boot, seq, normal, premium, cap, interval = _HEARTBEAT.unpack(
            data
        )
        if v != VERSION or t != 0x01 or n != 56:
            raise _fixedError(data, cls, 56)
        return build(cls, (rid, _IPv6(addr), port, boot, seq, normal, premium, cap, interval))


# ---------------------------------------------------------------- RTT_REQUEST

_RTT_REQUEST: Final = struct.Struct("!BBHI16sBH")


@frozen
class RTTRequest:
    """
    LSS_RTT_REQUEST (0x02), LS -> MA: measure the RTT to C{target}.

    @ivar target: the mobile node's address (its current locator).
    @ivar count: how many echo requests to send (1..255, normally 4).
    @ivar timeoutMs: how long to wait for the replies, in milliseconds.
    """

    TYPE: ClassVar[int] = LSType.RTT_REQUEST
    NAME: ClassVar[str] = "RTT_REQUEST"
    SIZE: ClassVar[int] = _RTT_REQUEST.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("target", ADDRESS),
        ("count", U8),
        ("timeoutMs", U16),
    )

    requestId: int
    target: ipaddress.IPv6Address
    count: int = 4
    timeoutMs: int = 1000

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        if self.count == 0:
            raise InvalidField("RTTRequest.count must be 1..255, not 0")

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _RTT_REQUEST.pack(
            VERSION, 0x02, 27, self.requestId, self.target.packed, self.count, self.timeoutMs
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 27:
            raise _fixedError(data, cls, 27)
        v, t, n, rid, target, count, timeout = _RTT_REQUEST.unpack(data)
        if v != VERSION or t != 0x02 or n != 27:
            raise _fixedError(data, cls, 27)
        if count == 0:
            raise _malformed(cls, rid, 24, "count must be 1..255, not 0")
        return build(cls, (rid, _IPv6(target), count, timeout))


# ---------------------------------------------------------------- RTT_REPLY

_RTT_REPLY: Final = struct.Struct("!BBHI16sBIB")


@frozen
class RTTReply:
    """
    LSS_RTT_REPLY (0x03), MA -> LS: the measured RTT to C{target}.

    @ivar target: the address that was measured (as in the request).
    @ivar status: the outcome.
    @ivar meanRTTus: the mean RTT of the replies received, in microseconds
        (0 unless C{status} is L{RTTStatus.OK}).
    @ivar received: how many echo replies came back.
    """

    TYPE: ClassVar[int] = LSType.RTT_REPLY
    NAME: ClassVar[str] = "RTT_REPLY"
    SIZE: ClassVar[int] = _RTT_REPLY.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("target", ADDRESS),
        ("meanRTTus", U32),
        ("received", U8),
    )

    requestId: int
    target: ipaddress.IPv6Address
    status: RTTStatus = field(converter=_toRTTStatus)
    meanRTTus: int
    received: int

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _RTT_REPLY.pack(
            VERSION,
            0x03,
            30,
            self.requestId,
            self.target.packed,
            self.status,
            self.meanRTTus,
            self.received,
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 30:
            raise _fixedError(data, cls, 30)
        v, t, n, rid, target, status, mean, received = _RTT_REPLY.unpack(data)
        if v != VERSION or t != 0x03 or n != 30:
            raise _fixedError(data, cls, 30)
        member = _RTT_STATUS.get(status)
        if member is None:
            raise _malformed(cls, rid, 24, f"unknown RTT status {status}")
        return build(cls, (rid, _IPv6(target), member, mean, received))


# ---------------------------------------------------------------- MA_REQUEST

_MA_REQUEST: Final = struct.Struct("!BBHIQB")


@frozen
class MARequest:
    """
    LSS_MA_REQUEST (0x04), MN -> LS: which MA should C{nodeID} use?

    @ivar nodeID: the requesting node.
    @ivar cookie: empty on the first try; the cookie of a
        L{CookieChallenge} when the LS asked the node to prove its address.
    """

    TYPE: ClassVar[int] = LSType.MA_REQUEST
    NAME: ClassVar[str] = "MA_REQUEST"
    _CHECKS: ClassVar[tuple[Check, ...]] = (("requestId", U32), ("nodeID", NODEID))

    requestId: int
    nodeID: NodeID
    cookie: bytes = b""

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        _checkBytes(self, "cookie", self.cookie, 0, MAX_COOKIE)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        cookie = self.cookie
        size = 17 + len(cookie)
        return (
            _MA_REQUEST.pack(VERSION, 0x04, size, self.requestId, self.nodeID.value, len(cookie))
            + cookie
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        rid = expectVariable(data, 0x04, cls.NAME, 17)
        _, _, _, _, node, clen = _MA_REQUEST.unpack_from(data)
        if clen > MAX_COOKIE:
            raise _malformed(cls, rid, 16, f"cookie length {clen} exceeds {MAX_COOKIE}")
        _expectEnd(cls, data, rid, 17 + clen)
        return build(cls, (rid, fastNodeID(node), bytes(data[17:])))


# ---------------------------------------------------------------- MA_REPLY

_MA_REPLY: Final = struct.Struct("!BBHIQ16sHII")


@frozen
class MAReply:
    """
    LSS_MA_REPLY (0x05), LS -> MN: the MA the node should register with.

    @ivar nodeID: the requesting node.
    @ivar maAddress: the chosen MA's mapping-service address.
    @ivar maPort: the chosen MA's mapping-service UDP port.
    @ivar lifetime: seconds the answer stays valid.
    @ivar rttUs: the RTT the MA measured to the node, in microseconds
        (0 for an answer from the history table).
    """

    TYPE: ClassVar[int] = LSType.MA_REPLY
    NAME: ClassVar[str] = "MA_REPLY"
    SIZE: ClassVar[int] = _MA_REPLY.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("nodeID", NODEID),
        ("maAddress", ADDRESS),
        ("maPort", U16),
        ("lifetime", U32),
        ("rttUs", U32),
    )

    requestId: int
    nodeID: NodeID
    maAddress: ipaddress.IPv6Address
    maPort: int
    lifetime: int
    rttUs: int

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _MA_REPLY.pack(
            VERSION,
            0x05,
            42,
            self.requestId,
            self.nodeID.value,
            self.maAddress.packed,
            self.maPort,
            self.lifetime,
            self.rttUs,
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 42:
            raise _fixedError(data, cls, 42)
        v, t, n, rid, node, addr, port, lifetime, rtt = _MA_REPLY.unpack(data)
        if v != VERSION or t != 0x05 or n != 42:
            raise _fixedError(data, cls, 42)
        return build(cls, (rid, fastNodeID(node), _IPv6(addr), port, lifetime, rtt))


# ---------------------------------------------------------------- MATBL_UPDATE

_COUNT: Final = struct.Struct("!H")
_MA_ENTRY: Final = struct.Struct("!16sHQQIIIHBI")


@frozen
class MAEntry:
    """
    One row of an LS's MA table, as sent to peer LSs.

    @ivar maAddress: the MA's mapping-service address (its key).
    @ivar maPort: the MA's mapping-service UDP port.
    @ivar bootID: from the MA's last heartbeat.
    @ivar sequence: from the MA's last heartbeat (with C{bootID}, decides
        which of two rows is newer).
    @ivar normal: normal-level load count.
    @ivar premium: premium-level load count.
    @ivar capacity: the MA's capacity.
    @ivar interval: the MA's heartbeat interval, seconds.
    @ivar active: whether the sender considers the MA alive.
    @ivar ageMs: milliseconds since the sender received the heartbeat.
    """

    SIZE: ClassVar[int] = _MA_ENTRY.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("maAddress", ADDRESS),
        ("maPort", U16),
        ("bootID", U64),
        ("sequence", U64),
        ("normal", U32),
        ("premium", U32),
        ("capacity", U32),
        ("interval", U16),
        ("ageMs", U32),
    )

    maAddress: ipaddress.IPv6Address
    maPort: int
    bootID: int
    sequence: int
    normal: int
    premium: int
    capacity: int
    interval: int
    active: bool
    ageMs: int

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        if not isinstance(self.active, bool):
            raise InvalidField(f"MAEntry.active must be a bool, not {type(self.active).__name__}")

    def _pack(self) -> bytes:
        return _MA_ENTRY.pack(
            self.maAddress.packed,
            self.maPort,
            self.bootID,
            self.sequence,
            self.normal,
            self.premium,
            self.capacity,
            self.interval,
            1 if self.active else 0,
            self.ageMs,
        )


_ANSWER_ENTRY: Final = struct.Struct("!Q16sHQIIB")


@frozen
class AnswerEntry:
    """
    One row of an LS's history (answer) table, as sent to peer LSs.

    @ivar prefix: the clients' /64.
    @ivar maAddress: the MA answered for that prefix.
    @ivar maPort: that MA's mapping-service UDP port.
    @ivar createdMs: when the deciding LS made the decision, milliseconds
        since the epoch (decides which of two rows is newer).
    @ivar lifetime: seconds the answer stays valid from C{createdMs}.
    @ivar rttUs: the RTT measured when deciding, microseconds.
    @ivar level: the service level of the user the decision was made for,
        1 normal, 2 premium (as in L{Assignment}): the weight the assignment
        adds to the MA's load index on every replica until the MA's next
        heartbeat counts it.
    """

    SIZE: ClassVar[int] = _ANSWER_ENTRY.size
    LEVELS: ClassVar[frozenset[int]] = frozenset({1, 2})
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("prefix", PREFIX),
        ("maAddress", ADDRESS),
        ("maPort", U16),
        ("createdMs", U64),
        ("lifetime", U32),
        ("rttUs", U32),
        ("level", U8),
    )

    prefix: Prefix
    maAddress: ipaddress.IPv6Address
    maPort: int
    createdMs: int
    lifetime: int
    rttUs: int
    level: int = 1

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        if self.level not in self.LEVELS:
            raise InvalidField(f"AnswerEntry.level must be 1 or 2, not {self.level}")

    def _pack(self) -> bytes:
        return _ANSWER_ENTRY.pack(
            self.prefix.value,
            self.maAddress.packed,
            self.maPort,
            self.createdMs,
            self.lifetime,
            self.rttUs,
            self.level,
        )


def _maEntries(value: Iterable[MAEntry]) -> tuple[MAEntry, ...]:
    return _toTuple(value)  # type: ignore[return-value]


def _answerEntries(value: Iterable[AnswerEntry]) -> tuple[AnswerEntry, ...]:
    return _toTuple(value)  # type: ignore[return-value]


def _toTuple(value: Iterable[object]) -> tuple[object, ...]:
    if isinstance(value, tuple):
        return value
    try:
        return tuple(value)
    except TypeError:
        raise InvalidField(f"entries must be iterable, not {type(value).__name__}") from None


def _checkEntries(owner: object, entries: tuple[object, ...], entryType: type) -> None:
    for i, entry in enumerate(entries):
        if not isinstance(entry, entryType):
            raise InvalidField(
                f"{type(owner).__name__}.entries[{i}] must be a {entryType.__name__}, "
                f"not {type(entry).__name__}"
            )
    checkSize(
        type(owner).__name__,
        HEADER_SIZE + _COUNT.size + len(entries) * entryType.SIZE,  # type: ignore[attr-defined]
    )


def _batchSize(entrySize: int, maxFrame: int) -> int:
    if not HEADER_SIZE + _COUNT.size + entrySize <= maxFrame <= MAX_FRAME:
        raise InvalidField(f"maxFrame {maxFrame} cannot hold even one entry")
    return (maxFrame - HEADER_SIZE - _COUNT.size) // entrySize


_HEADER_COUNT: Final = struct.Struct("!BBHIH")


class _TableUpdate:
    """
    What MATBL_UPDATE and ANSTBL_UPDATE share: a row count after the
    header, then rows of one fixed-size layout (C{_ROW}), split into frames
    by L{inBatches}.
    """

    TYPE: ClassVar[int]
    _ROW: ClassVar[struct.Struct]
    _ENTRY: ClassVar[type]
    requestId: int
    entries: tuple[MAEntry, ...] | tuple[AnswerEntry, ...]

    def __attrs_post_init__(self) -> None:
        checkFields(self, (("requestId", U32),))
        _checkEntries(self, self.entries, self._ENTRY)

    @classmethod
    def inBatches(
        cls, requestId: int, entries: Sequence[Any], maxFrame: int = MAX_FRAME
    ) -> list[Self]:
        """
        Split C{entries} into messages whose frames fit in C{maxFrame} bytes.

        @return: the messages, each with at least one entry; none for no
            entries.
        """
        per = _batchSize(cls._ROW.size, maxFrame)
        return [
            cls(requestId, entries[i : i + per])  # type: ignore[call-arg]
            for i in range(0, len(entries), per)
        ]

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        entries = self.entries
        size = 10 + len(entries) * self._ROW.size
        head = _HEADER_COUNT.pack(VERSION, self.TYPE, size, self.requestId, len(entries))
        return head + b"".join([e._pack() for e in entries])

    @classmethod
    def _rows(cls, data: bytes, rid: int) -> Iterator[tuple[Any, ...]]:
        """
        The unpacked rows of a frame whose header C{expectVariable} accepted,
        after checking that the count matches the length.
        """
        (count,) = _COUNT.unpack_from(data, 8)
        _expectEnd(cls, data, rid, 10 + count * cls._ROW.size)
        return cls._ROW.iter_unpack(memoryview(data)[10:])


@frozen
class MATableUpdate(_TableUpdate):
    """
    LSS_MATBL_UPDATE (0x06), LS <-> LS: rows of the sender's MA table.

    A frame holds at most L{MAX_ENTRIES} rows; L{inBatches} splits a long
    table into several messages.
    """

    TYPE: ClassVar[int] = LSType.MATBL_UPDATE
    NAME: ClassVar[str] = "MATBL_UPDATE"
    MAX_ENTRIES: ClassVar[int] = (MAX_FRAME - HEADER_SIZE - _COUNT.size) // _MA_ENTRY.size
    _ROW: ClassVar[struct.Struct] = _MA_ENTRY
    _ENTRY: ClassVar[type] = MAEntry

    requestId: int
    entries: tuple[MAEntry, ...] = field(converter=_maEntries)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        rid = expectVariable(data, 0x06, cls.NAME, 10)
        entries = []
        offset = 10
        for (
            addr,
            port,
            boot,
            seq,
            normal,
            premium,
            cap,
            interval,
            active,
            age,
        ) in cls._rows(data, rid):
            if active > 1:
                raise _malformed(
                    cls, rid, offset + 48, f"entry's active flag is {active}, not 0 or 1"
                )
            entries.append(
                build(
                    MAEntry,
                    (
                        _IPv6(addr),
                        port,
                        boot,
                        seq,
                        normal,
                        premium,
                        cap,
                        interval,
                        active == 1,
                        age,
                    ),
                )
            )
            offset += _MA_ENTRY.size
        return build(cls, (rid, tuple(entries)))


@frozen
class AnswerTableUpdate(_TableUpdate):
    """
    LSS_ANSTBL_UPDATE (0x07), LS <-> LS: rows of the sender's history table.

    A frame holds at most L{MAX_ENTRIES} rows; L{inBatches} splits a long
    table into several messages.
    """

    TYPE: ClassVar[int] = LSType.ANSTBL_UPDATE
    NAME: ClassVar[str] = "ANSTBL_UPDATE"
    MAX_ENTRIES: ClassVar[int] = (MAX_FRAME - HEADER_SIZE - _COUNT.size) // _ANSWER_ENTRY.size
    _ROW: ClassVar[struct.Struct] = _ANSWER_ENTRY
    _ENTRY: ClassVar[type] = AnswerEntry

    requestId: int
    entries: tuple[AnswerEntry, ...] = field(converter=_answerEntries)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        rid = expectVariable(data, 0x07, cls.NAME, 10)
        entries = []
        levels = AnswerEntry.LEVELS
        offset = 10
        for prefix, addr, port, created, lifetime, rtt, level in cls._rows(data, rid):
            if level not in levels:
                raise _malformed(
                    cls,
                    rid,
                    offset + _ANSWER_ENTRY.size - 1,
                    f"entry's service level {level} is not 1 or 2",
                )
            entries.append(
                build(
                    AnswerEntry,
                    (fastPrefix(prefix), _IPv6(addr), port, created, lifetime, rtt, level),
                )
            )
            offset += _ANSWER_ENTRY.size
        return build(cls, (rid, tuple(entries)))


# ---------------------------------------------------------------- SYNC_REQUEST

_SYNC_REQUEST: Final = struct.Struct("!BBHI16sQ")


@frozen
class SyncRequest:
    """
    LSS_SYNC_REQUEST (0x08), LS -> LS: send me your tables.

    The peer answers with L{MATableUpdate} and L{AnswerTableUpdate}
    messages carrying the same request id, then a L{SyncDone}.

    @ivar lsID: the requesting LS's 16-byte identity (for example a UUID).
    @ivar bootID: changes every time the requesting LS starts.
    """

    TYPE: ClassVar[int] = LSType.SYNC_REQUEST
    NAME: ClassVar[str] = "SYNC_REQUEST"
    SIZE: ClassVar[int] = _SYNC_REQUEST.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (("requestId", U32), ("bootID", U64))

    requestId: int
    lsID: bytes
    bootID: int

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        _checkBytes(self, "lsID", self.lsID, 16, 16)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _SYNC_REQUEST.pack(VERSION, 0x08, 32, self.requestId, self.lsID, self.bootID)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 32:
            raise _fixedError(data, cls, 32)
        v, t, n, rid, lsID, boot = _SYNC_REQUEST.unpack(data)
        if v != VERSION or t != 0x08 or n != 32:
            raise _fixedError(data, cls, 32)
        return build(cls, (rid, lsID, boot))


# ---------------------------------------------------------------- ERROR

_ERROR: Final = struct.Struct("!BBHIHH")


@frozen
class LSError:
    """
    LSS_ERROR (0x09), LS -> any: the request with this request id failed.

    @ivar code: why.
    @ivar message: human-readable detail, at most L{MAX_ERROR_MESSAGE}
        bytes of UTF-8.
    """

    TYPE: ClassVar[int] = LSType.ERROR
    NAME: ClassVar[str] = "ERROR"

    requestId: int
    code: LSErrorCode = field(converter=_toLSErrorCode)
    message: str = ""

    def __attrs_post_init__(self) -> None:
        checkFields(self, (("requestId", U32),))
        if not isinstance(self.message, str):
            raise InvalidField(f"LSError.message must be text, not {type(self.message).__name__}")
        try:
            size = len(self.message.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise InvalidField(f"LSError.message is not encodable as UTF-8: {e}") from None
        if size > MAX_ERROR_MESSAGE:
            raise InvalidField(
                f"LSError.message is {size} bytes of UTF-8, at most {MAX_ERROR_MESSAGE}"
            )

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        text = self.message.encode("utf-8")
        return (
            _ERROR.pack(VERSION, 0x09, 12 + len(text), self.requestId, self.code, len(text)) + text
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        rid = expectVariable(data, 0x09, cls.NAME, 12)
        _, _, _, _, code, mlen = _ERROR.unpack_from(data)
        member = _ERROR_CODES.get(code)
        if member is None:
            raise _malformed(cls, rid, 8, f"unknown error code {code}")
        if mlen > MAX_ERROR_MESSAGE:
            raise _malformed(cls, rid, 10, f"message length {mlen} exceeds {MAX_ERROR_MESSAGE}")
        _expectEnd(cls, data, rid, 12 + mlen)
        try:
            text = bytes(data[12:]).decode("utf-8")
        except UnicodeDecodeError as e:
            raise _malformed(cls, rid, 12 + e.start, "message is not valid UTF-8") from None
        return build(cls, (rid, member, text))


# ---------------------------------------------------------------- ASSIGNMENT

_ASSIGNMENT: Final = struct.Struct("!BBHIQBQ")


@frozen
class Assignment:
    """
    LSS_ASSIGNMENT (0x0A), LS -> MA: the LS has just sent C{nodeID} (in
    C{prefix}) to this MA at service level C{level}.

    @ivar level: 1 normal, 2 premium (the values of
        C{lin6twisted.directory.ServiceLevel}, which compares equal).
    """

    TYPE: ClassVar[int] = LSType.ASSIGNMENT
    NAME: ClassVar[str] = "ASSIGNMENT"
    SIZE: ClassVar[int] = _ASSIGNMENT.size
    LEVELS: ClassVar[frozenset[int]] = frozenset({1, 2})
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("nodeID", NODEID),
        ("level", U8),
        ("prefix", PREFIX),
    )

    requestId: int
    nodeID: NodeID
    level: int
    prefix: Prefix

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        if self.level not in self.LEVELS:
            raise InvalidField(f"Assignment.level must be 1 or 2, not {self.level}")

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _ASSIGNMENT.pack(
            VERSION,
            0x0A,
            25,
            self.requestId,
            self.nodeID.value,
            int(self.level),
            self.prefix.value,
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 25:
            raise _fixedError(data, cls, 25)
        v, t, n, rid, node, level, prefix = _ASSIGNMENT.unpack(data)
        if v != VERSION or t != 0x0A or n != 25:
            raise _fixedError(data, cls, 25)
        if level not in cls.LEVELS:
            raise _malformed(cls, rid, 16, f"service level {level} is not 1 or 2")
        return build(cls, (rid, fastNodeID(node), level, fastPrefix(prefix)))


# ---------------------------------------------------------------- COOKIE_CHALLENGE

_COOKIE_CHALLENGE: Final = struct.Struct("!BBHIB")


@frozen
class CookieChallenge:
    """
    LSS_COOKIE_CHALLENGE (0x0B), LS -> MN: prove you receive at your source
    address by repeating your L{MARequest} with this cookie.

    @ivar cookie: 1..L{MAX_COOKIE} opaque bytes.
    """

    TYPE: ClassVar[int] = LSType.COOKIE_CHALLENGE
    NAME: ClassVar[str] = "COOKIE_CHALLENGE"

    requestId: int
    cookie: bytes

    def __attrs_post_init__(self) -> None:
        checkFields(self, (("requestId", U32),))
        _checkBytes(self, "cookie", self.cookie, 1, MAX_COOKIE)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        cookie = self.cookie
        return (
            _COOKIE_CHALLENGE.pack(VERSION, 0x0B, 9 + len(cookie), self.requestId, len(cookie))
            + cookie
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        rid = expectVariable(data, 0x0B, cls.NAME, 10)
        clen = data[8]
        if not 1 <= clen <= MAX_COOKIE:
            raise _malformed(cls, rid, 8, f"cookie length {clen} is not 1..{MAX_COOKIE}")
        _expectEnd(cls, data, rid, 9 + clen)
        return build(cls, (rid, bytes(data[9:])))


# ---------------------------------------------------------------- SYNC_DONE

_SYNC_DONE: Final = struct.Struct("!BBHIII")


@frozen
class SyncDone:
    """
    LSS_SYNC_DONE (0x0C), LS -> LS: the end of a sync burst.

    @ivar maCount: MA table rows sent in the burst.
    @ivar answerCount: history table rows sent in the burst.
    """

    TYPE: ClassVar[int] = LSType.SYNC_DONE
    NAME: ClassVar[str] = "SYNC_DONE"
    SIZE: ClassVar[int] = _SYNC_DONE.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("maCount", U32),
        ("answerCount", U32),
    )

    requestId: int
    maCount: int
    answerCount: int

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _SYNC_DONE.pack(VERSION, 0x0C, 16, self.requestId, self.maCount, self.answerCount)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 16:
            raise _fixedError(data, cls, 16)
        v, t, n, rid, ma, answers = _SYNC_DONE.unpack(data)
        if v != VERSION or t != 0x0C or n != 16:
            raise _fixedError(data, cls, 16)
        return build(cls, (rid, ma, answers))


# ---------------------------------------------------------------- RELAY

_RELAY: Final = struct.Struct("!BBHI16s")

RelayedMessage: TypeAlias = RTTRequest | RTTReply | Assignment
"""What a L{Relay} may carry."""


@frozen
class Relay:
    """
    LSS_RELAY (0x0D), LS <-> LS: a message for (or from) an MA connected to
    the other LS.  An LS that has no channel to an MA reaches it through
    the peer LS the MA heartbeats to.

    @ivar ma: the MA (its mapping-service address, as in its heartbeats)
        the inner message is for or from.
    @ivar inner: the relayed L{RTTRequest} or L{Assignment} (towards the
        MA) or L{RTTReply} (back from it), a whole frame with its own
        header and request id.
    """

    TYPE: ClassVar[int] = LSType.RELAY
    NAME: ClassVar[str] = "RELAY"
    _CHECKS: ClassVar[tuple[Check, ...]] = (("requestId", U32), ("ma", ADDRESS))

    requestId: int
    ma: ipaddress.IPv6Address
    inner: RelayedMessage

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        if not isinstance(self.inner, RTTRequest | RTTReply | Assignment):
            raise InvalidField(
                f"Relay.inner must be an RTTRequest, RTTReply or Assignment, "
                f"not {type(self.inner).__name__}"
            )

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        inner = self.inner.encode()
        return _RELAY.pack(VERSION, 0x0D, 24 + len(inner), self.requestId, self.ma.packed) + inner

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type,
            including when the inner frame is invalid or of a type that
            is not relayed (offsets then count from the outer frame).
        """
        rid = expectVariable(data, 0x0D, cls.NAME, 24 + HEADER_SIZE)
        ma = _IPv6(bytes(data[8:24]))
        innerType = data[25]
        innerClass = _RELAYED.get(innerType)
        if innerClass is None:
            raise _malformed(
                cls,
                rid,
                25,
                f"inner type {innerType:#04x} is not RTT_REQUEST, RTT_REPLY or ASSIGNMENT",
            )
        try:
            inner = innerClass.decode(bytes(data[24:]))
        except WireError as e:
            offset = None if e.offset is None else e.offset + 24
            # The outer frame is complete: a short inner frame is a length
            # disagreement, not something more bytes would fix.
            errorType = BadLength if isinstance(e, TruncatedFrame) else type(e)
            raise errorType(
                f"RELAY inner frame at offset 24: {e}",
                messageType=cls.TYPE,
                requestId=rid,
                offset=offset,
            ) from None
        return build(cls, (rid, ma, inner))


_RELAYED: Final[dict[int, type[RelayedMessage]]] = {
    cls.TYPE: cls for cls in (RTTRequest, RTTReply, Assignment)
}


# ---------------------------------------------------------------- dispatch

LSMessage: TypeAlias = (
    Heartbeat
    | RTTRequest
    | RTTReply
    | MARequest
    | MAReply
    | MATableUpdate
    | AnswerTableUpdate
    | SyncRequest
    | LSError
    | Assignment
    | CookieChallenge
    | SyncDone
    | Relay
)
"""Any LS protocol message."""

LS_TYPES: Final[dict[int, type[LSMessage]]] = {
    cls.TYPE: cls
    for cls in (
        Heartbeat,
        RTTRequest,
        RTTReply,
        MARequest,
        MAReply,
        MATableUpdate,
        AnswerTableUpdate,
        SyncRequest,
        LSError,
        Assignment,
        CookieChallenge,
        SyncDone,
        Relay,
    )
}
"""Type code -> message class."""

_NAMES: Final = {code: cls.NAME for code, cls in LS_TYPES.items()}


def decodeLSMessage(data: bytes) -> LSMessage:
    """
    Decode one LS protocol frame, whatever its type.

    @raise UnknownType: if the type code is not an LS message.
    @raise WireError: (another subclass) if the frame is otherwise invalid.
    """
    if len(data) < HEADER_SIZE:
        checkFrame(data)
    cls = LS_TYPES.get(data[1])
    if cls is None:
        checkFrame(data, _NAMES)
        raise UnknownType(f"unknown LS message type {data[1]:#04x}")  # pragma: no cover
    return cls.decode(data)
