"""
Integration tests: the real server on a loopback port, asked by the real
C{dig} and by L{Lin6Resolver} over real sockets; fake misbehaving servers
for the resolver's failover.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import struct
import sys
from pathlib import Path
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.names import dns
from twisted.trial.unittest import TestCase

from lin6twisted.dns.resolver import (
    BadAnswer,
    BadTXT,
    DNSTimeout,
    Lin6Resolver,
    NameNotFound,
    Service,
)
from lin6twisted.dns.server import Lin6DNSServerFactory, ZoneSet
from lin6twisted.dns.txt import Endpoint, Locations

reactor: Any = _reactor

ROOT = Path(__file__).resolve().parents[3]
ZONES = ROOT / "etc" / "zones"
FORWARD = ZONES / "lin6.example.zone"
REVERSE = ZONES / "9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa.zone"
SERVICE_ADDRESS = "3ffe:501:1830:1999:201:4a00:0:100"
BIG = 60
LS = [Endpoint(ipaddress.IPv6Address(f"2001:db8:{i}::53"), 7100) for i in (1, 2, 3)]


def bigZone() -> str:
    lines = ["$ORIGIN big.test.", "$TTL 300", "@ SOA ns1 hm 1 2 3 4 60"]
    lines += [f"many AAAA 2001:db8::{i + 1:x}" for i in range(BIG)]
    return "\n".join(lines) + "\n"


def startServer(test: TestCase, zones: ZoneSet) -> int:
    """
    Serve C{zones} on one loopback port over UDP and TCP; stop at cleanup.
    """
    factory = Lin6DNSServerFactory(zones)
    factory.noisy = False
    for _ in range(20):
        udp = reactor.listenUDP(0, dns.DNSDatagramProtocol(factory), interface="::1")
        port = udp.getHost().port
        try:
            tcp = reactor.listenTCP(port, factory, interface="::1")
        except CannotListenError:
            udp.stopListening()
            continue
        test.addCleanup(udp.stopListening)
        test.addCleanup(tcp.stopListening)
        return int(port)
    raise RuntimeError("no free port for UDP and TCP")


class DigTests(TestCase):
    """
    The real C{dig} against the real server.
    """

    timeout = 60

    def setUp(self) -> None:
        if shutil.which("dig") is None:
            if os.getuid() == 0:
                self.fail("dig is not installed (Debian package dnsutils)")
            self.skipTest("dig is not installed and we are not root")
        directory = Path(self.mktemp())
        directory.mkdir()
        big = directory / "big.test.zone"
        big.write_text(bigZone())
        self.port = startServer(self, ZoneSet([FORWARD, REVERSE, big]))

    async def dig(self, *args: str) -> str:
        out, err, code = await getProcessOutputAndValue(
            shutil.which("dig") or "dig",
            ["@::1", "-p", str(self.port), "+norec", "+time=2", "+tries=1", *args],
            env=os.environ,
        )
        self.assertEqual(code, 0, err.decode(errors="replace") + out.decode(errors="replace"))
        text: str = out.decode()
        return text

    def header(self, output: str) -> tuple[str, set[str], dict[str, int]]:
        status = re.search(r"status: (\w+)", output)
        flags = re.search(r"flags: ([\w ]+);", output)
        counts = dict(re.findall(r"(QUERY|ANSWER|AUTHORITY|ADDITIONAL): (\d+)", output))
        assert status is not None and flags is not None, output
        return status.group(1), set(flags.group(1).split()), {k: int(v) for k, v in counts.items()}

    async def test_aaaa(self) -> None:
        """
        The service name's AAAA is its LIN6 address; the LS name has three.
        """
        self.assertEqual(
            (await self.dig("stream.lin6.example", "AAAA", "+short")).split(), [SERVICE_ADDRESS]
        )
        output = await self.dig("ls.lin6.example", "AAAA")
        status, flags, counts = self.header(output)
        self.assertEqual((status, counts["ANSWER"]), ("NOERROR", 3))
        self.assertIn("aa", flags)

    async def test_txt(self) -> None:
        """
        The TXT at the service address's reverse name lists the LS replicas.
        """
        output = await self.dig("-x", SERVICE_ADDRESS, "TXT", "+short")
        self.assertEqual(
            sorted(output.splitlines()),
            [
                '"lin6 ls=[2001:db8:1::53]:7100 ls=[2001:db8:2::53]:7100"',
                '"lin6 ls=[2001:db8:3::53]:7100"',
            ],
        )

    async def test_nxdomain(self) -> None:
        """
        A missing name is NXDOMAIN, authoritative, with the SOA.
        """
        output = await self.dig("nope.lin6.example", "AAAA")
        status, flags, counts = self.header(output)
        self.assertEqual(status, "NXDOMAIN")
        self.assertIn("aa", flags)
        self.assertEqual((counts["ANSWER"], counts["AUTHORITY"]), (0, 1))
        self.assertRegex(output, r"lin6\.example\.\s+60\s+IN\s+SOA")

    async def test_nodata(self) -> None:
        """
        An existing name without the type is NOERROR with no answer and the
        SOA; so is an empty non-terminal of the reverse zone.
        """
        for args in (("stream.lin6.example", "TXT"), ("e.f.f.3.ip6.arpa", "TXT")):
            output = await self.dig(*args)
            status, flags, counts = self.header(output)
            if args[0].endswith("ip6.arpa"):
                self.assertEqual(status, "REFUSED")  # above our zone: not ours
                continue
            self.assertEqual((status, counts["ANSWER"], counts["AUTHORITY"]), ("NOERROR", 0, 1))
            self.assertIn("aa", flags)
        output = await self.dig("0.2.0.9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa", "TXT")
        status, _, counts = self.header(output)
        self.assertEqual((status, counts["ANSWER"], counts["AUTHORITY"]), ("NOERROR", 0, 1))

    async def test_refused(self) -> None:
        """
        Names outside the zones are REFUSED.
        """
        status, _, _ = self.header(await self.dig("example.com", "A"))
        self.assertEqual(status, "REFUSED")

    async def test_truncation(self) -> None:
        """
        A large answer is truncated over UDP (TC, no records), is whole over
        TCP, and plain C{dig} retries over TCP by itself.
        """
        output = await self.dig("many.big.test", "AAAA", "+noedns", "+ignore")
        status, flags, counts = self.header(output)
        self.assertIn("tc", flags)
        self.assertEqual(counts["ANSWER"], 0)
        output = await self.dig("many.big.test", "AAAA", "+bufsize=1232", "+ignore")
        self.assertIn("tc", self.header(output)[1])
        output = await self.dig("many.big.test", "AAAA", "+tcp")
        status, flags, counts = self.header(output)
        self.assertNotIn("tc", flags)
        self.assertEqual((status, counts["ANSWER"]), ("NOERROR", BIG))
        self.assertIn("(TCP)", output)
        output = await self.dig("many.big.test", "AAAA")
        self.assertIn("Truncated, retrying in TCP mode", output)
        self.assertEqual(self.header(output)[2]["ANSWER"], BIG)

    async def test_edns(self) -> None:
        """
        EDNS answers carry an OPT record with our payload size; version 1 is
        BADVERS.
        """
        output = await self.dig("stream.lin6.example", "AAAA")
        self.assertIn("udp: 1232", output)
        output = await self.dig("stream.lin6.example", "AAAA", "+edns=1", "+noednsneg")
        self.assertIn("BADVERS", output)

    async def test_lin6Resolve(self) -> None:
        """
        C{lin6 resolve NAME --server ADDR:PORT} prints the two steps.
        """
        out, err, code = await getProcessOutputAndValue(
            sys.executable,
            ["-m", "lin6twisted.cli", "resolve", "stream.lin6.example", "--server",
             f"[::1]:{self.port}"],
            env=os.environ,
        )  # fmt: skip
        self.assertEqual(code, 0, err)
        text = out.decode()
        self.assertIn(f"LIN6 address  {SERVICE_ADDRESS}", text)
        for endpoint in LS:
            self.assertIn(f"LS            {endpoint}", text)
        out, err, code = await getProcessOutputAndValue(
            sys.executable,
            ["-m", "lin6twisted.cli", "resolve", "nope.lin6.example", "-s", f"[::1]:{self.port}"],
            env=os.environ,
        )
        self.assertEqual(code, 1)
        self.assertEqual(
            err.decode(), "lin6 resolve: nope.lin6.example does not exist (NXDOMAIN)\n"
        )

    async def test_resolver(self) -> None:
        """
        L{Lin6Resolver} over real sockets: the two-step look-up, and a large
        RRset that needs TCP.
        """
        resolver = Lin6Resolver([("::1", self.port)], reactor)
        service = await resolver.resolveService("stream.lin6.example")
        self.assertEqual(str(service.address), SERVICE_ADDRESS)
        self.assertEqual(service.locations, Locations(ls=tuple(LS)))
        self.assertIsInstance(service, Service)
        addresses = await resolver.lookupAddresses("many.big.test")
        self.assertEqual(len(addresses), BIG)
        with self.assertRaises(NameNotFound):
            await resolver.lookupLIN6("nope.lin6.example")
        with self.assertRaises(DNSTimeout):
            # The server listens on ::1 only: nobody answers on 127.0.0.1.
            await Lin6Resolver([("127.0.0.1", self.port)], reactor, timeouts=(0.2,)).lookupLIN6(
                "stream.lin6.example"
            )


class Misbehaving(DatagramProtocol):
    """
    A UDP "DNS server" answering every query with C{make(query)} bytes.
    """

    def __init__(self, make: Any) -> None:
        self.make = make
        self.queries = 0

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.queries += 1
        message = dns.Message()
        message.fromStr(data)
        assert self.transport is not None
        self.transport.write(self.make(message), addr)


def garbage(query: dns.Message) -> bytes:
    """
    A header and then a name that points at itself: it cannot be decoded.
    """
    return (
        struct.pack("!H", query.id)
        + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
        + (b"\xc0\x0c\x00\x01\x00\x01")
    )


def cutShort(query: dns.Message) -> bytes:
    """
    A header announcing records that are not there.
    """
    return struct.pack("!H", query.id) + b"\x81\x80\x00\x01\xff\xff\x00\x00\x00\x00junk"


def wrongType(query: dns.Message) -> bytes:
    answer = dns.Message(id=query.id, answer=1)
    answer.queries = query.queries
    answer.answers = [
        dns.RRHeader(query.queries[0].name.name, dns.A, dns.IN, 60, dns.Record_A("192.0.2.1"))
    ]
    return answer.toStr()


def badTXT(query: dns.Message) -> bytes:
    answer = dns.Message(id=query.id, answer=1)
    answer.queries = query.queries
    if query.queries[0].type == dns.AAAA:
        name = query.queries[0].name.name
        answer.answers = [
            dns.RRHeader(name, dns.AAAA, dns.IN, 60, dns.Record_AAAA(SERVICE_ADDRESS))
        ]
        return answer.toStr()
    answer.answers = [
        dns.RRHeader(
            query.queries[0].name.name, dns.TXT, dns.IN, 60, dns.Record_TXT(b"lin6 ls=nowhere")
        )
    ]
    return answer.toStr()


class MalformedAnswerTests(TestCase):
    """
    L{Lin6Resolver} against servers that answer garbage, the wrong type or
    bad TXT: typed errors, and the next server is tried.
    """

    timeout = 30

    def setUp(self) -> None:
        directory = Path(self.mktemp())
        directory.mkdir()
        self.good = ("::1", startServer(self, ZoneSet([FORWARD, REVERSE])))

    def fake(self, make: Any) -> tuple[tuple[str, int], Misbehaving]:
        protocol = Misbehaving(make)
        port = reactor.listenUDP(0, protocol, interface="::1")
        self.addCleanup(port.stopListening)
        return ("::1", port.getHost().port), protocol

    async def test_garbage(self) -> None:
        """
        Undecodable answers fail at once with L{BadAnswer} (no waiting for the
        timeout), and the next server is asked.
        """
        bad, protocol = self.fake(garbage)
        resolver = Lin6Resolver([bad, self.good], reactor, timeouts=(5,))
        started = reactor.seconds()
        address = await resolver.lookupLIN6("stream.lin6.example")
        self.assertEqual(str(address), SERVICE_ADDRESS)
        self.assertLess(reactor.seconds() - started, 2)
        self.assertEqual(protocol.queries, 1)
        only = Lin6Resolver([bad], reactor, timeouts=(5, 5))
        started = reactor.seconds()
        with self.assertRaises(BadAnswer) as e:
            await only.lookupLIN6("stream.lin6.example")
        self.assertIn("undecodable", str(e.exception))
        self.assertLess(reactor.seconds() - started, 2)

    async def test_cutShort(self) -> None:
        """
        An answer whose records are cut off is a L{BadAnswer}; the next
        server is asked.
        """
        bad, _ = self.fake(cutShort)
        resolver = Lin6Resolver([bad, self.good], reactor)
        self.assertEqual(str(await resolver.lookupLIN6("stream.lin6.example")), SERVICE_ADDRESS)
        with self.assertRaises(BadAnswer):
            await Lin6Resolver([bad], reactor).lookupLIN6("stream.lin6.example")

    async def test_wrongType(self) -> None:
        """
        A records for an AAAA question are a L{BadAnswer}; the next server is
        asked.
        """
        bad, _ = self.fake(wrongType)
        resolver = Lin6Resolver([bad, self.good], reactor)
        self.assertEqual(str(await resolver.lookupLIN6("stream.lin6.example")), SERVICE_ADDRESS)
        with self.assertRaises(BadAnswer):
            await Lin6Resolver([bad], reactor).lookupLIN6("stream.lin6.example")

    async def test_badTXT(self) -> None:
        """
        A malformed LIN6 TXT is L{BadTXT}; the next server is asked.
        """
        bad, _ = self.fake(badTXT)
        resolver = Lin6Resolver([bad, self.good], reactor)
        service = await resolver.resolveService("stream.lin6.example")
        self.assertEqual(service.locations.ls, tuple(LS))
        with self.assertRaises(BadTXT) as e:
            await Lin6Resolver([bad], reactor).resolveService("stream.lin6.example")
        self.assertIn("nowhere", str(e.exception))

    async def test_silentThenGood(self) -> None:
        """
        A server that never answers is given up after the timeout.
        """
        silent, protocol = self.fake(lambda q: b"")
        protocol.datagramReceived = lambda data, addr: None  # type: ignore[method-assign]
        resolver = Lin6Resolver([silent, self.good], reactor, timeouts=(0.3,))
        started = reactor.seconds()
        address = await resolver.lookupLIN6("stream.lin6.example")
        self.assertEqual(str(address), SERVICE_ADDRESS)
        self.assertGreaterEqual(reactor.seconds() - started, 0.3)
