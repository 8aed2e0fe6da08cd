# -*- test-case-name: lin6twisted.wire.test.test_frame -*-
"""
The common frame header, typed wire errors, and framing helpers.

Every lin6 frame, on every transport, starts with the same 8-byte header in
network byte order::

    version:u8 | type:u8 | length:u16 | requestId:u32

C{length} is the total frame length, header included, so a frame is at
least L{HEADER_SIZE} and at most L{MAX_FRAME} bytes.  Over a stream (TCP,
TLS) frames follow each other back to back and L{StreamDecoder} splits them;
over datagrams (UDP) a datagram carries exactly one frame
(L{splitDatagram}).

This module has no Twisted imports.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = [
    "HEADER",
    "HEADER_SIZE",
    "MAX_FRAME",
    "VERSION",
    "BadLength",
    "BadVersion",
    "BytesLike",
    "InvalidField",
    "MalformedBody",
    "OversizedFrame",
    "StreamDecoder",
    "TruncatedFrame",
    "UnknownType",
    "WireError",
    "checkFrame",
    "peekHeader",
    "splitDatagram",
]

VERSION: Final = 1
"""The protocol version this module speaks."""

HEADER: Final = struct.Struct("!BBHI")
"""C{version:u8 | type:u8 | length:u16 | requestId:u32}."""

HEADER_SIZE: Final = HEADER.size
"""8 bytes."""

MAX_FRAME: Final = 65535
"""The largest frame: C{length} is a u16 and counts the header."""

BytesLike = bytes | bytearray | memoryview
"""What the framing helpers accept as input."""


class WireError(ValueError):
    """
    Base class of every error the wire codecs raise.

    Decoding raises nothing but subclasses of this class, whatever the input.

    @ivar messageType: the type code from the header, when it could be read.
    @ivar requestId: the request id from the header, when it could be read
        (so a server can echo it in an error reply).
    @ivar offset: the byte offset in the frame where the problem lies, when
        known.
    """

    def __init__(
        self,
        message: str,
        *,
        messageType: int | None = None,
        requestId: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.messageType = messageType
        self.requestId = requestId
        self.offset = offset


class TruncatedFrame(WireError):
    """
    Fewer bytes than a header, or than the header's C{length}, are present.
    """


class BadVersion(WireError):
    """
    The header's version is not L{VERSION}.
    """


class UnknownType(WireError):
    """
    The header's type code is not one the decoder handles.
    """


class BadLength(WireError):
    """
    The header's C{length} is below the header size, disagrees with the
    bytes present, or disagrees with what the message type's body demands.
    """


class OversizedFrame(WireError):
    """
    A frame (or a message being built) exceeds the allowed frame size.
    """


class MalformedBody(WireError):
    """
    The body is well delimited but holds an invalid value (unknown enum
    value, reserved bits set, count out of range, bad UTF-8, ...).
    """


class InvalidField(WireError):
    """
    A message or entry was constructed with a field value that cannot be
    encoded (out of range, wrong type, wrong length).
    """


def peekHeader(data: BytesLike) -> tuple[int, int, int, int]:
    """
    Read the header of a frame without checking anything but its presence.

    @return: C{(version, type, length, requestId)}.
    @raise TruncatedFrame: if fewer than L{HEADER_SIZE} bytes are present.
    """
    if len(data) < HEADER_SIZE:
        raise TruncatedFrame(
            f"frame header needs {HEADER_SIZE} bytes, got {len(data)}", offset=len(data)
        )
    version, mtype, length, rid = HEADER.unpack_from(data)
    return version, mtype, length, rid


def checkFrame(data: BytesLike, names: dict[int, str] | None = None) -> tuple[int, int]:
    """
    Check that C{data} is exactly one complete frame of this version.

    @param names: if given, the known type codes and their names; an
        unknown type raises L{UnknownType}.
    @return: C{(type, requestId)}.
    @raise WireError: the subclass saying what is wrong.
    """
    size = len(data)
    version, mtype, length, rid = peekHeader(data)
    if size > MAX_FRAME:
        raise OversizedFrame(
            f"frame of {size} bytes exceeds the maximum of {MAX_FRAME}",
            messageType=mtype,
            requestId=rid,
        )
    if version != VERSION:
        raise BadVersion(
            f"unsupported version {version} at offset 0 (this end speaks {VERSION})",
            messageType=mtype,
            requestId=rid,
            offset=0,
        )
    if length < HEADER_SIZE:
        raise BadLength(
            f"length field {length} at offset 2 is below the header size {HEADER_SIZE}",
            messageType=mtype,
            requestId=rid,
            offset=2,
        )
    if length > size:
        raise TruncatedFrame(
            f"frame truncated: length field says {length} bytes, got {size}",
            messageType=mtype,
            requestId=rid,
            offset=size,
        )
    if length < size:
        raise BadLength(
            f"length field says {length} bytes but {size} are present "
            f"({size - length} trailing byte(s))",
            messageType=mtype,
            requestId=rid,
            offset=length,
        )
    if names is not None and mtype not in names:
        raise UnknownType(
            f"unknown message type {mtype:#04x} at offset 1",
            messageType=mtype,
            requestId=rid,
            offset=1,
        )
    return mtype, rid


def splitDatagram(data: BytesLike) -> bytes:
    """
    Check that a datagram holds exactly one whole frame and return it.

    @param data: the datagram payload.
    @return: the frame, as L{bytes}.
    @raise TruncatedFrame: shorter than the header or its C{length}.
    @raise BadLength: C{length} below the header size or shorter than the
        datagram (trailing bytes).
    @raise BadVersion: the version is not L{VERSION}.
    @raise OversizedFrame: the datagram exceeds L{MAX_FRAME}.
    """
    checkFrame(data)
    return bytes(data)


class StreamDecoder:
    """
    Sans-IO splitter of a byte stream (TCP, TLS) into frames.

    Feed it whatever the transport delivers; it returns the complete frames,
    holding back a partial one until the rest arrives.  A bad header makes
    the stream unrecoverable (frame boundaries are lost): L{feed} raises
    (dropping any frames completed earlier in the same chunk), raises again
    on any later call, and the protocol should drop the connection.  An
    unknown I{type} is not checked here: the frame is still well delimited,
    so the message decoder reports it and the connection may continue.

    @ivar maxFrame: the largest frame accepted (at most L{MAX_FRAME}).
    """

    def __init__(self, maxFrame: int = MAX_FRAME) -> None:
        if not HEADER_SIZE <= maxFrame <= MAX_FRAME:
            raise InvalidField(f"maxFrame must be in {HEADER_SIZE}..{MAX_FRAME}, not {maxFrame}")
        self.maxFrame = maxFrame
        self._buffer = bytearray()
        self._error: WireError | None = None
        self._consumed = 0

    @property
    def buffered(self) -> int:
        """
        How many bytes of an incomplete frame are held back.
        """
        return len(self._buffer)

    def feed(self, data: BytesLike) -> list[bytes]:
        """
        Add bytes from the stream.

        @return: the frames completed by these bytes, in order (possibly
            none).
        @raise BadVersion: a header carries another version.
        @raise BadLength: a header's C{length} is below the header size.
        @raise OversizedFrame: a header's C{length} exceeds L{maxFrame}.
        """
        if self._error is not None:
            raise self._error
        buf = self._buffer
        buf += data
        size = len(buf)
        pos = 0
        frames: list[bytes] = []
        unpack = HEADER.unpack_from
        try:
            while size - pos >= HEADER_SIZE:
                version, mtype, length, rid = unpack(buf, pos)
                where = self._consumed + pos
                if version != VERSION:
                    raise BadVersion(
                        f"unsupported version {version} in the frame at stream offset {where}",
                        messageType=mtype,
                        requestId=rid,
                        offset=where,
                    )
                if length < HEADER_SIZE:
                    raise BadLength(
                        f"length field {length} below the header size in the frame at "
                        f"stream offset {where}",
                        messageType=mtype,
                        requestId=rid,
                        offset=where + 2,
                    )
                if length > self.maxFrame:
                    raise OversizedFrame(
                        f"frame of {length} bytes at stream offset {where} exceeds the "
                        f"maximum of {self.maxFrame}",
                        messageType=mtype,
                        requestId=rid,
                        offset=where + 2,
                    )
                end = pos + length
                if end > size:
                    break
                frames.append(bytes(buf[pos:end]))
                pos = end
        except WireError as e:
            self._error = e
            self._buffer = bytearray()
            raise
        if pos:
            del buf[:pos]
            self._consumed += pos
        return frames
