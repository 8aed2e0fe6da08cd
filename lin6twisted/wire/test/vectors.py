"""
The messages behind the hex test vectors of C{docs/protocol.md}.

L{VECTORS} maps each vector's name in the document to the message its bytes
encode; L{REJECTS} maps each rejected vector's name to the decoder and the
error class it must raise.  L{VECTOR_KEY} is the node key the signed
vectors use.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address

from lin6twisted.address import NodeID, Prefix
from lin6twisted.wire import (
    AnswerEntry,
    AnswerTableUpdate,
    Assignment,
    BadLength,
    BadVersion,
    CookieChallenge,
    Heartbeat,
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
    NotifyAck,
    Register,
    RegisterAck,
    RegisterFlags,
    RegisterStatus,
    Relay,
    Report,
    RTTReply,
    RTTRequest,
    RTTStatus,
    SyncDone,
    SyncRequest,
    TruncatedFrame,
    UnknownType,
    WireError,
    decodeLSMessage,
    decodeMappingMessage,
    splitDatagram,
)

VECTOR_KEY = bytes(range(32))
"""The node key of the signed vectors: bytes 0x00, 0x01, ..., 0x1f."""

_MA1 = IPv6Address("2001:db8:a::1")
_MA2 = IPv6Address("2001:db8:b::1")
_MOBILE = NodeID.fromString("201:4a00:0:2")
_STATIONARY = NodeID.fromString("1:4a00:0:1")
_PREFIX = Prefix.fromString("2001:db8:100:1::/64")
_LOC1 = IPv6Address("2001:db8:100:1:201:4a00:0:2")
_LOC2 = IPv6Address("2001:db8:200:7:201:4a00:0:2")
_STATIONARY_LOC2 = IPv6Address("2001:db8:200:7:1:4a00:0:1")

VECTORS: dict[str, LSMessage | MappingMessage] = {
    "heartbeat": Heartbeat(
        requestId=0x2A,
        maAddress=_MA1,
        maPort=7100,
        bootID=0x0102030405060708,
        sequence=17,
        normal=12,
        premium=3,
        capacity=100,
        interval=5,
    ),
    "rtt-request": RTTRequest(requestId=0x100, target=_LOC1, count=4, timeoutMs=1000),
    "rtt-reply": RTTReply(
        requestId=0x100, target=_LOC1, status=RTTStatus.OK, meanRTTus=23500, received=4
    ),
    "rtt-reply-timeout": RTTReply(
        requestId=0x101, target=_LOC1, status=RTTStatus.TIMEOUT, meanRTTus=0, received=0
    ),
    "ma-request": MARequest(requestId=7, nodeID=_MOBILE),
    "ma-request-cookie": MARequest(
        requestId=8, nodeID=_MOBILE, cookie=bytes.fromhex("c0ffee" * 4)
    ),
    "ma-reply": MAReply(
        requestId=8, nodeID=_MOBILE, maAddress=_MA2, maPort=7100, lifetime=600, rttUs=23500
    ),
    "matbl-update": MATableUpdate(
        requestId=3,
        entries=(
            MAEntry(_MA1, 7100, 1, 17, 12, 3, 100, 5, True, 1500),
            MAEntry(_MA2, 7100, 2, 9, 0, 0, 50, 5, False, 61000),
        ),
    ),
    "matbl-update-empty": MATableUpdate(requestId=4, entries=()),
    "anstbl-update": AnswerTableUpdate(
        requestId=5,
        entries=(AnswerEntry(_PREFIX, _MA2, 7100, 1764806400000, 600, 23500, 2),),
    ),
    "sync-request": SyncRequest(
        requestId=6, lsID=bytes.fromhex("00112233445566778899aabbccddeeff"), bootID=99
    ),
    "error": LSError(requestId=7, code=LSErrorCode.NO_CAPACITY, message="no MA has room"),
    "assignment": Assignment(requestId=8, nodeID=_MOBILE, level=2, prefix=_PREFIX),
    "cookie-challenge": CookieChallenge(requestId=7, cookie=bytes.fromhex("c0ffee" * 4)),
    "sync-done": SyncDone(requestId=6, maCount=2, answerCount=1),
    "relay": Relay(
        requestId=9,
        ma=_MA2,
        inner=RTTRequest(requestId=0x101, target=_LOC1, count=4, timeoutMs=1000),
    ),
    "register": Register(
        requestId=0x1000,
        nodeID=_MOBILE,
        locators=(_LOC1,),
        lifetime=300,
        keyID=1,
        sequence=1,
    ).sign(VECTOR_KEY),
    "register-pinned": Register(
        requestId=0x1001,
        nodeID=_STATIONARY,
        locators=(IPv6Address("3ffe:501:808:4001:1:4a00:0:1"), _STATIONARY_LOC2),
        lifetime=3600,
        keyID=2,
        sequence=42,
        flags=RegisterFlags.PINNED,
    ).sign(VECTOR_KEY),
    "register-ack": RegisterAck(
        requestId=0x1000, nodeID=_MOBILE, status=RegisterStatus.OK, lifetime=300, sequence=1
    ),
    "register-ack-replay": RegisterAck(
        requestId=0x1002, nodeID=_MOBILE, status=RegisterStatus.REPLAY, lifetime=0, sequence=1
    ),
    "map-query": MapQuery(requestId=0x2000, nodeID=_MOBILE),
    "map-reply": MapReply(
        requestId=0x2000, nodeID=_MOBILE, status=MapStatus.FOUND, ttl=30, locators=(_LOC2,)
    ),
    "map-reply-negative": MapReply(
        requestId=0x2001, nodeID=_STATIONARY, status=MapStatus.NOT_FOUND, ttl=10
    ),
    "notify": Notify(requestId=0x3000, nodeID=_MOBILE, locators=(_LOC2,)),
    "notify-ack": NotifyAck(requestId=0x3000, nodeID=_MOBILE),
    "report": Report(
        requestId=0x4000,
        nodeID=_MOBILE,
        sequence=2,
        rttToMAus=23500,
        bytesIn=10_000_000,
        bytesOut=250_000,
        handovers=1,
        lastHandoverMs=18,
        keyID=1,
    ).sign(VECTOR_KEY),
}

DECODERS: dict[str, Callable[[bytes], object]] = {
    "ls": decodeLSMessage,
    "mapping": decodeMappingMessage,
    "datagram": splitDatagram,
}
"""The decoders a reject vector names."""

ERRORS: dict[str, type[WireError]] = {
    cls.__name__: cls
    for cls in (TruncatedFrame, BadVersion, UnknownType, BadLength, MalformedBody)
}
"""The error classes a reject vector names."""
