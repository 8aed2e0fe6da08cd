# -*- test-case-name: lin6twisted.wire.test.test_messages,lin6twisted.wire.test.test_vectors -*-
"""
The node <-> Mapping Agent protocol (type codes 0x20-0x26), over UDP.

A node registers its locators with its MA (L{Register}, authenticated with
HMAC-SHA256 under the node's key, with a strictly increasing sequence
number), asks its MA for a peer's locators (L{MapQuery} / L{MapReply}),
tells correspondents it moved (L{Notify}, a hint they verify with a
L{MapQuery}) and reports its figures for central monitoring (L{Report},
authenticated like L{Register}).  Byte layouts are in C{docs/protocol.md}.

Construction checks every field and raises L{InvalidField}; decoding
raises nothing but L{WireError} subclasses.

This module has no Twisted imports.
"""

from __future__ import annotations

import enum
import hmac as _hmac
import ipaddress
import struct
from collections.abc import Iterable
from typing import Any, ClassVar, Final, Self, TypeAlias

from attrs import field, frozen

from lin6twisted.address import NodeID
from lin6twisted.wire._codec import (
    NODEID,
    U32,
    U64,
    Check,
    build,
    checkFields,
    expectVariable,
    fastAddress,
    fastNodeID,
    toEnum,
)
from lin6twisted.wire._codec import expectEnd as _expectEnd
from lin6twisted.wire._codec import fixedError as _fixedError
from lin6twisted.wire._codec import malformed as _malformed
from lin6twisted.wire._frame import HEADER_SIZE, VERSION, InvalidField, UnknownType, checkFrame

__all__ = [
    "HMAC_SIZE",
    "MAPPING_TYPES",
    "MAX_LOCATORS",
    "MapQuery",
    "MapReply",
    "MapStatus",
    "MappingMessage",
    "MappingType",
    "Notify",
    "NotifyAck",
    "Register",
    "RegisterAck",
    "RegisterFlags",
    "RegisterStatus",
    "Report",
    "decodeMappingMessage",
]

HMAC_SIZE: Final = 32
"""Bytes of an HMAC-SHA256 tag."""

MAX_LOCATORS: Final = 8
"""The most locators a message carries."""

_NO_HMAC: Final = bytes(HMAC_SIZE)
_IPv6 = fastAddress


class MappingType(enum.IntEnum):
    """
    Mapping protocol type codes.
    """

    REGISTER = 0x20
    REGISTER_ACK = 0x21
    MAP_QUERY = 0x22
    MAP_REPLY = 0x23
    NOTIFY = 0x24
    NOTIFY_ACK = 0x25
    REPORT = 0x26


class RegisterStatus(enum.IntEnum):
    """
    The outcome of a L{Register}, in its L{RegisterAck}.
    """

    OK = 0
    UNKNOWN_NODE = 1
    DISABLED = 2
    BAD_AUTH = 3
    REPLAY = 4
    DIRECTORY_UNAVAILABLE = 5
    MALFORMED = 6
    NOT_ASSIGNED = 7
    SERVER_ERROR = 8


class MapStatus(enum.IntEnum):
    """
    Whether a L{MapReply} carries a mapping.
    """

    FOUND = 0
    NOT_FOUND = 1


class RegisterFlags(enum.IntFlag):
    """
    Flags of a L{Register}; bits not defined here must be zero.
    """

    PINNED = 0x01
    """A content server that keeps its MA (one MA per server)."""


_REGISTER_FLAGS_MASK: Final = int(RegisterFlags.PINNED)
_NO_FLAGS: Final = RegisterFlags(0)
_REGISTER_STATUS: Final = {m.value: m for m in RegisterStatus}
_MAP_STATUS: Final = {m.value: m for m in MapStatus}


def _toRegisterStatus(value: int) -> RegisterStatus:
    return toEnum(RegisterStatus, value)


def _toMapStatus(value: int) -> MapStatus:
    return toEnum(MapStatus, value)


def _locatorsConverter(
    value: Iterable[ipaddress.IPv6Address],
) -> tuple[ipaddress.IPv6Address, ...]:
    if isinstance(value, tuple):
        return value
    if isinstance(value, str | bytes):
        raise InvalidField("locators must be a sequence of IPv6Address, not a string")
    try:
        return tuple(value)
    except TypeError:
        raise InvalidField(f"locators must be iterable, not {type(value).__name__}") from None


