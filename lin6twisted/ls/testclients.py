# -*- test-case-name: lin6twisted.ls.test.test_integration_ls -*-
"""
Small clients of the LS protocol for tests and benchmarks (not daemons):

    - L{FakeMA}: an MA's LS side speaking the real protocol over an
      L{LSChannel}: periodic heartbeats, RTT requests answered with a
      configured fake RTT (real probing is the MA daemon's job), and the
      assignment notices it got.
    - L{MNQuery}: an MN's MA_REQUEST over UDP with the cookie round trip
      (now in L{lin6twisted.ls.query}; re-exported here).
"""

from __future__ import annotations

from ipaddress import IPv6Address

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted.ls.channel import MA_MAX_FRAME, IChannelController, LSChannel
from lin6twisted.ls.query import MNQuery
from lin6twisted.wire import (
    Assignment,
    Heartbeat,
    LSError,
    LSMessage,
    RTTReply,
    RTTRequest,
    RTTStatus,
)

__all__ = ["FakeMA", "MNQuery"]


@implementer(IChannelController)
class FakeMA:
    """
    The LS side of an MA, with a fake RTT.

    @ivar rttMs: the RTT it reports to every target (C{None}: a timeout).
    @ivar assignments: the assignment notices received.
    @ivar channel: the current channel, if connected.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        address: IPv6Address,
        rttMs: float | None,
        interval: float = 0.3,
        bootID: int = 1,
        port: int = 7000,
    ) -> None:
        self.clock = clock
        self.address = address
        self.rttMs = rttMs
        self.interval = interval
        self.bootID = bootID
        self.port = port
        self.sequence = 0
        self.normal = 0
        self.premium = 0
        self.capacity = 0
        self.channel: LSChannel | None = None
        self.assignments: list[Assignment] = []
        self.rttRequests: list[RTTRequest] = []
        self.errors: list[LSError] = []
        self.opened: Deferred[LSChannel] = Deferred()
        self._loop: LoopingCall | None = None

    def protocol(self) -> LSChannel:
        """
        A new channel for a connection to an LS.
        """
        return LSChannel(self, "LS", tls=True, maxFrame=MA_MAX_FRAME)

    def heartbeat(self) -> None:
        """
        Send one heartbeat now.
        """
        if self.channel is None:
            return
        self.sequence += 1
        self.channel.send(
            Heartbeat(
                self.sequence,
                self.address,
                self.port,
                self.bootID,
                self.sequence,
                self.normal,
                self.premium,
                self.capacity,
                max(1, round(self.interval)),
            )
        )

    def start(self) -> None:
        """
        Heartbeat every C{interval} seconds while connected.
        """
        if self._loop is None or not self._loop.running:
            self._loop = LoopingCall(self.heartbeat)
            self._loop.clock = self.clock
            self._loop.start(self.interval, now=True)

    def silence(self) -> None:
        """
        Stop heartbeating (the connection stays up).
        """
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def channelOpen(self, channel: LSChannel) -> None:
        self.channel = channel
        self.start()
        if not self.opened.called:
            self.opened.callback(channel)

    def messageReceived(self, channel: LSChannel, message: LSMessage) -> None:
        if isinstance(message, RTTRequest):
            self.rttRequests.append(message)
            if self.rttMs is None:
                reply = RTTReply(message.requestId, message.target, RTTStatus.TIMEOUT, 0, 0)
            else:
                reply = RTTReply(
                    message.requestId,
                    message.target,
                    RTTStatus.OK,
                    int(self.rttMs * 1000),
                    message.count,
                )
            channel.send(reply)
        elif isinstance(message, Assignment):
            self.assignments.append(message)
        elif isinstance(message, LSError):
            self.errors.append(message)

    def channelClosed(self, channel: LSChannel, reason: Failure) -> None:
        if channel is self.channel:
            self.channel = None
            self.silence()
