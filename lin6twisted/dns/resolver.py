# -*- test-case-name: lin6twisted.dns.test.test_resolver -*-
"""
The LIN6 resolver client every daemon uses.

The LIN6 way to find a service (DESIGN.md section 3, flow 2) takes two
steps::

    stream.lin6.example  AAAA  ->  3ffe:501:1830:1999:201:4a00:0:100  (its LIN6 address)
    <that address's ip6.arpa name>  TXT  ->  "lin6 ls=[2001:db8:1::53]:7100 ..."

L{Lin6Resolver} does both (L{Lin6Resolver.resolveService}) or either
(L{Lin6Resolver.lookupLIN6}, L{Lin6Resolver.lookupLocations}), and plain
AAAA look-ups (L{Lin6Resolver.lookupAddresses}, e.g. for the LS replicas'
name).  It asks the DNS servers it is given, never the system's resolver:

  - each attempt goes to one server with a timeout; the servers are tried
    in the order listed, starting with the last one that answered well,
    and the whole list is tried once per entry of C{timeouts};
  - an answer that cannot be used (undecodable, not an answer to the
    question, records of the wrong type, SERVFAIL or REFUSED, a LIN6 TXT
    record that breaks the syntax of L{lin6twisted.dns.txt}, an AAAA that
    is not a LIN6 address) is logged and the next server is tried;
  - a proper negative answer (NXDOMAIN, or NOERROR without records) ends
    the search: it is the zone's word, every server would say the same;
  - answers are cached for their TTL (negative ones for the SOA's negative
    TTL, RFC 2308), measured on the injected clock, and concurrent
    identical look-ups share one query;
  - failures are typed: L{NameNotFound}, L{NoLocations}, L{BadTXT},
    L{NotLIN6}, L{ServerFailure}, L{BadAnswer}, L{DNSTimeout}, all
    L{ResolverError}s.

The network side is an L{IDNSQuerier}: L{NetworkQuerier} sends one query
over UDP with L{twisted.names.dns.DNSDatagramProtocol} (retrying over TCP
with L{twisted.names.dns.DNSProtocol} when the answer is truncated); tests
give a fake one.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, TypeVar

from attrs import frozen
from twisted.internet import defer, error
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorTCP, IReactorTime, IReactorUDP
from twisted.logger import Logger
from twisted.names import dns
from twisted.names.error import DNSQueryTimeoutError
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from lin6twisted.address import (
    DEFAULT_SPACE,
    AddressError,
    LIN6Address,
    LIN6Space,
    reverseName,
)
from lin6twisted.dns.txt import Endpoint, Locations, TXTSyntaxError, parseLocations

__all__ = [
    "BadAnswer",
    "BadTXT",
    "DNSTimeout",
    "IDNSQuerier",
    "Lin6Resolver",
    "NameNotFound",
    "NetworkQuerier",
    "NoLocations",
    "NotLIN6",
    "ResolverError",
    "Server",
    "ServerFailure",
    "Service",
    "parseServer",
]

log = Logger()

T = TypeVar("T")

Server = tuple[str, int]
"""A DNS server: IP address literal (IPv6 or IPv4) and port."""

MAX_CNAME_CHAIN: Final = 8

_RCODE_NAMES: Final = {
    dns.EFORMAT: "FORMERR",
    dns.ESERVER: "SERVFAIL",
    dns.ENAME: "NXDOMAIN",
    dns.ENOTIMP: "NOTIMP",
    dns.EREFUSED: "REFUSED",
}


class ResolverError(Exception):
    """
    Base class of every resolver error; C{str()} is one sentence.

    @ivar name: the name looked up.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)
        self.name = name
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class NameNotFound(ResolverError):
    """
    The name does not exist (NXDOMAIN) or has no record of the type asked
    for (NODATA).

    @ivar nxdomain: C{True} for NXDOMAIN, C{False} for NODATA.
    """

    def __init__(self, name: str, reason: str, nxdomain: bool) -> None:
        super().__init__(name, reason)
        self.nxdomain = nxdomain