def _checkLocators(owner: object, locators: tuple[Any, ...], low: int) -> None:
    if not low <= len(locators) <= MAX_LOCATORS:
        raise InvalidField(
            f"{type(owner).__name__} carries {len(locators)} locators, must be "
            f"{low}..{MAX_LOCATORS}"
        )
    for i, loc in enumerate(locators):
        if not isinstance(loc, ipaddress.IPv6Address):
            raise InvalidField(
                f"{type(owner).__name__}.locators[{i}] must be an IPv6Address, "
                f"not {type(loc).__name__}"
            )


def _readLocators(
    cls: type, data: bytes, rid: int, countOffset: int, low: int, tail: int
) -> tuple[ipaddress.IPv6Address, ...]:
    """
    Read a count byte at C{countOffset} and that many addresses after it;
    C{tail} bytes follow them.
    """
    count = data[countOffset]
    if not low <= count <= MAX_LOCATORS:
        raise _malformed(
            cls, rid, countOffset, f"locator count {count} is not {low}..{MAX_LOCATORS}"
        )
    start = countOffset + 1
    _expectEnd(cls, data, rid, start + 16 * count + tail)
    return tuple(_IPv6(bytes(data[i : i + 16])) for i in range(start, start + 16 * count, 16))


def _checkKey(key: object) -> bytes:
    if not isinstance(key, bytes) or not key:
        raise InvalidField("an HMAC key must be non-empty bytes")
    return key


def _mac(key: bytes, signed: bytes) -> bytes:
    return _hmac.digest(_checkKey(key), signed, "sha256")


# ---------------------------------------------------------------- REGISTER

_REGISTER: Final = struct.Struct("!BBHIQIIQBB")


@frozen
class Register:
    """
    REGISTER (0x20), node -> MA: bind C{nodeID} to C{locators}.

    The C{hmac} is HMAC-SHA256 under the node's key (named by C{keyID}) over
    every frame byte before the C{hmac} field, header included.  Build an
    unsigned message (C{hmac} all zero) and call L{sign}; the MA calls
    L{verify}, then checks C{sequence} is above the last one it accepted.

    @ivar locators: 1..L{MAX_LOCATORS} addresses, the preferred one first.
    @ivar lifetime: seconds the binding should live; 0 deregisters.
    @ivar keyID: which of the node's keys signed.
    @ivar sequence: strictly increasing per node (replays are refused).
    @ivar flags: L{RegisterFlags}.
    """

    TYPE: ClassVar[int] = MappingType.REGISTER
    NAME: ClassVar[str] = "REGISTER"
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("nodeID", NODEID),
        ("lifetime", U32),
        ("keyID", U32),
        ("sequence", U64),
    )

    requestId: int
    nodeID: NodeID
    locators: tuple[ipaddress.IPv6Address, ...] = field(converter=_locatorsConverter)
    lifetime: int
    keyID: int
    sequence: int
    flags: RegisterFlags = _NO_FLAGS
    hmac: bytes = _NO_HMAC

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        _checkLocators(self, self.locators, 1)
        flags = self.flags
        if isinstance(flags, bool) or not isinstance(flags, int) or flags & ~_REGISTER_FLAGS_MASK:
            raise InvalidField(f"Register.flags {flags!r} sets undefined bits")
        if not isinstance(flags, RegisterFlags):
            object.__setattr__(self, "flags", RegisterFlags(flags))
        if not isinstance(self.hmac, bytes) or len(self.hmac) != HMAC_SIZE:
            raise InvalidField(f"Register.hmac must be {HMAC_SIZE} bytes")

    def _signed(self) -> bytes:
        locators = self.locators
        return _REGISTER.pack(
            VERSION,
            0x20,
            66 + 16 * len(locators),
            self.requestId,
            self.nodeID.value,
            self.lifetime,
            self.keyID,
            self.sequence,
            self.flags,
            len(locators),
        ) + b"".join([loc.packed for loc in locators])

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return self._signed() + self.hmac

    def sign(self, key: bytes) -> Register:
        """
        A copy with C{hmac} computed under C{key}.

        @raise InvalidField: if C{key} is empty.
        """
        return build(
            Register,
            (
                self.requestId,
                self.nodeID,
                self.locators,
                self.lifetime,
                self.keyID,
                self.sequence,
                self.flags,
                _mac(key, self._signed()),
            ),
        )

    def verify(self, key: bytes) -> bool:
        """
        Whether C{hmac} is right for C{key} (compared in constant time).

        @raise InvalidField: if C{key} is empty.
        """
        return _hmac.compare_digest(self.hmac, _mac(key, self._signed()))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame (the HMAC is not checked: call L{verify}).

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        rid = expectVariable(data, 0x20, cls.NAME, 66)
        _, _, _, _, node, lifetime, keyID, seq, flags, _ = _REGISTER.unpack_from(data)
        if flags & ~_REGISTER_FLAGS_MASK:
            raise _malformed(cls, rid, 32, f"flags {flags:#04x} set undefined bits")
        locators = _readLocators(cls, data, rid, 33, 1, HMAC_SIZE)
        return build(
            cls,
            (
                rid,
                fastNodeID(node),
                locators,
                lifetime,
                keyID,
                seq,
                RegisterFlags(flags),
                bytes(data[-HMAC_SIZE:]),
            ),
        )


