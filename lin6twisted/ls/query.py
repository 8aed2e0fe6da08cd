# -*- test-case-name: lin6twisted.ls.test.test_query -*-
"""
The mobile node's side of an LS query: which MA should this node use?

An MN sends an L{MARequest}; the LS answers the first request from an
address with a L{CookieChallenge}, and the MN repeats the request with the
cookie to get the answer (an L{MAReply} or an L{LSError}).

    - L{CookieExchange}: that round trip without I/O (one home for the
      cookie logic).
    - L{MNQuery}: a Twisted UDP client of it (tests, benchmarks, the lab).
    - L{askLS}: a blocking client over UDP or the LS's TCP query port
      (frames back to back), for the C{lin6 ls query} command line.
"""

from __future__ import annotations

import itertools
import secrets
import socket
import time
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.python.failure import Failure

from lin6twisted.address import NodeID
from lin6twisted.wire import (
    CookieChallenge,
    LSError,
    LSMessage,
    MAReply,
    MARequest,
    StreamDecoder,
    WireError,
    decodeLSMessage,
)

__all__ = ["CookieExchange", "LSAnswer", "MNQuery", "QueryError", "askLS"]

LSAnswer = MAReply | LSError
"""
The final answer of an LS to an MA request.
"""

_U32 = 0xFFFFFFFF


class QueryError(Exception):
    """
    No usable answer: a timeout, an unreachable LS, a broken or unexpected
    reply.
    """


class CookieExchange:
    """
    One MA request with the cookie round trip, without I/O.

    Send L{request}; feed every message that comes back to L{receive}.  The
    exchange uses C{requestId} for the first request and the next id for
    the request that carries the cookie.  At most one challenge is
    accepted.

    @ivar nodeID: the node asking.
    @ivar request: the request to send now.
    """

    def __init__(self, nodeID: NodeID, requestId: int) -> None:
        self.nodeID = nodeID
        self.request = MARequest(requestId & _U32, nodeID)
        self._challenged = False

    def receive(self, message: LSMessage) -> MARequest | LSAnswer | None:
        """
        Handle a message from the LS.

        @return: the request to send next (after a challenge, also left in
            L{request}), the final answer, or C{None} for a message that
            answers another request (stale; ignore it).
        @raise QueryError: the LS challenged the cookie it issued, or sent
            a message that is not an answer to an MA request.
        """
        if message.requestId != self.request.requestId:
            return None
        if isinstance(message, MAReply | LSError):
            return message
        if isinstance(message, CookieChallenge):
            if self._challenged:
                raise QueryError("the LS refused the cookie it issued")
            self._challenged = True
            self.request = MARequest(
                (self.request.requestId + 1) & _U32, self.nodeID, message.cookie
            )
            return self.request
        raise QueryError(f"unexpected {message.NAME} answer to an MA request")


class MNQuery(DatagramProtocol):
    """
    An MN asking an LS for its MA over UDP (cookie round trip included).
    Listen with it on a UDP port, then call L{ask}.
    """

    _rids = itertools.count(1, 2)

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self._waiting: dict[int, Deferred[LSMessage]] = {}

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        try:
            message = decodeLSMessage(datagram)
        except WireError:
            return
        d = self._waiting.pop(message.requestId, None)
        if d is not None:
            d.callback(message)

    def _send(
        self, message: MARequest, host: str, port: int, timeout: float
    ) -> Deferred[LSMessage]:
        if self.transport is None:
            raise QueryError("MNQuery is not listening")
        d: Deferred[LSMessage] = Deferred()
        self._waiting[message.requestId] = d
        self.transport.write(message.encode(), (host, port))
        d.addTimeout(timeout, self.clock)

        def forget(failure: Failure) -> Failure:
            self._waiting.pop(message.requestId, None)
            return failure

        return d.addErrback(forget)

    async def ask(self, nodeID: NodeID, host: str, port: int, timeout: float = 3.0) -> LSAnswer:
        """
        Ask for an MA: the first request gets a cookie challenge, the second
        (with the cookie) the answer.

        @param timeout: seconds to wait for each of the two answers.
        @raise QueryError: see L{CookieExchange.receive}.
        @raise twisted.internet.defer.TimeoutError: no answer in time.
        """
        exchange = CookieExchange(nodeID, next(self._rids))
        step: MARequest | LSAnswer | None = exchange.request
        while isinstance(step, MARequest):
            step = exchange.receive(await self._send(step, host, port, timeout))
        if step is None:
            raise QueryError("an answer to another request")
        return step


def askLS(
    host: str,
    port: int,
    nodeID: NodeID,
    timeout: float = 3.0,
    tcp: bool = False,
    requestId: int | None = None,
) -> LSAnswer:
    """
    Ask an LS for an MA with blocking sockets, over UDP or its TCP query
    port.

    @param host: the LS's IPv6 address (an IPv4-mapped one for IPv4).
    @param timeout: seconds for the whole exchange.
    @param requestId: the first request id (default: random).
    @raise QueryError: no answer within C{timeout}, the LS cannot be
        reached, or it answered with something unusable.
    """
    exchange = CookieExchange(nodeID, secrets.randbits(31) + 1 if requestId is None else requestId)
    deadline = time.monotonic() + timeout
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    where = f"[{host}]:{port}"
    try:
        with socket.socket(socket.AF_INET6, kind) as s:
            s.settimeout(timeout)
            s.connect((host, port))
            decoder = StreamDecoder()
            while True:
                s.sendall(exchange.request.encode())
                step = None
                while step is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    s.settimeout(remaining)
                    data = s.recv(65535)
                    if tcp and not data:
                        raise QueryError(f"{where} closed the connection")
                    frames = decoder.feed(data) if tcp else [data]
                    for frame in frames:
                        step = exchange.receive(decodeLSMessage(frame))
                        if step is not None:
                            break
                if not isinstance(step, MARequest):
                    return step
    except TimeoutError:
        raise QueryError(f"no answer from {where} within {timeout:g} s") from None
    except WireError as e:
        raise QueryError(f"bad answer from {where}: {e}") from None
    except OSError as e:
        raise QueryError(f"cannot ask {where}: {e.strerror or e}") from None