class NoLocations(ResolverError):
    """
    The reverse name of a LIN6 address has no LIN6 TXT record (no TXT at
    all, no such name, or only TXT records that are not ours).
    """


class DNSTimeout(ResolverError):
    """
    No server answered (in time, or at all: refused connections count too).
    """


class BadAnswer(ResolverError):
    """
    A server's answer could not be used.

    @ivar server: the server that gave it, or C{None} when not known.
    """

    def __init__(self, name: str, reason: str, server: Server | None = None) -> None:
        super().__init__(name, reason)
        self.server = server


class ServerFailure(BadAnswer):
    """
    A server answered with an error code (SERVFAIL, REFUSED, FORMERR, ...).

    @ivar rCode: the response code.
    """

    def __init__(self, name: str, reason: str, server: Server | None, rCode: int) -> None:
        super().__init__(name, reason, server)
        self.rCode = rCode


class BadTXT(BadAnswer):
    """
    A LIN6 TXT record breaks the syntax of L{lin6twisted.dns.txt}.
    """


class NotLIN6(BadAnswer):
    """
    A name's AAAA records hold no LIN6 address of the deployment's space.
    """


@frozen
class Service:
    """
    The result of the two-step look-up of a service name.

    @ivar name: the name looked up.
    @ivar address: its LIN6 address.
    @ivar locations: the endpoints from the TXT records at the address's
        reverse name (never empty).
    """

    name: str
    address: LIN6Address
    locations: Locations


def parseServer(text: str, defaultPort: int = 53) -> Server:
    """
    Parse a DNS server given as C{ADDR}, C{ADDR:PORT} (IPv4) or
    C{[ADDR]:PORT} / bare C{ADDR} (IPv6).

    @raise ValueError: with a one-sentence message if C{text} is malformed.
    """
    t = text.strip()
    host, port = t, defaultPort
    if t.startswith("["):
        close = t.find("]")
        if close < 0:
            raise ValueError(f"DNS server {text!r} has an unclosed '['")
        host, rest = t[1:close], t[close + 1 :]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"DNS server {text!r} must be [IPv6]:port")
            port = int(rest[1:])
    elif t.count(":") == 1:
        host, _, p = t.partition(":")
        if not p.isdigit():
            raise ValueError(f"DNS server {text!r} has a bad port")
        port = int(p)
    return _checkServer((host, port))


def _checkServer(server: Sequence[object]) -> Server:
    if len(server) != 2:
        raise ValueError(f"DNS server {server!r} must be an (address, port) pair")
    host, port = server
    if not isinstance(host, str):
        raise ValueError(f"DNS server address {host!r} must be text")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"DNS server address {host!r} is not an IP address") from None
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"DNS server port {port!r} must be 1-65535")
    return (str(address), port)


def _typeName(rrtype: int) -> str:
    return str(dns.QUERY_TYPES.get(rrtype, dns.EXT_QUERIES.get(rrtype, f"TYPE{rrtype}")))


class IDNSQuerier(Interface):
    """
    Sends one DNS query to one server: one attempt, no retries, no cache.
    """

    def query(server: Server, query: dns.Query, timeout: float) -> Deferred[dns.Message]:
        """
        Ask C{server} C{query}.

        @return: a L{Deferred} firing with the decoded response (obtained
            over TCP when the UDP one was truncated), or failing with
            L{DNSTimeout}, L{BadAnswer} (an undecodable response), or a
            connection error.
        """


# -- the network querier ---------------------------------------------------


class _Controller:
    """
    The controller L{dns.DNSMixin} protocols report unsolicited messages to.
    """

    def __init__(self, server: Server) -> None:
        self.server = server

    def messageReceived(
        self, message: dns.Message, protocol: object, address: object = None
    ) -> None:
        log.debug("Unsolicited DNS message {id} from {address}", id=message.id, address=address)

    def connectionMade(self, protocol: object) -> None:
        pass

    def connectionLost(self, protocol: object) -> None:
        pass