# ---------------------------------------------------------------- REGISTER_ACK

_REGISTER_ACK: Final = struct.Struct("!BBHIQBIQ")


@frozen
class RegisterAck:
    """
    REGISTER_ACK (0x21), MA -> node: the outcome of a L{Register}.

    @ivar status: the outcome.
    @ivar lifetime: the lifetime granted, seconds (0 unless OK).
    @ivar sequence: the sequence number of the L{Register} answered.
    """

    TYPE: ClassVar[int] = MappingType.REGISTER_ACK
    NAME: ClassVar[str] = "REGISTER_ACK"
    SIZE: ClassVar[int] = _REGISTER_ACK.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("nodeID", NODEID),
        ("lifetime", U32),
        ("sequence", U64),
    )

    requestId: int
    nodeID: NodeID
    status: RegisterStatus = field(converter=_toRegisterStatus)
    lifetime: int
    sequence: int

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _REGISTER_ACK.pack(
            VERSION,
            0x21,
            29,
            self.requestId,
            self.nodeID.value,
            self.status,
            self.lifetime,
            self.sequence,
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 29:
            raise _fixedError(data, cls, 29)
        v, t, n, rid, node, status, lifetime, seq = _REGISTER_ACK.unpack(data)
        if v != VERSION or t != 0x21 or n != 29:
            raise _fixedError(data, cls, 29)
        member = _REGISTER_STATUS.get(status)
        if member is None:
            raise _malformed(cls, rid, 16, f"unknown register status {status}")
        return build(cls, (rid, fastNodeID(node), member, lifetime, seq))


# ---------------------------------------------------------------- MAP_QUERY / NOTIFY_ACK

_NODE_ONLY: Final = struct.Struct("!BBHIQ")


@frozen
class MapQuery:
    """
    MAP_QUERY (0x22), node -> MA: where is C{nodeID}?
    """

    TYPE: ClassVar[int] = MappingType.MAP_QUERY
    NAME: ClassVar[str] = "MAP_QUERY"
    SIZE: ClassVar[int] = _NODE_ONLY.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (("requestId", U32), ("nodeID", NODEID))

    requestId: int
    nodeID: NodeID

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _NODE_ONLY.pack(VERSION, 0x22, 16, self.requestId, self.nodeID.value)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 16:
            raise _fixedError(data, cls, 16)
        v, t, n, rid, node = _NODE_ONLY.unpack(data)
        if v != VERSION or t != 0x22 or n != 16:
            raise _fixedError(data, cls, 16)
        return build(cls, (rid, fastNodeID(node)))


@frozen
class NotifyAck:
    """
    NOTIFY_ACK (0x25), correspondent -> node: your L{Notify} arrived.
    """

    TYPE: ClassVar[int] = MappingType.NOTIFY_ACK
    NAME: ClassVar[str] = "NOTIFY_ACK"
    SIZE: ClassVar[int] = _NODE_ONLY.size
    _CHECKS: ClassVar[tuple[Check, ...]] = (("requestId", U32), ("nodeID", NODEID))

    requestId: int
    nodeID: NodeID

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return _NODE_ONLY.pack(VERSION, 0x25, 16, self.requestId, self.nodeID.value)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 16:
            raise _fixedError(data, cls, 16)
        v, t, n, rid, node = _NODE_ONLY.unpack(data)
        if v != VERSION or t != 0x25 or n != 16:
            raise _fixedError(data, cls, 16)
        return build(cls, (rid, fastNodeID(node)))


# ---------------------------------------------------------------- MAP_REPLY

_MAP_REPLY: Final = struct.Struct("!BBHIQBIB")


@frozen
class MapReply:
    """
    MAP_REPLY (0x23), MA -> node: the locators of C{nodeID}, or none.

    @ivar status: L{MapStatus.FOUND} with 1..L{MAX_LOCATORS} locators, or
        L{MapStatus.NOT_FOUND} with none.
    @ivar ttl: seconds the answer (positive or negative) may be cached.
    """

    TYPE: ClassVar[int] = MappingType.MAP_REPLY
    NAME: ClassVar[str] = "MAP_REPLY"
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("nodeID", NODEID),
        ("ttl", U32),
    )

    requestId: int
    nodeID: NodeID
    status: MapStatus = field(converter=_toMapStatus)
    ttl: int
    locators: tuple[ipaddress.IPv6Address, ...] = field(default=(), converter=_locatorsConverter)

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        if self.status is MapStatus.FOUND:
            _checkLocators(self, self.locators, 1)
        elif self.locators:
            raise InvalidField("MapReply with NOT_FOUND carries no locators")

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        locators = self.locators
        return _MAP_REPLY.pack(
            VERSION,
            0x23,
            22 + 16 * len(locators),
            self.requestId,
            self.nodeID.value,
            self.status,
            self.ttl,
            len(locators),
        ) + b"".join([loc.packed for loc in locators])

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        rid = expectVariable(data, 0x23, cls.NAME, 22)
        _, _, _, _, node, status, ttl, _ = _MAP_REPLY.unpack_from(data)
        member = _MAP_STATUS.get(status)
        if member is None:
            raise _malformed(cls, rid, 16, f"unknown map status {status}")
        if member is MapStatus.FOUND:
            locators = _readLocators(cls, data, rid, 21, 1, 0)
        else:
            if data[21]:
                raise _malformed(cls, rid, 21, "a NOT_FOUND reply carries no locators")
            _expectEnd(cls, data, rid, 22)
            locators = ()
        return build(cls, (rid, fastNodeID(node), member, ttl, locators))


