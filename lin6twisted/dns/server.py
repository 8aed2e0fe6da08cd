# -*- test-case-name: lin6twisted.dns.test.test_server -*-
"""
The authoritative server behind C{twistd lin6-dns}.

  - L{ZoneSet}: the zones being served, reloadable as a whole: L{ZoneSet.reload}
    reads every file again into new authorities and swaps them in with one
    assignment, so a query sees either the old or the new zones, never a
    mix; a file that fails keeps its old zone and the error is logged.
  - L{Lin6DNSServerFactory}: a L{twisted.names.server.DNSServerFactory}
    serving a L{ZoneSet} with what an authoritative server needs and
    Twisted's factory leaves out: REFUSED for names outside the zones, the
    AA bit and the SOA on negative answers (NXDOMAIN and NODATA, RFC 2308),
    FORMERR for messages without exactly one question, EDNS(0) (an OPT
    record in the answer, BADVERS for versions above 0), and truncation:
    an answer that does not fit 512 bytes (or the EDNS payload size, at
    most L{Lin6DNSServerFactory.udpPayloadSize}) over UDP loses its
    additional section and, if still too big, all its records, with the TC
    bit set so the client asks again over TCP, where it gets everything.
  - L{ZoneReloadService}: reloads the L{ZoneSet} on SIGHUP.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Final

from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.names import dns, server
from twisted.names.error import DomainError
from twisted.protocols.policies import TimeoutMixin

from lin6twisted.dns.zone import NXDomain, ZoneAuthority, ZoneError, loadZone

__all__ = [
    "Lin6DNSServerFactory",
    "NotOurZone",
    "ZoneReloadService",
    "ZoneSet",
]

log = Logger()

EDNS_PAYLOAD: Final = 1232
"""Our EDNS UDP payload size (the DNS flag day 2020 value)."""

BADVERS: Final = 16
NOTAUTH: Final = 9
_ZONE_TRANSFER: Final = {dns.AXFR, dns.IXFR}


class NotOurZone(DomainError):
    """
    The name is in none of the zones served.
    """


class ZoneSet:
    """
    The zones served, each loaded from its BIND file.

    @ivar paths: the zone files, in the order given.
    """

    def __init__(self, paths: Iterable[str | Path]) -> None:
        """
        Load every file.

        @raise ZoneError: if a file is unreadable or malformed, or two files
            hold the same zone.
        """
        self.paths: tuple[Path, ...] = tuple(Path(p) for p in paths)
        if not self.paths:
            raise ZoneError("<none>", "no zone files are given")
        for i, path in enumerate(self.paths):
            if path in self.paths[:i]:
                raise ZoneError(str(path), "the zone file is given twice")
        zones = {path: loadZone(path) for path in self.paths}
        self._zones: dict[Path, ZoneAuthority] = zones
        self._byName = self._index(zones)

    @staticmethod
    def _index(zones: dict[Path, ZoneAuthority]) -> dict[bytes, ZoneAuthority]:
        byName: dict[bytes, ZoneAuthority] = {}
        for path, zone in zones.items():
            other = byName.get(zone.zoneName)
            if other is not None:
                raise ZoneError(
                    str(path), f"zone {zone.zoneName.decode()} is also loaded from {other.path}"
                )
            byName[zone.zoneName] = zone
        return byName

    @property
    def zones(self) -> tuple[ZoneAuthority, ...]:
        """
        The authorities now served.
        """
        return tuple(self._zones.values())

    def readFiles(self) -> dict[Path, ZoneAuthority | ZoneError]:
        """
        Read every file into a new zone, touching nothing shared: safe to
        run in a thread.

        @return: for each file its new zone or why it could not be loaded.
        """
        loaded: dict[Path, ZoneAuthority | ZoneError] = {}
        for path in self.paths:
            try:
                loaded[path] = loadZone(path)
            except ZoneError as e:
                loaded[path] = e
        return loaded

    def install(self, loaded: dict[Path, ZoneAuthority | ZoneError]) -> list[ZoneError]:
        """
        Swap in the zones L{readFiles} read, all at once.

        A file that could not be loaded keeps its previous zone; so does
        every file when the new zones would clash (two files, one zone).

        @return: the errors, also logged (empty when all went well).
        """
        errors: list[ZoneError] = []
        zones: dict[Path, ZoneAuthority] = {}
        for path in self.paths:
            result = loaded[path]
            if isinstance(result, ZoneError):
                errors.append(result)
                log.error("Zone reload failed, keeping the old zone: {error}", error=str(result))
                zones[path] = self._zones[path]
            else:
                zones[path] = result
        try:
            byName = self._index(zones)
        except ZoneError as e:
            log.error("Zone reload failed, keeping all old zones: {error}", error=str(e))
            return [*errors, e]
        self._zones, self._byName = zones, byName
        for zone in zones.values():
            log.info(
                "Serving zone {zone} serial {serial} from {path}",
                zone=zone.zoneName.decode(),
                serial=zone.serial,
                path=zone.path,
            )
        return errors

    def reload(self) -> list[ZoneError]:
        """
        L{readFiles} and L{install}, here and now.
        """
        return self.install(self.readFiles())

    def zoneFor(self, name: bytes) -> ZoneAuthority | None:
        """
        The zone holding C{name}: the one with the longest apex that C{name}
        is at or below.
        """
        labels = name.lower().rstrip(b".").split(b".")
        byName = self._byName
        for i in range(len(labels) + 1):
            zone = byName.get(b".".join(labels[i:]))
            if zone is not None:
                return zone
        return None

    def query(self, query: dns.Query, timeout: object = None) -> Deferred[Any]:
        """
        Answer C{query} from the zone holding its name.

        @return: a L{Deferred} with (answers, authority, additional), or
            failing with L{NXDomain} or L{NotOurZone}.
        """
        zone = self.zoneFor(query.name.name)
        if zone is None:
            return fail(NotOurZone(query.name.name))
        result: Deferred[Any] = zone.query(query, timeout)  # type: ignore[no-untyped-call]
        return result


def _ednsOf(message: dns.Message) -> tuple[int, int] | None:
    """
    The (UDP payload size, version) of a request's OPT record, if any.
    """
    for rr in message.additional:
        if rr.type == dns.OPT:
            return rr.cls, (rr.ttl >> 16) & 0xFF
    return None


def _opt(payload: int, extendedRCode: int = 0) -> dns.RRHeader:
    record = dns.UnknownRecord(b"")
    header = dns.RRHeader(b"", dns.OPT, payload, 0, record)
    header.ttl = extendedRCode << 24
    return header


class _StreamProtocol(dns.DNSProtocol, TimeoutMixin):
    """
    L{dns.DNSProtocol} for the server side of TCP, closing connections that
    stay idle longer than the factory's C{tcpIdleTimeout}.
    """

    factory: Lin6DNSServerFactory

    def connectionMade(self) -> None:
        super().connectionMade()  # type: ignore[no-untyped-call]
        self.setTimeout(self.factory.tcpIdleTimeout)  # type: ignore[no-untyped-call]

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()  # type: ignore[no-untyped-call]
        super().dataReceived(data)  # type: ignore[no-untyped-call]

    def connectionLost(self, reason: object = None) -> None:
        self.setTimeout(None)  # type: ignore[no-untyped-call]
        super().connectionLost(reason)  # type: ignore[no-untyped-call]

    def timeoutConnection(self) -> None:
        transport: Any = self.transport
        log.info("Closing an idle DNS TCP connection from {peer}", peer=transport.getPeer())
        transport.abortConnection()


class Lin6DNSServerFactory(server.DNSServerFactory):
    """
    The authoritative DNS server factory (see the module docstring).

    @ivar zones: the zones served.
    @ivar udpPayloadSize: the largest UDP answer sent to EDNS clients.
    @ivar allowTransfer: whether AXFR is answered (over TCP only).
    @ivar tcpIdleTimeout: seconds after which an idle TCP connection is
        closed.
    """

    def __init__(
        self,
        zones: ZoneSet,
        udpPayloadSize: int = EDNS_PAYLOAD,
        allowTransfer: bool = False,
        verbose: int = 0,
        tcpIdleTimeout: float = 30.0,
        reactor: IReactorTime | None = None,
    ) -> None:
        """
        @param reactor: the clock of the TCP idle timeouts (default: the
            global reactor).
        """
        super().__init__(authorities=[], verbose=verbose)  # type: ignore[no-untyped-call]
        self.tcpIdleTimeout = tcpIdleTimeout
        self.reactor = reactor
        self.zones = zones
        self.resolver = zones  # type: ignore[assignment]
        self.udpPayloadSize = max(512, udpPayloadSize)
        self.allowTransfer = allowTransfer

    def buildProtocol(self, addr: Any) -> _StreamProtocol:  # type: ignore[override]
        protocol = _StreamProtocol(self, reactor=self.reactor)  # type: ignore[no-untyped-call]
        protocol.factory = self
        return protocol

    def messageReceived(self, message: dns.Message, proto: Any, address: Any = None) -> None:
        """
        Handle a request; responses are dropped, never answered (answering
        them would let two servers bounce packets forever).
        """
        if message.answer:
            log.debug("Ignoring a DNS response from {address}", address=address)
            return
        super().messageReceived(message, proto, address)  # type: ignore[no-untyped-call]

    def allowQuery(self, message: dns.Message, protocol: Any, address: Any) -> bool:
        """
        Every query is handled; malformed ones get FORMERR in L{handleQuery}.
        """
        return True

    def _reply(
        self,
        protocol: Any,
        message: dns.Message,
        address: Any,
        rCode: int,
        auth: bool = False,
        authority: Sequence[dns.RRHeader] = (),
    ) -> None:
        response = self._responseFromMessage(
            message=message, rCode=rCode, authority=list(authority)
        )
        response.auth = auth
        self.sendReply(protocol, response, address)

    def handleQuery(self, message: dns.Message, protocol: Any, address: Any) -> Any:
        edns = _ednsOf(message)
        if edns is not None and edns[1] != 0:
            response = self._responseFromMessage(message=message, rCode=BADVERS & 0xF)
            response.additional = [_opt(self.udpPayloadSize, BADVERS >> 4)]
            self.sendReply(protocol, response, address)
            return None
        if len(message.queries) != 1 or sum(r.type == dns.OPT for r in message.additional) > 1:
            # (more than one OPT record: FORMERR, RFC 6891 6.1.1)
            self._reply(protocol, message, address, dns.EFORMAT)
            return None
        query = message.queries[0]
        if query.cls not in (dns.IN, dns.ANY):
            self._reply(protocol, message, address, dns.EREFUSED)
            return None
        if query.type in _ZONE_TRANSFER:
            if not self.allowTransfer or address is not None:
                self._reply(protocol, message, address, dns.EREFUSED)
                return None
            zone = self.zones.zoneFor(query.name.name)
            if zone is None or zone.zoneName != query.name.name.lower().rstrip(b"."):
                # not the apex of a zone we serve (RFC 5936 2.2.1)
                self._reply(protocol, message, address, NOTAUTH)
                return None
        return super().handleQuery(message, protocol, address)  # type: ignore[no-untyped-call]

    def _notImplemented(self, message: dns.Message, protocol: Any, address: Any) -> None:
        """
        NOTIMP as a proper response (Twisted's own handlers send the request
        back with only its rcode changed, the QR bit still clear).
        """
        self._reply(protocol, message, address, dns.ENOTIMP)

    handleInverseQuery = _notImplemented
    handleStatus = _notImplemented
    handleNotify = _notImplemented
    handleOther = _notImplemented

    def gotResolverResponse(
        self, response: Any, protocol: Any, message: dns.Message, address: Any
    ) -> None:
        answers, authority, additional = response
        reply = self._responseFromMessage(
            message=message,
            rCode=dns.OK,
            answers=list(answers),
            authority=list(authority),
            additional=list(additional),
        )
        # Everything comes from our zones: authoritative, referrals aside.
        reply.auth = bool(answers) or any(r.type == dns.SOA for r in authority)
        self.sendReply(protocol, reply, address)

    def gotResolverError(
        self, failure: Any, protocol: Any, message: dns.Message, address: Any
    ) -> None:
        if failure.check(NXDomain):
            self._reply(protocol, message, address, dns.ENAME, True, [failure.value.soa])
        elif failure.check(NotOurZone):
            self._reply(protocol, message, address, dns.EREFUSED)
        else:
            log.failure("Lookup failed for {query}", failure, query=message.queries[0])
            self._reply(protocol, message, address, dns.ESERVER)

    def _responseFromMessage(
        self,
        message: dns.Message,
        rCode: int = dns.OK,
        answers: list[dns.RRHeader] | None = None,
        authority: list[dns.RRHeader] | None = None,
        additional: list[dns.RRHeader] | None = None,
    ) -> dns.Message:
        response: dns.Message = super()._responseFromMessage(  # type: ignore[no-untyped-call]
            message, rCode, answers, authority, additional
        )
        response.maxSize = 0  # we truncate ourselves, by whole records
        # Twisted's response keeps neither the opcode nor RD and CD; a
        # response must copy them (RFC 1035 4.1.1, RFC 6840 5.9).
        response.opCode = message.opCode
        response.recDes = message.recDes
        response.checkingDisabled = message.checkingDisabled
        response.lin6EDNS = _ednsOf(message)  # type: ignore[attr-defined]
        return response

    def sendReply(self, protocol: Any, message: dns.Message, address: Any) -> None:
        edns = getattr(message, "lin6EDNS", None)
        limit = 512
        if edns is not None:
            limit = max(512, min(edns[0], self.udpPayloadSize))
            if not any(r.type == dns.OPT for r in message.additional):
                message.additional.append(_opt(self.udpPayloadSize))
        if address is not None:
            self._truncate(message, limit)
        try:
            super().sendReply(protocol, message, address)  # type: ignore[no-untyped-call]
        except Exception:
            log.failure("Cannot send the answer to {address}", address=address)

    @staticmethod
    def _truncate(message: dns.Message, limit: int) -> None:
        """
        Make C{message} fit C{limit} bytes by dropping whole records.
        """
        if len(message.toStr()) <= limit:
            return
        opt = [r for r in message.additional if r.type == dns.OPT]
        message.additional = opt
        if len(message.toStr()) <= limit:
            return
        message.answers = []
        message.authority = []
        message.trunc = 1


class ZoneReloadService(Service):
    """
    Reloads a L{ZoneSet} when the process gets SIGHUP.

    The signal handler only schedules the reload on the reactor thread.
    The files are read in a worker thread (L{ZoneSet.readFiles}) while the
    reactor goes on answering from the old zones; the new ones are swapped
    in on the reactor thread (L{ZoneSet.install}).  A SIGHUP during a reload
    runs one more reload after it.
    """

    def __init__(
        self,
        zones: ZoneSet,
        reactor: IReactorFromThreads,
        runInThread: Callable[[Callable[[], Any]], Deferred[Any]] | None = None,
    ) -> None:
        """
        @param runInThread: runs a function in a worker thread and gives a
            L{Deferred} of its result (default: the reactor's thread pool).
        """
        self.zones = zones
        self.reactor = reactor
        if runInThread is None:
            pool: Any = reactor

            def runInThread(f: Callable[[], Any]) -> Deferred[Any]:
                return deferToThreadPool(pool, pool.getThreadPool(), f)

        self.runInThread = runInThread
        self._previous: Any = None
        self._installed = False
        self._busy = False
        self._again = False

    def _onSignal(self, signum: int, frame: FrameType | None) -> None:
        self.reactor.callFromThread(self.reload)

    def reload(self) -> Deferred[list[ZoneError]] | None:
        """
        Reload the zones (or, during a reload, once more after it).

        @return: a L{Deferred} of the errors, or C{None} if queued.
        """
        if self._busy:
            self._again = True
            return None
        self._busy = True
        log.info("Reloading {count} zone files", count=len(self.zones.paths))
        d = self.runInThread(self.zones.readFiles)
        d.addCallback(self.zones.install)

        def done(result: object) -> object:
            self._busy = False
            if self._again:
                self._again = False
                self.reload()
            return result

        d.addBoth(done)
        d.addErrback(lambda f: log.failure("Zone reload failed", f))
        return d

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._previous = signal.signal(signal.SIGHUP, self._onSignal)
        self._installed = True

    def stopService(self) -> None:
        if self._installed:
            previous = self._previous if self._previous is not None else signal.SIG_DFL
            signal.signal(signal.SIGHUP, previous)
            self._installed = False
        super().stopService()  # type: ignore[no-untyped-call]
