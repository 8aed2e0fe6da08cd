"""
The node daemon with the real L{Lin6Resolver} over a fake DNS server:
malformed DNS answers and wrong TXT syntax are logged, retried later, and
never crash the daemon.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.names import dns
from zope.interface import implementer

from lin6twisted.address import reverseName
from lin6twisted.dns.resolver import IDNSQuerier, Lin6Resolver, Server
from lin6twisted.resolvd.core import NodeState
from lin6twisted.resolvd.test.test_service import (
    LS1,
    MA1,
    NAME,
    SERVICE,
    Node,
    ServiceTestCase,
)

DNS_SERVER: Server = ("2001:db8:53::1", 53)
REVERSE = reverseName(SERVICE.address)


@implementer(IDNSQuerier)
class FakeDNS:
    """
    One authoritative server for the service name and its reverse name.

    @ivar mode: C{"ok"}, C{"bad-txt"} (a LIN6 TXT record with a bad
        endpoint), C{"not-lin6"} (an AAAA outside the LIN6 space) or
        C{"servfail"}.
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.asked: list[tuple[str, int]] = []

    def query(self, server: Server, query: dns.Query, timeout: float) -> Deferred[dns.Message]:
        name = query.name.name.decode().lower()
        self.asked.append((name, query.type))
        m = dns.Message(answer=1, auth=True)
        m.queries = [query]
        if self.mode == "servfail":
            m.rCode = dns.ESERVER
        elif name == NAME and query.type == dns.AAAA:
            address = "2001:db8::bad" if self.mode == "not-lin6" else str(SERVICE.address)
            m.answers = [
                dns.RRHeader(name.encode(), dns.AAAA, dns.IN, 60, dns.Record_AAAA(address))
            ]
        elif name == REVERSE and query.type == dns.TXT:
            text = (
                b"lin6 ls=[2001:db8:1::53]:99999"
                if self.mode == "bad-txt"
                else (f"lin6 ls={LS1}".encode())
            )
            m.answers = [dns.RRHeader(name.encode(), dns.TXT, dns.IN, 60, dns.Record_TXT(text))]
        else:
            m.rCode = dns.ENAME
        return succeed(m)


class MalformedDNSTests(ServiceTestCase):
    """
    Bad DNS data: a clear log line, a back-off, and recovery once fixed.
    """

    def check(self, mode: str, expected: str) -> None:
        node = Node()
        node.ls(LS1, MA1, cookies=False)
        node.ma(MA1)
        server = FakeDNS()
        server.mode = mode
        node.service.resolver = Lin6Resolver(
            [DNS_SERVER], node.reactor, querier=server, timeouts=(0.5,)
        )
        node.service.startService()
        self.addCleanup(node.service.stopService)
        node.advance(0.5)
        self.assertEqual(node.core.state, NodeState.BACKOFF)
        self.assertTrue(self.logged(expected), [e.get("log_format") for e in self.events])
        server.mode = "ok"
        node.advance(3.0, step=0.01)
        self.assertEqual(node.core.state, NodeState.REGISTERED)

    def test_badTXT(self) -> None:
        self.check("bad-txt", "bad LIN6 TXT record")

    def test_notLIN6(self) -> None:
        self.check("not-lin6", "no LIN6 address")

    def test_serverFailure(self) -> None:
        self.check("servfail", "cannot resolve stream.lin6.example")
