# -*- test-case-name: lin6twisted.wire.test -*-
"""
lin6 wire protocols: the common frame, the LS protocol and the node <-> MA
mapping protocol.  Byte layouts, codes and test vectors: C{docs/protocol.md}.

Every frame starts with C{version:u8 | type:u8 | length:u16 | requestId:u32}
(network byte order).  Messages are frozen attrs values with C{encode()} and
a classmethod C{decode(data)}; L{decodeLSMessage} and
L{decodeMappingMessage} dispatch on the type code.  Decoding raises nothing
but L{WireError} subclasses; construction with bad values raises
L{InvalidField} (or L{OversizedFrame}).

Over streams use L{StreamDecoder}; over datagrams L{splitDatagram}.

This package has no Twisted imports.
"""

from lin6twisted.wire._frame import (
    HEADER_SIZE,
    MAX_FRAME,
    VERSION,
    BadLength,
    BadVersion,
    InvalidField,
    MalformedBody,
    OversizedFrame,
    StreamDecoder,
    TruncatedFrame,
    UnknownType,
    WireError,
    peekHeader,
    splitDatagram,
)
from lin6twisted.wire.ls import (
    LS_TYPES,
    MAX_COOKIE,
    MAX_ERROR_MESSAGE,
    AnswerEntry,
    AnswerTableUpdate,
    Assignment,
    CookieChallenge,
    Heartbeat,
    LSError,
    LSErrorCode,
    LSMessage,
    LSType,
    MAEntry,
    MAReply,
    MARequest,
    MATableUpdate,
    Relay,
    RelayedMessage,
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
    MappingMessage,
    MappingType,
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
    "HEADER_SIZE",
    "HMAC_SIZE",
    "LS_TYPES",
    "MAPPING_TYPES",
    "MAX_COOKIE",
    "MAX_ERROR_MESSAGE",
    "MAX_FRAME",
    "MAX_LOCATORS",
    "VERSION",
    "AnswerEntry",
    "AnswerTableUpdate",
    "Assignment",
    "BadLength",
    "BadVersion",
    "CookieChallenge",
    "Heartbeat",
    "InvalidField",
    "LSError",
    "LSErrorCode",
    "LSMessage",
    "LSType",
    "MAEntry",
    "MAReply",
    "MARequest",
    "MATableUpdate",
    "MalformedBody",
    "MapQuery",
    "MapReply",
    "MapStatus",
    "MappingMessage",
    "MappingType",
    "Notify",
    "NotifyAck",
    "OversizedFrame",
    "RTTReply",
    "RTTRequest",
    "RTTStatus",
    "Register",
    "RegisterAck",
    "RegisterFlags",
    "RegisterStatus",
    "Relay",
    "RelayedMessage",
    "Report",
    "StreamDecoder",
    "SyncDone",
    "SyncRequest",
    "TruncatedFrame",
    "UnknownType",
    "WireError",
    "decodeLSMessage",
    "decodeMappingMessage",
    "peekHeader",
    "splitDatagram",
]
