# -*- test-case-name: lin6twisted.ma.test.test_rtt -*-
"""
RTT probing for the LS: ICMPv6 echo requests to a mobile node, answered
with the mean round trip.

L{ProbeBook} (pure) allocates echo identifiers and sequence numbers, matches
replies, applies the per-target rate limit and computes results.
L{ICMPv6Pinger} owns a raw ICMPv6 socket registered with the reactor as a
reader, sends the requests and fires the measurement's Deferred when all
replies are in or the timeout passes.

Per-target rate limit: a target measured less than C{minInterval} seconds
ago gets the cached result of that measurement (an in-flight one is
joined); with no usable result it gets L{RTTStatus.RATE_LIMITED}.  At most
C{maxInFlight} measurements run at once.

Run C{python -m lin6twisted.ma.rtt TARGET [COUNT]} (root) to measure once.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any, Final

from attrs import define, field, frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted.wire.ls import RTTStatus

__all__ = [
    "ECHO_REPLY",
    "ECHO_REQUEST",
    "ICMPv6Pinger",
    "ProbeBook",
    "RTTResult",
    "echoRequest",
    "parseEchoReply",
]

ECHO_REQUEST: Final = 128
ECHO_REPLY: Final = 129
_ECHO: Final = struct.Struct("!BBHHH")
_PAYLOAD: Final = b"lin6-ma-rtt-probe"
_SOL_ICMPV6: Final = 58
_ICMP6_FILTER: Final = 1


def echoRequest(identifier: int, sequence: int) -> bytes:
    """
    An ICMPv6 echo request (the kernel fills in the checksum on raw
    ICMPv6 sockets).
    """
    return _ECHO.pack(ECHO_REQUEST, 0, 0, identifier, sequence) + _PAYLOAD


def parseEchoReply(data: bytes) -> tuple[int, int] | None:
    """
    (identifier, sequence) of an ICMPv6 echo reply, or C{None} if C{data}
    is anything else.
    """
    if len(data) < _ECHO.size:
        return None
    kind, code, _, identifier, sequence = _ECHO.unpack_from(data)
    if kind != ECHO_REPLY or code != 0:
        return None
    return identifier, sequence


@frozen
class RTTResult:
    """
    The outcome of one measurement.

    @ivar meanUs: mean RTT of the replies received, microseconds (0 unless
        C{status} is OK).
    """

    target: ipaddress.IPv6Address
    status: RTTStatus
    meanUs: int
    received: int
    sent: int


@define
class _Measurement:
    target: ipaddress.IPv6Address
    count: int
    started: float
    sent: dict[int, float] = field(factory=dict)
    rtts: list[float] = field(factory=list)
    result: RTTResult | None = None
    finished: float = 0.0

    def finish(self, now: float) -> RTTResult:
        if self.result is None:
            received = len(self.rtts)
            if received:
                mean = round(sum(self.rtts) / received * 1e6)
                status = RTTStatus.OK
            else:
                mean, status = 0, RTTStatus.TIMEOUT
            self.result = RTTResult(self.target, status, mean, received, len(self.sent))
            self.finished = now
        return self.result


@define
class ProbeBook:
    """
    Echo bookkeeping without I/O.

    @ivar identifier: the ICMPv6 echo identifier of this MA.
    @ivar minInterval: least seconds between measurements of one target.
    @ivar maxInFlight: measurements allowed at once.
    """

    identifier: int
    minInterval: float = 1.0
    maxInFlight: int = 64
    _next: int = 0
    _bySequence: dict[int, _Measurement] = field(factory=dict)
    _byTarget: dict[ipaddress.IPv6Address, _Measurement] = field(factory=dict)
    _inFlight: int = 0

    def begin(
        self, target: ipaddress.IPv6Address, count: int, now: float
    ) -> tuple[_Measurement | None, RTTResult | None, list[int]]:
        """
        Start measuring C{target} with C{count} echo requests.

        @return: (the measurement to wait for or C{None}, an immediate
            result or C{None}, the sequence numbers to send now).
        """
        recent = self._byTarget.get(target)
        if recent is not None:
            if recent.result is None:
                return recent, None, []  # join the one in flight
            if now - recent.finished < self.minInterval:
                return None, recent.result, []
        if self._inFlight >= self.maxInFlight:
            return None, RTTResult(target, RTTStatus.RATE_LIMITED, 0, 0, 0), []
        m = _Measurement(target, count, now)
        self._byTarget[target] = m
        self._inFlight += 1
        sequences = []
        for _ in range(count):
            seq = self._next
            self._next = (self._next + 1) & 0xFFFF
            old = self._bySequence.pop(seq, None)
            if old is not None:
                old.sent.pop(seq, None)
            self._bySequence[seq] = m
            sequences.append(seq)
        return m, None, sequences

    def sent(self, m: _Measurement, sequence: int, now: float) -> None:
        """
        Record that echo C{sequence} of C{m} left at C{now}.
        """
        m.sent[sequence] = now

    def received(
        self, source: ipaddress.IPv6Address, identifier: int, sequence: int, now: float
    ) -> _Measurement | None:
        """
        Match an echo reply.

        @return: the measurement, if the reply completes it.
        """
        if identifier != self.identifier:
            return None
        m = self._bySequence.get(sequence)
        if m is None or m.target != source or m.result is not None:
            return None
        start = m.sent.get(sequence)
        if start is None:
            return None
        del self._bySequence[sequence]
        m.rtts.append(now - start)
        if len(m.rtts) >= m.count:
            self._done(m, now)
            return m
        return None

    def timeout(self, m: _Measurement, now: float) -> RTTResult:
        """
        End C{m} with what it has.
        """
        return self._done(m, now)

    def _done(self, m: _Measurement, now: float) -> RTTResult:
        if m.result is None:
            self._inFlight -= 1
            for seq in list(m.sent):
                if self._bySequence.get(seq) is m:
                    del self._bySequence[seq]
        return m.finish(now)

    def forget(self, now: float) -> None:
        """
        Drop cached results older than C{minInterval}.
        """
        for target, m in list(self._byTarget.items()):
            if m.result is not None and now - m.finished >= self.minInterval:
                del self._byTarget[target]


@implementer(IReadDescriptor)
class ICMPv6Pinger:
    """
    Measures RTTs with a raw ICMPv6 socket read by the reactor.

    @param sock: a socket to use instead of opening a raw one (tests).
    @param source: the address echo requests leave from (the MA's
        advertised address).  Without it the kernel picks a source, which on
        a box shared with a content server may be that server's locator,
        and the server's dataplane then claims the echo replies.  Loopback
        and unspecified addresses are not bound.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        minInterval: float = 1.0,
        maxInFlight: int = 64,
        sock: Any = None,
        clock: Callable[[], float] | None = None,
        source: ipaddress.IPv6Address | None = None,
    ) -> None:
        self.reactor = reactor
        self.source = source
        self.book = ProbeBook(
            int.from_bytes(os.urandom(2), "big"), minInterval=minInterval, maxInFlight=maxInFlight
        )
        self._sock = sock
        self._clock = clock or reactor.seconds
        self._waiters: dict[int, tuple[list[Deferred[RTTResult]], IDelayedCall]] = {}
        self._reading = False

    # -- socket --------------------------------------------------------------

    def _socket(self) -> Any:
        if self._sock is None:
            s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            s.setblocking(False)
            if self.source is not None and not (
                self.source.is_loopback or self.source.is_unspecified
            ):
                s.bind((str(self.source), 0))
            # Only echo replies reach this socket (ICMP6_FILTER: a set bit blocks a type).
            blocked = [0xFFFFFFFF] * 8
            blocked[ECHO_REPLY >> 5] &= ~(1 << (ECHO_REPLY & 31))
            try:
                s.setsockopt(_SOL_ICMPV6, _ICMP6_FILTER, struct.pack("=8I", *blocked))
            except OSError as e:
                self.log.info("No ICMPv6 filter ({error}); filtering in user space", error=e)
            self._sock = s
        if not self._reading:
            self.reactor.addReader(self)
            self._reading = True
        return self._sock

    def fileno(self) -> int:
        return int(self._sock.fileno()) if self._sock is not None else -1

    def logPrefix(self) -> str:
        return "ICMPv6Pinger"

    def doRead(self) -> None:
        for _ in range(256):
            if self._sock is None:
                return
            try:
                data, addr = self._sock.recvfrom(2048)
            except BlockingIOError:
                return
            except OSError as e:
                self.log.warn("ICMPv6 socket: {error}", error=e)
                return
            now = self._clock()
            parsed = parseEchoReply(data)
            if parsed is None:
                continue
            try:
                source = ipaddress.IPv6Address(addr[0].split("%", 1)[0])
            except ValueError:
                continue
            m = self.book.received(source, parsed[0], parsed[1], now)
            if m is not None:
                self._fire(m)

    def connectionLost(self, reason: Failure) -> None:
        self._reading = False

    def close(self) -> None:
        """
        Stop reading, close the socket and end every measurement (TIMEOUT).
        """
        if self._reading:
            self.reactor.removeReader(self)
            self._reading = False
        for key in list(self._waiters):
            waiters, call = self._waiters.pop(key)
            if call.active():
                call.cancel()
            for d in waiters:
                d.callback(RTTResult(ipaddress.IPv6Address(0), RTTStatus.ERROR, 0, 0, 0))
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # -- measuring -----------------------------------------------------------

    def measure(
        self, target: ipaddress.IPv6Address, count: int = 4, timeout: float = 1.0
    ) -> Deferred[RTTResult]:
        """
        Send C{count} echo requests to C{target}; fire with the result once
        all replies are in or C{timeout} seconds passed.
        """
        now = self._clock()
        self.book.forget(now)
        m, immediate, sequences = self.book.begin(target, count, now)
        d: Deferred[RTTResult] = Deferred()
        if immediate is not None:
            d.callback(immediate)
            return d
        assert m is not None
        key = id(m)
        if key in self._waiters:
            self._waiters[key][0].append(d)
            return d
        try:
            sock = self._socket()
            for seq in sequences:
                self.book.sent(m, seq, self._clock())
                sock.sendto(echoRequest(self.book.identifier, seq), (str(target), 0))
        except OSError as e:
            self.log.warn("Cannot probe {target}: {error}", target=str(target), error=e)
            result = self.book.timeout(m, self._clock())
            if e.errno not in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                result = RTTResult(target, RTTStatus.ERROR, 0, 0, len(m.sent))
                m.result = result
            d.callback(result)
            return d
        call = self.reactor.callLater(timeout, self._timedOut, m)
        self._waiters[key] = ([d], call)
        return d

    def _timedOut(self, m: _Measurement) -> None:
        self.book.timeout(m, self._clock())
        self._fire(m, timedOut=True)

    def _fire(self, m: _Measurement, timedOut: bool = False) -> None:
        entry = self._waiters.pop(id(m), None)
        if entry is None:
            return
        waiters, call = entry
        if not timedOut and call.active():
            call.cancel()
        result = m.finish(self._clock())
        for d in waiters:
            d.callback(result)


def main(argv: list[str]) -> None:
    """
    C{python -m lin6twisted.ma.rtt TARGET [COUNT]}: print one measurement
    as C{status mean_us received sent}.
    """
    from twisted.internet import task

    target = ipaddress.IPv6Address(argv[0])
    count = int(argv[1]) if len(argv) > 1 else 4

    def go(reactor: Any) -> Deferred[None]:
        pinger = ICMPv6Pinger(reactor)

        def done(r: RTTResult) -> None:
            pinger.close()
            sys.stdout.write(f"{r.status.name} {r.meanUs} {r.received} {r.sent}\n")

        return pinger.measure(target, count, 2.0).addCallback(done)

    task.react(go, [])


if __name__ == "__main__":
    main(sys.argv[1:])
