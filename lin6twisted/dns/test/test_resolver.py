"""
Tests for L{lin6twisted.dns.resolver}.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.names import dns
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from lin6twisted.address import DEFAULT_SPACE, NodeID
from lin6twisted.dns.resolver import (
    BadAnswer,
    BadTXT,
    DNSTimeout,
    IDNSQuerier,
    Lin6Resolver,
    NameNotFound,
    NetworkQuerier,
    NoLocations,
    NotLIN6,
    ResolverError,
    Server,
    ServerFailure,
    Service,
    endpointsOf,
    parseServer,
)
from lin6twisted.dns.txt import Endpoint, Locations

SERVICE = "stream.lin6.example"
SERVICE_ADDRESS = "3ffe:501:1830:1999:201:4a00:0:100"
SERVICE_LIN6 = DEFAULT_SPACE.address(NodeID.fromString("201:4a00:0:100"))
REVERSE = SERVICE_LIN6.reverseName()
LS1 = Endpoint(ipaddress.IPv6Address("2001:db8:1::53"), 7100)
LS2 = Endpoint(ipaddress.IPv6Address("2001:db8:2::53"), 7100)
TXT_OK = b"lin6 ls=[2001:db8:1::53]:7100 ls=[2001:db8:2::53]:7100"

S1: Server = ("2001:db8::1", 53)
S2: Server = ("2001:db8::2", 53)
S3: Server = ("192.0.2.3", 5353)

Handler = Callable[[dns.Query], "Deferred[dns.Message] | dns.Message | Exception"]


def soa(ttl: int = 600, minimum: int = 60) -> dns.RRHeader:
    record = dns.Record_SOA(
        mname=b"ns1.lin6.example", rname=b"hostmaster.lin6.example", minimum=minimum
    )
    return dns.RRHeader(b"lin6.example", dns.SOA, dns.IN, ttl, record, auth=True)


def aaaa(name: str, address: str, ttl: int = 300) -> dns.RRHeader:
    return dns.RRHeader(name.encode(), dns.AAAA, dns.IN, ttl, dns.Record_AAAA(address))


def txt(name: str, *strings: bytes, ttl: int = 300) -> dns.RRHeader:
    return dns.RRHeader(name.encode(), dns.TXT, dns.IN, ttl, dns.Record_TXT(*strings))


def reply(
    query: dns.Query,
    answers: list[dns.RRHeader] = (),  # type: ignore[assignment]
    authority: list[dns.RRHeader] = (),  # type: ignore[assignment]
    rCode: int = dns.OK,
) -> dns.Message:
    m = dns.Message(answer=1, auth=True, rCode=rCode)
    m.queries = [query]
    m.answers = list(answers)
    m.authority = list(authority)
    return m


def zone(query: dns.Query) -> dns.Message:
    """
    A correct server for the test zone.
    """
    name = query.name.name.decode().lower()
    if name == SERVICE and query.type == dns.AAAA:
        return reply(query, [aaaa(SERVICE, SERVICE_ADDRESS)])
    if name in (SERVICE, "empty.lin6.example"):
        return reply(query, authority=[soa()])
    if name == "ls.lin6.example" and query.type == dns.AAAA:
        return reply(
            query,
            [aaaa(name, "2001:db8:1::53", 100), aaaa(name, "2001:db8:2::53", 50)],
        )
    if name == REVERSE and query.type == dns.TXT:
        return reply(query, [txt(REVERSE, TXT_OK, ttl=120)])
    return reply(query, authority=[soa()], rCode=dns.ENAME)


@implementer(IDNSQuerier)
class FakeQuerier:
    """
    An L{IDNSQuerier} whose servers are functions of the query.

    @ivar asked: every (server, name, type) asked, in order.
    """

    def __init__(self, servers: dict[Server, Handler]) -> None:
        self.servers = servers
        self.asked: list[tuple[Server, str, int]] = []

    def query(self, server: Server, query: dns.Query, timeout: float) -> Deferred[dns.Message]:
        self.asked.append((server, query.name.name.decode(), query.type))
        result = self.servers[server](query)
        if isinstance(result, Deferred):
            return result
        if isinstance(result, Exception):
            return defer.fail(result)
        return defer.succeed(result)


def silent(query: dns.Query) -> Deferred[dns.Message]:
    return Deferred()


def build(servers: dict[Server, Handler], **kw: Any) -> tuple[Lin6Resolver, FakeQuerier, Clock]:
    clock = Clock()
    querier = FakeQuerier(servers)
    resolver = Lin6Resolver(list(servers), clock, querier=querier, **kw)
    return resolver, querier, clock


class ParseServerTests(SynchronousTestCase):
    """
    Tests for L{parseServer} and the server checks of L{Lin6Resolver}.
    """

    def test_forms(self) -> None:
        """
        IPv6 with and without brackets and port, IPv4 with and without port.
        """
        self.assertEqual(parseServer("[2001:db8::1]:5353"), ("2001:db8::1", 5353))
        self.assertEqual(parseServer("[::1]"), ("::1", 53))
        self.assertEqual(parseServer("2001:db8::1"), ("2001:db8::1", 53))
        self.assertEqual(parseServer("127.0.0.1:5353"), ("127.0.0.1", 5353))
        self.assertEqual(parseServer("127.0.0.1"), ("127.0.0.1", 53))

    def test_bad(self) -> None:
        """
        Names, bad ports and broken brackets are L{ValueError}s.
        """
        for text in ["ns1.lin6.example", "[::1", "[::1]:x", "[::1]53", "1.2.3.4:0", "1.2.3.4:x"]:
            with self.subTest(text=text):
                self.assertRaises(ValueError, parseServer, text)

    def test_resolverChecks(self) -> None:
        """
        L{Lin6Resolver} needs servers given as IP literals and positive
        timeouts.
        """
        clock = Clock()
        self.assertRaises(ValueError, Lin6Resolver, [], clock)
        self.assertRaises(ValueError, Lin6Resolver, [("ns1", 53)], clock)
        self.assertRaises(ValueError, Lin6Resolver, [("::1", 0)], clock)
        self.assertRaises(ValueError, Lin6Resolver, [("::1", 53)], clock, timeouts=())
        self.assertRaises(ValueError, Lin6Resolver, [("::1", 53)], clock, timeouts=(1, 0))

    def test_interfaces(self) -> None:
        """
        L{NetworkQuerier} and the fake provide L{IDNSQuerier}.
        """
        verifyObject(IDNSQuerier, NetworkQuerier(Clock()))
        verifyObject(IDNSQuerier, FakeQuerier({}))


class LookupTests(SynchronousTestCase):
    """
    Look-ups against well-behaved servers.
    """

    def test_lookupLIN6(self) -> None:
        """
        L{Lin6Resolver.lookupLIN6} gives the AAAA record as a LIN6 address.
        """
        resolver, querier, _ = build({S1: zone})
        self.assertEqual(self.successResultOf(resolver.lookupLIN6(SERVICE)), SERVICE_LIN6)
        self.assertEqual(querier.asked, [(S1, SERVICE, dns.AAAA)])

    def test_lookupAddresses(self) -> None:
        """
        L{Lin6Resolver.lookupAddresses} gives every AAAA record, in order.
        """
        resolver, _, _ = build({S1: zone})
        self.assertEqual(
            self.successResultOf(resolver.lookupAddresses("ls.lin6.example")),
            (ipaddress.IPv6Address("2001:db8:1::53"), ipaddress.IPv6Address("2001:db8:2::53")),
        )

    def test_lookupLocations(self) -> None:
        """
        L{Lin6Resolver.lookupLocations} reads the TXT at the reverse name.
        """
        resolver, querier, _ = build({S1: zone})
        self.assertEqual(
            self.successResultOf(resolver.lookupLocations(SERVICE_LIN6)),
            Locations(ls=(LS1, LS2)),
        )
        self.assertEqual(querier.asked, [(S1, REVERSE, dns.TXT)])

    def test_resolveService(self) -> None:
        """
        L{Lin6Resolver.resolveService} does both steps.
        """
        resolver, querier, _ = build({S1: zone})
        self.assertEqual(
            self.successResultOf(resolver.resolveService(SERVICE)),
            Service(SERVICE, SERVICE_LIN6, Locations(ls=(LS1, LS2))),
        )
        self.assertEqual(len(querier.asked), 2)

    def test_nameCaseAndDot(self) -> None:
        """
        Names are case-insensitive and may end in a dot.
        """
        resolver, _, _ = build({S1: zone})
        self.assertEqual(
            self.successResultOf(resolver.lookupLIN6("Stream.LIN6.example.")), SERVICE_LIN6
        )

    def test_nxdomain(self) -> None:
        """
        NXDOMAIN is L{NameNotFound} with C{nxdomain} set, and the next server
        is not asked.
        """
        resolver, querier, _ = build({S1: zone, S2: zone})
        f = self.failureResultOf(resolver.lookupLIN6("nope.lin6.example"), NameNotFound)
        self.assertTrue(f.value.nxdomain)
        self.assertIn("NXDOMAIN", str(f.value))
        self.assertEqual(len(querier.asked), 1)

    def test_nodata(self) -> None:
        """
        NOERROR without records is L{NameNotFound} without C{nxdomain}.
        """
        resolver, querier, _ = build({S1: zone, S2: zone})
        f = self.failureResultOf(resolver.lookupAddresses("empty.lin6.example"), NameNotFound)
        self.assertFalse(f.value.nxdomain)
        self.assertIsInstance(f.value, ResolverError)
        self.assertEqual(len(querier.asked), 1)

    def test_nodataType(self) -> None:
        """
        A TXT question at a name with only AAAA records is NODATA.
        """

        def server(query: dns.Query) -> dns.Message:
            return reply(query, authority=[soa()])

        resolver, _, _ = build({S1: server})
        f = self.failureResultOf(resolver.lookupLIN6(SERVICE), NameNotFound)
        self.assertFalse(f.value.nxdomain)
        self.assertIn("no AAAA record", str(f.value))

    def test_noLocationsNXDOMAIN(self) -> None:
        """
        No name at the reverse name is L{NoLocations}.
        """
        other = DEFAULT_SPACE.address(NodeID.fromString("201:4a00:0:999"))
        resolver, _, _ = build({S1: zone})
        f = self.failureResultOf(resolver.lookupLocations(other), NoLocations)
        self.assertIn("NXDOMAIN", str(f.value))

    def test_noLocationsForeignTXT(self) -> None:
        """
        TXT records that are not ours give L{NoLocations}, cached like NODATA.
        """

        def server(query: dns.Query) -> dns.Message:
            return reply(query, [txt(REVERSE, b"v=spf1 -all", ttl=30)])

        resolver, querier, clock = build({S1: server})
        f = self.failureResultOf(resolver.lookupLocations(SERVICE_LIN6), NoLocations)
        self.assertIn("no LIN6 TXT record", str(f.value))
        self.failureResultOf(resolver.lookupLocations(SERVICE_LIN6), NoLocations)
        self.assertEqual(len(querier.asked), 1)
        clock.advance(30)
        self.failureResultOf(resolver.lookupLocations(SERVICE_LIN6), NoLocations)
        self.assertEqual(len(querier.asked), 2)

    def test_cnameInAnswer(self) -> None:
        """
        A CNAME chain inside the answer is followed; the TTL is the
        smallest along it.
        """

        def server(query: dns.Query) -> dns.Message:
            return reply(
                query,
                [
                    dns.RRHeader(
                        b"video.lin6.example", dns.CNAME, dns.IN, 10, dns.Record_CNAME(SERVICE)
                    ),
                    aaaa(SERVICE, SERVICE_ADDRESS, 300),
                ],
            )

        resolver, querier, clock = build({S1: server})
        self.assertEqual(
            self.successResultOf(resolver.lookupLIN6("video.lin6.example")), SERVICE_LIN6
        )
        clock.advance(10)
        self.successResultOf(resolver.lookupLIN6("video.lin6.example"))
        self.assertEqual(len(querier.asked), 2)

    def test_cnameElsewhere(self) -> None:
        """
        A CNAME whose target is not in the answer is followed by a new query.
        """

        def server(query: dns.Query) -> dns.Message:
            if query.name.name == b"video.lin6.example":
                return reply(
                    query,
                    [
                        dns.RRHeader(
                            b"video.lin6.example", dns.CNAME, dns.IN, 10, dns.Record_CNAME(SERVICE)
                        )
                    ],
                )
            return zone(query)

        resolver, querier, _ = build({S1: server})
        self.assertEqual(
            self.successResultOf(resolver.lookupLIN6("video.lin6.example")), SERVICE_LIN6
        )
        self.assertEqual([a[1] for a in querier.asked], ["video.lin6.example", SERVICE])

    def test_cnameLoop(self) -> None:
        """
        A CNAME loop is a L{BadAnswer}, not a hang.
        """

        def server(query: dns.Query) -> dns.Message:
            return reply(
                query,
                [
                    dns.RRHeader(
                        b"a.lin6.example",
                        dns.CNAME,
                        dns.IN,
                        10,
                        dns.Record_CNAME("a.lin6.example"),
                    )
                ],
            )

        resolver, _, _ = build({S1: server})
        self.failureResultOf(resolver.lookupLIN6("a.lin6.example"), BadAnswer)


class CacheTests(SynchronousTestCase):
    """
    Answers are cached for their TTL on the injected clock.
    """

    def test_positive(self) -> None:
        """
        An answer is reused until its TTL runs out.
        """
        resolver, querier, clock = build({S1: zone})
        self.successResultOf(resolver.lookupLocations(SERVICE_LIN6))
        clock.advance(119)
        self.successResultOf(resolver.lookupLocations(SERVICE_LIN6))
        self.assertEqual(len(querier.asked), 1)
        clock.advance(1)
        self.successResultOf(resolver.lookupLocations(SERVICE_LIN6))
        self.assertEqual(len(querier.asked), 2)

    def test_smallestTTL(self) -> None:
        """
        The smallest TTL of the RRset counts.
        """
        resolver, querier, clock = build({S1: zone})
        self.successResultOf(resolver.lookupAddresses("ls.lin6.example"))
        clock.advance(49)
        self.successResultOf(resolver.lookupAddresses("ls.lin6.example"))
        self.assertEqual(len(querier.asked), 1)
        clock.advance(1)
        self.successResultOf(resolver.lookupAddresses("ls.lin6.example"))
        self.assertEqual(len(querier.asked), 2)

    def test_maxTTL(self) -> None:
        """
        TTLs are capped by C{maxTTL}.
        """
        resolver, querier, clock = build({S1: zone}, maxTTL=5)
        self.successResultOf(resolver.lookupLIN6(SERVICE))
        clock.advance(5)
        self.successResultOf(resolver.lookupLIN6(SERVICE))
        self.assertEqual(len(querier.asked), 2)

    def test_zeroTTL(self) -> None:
        """
        TTL 0 answers are not cached.
        """

        def server(query: dns.Query) -> dns.Message:
            return reply(query, [aaaa(SERVICE, SERVICE_ADDRESS, 0)])

        resolver, querier, _ = build({S1: server})
        self.successResultOf(resolver.lookupLIN6(SERVICE))
        self.successResultOf(resolver.lookupLIN6(SERVICE))
        self.assertEqual(len(querier.asked), 2)

    def test_negative(self) -> None:
        """
        A negative answer is cached for min(SOA TTL, SOA minimum).
        """
        resolver, querier, clock = build({S1: zone})
        self.failureResultOf(resolver.lookupLIN6("nope.lin6.example"), NameNotFound)
        clock.advance(59)
        self.failureResultOf(resolver.lookupLIN6("nope.lin6.example"), NameNotFound)
        self.assertEqual(len(querier.asked), 1)
        clock.advance(1)
        self.failureResultOf(resolver.lookupLIN6("nope.lin6.example"), NameNotFound)
        self.assertEqual(len(querier.asked), 2)

    def test_negativeWithoutSOA(self) -> None:
        """
        A negative answer without SOA is not cached.
        """

        def server(query: dns.Query) -> dns.Message:
            return reply(query, rCode=dns.ENAME)

        resolver, querier, _ = build({S1: server})
        self.failureResultOf(resolver.lookupLIN6(SERVICE), NameNotFound)
        self.failureResultOf(resolver.lookupLIN6(SERVICE), NameNotFound)
        self.assertEqual(len(querier.asked), 2)

    def test_errorsNotCached(self) -> None:
        """
        Timeouts and bad answers are not cached.
        """
        answers: list[Handler] = [silent, zone]
        resolver, _querier, clock = build({S1: lambda q: answers.pop(0)(q)}, timeouts=(1,))
        d = resolver.lookupLIN6(SERVICE)
        clock.advance(1)
        self.failureResultOf(d, DNSTimeout)
        self.successResultOf(resolver.lookupLIN6(SERVICE))

    def test_sharedQuery(self) -> None:
        """
        Concurrent identical look-ups share one query.
        """
        pending: Deferred[dns.Message] = Deferred()
        resolver, querier, _ = build({S1: lambda q: pending})
        d1 = resolver.lookupLIN6(SERVICE)
        d2 = resolver.lookupLIN6(SERVICE)
        self.assertNoResult(d1)
        self.assertEqual(len(querier.asked), 1)
        pending.callback(zone(dns.Query(SERVICE, dns.AAAA)))
        self.assertEqual(self.successResultOf(d1), SERVICE_LIN6)
        self.assertEqual(self.successResultOf(d2), SERVICE_LIN6)

    def test_sharedFailure(self) -> None:
        """
        Concurrent look-ups share a failure too.
        """
        pending: Deferred[dns.Message] = Deferred()
        resolver, _, _ = build({S1: lambda q: pending})
        d1 = resolver.lookupLIN6("nope.lin6.example")
        d2 = resolver.lookupLIN6("nope.lin6.example")
        pending.callback(zone(dns.Query("nope.lin6.example", dns.AAAA)))
        self.failureResultOf(d1, NameNotFound)
        self.failureResultOf(d2, NameNotFound)

    def test_maxEntries(self) -> None:
        """
        The cache holds at most C{maxEntries} answers, dropping the oldest.
        """
        resolver, querier, _ = build({S1: zone}, maxEntries=2)
        self.successResultOf(resolver.lookupLIN6(SERVICE))
        self.successResultOf(resolver.lookupAddresses("ls.lin6.example"))
        self.successResultOf(resolver.lookupLocations(SERVICE_LIN6))
        self.assertEqual(resolver.cacheSize, 2)
        self.successResultOf(resolver.lookupLIN6(SERVICE))
        self.assertEqual(len(querier.asked), 4)
        resolver.clearCache()
        self.assertEqual(resolver.cacheSize, 0)


class FailoverTests(SynchronousTestCase):
    """
    Timeouts, retries across servers and unusable answers.
    """

    def test_timeoutThenNext(self) -> None:
        """
        A silent server is given up after the timeout and the next one asked.
        """
        resolver, querier, clock = build({S1: silent, S2: zone}, timeouts=(2, 5))
        d = resolver.lookupLIN6(SERVICE)
        self.assertNoResult(d)
        clock.advance(1.9)
        self.assertNoResult(d)
        clock.advance(0.1)
        self.assertEqual(self.successResultOf(d), SERVICE_LIN6)
        self.assertEqual([a[0] for a in querier.asked], [S1, S2])

    def test_preferLastGood(self) -> None:
        """
        The next look-up starts with the server that answered last.
        """
        resolver, querier, clock = build({S1: silent, S2: zone})
        d = resolver.lookupLIN6(SERVICE)
        clock.advance(1)
        self.successResultOf(d)
        self.successResultOf(resolver.lookupAddresses("ls.lin6.example"))
        self.assertEqual([a[0] for a in querier.asked], [S1, S2, S2])

    def test_allSilent(self) -> None:
        """
        When no server answers in any round, the result is L{DNSTimeout}
        after the sum of the timeouts for every server.
        """
        resolver, querier, clock = build({S1: silent, S2: silent, S3: silent}, timeouts=(1, 3))
        d = resolver.lookupLIN6(SERVICE)
        clock.pump([0.5] * 23)
        self.assertNoResult(d)
        clock.advance(0.5)
        f = self.failureResultOf(d, DNSTimeout)
        self.assertIn("no DNS server answered", str(f.value))
        self.assertEqual([a[0] for a in querier.asked], [S1, S2, S3, S1, S2, S3])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_connectionErrors(self) -> None:
        """
        Connection errors count like timeouts.
        """
        resolver, _, _ = build({S1: lambda q: ConnectionRefusedError(), S2: zone})
        self.successResultOf(resolver.lookupLIN6(SERVICE))

    def test_garbageThenNext(self) -> None:
        """
        An undecodable answer (reported by the querier as L{BadAnswer}) makes
        the resolver ask the next server; if every server gives one, that is
        the error.
        """
        garbage: Handler = lambda q: BadAnswer("", "undecodable answer from 2001:db8::1")  # noqa: E731
        resolver, querier, _ = build({S1: garbage, S2: zone})
        self.successResultOf(resolver.lookupLIN6(SERVICE))
        self.assertEqual([a[0] for a in querier.asked], [S1, S2])
        resolver, _querier, _ = build({S1: garbage, S2: garbage}, timeouts=(1,))
        f = self.failureResultOf(resolver.lookupLIN6(SERVICE), BadAnswer)
        self.assertEqual(f.value.name, SERVICE)
        self.assertIn("undecodable", str(f.value))

    def test_wrongType(self) -> None:
        """
        Records of another type than asked are a L{BadAnswer}; the next server
        is asked.
        """

        def wrong(query: dns.Query) -> dns.Message:
            return reply(
                query,
                [dns.RRHeader(query.name.name, dns.A, dns.IN, 60, dns.Record_A("192.0.2.1"))],
            )

        resolver, querier, _ = build({S1: wrong, S2: zone})
        self.successResultOf(resolver.lookupLIN6(SERVICE))
        self.assertEqual(len(querier.asked), 2)
        resolver, _, _ = build({S1: wrong}, timeouts=(1,))
        f = self.failureResultOf(resolver.lookupLIN6(SERVICE), BadAnswer)
        self.assertIn("answered A records to a AAAA question", str(f.value))

    def test_otherQuestion(self) -> None:
        """
        An answer to another question is a L{BadAnswer}.
        """

        def other(query: dns.Query) -> dns.Message:
            return zone(dns.Query("ls.lin6.example", dns.AAAA))

        resolver, _, _ = build({S1: other}, timeouts=(1,))
        f = self.failureResultOf(resolver.lookupLIN6(SERVICE), BadAnswer)
        self.assertIn("another question", str(f.value))

    def test_notAnAnswer(self) -> None:
        """
        A query instead of an answer is a L{BadAnswer}.
        """

        def query(q: dns.Query) -> dns.Message:
            m = zone(q)
            m.answer = 0
            return m

        resolver, _, _ = build({S1: query}, timeouts=(1,))
        self.failureResultOf(resolver.lookupLIN6(SERVICE), BadAnswer)

    def test_unrelatedOwnersIgnored(self) -> None:
        """
        Records for other names in the answer are not taken.
        """

        def sneaky(query: dns.Query) -> dns.Message:
            return reply(query, [aaaa("evil.example", SERVICE_ADDRESS)], [soa()])

        resolver, _, _ = build({S1: sneaky})
        self.failureResultOf(resolver.lookupLIN6(SERVICE), NameNotFound)

    def test_serverFailure(self) -> None:
        """
        SERVFAIL and REFUSED are L{ServerFailure}s; the next server is asked.
        """

        def refused(query: dns.Query) -> dns.Message:
            return reply(query, rCode=dns.EREFUSED)

        resolver, _, _ = build({S1: refused, S2: zone})
        self.successResultOf(resolver.lookupLIN6(SERVICE))
        resolver, _, _ = build({S1: refused}, timeouts=(1,))
        f = self.failureResultOf(resolver.lookupLIN6(SERVICE), ServerFailure)
        self.assertEqual(f.value.rCode, dns.EREFUSED)
        self.assertEqual(f.value.server, S1)
        self.assertIn(f"answered REFUSED for {SERVICE} AAAA", str(f.value))

    def test_notLIN6(self) -> None:
        """
        An AAAA that is not a LIN6 address is L{NotLIN6}; another server with
        a LIN6 address wins; a LIN6 address among others is taken.
        """

        def plain(query: dns.Query) -> dns.Message:
            return reply(query, [aaaa(SERVICE, "2001:db8::1")])

        def mixed(query: dns.Query) -> dns.Message:
            return reply(query, [aaaa(SERVICE, "2001:db8::1"), aaaa(SERVICE, SERVICE_ADDRESS)])

        resolver, _, _ = build({S1: plain}, timeouts=(1,))
        f = self.failureResultOf(resolver.lookupLIN6(SERVICE), NotLIN6)
        self.assertIsInstance(f.value, BadAnswer)
        self.assertIn("no LIN6 address", str(f.value))
        resolver, _, _ = build({S1: plain, S2: zone})
        self.assertEqual(self.successResultOf(resolver.lookupLIN6(SERVICE)), SERVICE_LIN6)
        resolver, _, _ = build({S1: mixed})
        self.assertEqual(self.successResultOf(resolver.lookupLIN6(SERVICE)), SERVICE_LIN6)
        self.assertEqual(
            self.successResultOf(resolver.lookupAddresses(SERVICE)),
            (ipaddress.IPv6Address("2001:db8::1"), SERVICE_LIN6.address),
        )

    def test_badTXT(self) -> None:
        """
        A malformed LIN6 TXT record is L{BadTXT}; the next server is asked;
        if every server has it, that is the error.
        """

        def bad(query: dns.Query) -> dns.Message:
            return reply(query, [txt(REVERSE, b"lin6 ls=[2001:db8:1::53]")])

        resolver, _querier, _ = build({S1: bad, S2: zone})
        self.assertEqual(
            self.successResultOf(resolver.lookupLocations(SERVICE_LIN6)),
            Locations(ls=(LS1, LS2)),
        )
        resolver, _, _ = build({S1: bad, S2: bad}, timeouts=(1,))
        f = self.failureResultOf(resolver.lookupLocations(SERVICE_LIN6), BadTXT)
        self.assertIn("bad LIN6 TXT record", str(f.value))
        self.assertIn("[2001:db8:1::53]", str(f.value))

    def test_badTXTBeatsTimeout(self) -> None:
        """
        When one server is silent and the other gives bad TXT, the error is
        the informative L{BadTXT}.
        """

        def bad(query: dns.Query) -> dns.Message:
            return reply(query, [txt(REVERSE, b"lin6 nonsense")])

        resolver, _, clock = build({S1: silent, S2: bad}, timeouts=(1,))
        d = resolver.lookupLocations(SERVICE_LIN6)
        clock.advance(1)
        self.failureResultOf(d, BadTXT)

    def test_serviceStepsFail(self) -> None:
        """
        L{Lin6Resolver.resolveService} fails with the failing step's error.
        """

        def noTXT(query: dns.Query) -> dns.Message:
            if query.type == dns.TXT:
                return reply(query, authority=[soa()])
            return zone(query)

        resolver, _, _ = build({S1: noTXT})
        self.failureResultOf(resolver.resolveService(SERVICE), NoLocations)
        self.failureResultOf(resolver.resolveService("nope.lin6.example"), NameNotFound)


class EndpointsOfTests(SynchronousTestCase):
    """
    Tests for L{endpointsOf}.
    """

    def test_endpoints(self) -> None:
        """
        Each address gets the port.
        """
        self.assertEqual(
            endpointsOf([LS1.host, LS2.host], 7100),
            (LS1, LS2),
        )