# ---------------------------------------------------------------- NOTIFY

_NOTIFY: Final = struct.Struct("!BBHIQB")


@frozen
class Notify:
    """
    NOTIFY (0x24), node -> correspondent: I moved to C{locators}.

    Only a hint: the correspondent verifies with a L{MapQuery} to its MA
    before using the new locators.
    """

    TYPE: ClassVar[int] = MappingType.NOTIFY
    NAME: ClassVar[str] = "NOTIFY"
    _CHECKS: ClassVar[tuple[Check, ...]] = (("requestId", U32), ("nodeID", NODEID))

    requestId: int
    nodeID: NodeID
    locators: tuple[ipaddress.IPv6Address, ...] = field(converter=_locatorsConverter)

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        _checkLocators(self, self.locators, 1)

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        locators = self.locators
        size = 17 + 16 * len(locators)
        return _NOTIFY.pack(
            VERSION, 0x24, size, self.requestId, self.nodeID.value, len(locators)
        ) + b"".join([loc.packed for loc in locators])

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame.

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        rid = expectVariable(data, 0x24, cls.NAME, 17)
        (node,) = struct.unpack_from("!Q", data, 8)
        locators = _readLocators(cls, data, rid, 16, 1, 0)
        return build(cls, (rid, fastNodeID(node), locators))


# ---------------------------------------------------------------- REPORT

_REPORT: Final = struct.Struct("!BBHIQIQIQQII")