def _decodes(data: bytes) -> bool:
    m = dns.Message()
    try:
        m.fromStr(data)
    except Exception:  # garbage raises anything; it is only reported
        return False
    return True


def _failLive(proto: Any, messageID: int, reason: str, server: Server) -> bool:
    """
    Fail the pending query C{messageID} of C{proto} with L{BadAnswer}.
    """
    live = proto.liveMessages.pop(messageID, None)
    if live is None:
        return False
    d, timer = live
    if timer.active():
        timer.cancel()
    d.errback(BadAnswer("", reason, server))
    return True


def _cancelTimers(proto: Any) -> None:
    for _, timer in (proto.liveMessages or {}).values():
        if timer.active():
            timer.cancel()


class _DatagramProtocol(dns.DNSDatagramProtocol):
    """
    L{dns.DNSDatagramProtocol} that fails a query at once when its server
    answers with bytes that do not decode (instead of dropping them and
    timing out), and cancels its timers when it stops.
    """

    def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 2 and not _decodes(data):
            (messageID,) = struct.unpack("!H", data[:2])
            if self._addressValidation.get(messageID) == addr:
                self._addressValidation.pop(messageID, None)
                log.warn(
                    "Undecodable DNS answer ({length} bytes) from {address}",
                    length=len(data),
                    address=addr,
                )
                _failLive(self, messageID, f"undecodable answer from {addr[0]}", addr)
                return
        super().datagramReceived(data, addr)

    def stopProtocol(self) -> None:
        _cancelTimers(self)
        super().stopProtocol()


class _StreamProtocol(dns.DNSProtocol):
    """
    L{dns.DNSProtocol} with the same strictness as L{_DatagramProtocol}.
    """

    server: Server = ("", 0)

    def stringReceived(self, data: bytes) -> None:
        if len(data) >= 2 and not _decodes(data):
            (messageID,) = struct.unpack("!H", data[:2])
            log.warn(
                "Undecodable DNS answer ({length} bytes) over TCP from {server}",
                length=len(data),
                server=self.server,
            )
            _failLive(
                self, messageID, f"undecodable TCP answer from {self.server[0]}", self.server
            )
            return
        super().stringReceived(data)

    def connectionLost(self, reason: object = None) -> None:
        _cancelTimers(self)
        super().connectionLost(reason)  # type: ignore[no-untyped-call]


def _timeoutToTyped(f: Any, server: Server, what: str) -> Any:
    if f.check(DNSQueryTimeoutError, defer.TimeoutError, defer.CancelledError):
        raise DNSTimeout("", f"{server[0]} port {server[1]} did not answer over {what}")
    return f


@implementer(IDNSQuerier)
class NetworkQuerier:
    """
    Queries over the network: UDP from a fresh random port per query,
    TCP when the UDP answer is truncated.

    @ivar reactor: provides L{IReactorTime}, L{IReactorUDP} and
        L{IReactorTCP}.
    """

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    def query(self, server: Server, query: dns.Query, timeout: float) -> Deferred[dns.Message]:
        return Deferred.fromCoroutine(self._query(server, query, timeout))

    async def _query(self, server: Server, query: dns.Query, timeout: float) -> dns.Message:
        message = await self.queryUDP(server, query, timeout)
        if message.trunc:
            log.debug("Truncated answer from {server}, asking over TCP", server=server)
            message = await self.queryTCP(server, query, timeout)
        return message

    def queryUDP(self, server: Server, query: dns.Query, timeout: float) -> Deferred[dns.Message]:
        """
        One query over UDP; the answer may be truncated.
        """
        proto = _DatagramProtocol(_Controller(server), reactor=self.reactor)  # type: ignore[no-untyped-call]
        interface = "::" if ":" in server[0] else ""
        port = IReactorUDP(self.reactor).listenUDP(
            0, proto, interface=interface, maxPacketSize=65535
        )

        def stop(result: object) -> object:
            port.stopListening()
            return result

        d: Deferred[dns.Message] = proto.query(server, [query], timeout)
        d.addBoth(stop)
        d.addErrback(_timeoutToTyped, server, "UDP")
        return d

    def queryTCP(self, server: Server, query: dns.Query, timeout: float) -> Deferred[dns.Message]:
        """
        One query over a new TCP connection, closed after the answer.
        """
        return Deferred.fromCoroutine(self._queryTCP(server, query, timeout)).addErrback(
            _timeoutToTyped, server, "TCP"
        )

    async def _queryTCP(self, server: Server, query: dns.Query, timeout: float) -> dns.Message:
        host, port = server
        endpointClass = TCP6ClientEndpoint if ":" in host else TCP4ClientEndpoint
        endpoint = endpointClass(IReactorTCP(self.reactor), host, port, timeout=int(timeout) + 1)
        proto = _StreamProtocol(_Controller(server), reactor=self.reactor)  # type: ignore[no-untyped-call]
        proto.server = server
        connected = await connectProtocol(endpoint, proto)
        try:
            message: dns.Message = await connected.query([query], timeout)
        finally:
            if connected.transport is not None:
                connected.transport.loseConnection()
        return message


