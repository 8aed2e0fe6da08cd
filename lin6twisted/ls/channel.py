# -*- test-case-name: lin6twisted.ls.test.test_channel -*-
"""
The LS protocol over a stream (TLS between MA and LS, and between LSs).

L{LSChannel} is a thin protocol: it splits the stream into frames with
L{StreamDecoder}, decodes them with L{decodeLSMessage} and hands every
message to its L{IChannelController}.  It is reused on both ends (the LS's
MA channel and peer mesh, and the MA's LS client).

Bad input:
    - a frame whose header is broken (wrong version, length below the
      header or above the maximum) loses the frame boundaries: it is
      logged and the connection is dropped;
    - a well delimited frame that does not decode (unknown type, bad body)
      is logged, answered with an L{LSError} C{MALFORMED} carrying its
      request id, and the connection goes on.

An LS that is not connected to an MA reaches it through the peer LS the MA
heartbeats to, in a L{Relay} envelope (C{0x0D}, see C{docs/protocol.md}).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from lin6twisted.wire import (
    MAX_FRAME,
    LSError,
    LSErrorCode,
    LSMessage,
    StreamDecoder,
    WireError,
    decodeLSMessage,
)
from lin6twisted.wire.ls import Relay

__all__ = [
    "MA_MAX_FRAME",
    "IChannelController",
    "LSChannel",
    "Relay",
]

MA_MAX_FRAME: Final = 1024
"""The largest frame on an MA <-> LS channel (heartbeats, RTT messages,
assignments and errors are all far smaller)."""
_CLOSED: Final = Failure(ConnectionDone())  # type: ignore[no-untyped-call]


class IChannelController(Interface):
    """
    What an L{LSChannel} reports to.
    """

    def channelOpen(channel: LSChannel) -> None:
        """
        The channel is ready (after the TLS handshake, if any).
        """

    def messageReceived(channel: LSChannel, message: LSMessage) -> None:
        """
        A message arrived.
        """

    def channelClosed(channel: LSChannel, reason: Failure) -> None:
        """
        The connection is gone.
        """


@implementer(IHandshakeListener)
class LSChannel(Protocol):
    """
    One LS protocol stream connection (see the module docstring).

    @ivar controller: where messages go.
    @ivar kind: a word for log lines (C{"MA"}, C{"peer"}, C{"LS"}).
    @ivar tls: whether to wait for the TLS handshake before reporting the
        channel open (C{False} for plain TCP, and in unit tests).
    @ivar maxFrame: frames announcing more bytes than this break the
        framing (MA channels carry only small messages: L{MA_MAX_FRAME}).
    @ivar name: set by the controller once it knows the far end.
    @ivar isOpen: whether L{IChannelController.channelOpen} was called.
    @ivar badFrames: frames that did not decode on this connection.
    """

    log = Logger()

    def __init__(
        self,
        controller: IChannelController,
        kind: str,
        tls: bool = True,
        maxFrame: int = MAX_FRAME,
    ) -> None:
        self.controller = controller
        self.kind = kind
        self.tls = tls
        self.name: str | None = None
        self.isOpen = False
        self.closed = False
        self.badFrames = 0
        self._decoder = StreamDecoder(maxFrame)

    def __repr__(self) -> str:
        return f"<LSChannel {self.kind} {self.peerText()}>"

    def peerText(self) -> str:
        """
        The far end for log lines: its name if known, else its address.
        """
        if self.name:
            return self.name
        try:
            peer: Any = self.transport.getPeer()  # type: ignore[union-attr]
            return f"[{peer.host}]:{peer.port}"
        except Exception:
            return "?"

    def connectionMade(self) -> None:
        if not self.tls:
            self._open()

    def handshakeCompleted(self) -> None:
        """
        The TLS handshake succeeded (the peer's certificate and role were
        verified by the context factory).
        """
        self._open()

    def _open(self) -> None:
        if not self.isOpen and not self.closed:
            self.isOpen = True
            self.controller.channelOpen(self)

    def dataReceived(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            frames = self._decoder.feed(data)
        except WireError as e:
            self.log.warn(
                "Dropping {kind} connection from {peer}: broken framing ({error})",
                kind=self.kind,
                peer=self.peerText(),
                error=e,
            )
            self.closed = True
            self.transport.abortConnection()  # type: ignore[union-attr]
            return
        if frames and not self.isOpen:
            # Frames before the handshake completed cannot happen with TLS;
            # over plain TCP the channel is open already.
            self._open()
        for frame in frames:
            if self.closed:
                return
            try:
                message = decodeLSMessage(frame)
            except WireError as e:
                self.badFrames += 1
                self.log.warn(
                    "Bad frame on {kind} connection from {peer}: {error}",
                    kind=self.kind,
                    peer=self.peerText(),
                    error=e,
                )
                rid = e.requestId if e.requestId is not None else 0
                self.send(LSError(rid, LSErrorCode.MALFORMED, str(e)[:200]))
                continue
            try:
                self.controller.messageReceived(self, message)
            except Exception:
                self.log.failure(
                    "Error handling {message} from {peer}", message=message, peer=self.peerText()
                )

    def send(self, message: LSMessage) -> None:
        """
        Send one message (dropped if the connection is closed).
        """
        if not self.closed and self.transport is not None:
            self.transport.write(message.encode())

    def sendMany(self, messages: Iterable[LSMessage]) -> None:
        """
        Send several messages in one write.
        """
        if not self.closed and self.transport is not None:
            self.transport.write(b"".join(m.encode() for m in messages))

    def sendRaw(self, data: bytes) -> None:
        """
        Send already encoded frames.
        """
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        """
        Close the connection.
        """
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = _CLOSED) -> None:
        self.closed = True
        if not self.isOpen:
            self.log.info(
                "{kind} connection from {peer} closed before it was open: {reason}",
                kind=self.kind,
                peer=self.peerText(),
                reason=reason.getErrorMessage(),
            )
        self.controller.channelClosed(self, reason)