@frozen
class Report:
    """
    REPORT (0x26), node -> MA: the node's figures for central monitoring,
    authenticated like L{Register}.

    @ivar sequence: strictly increasing per node, shared with L{Register}'s
        counter or separate (the MA keeps the last of each).
    @ivar rttToMAus: the node's RTT to its MA, microseconds.
    @ivar bytesIn: bytes received since the node started.
    @ivar bytesOut: bytes sent since the node started.
    @ivar handovers: handovers since the node started.
    @ivar lastHandoverMs: duration of the most recent handover (new prefix
        to registered), milliseconds; 0 if none.
    @ivar keyID: which of the node's keys signed.
    """

    TYPE: ClassVar[int] = MappingType.REPORT
    NAME: ClassVar[str] = "REPORT"
    SIZE: ClassVar[int] = _REPORT.size + HMAC_SIZE
    _CHECKS: ClassVar[tuple[Check, ...]] = (
        ("requestId", U32),
        ("nodeID", NODEID),
        ("sequence", U64),
        ("rttToMAus", U32),
        ("bytesIn", U64),
        ("bytesOut", U64),
        ("handovers", U32),
        ("lastHandoverMs", U32),
        ("keyID", U32),
    )

    requestId: int
    nodeID: NodeID
    sequence: int
    rttToMAus: int
    bytesIn: int
    bytesOut: int
    handovers: int
    lastHandoverMs: int
    keyID: int = 0
    hmac: bytes = _NO_HMAC

    def __attrs_post_init__(self) -> None:
        checkFields(self, self._CHECKS)
        if not isinstance(self.hmac, bytes) or len(self.hmac) != HMAC_SIZE:
            raise InvalidField(f"Report.hmac must be {HMAC_SIZE} bytes")

    def _signed(self) -> bytes:
        return _REPORT.pack(
            VERSION,
            0x26,
            88,
            self.requestId,
            self.nodeID.value,
            self.keyID,
            self.sequence,
            self.rttToMAus,
            self.bytesIn,
            self.bytesOut,
            self.handovers,
            self.lastHandoverMs,
        )

    def encode(self) -> bytes:
        """
        The whole frame.
        """
        return self._signed() + self.hmac

    def sign(self, key: bytes) -> Report:
        """
        A copy with C{hmac} computed under C{key}.

        @raise InvalidField: if C{key} is empty.
        """
        return build(
            Report,
            (
                self.requestId,
                self.nodeID,
                self.sequence,
                self.rttToMAus,
                self.bytesIn,
                self.bytesOut,
                self.handovers,
                self.lastHandoverMs,
                self.keyID,
                _mac(key, self._signed()),
            ),
        )

    def verify(self, key: bytes) -> bool:
        """
        Whether C{hmac} is right for C{key} (compared in constant time).

        @raise InvalidField: if C{key} is empty.
        """
        return _hmac.compare_digest(self.hmac, _mac(key, self._signed()))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """
        Decode exactly one frame (the HMAC is not checked: call L{verify}).

        @raise WireError: if C{data} is not a valid frame of this type.
        """
        if len(data) != 88:
            raise _fixedError(data, cls, 88)
        v, t, n, rid, node, keyID, seq, rtt, bin_, bout, hos, last = _REPORT.unpack_from(data)
        if v != VERSION or t != 0x26 or n != 88:
            raise _fixedError(data, cls, 88)
        return build(
            cls, (rid, fastNodeID(node), seq, rtt, bin_, bout, hos, last, keyID, bytes(data[56:]))
        )


# ---------------------------------------------------------------- dispatch

MappingMessage: TypeAlias = (
    Register | RegisterAck | MapQuery | MapReply | Notify | NotifyAck | Report
)
"""Any mapping protocol message."""

MAPPING_TYPES: Final[dict[int, type[MappingMessage]]] = {
    cls.TYPE: cls for cls in (Register, RegisterAck, MapQuery, MapReply, Notify, NotifyAck, Report)
}
"""Type code -> message class."""

_NAMES: Final = {code: cls.NAME for code, cls in MAPPING_TYPES.items()}


def decodeMappingMessage(data: bytes) -> MappingMessage:
    """
    Decode one mapping protocol frame, whatever its type.

    @raise UnknownType: if the type code is not a mapping message.
    @raise WireError: (another subclass) if the frame is otherwise invalid.
    """
    if len(data) < HEADER_SIZE:
        checkFrame(data)
    cls = MAPPING_TYPES.get(data[1])
    if cls is None:
        checkFrame(data, _NAMES)
        raise UnknownType(f"unknown mapping message type {data[1]:#04x}")  # pragma: no cover
    return cls.decode(data)