# -- the resolver ----------------------------------------------------------


@frozen
class _Entry:
    expires: float
    value: object
    error: ResolverError | None


@frozen
class _RRSet(Generic[T]):
    """
    The records of one type at a name (after CNAMEs) and their TTL.
    """

    records: tuple[T, ...]
    ttl: float


class _Negative(Exception):
    """
    Internal: a proper negative answer, with its negative TTL.
    """

    def __init__(self, nxdomain: bool, ttl: float, owner: str) -> None:
        super().__init__(nxdomain, ttl, owner)
        self.nxdomain = nxdomain
        self.ttl = ttl
        self.owner = owner


_TRANSPORT_ERRORS: Final = (
    DNSTimeout,
    error.ConnectError,
    error.ConnectionClosed,
    error.CannotListenError,
    OSError,
)


class Lin6Resolver:
    """
    The LIN6 two-step resolver (see the module docstring).

    @ivar servers: the DNS servers, in order of preference.
    @ivar space: the deployment's LIN6 prefix and OUI, which AAAA answers of
        L{lookupLIN6} must fit.
    @ivar timeouts: per round over all servers, the seconds each attempt
        waits for its answer.
    """

    def __init__(
        self,
        servers: Sequence[Server],
        reactor: IReactorTime,
        *,
        space: LIN6Space = DEFAULT_SPACE,
        timeouts: Sequence[float] = (1.0, 3.0),
        querier: IDNSQuerier | None = None,
        maxTTL: float = 86400.0,
        maxNegativeTTL: float = 900.0,
        maxEntries: int = 4096,
    ) -> None:
        """
        @param servers: C{(address, port)} pairs; addresses are IP literals.
        @param reactor: the clock for timeouts and TTLs; unless C{querier}
            is given, also the L{IReactorUDP} and L{IReactorTCP} to query with.
        @param querier: sends the queries (default: L{NetworkQuerier}).
        @param maxTTL: cap on positive cache lifetimes, seconds.
        @param maxNegativeTTL: cap on negative cache lifetimes, seconds.
        @param maxEntries: cap on the number of cached answers.
        @raise ValueError: if a server is malformed, none is given, or a
            timeout is not positive.
        """
        if not servers:
            raise ValueError("at least one DNS server is needed")
        if not timeouts or any(t <= 0 for t in timeouts):
            raise ValueError(f"timeouts must be positive numbers, not {list(timeouts)!r}")
        self.servers: tuple[Server, ...] = tuple(_checkServer(s) for s in servers)
        self.clock = reactor
        self.space = space
        self.timeouts = tuple(float(t) for t in timeouts)
        self.querier: IDNSQuerier = querier if querier is not None else NetworkQuerier(reactor)
        self.maxTTL = maxTTL
        self.maxNegativeTTL = maxNegativeTTL
        self.maxEntries = maxEntries
        self._cache: dict[tuple[str, str], _Entry] = {}
        self._pending: dict[tuple[str, str], list[Deferred[Any]]] = {}
        self._preferred = 0

    # -- public look-ups ---------------------------------------------------

    def lookupLIN6(self, name: str) -> Deferred[LIN6Address]:
        """
        The LIN6 address of C{name} (its AAAA record in the LIN6 space).

        When several AAAA records are LIN6 addresses, the first in the
        answer is taken.

        @raise NameNotFound: the name or its AAAA records do not exist.
        @raise NotLIN6: no AAAA record is a LIN6 address of L{space} (after
            every server said so).
        """

        def pick(rrset: _RRSet[dns.Record_AAAA], server: Server) -> tuple[LIN6Address, float]:
            problems = []
            for record in rrset.records:
                address = ipaddress.IPv6Address(record.address)
                try:
                    return self.space.fromAddress(address), rrset.ttl
                except AddressError as e:
                    problems.append(str(e))
            raise NotLIN6(name, f"{name} has no LIN6 address: {'; '.join(problems)}", server)

        return self._cached("lin6", name, dns.AAAA, pick)

    def lookupAddresses(self, name: str) -> Deferred[tuple[ipaddress.IPv6Address, ...]]:
        """
        All IPv6 addresses of C{name} (its AAAA records, any addresses), in
        answer order, e.g. the LS replicas of C{ls.lin6.example}.

        @raise NameNotFound: the name or its AAAA records do not exist.
        """

        def addresses(
            rrset: _RRSet[dns.Record_AAAA], server: Server
        ) -> tuple[tuple[ipaddress.IPv6Address, ...], float]:
            found = tuple(ipaddress.IPv6Address(r.address) for r in rrset.records)
            return tuple(dict.fromkeys(found)), rrset.ttl

        return self._cached("aaaa", name, dns.AAAA, addresses)

    def lookupLocations(self, address: LIN6Address) -> Deferred[Locations]:
        """
        Where to go next for C{address}: the LS and/or MA endpoints listed in
        the LIN6 TXT records at its C{ip6.arpa} name.

        @raise NoLocations: there is no LIN6 TXT record at the name.
        @raise BadTXT: a LIN6 TXT record is malformed (after every server
            said so).
        """
        name = reverseName(address.address)

        def locations(rrset: _RRSet[dns.Record_TXT], server: Server) -> tuple[Locations, float]:
            try:
                found = parseLocations([r.data for r in rrset.records])
            except TXTSyntaxError as e:
                raise BadTXT(name, f"bad LIN6 TXT record at {name}: {e}", server) from None
            if not found:
                raise _Negative(False, rrset.ttl, name)
            return found, rrset.ttl

        d = self._cached("loc", name, dns.TXT, locations)

        def noLocations(f: Any) -> Any:
            e = f.check(NameNotFound)
            if e is None:
                return f
            reason = f.value.reason if f.value.nxdomain else f"{name} has no LIN6 TXT record"
            raise NoLocations(name, f"no LIN6 locations for {address}: {reason}")

        return d.addErrback(noLocations)

    def resolveService(self, name: str) -> Deferred[Service]:
        """
        Both steps: C{name} -> LIN6 address -> locations.
        """
        return Deferred.fromCoroutine(self._resolveService(name))

    async def _resolveService(self, name: str) -> Service:
        address = await self.lookupLIN6(name)
        locations = await self.lookupLocations(address)
        return Service(name, address, locations)

    def clearCache(self) -> None:
        """
        Forget every cached answer.
        """
        self._cache.clear()

    @property
    def cacheSize(self) -> int:
        """
        The number of cached answers (some may have expired).
        """
        return len(self._cache)

    # -- the machinery -----------------------------------------------------

    def _cached(
        self,
        kind: str,
        name: str,
        rrtype: int,
        interpret: Callable[[_RRSet[Any], Server], tuple[T, float]],
    ) -> Deferred[T]:
        key = (kind, name.lower().rstrip("."))
        now = self.clock.seconds()
        entry = self._cache.get(key)
        if entry is not None:
            if now < entry.expires:
                if entry.error is not None:
                    return defer.fail(entry.error)
                return defer.succeed(entry.value)  # type: ignore[arg-type]
            del self._cache[key]
        waiting = self._pending.get(key)
        if waiting is not None:
            d: Deferred[T] = Deferred()
            waiting.append(d)
            return d
        self._pending[key] = []
        result = Deferred.fromCoroutine(self._resolve(key, name, rrtype, interpret))

        def share(outcome: object) -> object:
            for other in self._pending.pop(key, []):
                if isinstance(outcome, Failure):
                    other.errback(outcome)
                else:
                    other.callback(outcome)
            return outcome

        result.addBoth(share)
        return result

    def _store(
        self, key: tuple[str, str], ttl: float, value: object, err: ResolverError | None
    ) -> None:
        if ttl <= 0:
            return
        if len(self._cache) >= self.maxEntries:
            now = self.clock.seconds()
            for k in [k for k, e in self._cache.items() if e.expires <= now]:
                del self._cache[k]
            while len(self._cache) >= self.maxEntries:
                del self._cache[next(iter(self._cache))]
        self._cache[key] = _Entry(self.clock.seconds() + ttl, value, err)

    def _serverOrder(self) -> list[int]:
        n = len(self.servers)
        return [(self._preferred + i) % n for i in range(n)]

    async def _resolve(
        self,
        key: tuple[str, str],
        name: str,
        rrtype: int,
        interpret: Callable[[_RRSet[Any], Server], tuple[T, float]],
    ) -> T:
        problems: list[ResolverError] = []
        for timeout in self.timeouts:
            for index in self._serverOrder():
                server = self.servers[index]
                try:
                    rrset = await self._askServer(server, name, rrtype, timeout)
                    value, ttl = interpret(rrset, server)
                except _Negative as negative:
                    self._preferred = index
                    e = self._negativeError(name, rrtype, negative)
                    self._store(key, min(negative.ttl, self.maxNegativeTTL), None, e)
                    raise e from None
                except BadAnswer as e:
                    e.name = e.name or name
                    log.warn(
                        "Unusable DNS answer from {server} for {name} {type}: {reason}",
                        server=server,
                        name=name,
                        type=_typeName(rrtype),
                        reason=e.reason,
                    )
                    problems.append(e)
                    continue
                except _TRANSPORT_ERRORS as e:
                    log.info(
                        "DNS server {server} failed for {name} {type}: {error}",
                        server=server,
                        name=name,
                        type=_typeName(rrtype),
                        error=e,
                    )
                    continue
                self._preferred = index
                self._store(key, min(ttl, self.maxTTL), value, None)
                return value
        for problem in problems:
            raise problem
        servers = ", ".join(f"{h} port {p}" for h, p in self.servers)
        raise DNSTimeout(
            name, f"no DNS server answered for {name} {_typeName(rrtype)} (asked {servers})"
        )

    def _negativeError(self, name: str, rrtype: int, negative: _Negative) -> NameNotFound:
        if negative.nxdomain:
            reason = f"{negative.owner} does not exist (NXDOMAIN)"
        else:
            reason = f"{negative.owner} has no {_typeName(rrtype)} record"
        return NameNotFound(name, reason, negative.nxdomain)

    async def _askServer(
        self, server: Server, name: str, rrtype: int, timeout: float
    ) -> _RRSet[Any]:
        """
        Ask one server, following CNAMEs, and check the answer.

        @raise _Negative: for a proper negative answer.
        @raise BadAnswer: for an unusable one.
        """
        qname = name.rstrip(".")
        minTTL = float("inf")
        for _ in range(MAX_CNAME_CHAIN):
            d = self.querier.query(server, dns.Query(qname, rrtype, dns.IN), timeout)
            d.addTimeout(timeout, self.clock)
            try:
                message = await d
            except defer.TimeoutError:
                raise DNSTimeout(name, f"{server[0]} did not answer in {timeout:g} s") from None
            except BadAnswer as e:
                e.name = name
                raise
            records, target, ttl = self._check(server, message, qname, rrtype)
            minTTL = min(minTTL, ttl)
            if target is None:
                return _RRSet(tuple(records), minTTL)
            qname = target
        raise BadAnswer(name, f"CNAME chain of {name} longer than {MAX_CNAME_CHAIN}", server)

    def _check(
        self, server: Server, message: dns.Message, qname: str, rrtype: int
    ) -> tuple[list[Any], str | None, float]:
        """
        Check one response to C{qname}/C{rrtype}.

        @return: the records of the type (after the CNAMEs inside the
            answer), the CNAME target still to ask for (or C{None}), and the
            smallest TTL involved.
        """
        where = f"{server[0]} port {server[1]}"
        if not message.answer or message.opCode != dns.OP_QUERY:
            raise BadAnswer(qname, f"{where} sent a message that is not an answer", server)
        if len(message.queries) != 1 or not _sameQuestion(message.queries[0], qname, rrtype):
            raise BadAnswer(qname, f"{where} answered another question", server)
        if message.rCode == dns.ENAME:
            raise _Negative(True, _negativeTTL(message), qname)
        if message.rCode != dns.OK:
            code = _RCODE_NAMES.get(message.rCode, f"rcode {message.rCode}")
            raise ServerFailure(
                qname,
                f"{where} answered {code} for {qname} {_typeName(rrtype)}",
                server,
                message.rCode,
            )
        owner = qname.lower()
        minTTL = float("inf")
        records: list[Any] = []
        others: set[str] = set()
        target = None
        for _ in range(MAX_CNAME_CHAIN + 1):
            cname = None
            for rr in message.answers:
                if rr.name.name.decode("ascii", "replace").lower().rstrip(".") != owner:
                    continue
                if rr.cls != dns.IN:
                    continue
                if rr.type == rrtype:
                    records.append(rr.payload)
                    minTTL = min(minTTL, rr.ttl)
                elif rr.type == dns.CNAME:
                    payload: Any = rr.payload
                    cname = payload.name.name.decode("ascii", "replace").rstrip(".")
                    minTTL = min(minTTL, rr.ttl)
                else:
                    others.add(_typeName(rr.type))
            if records or cname is None:
                break
            target = cname
            owner = cname.lower()
        else:
            raise BadAnswer(qname, f"{where} sent a CNAME loop for {qname}", server)
        if records:
            return records, None, minTTL
        if others:
            raise BadAnswer(
                qname,
                f"{where} answered {', '.join(sorted(others))} records "
                f"to a {_typeName(rrtype)} question for {qname}",
                server,
            )
        if target is not None:
            return [], target, minTTL
        raise _Negative(False, _negativeTTL(message), owner)


def _sameQuestion(query: dns.Query, qname: str, rrtype: int) -> bool:
    name = query.name.name.decode("ascii", "replace").lower().rstrip(".")
    return name == qname.lower() and query.type == rrtype and query.cls == dns.IN


def _negativeTTL(message: dns.Message) -> float:
    """
    The negative-caching TTL of a response (RFC 2308 section 5): the
    smaller of the SOA record's TTL and its MINIMUM field; 0 without SOA.
    """
    for rr in message.authority:
        if rr.type == dns.SOA:
            soa: Any = rr.payload
            return float(min(rr.ttl, soa.minimum))
    return 0.0


def endpointsOf(addresses: Sequence[ipaddress.IPv6Address], port: int) -> tuple[Endpoint, ...]:
    """
    Endpoints on C{port} for each address (e.g. the LS replicas' AAAA
    records and their well-known port).
    """
    return tuple(Endpoint(a, port) for a in addresses)
