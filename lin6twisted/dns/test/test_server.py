"""
Tests for L{lin6twisted.dns.server}.
"""

from __future__ import annotations

import os
import random
import signal
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import (
    EventLoggingObserver,
    FakeDatagramTransport,
    StringTransport,
)
from twisted.logger import globalLogPublisher
from twisted.names import dns
from twisted.trial.unittest import SynchronousTestCase, TestCase

from lin6twisted.dns.server import Lin6DNSServerFactory, ZoneReloadService, ZoneSet
from lin6twisted.dns.zone import ZoneError

ROOT = Path(__file__).resolve().parents[3]
ZONES = ROOT / "etc" / "zones"
FORWARD = ZONES / "lin6.example.zone"
REVERSE = ZONES / "9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa.zone"
SERVICE_REVERSE = "0.0.1.0.0.0.0.0.0.0.a.4.1.0.2.0.9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa"

BIG_HEAD = """$ORIGIN big.test.
$TTL 300
@ SOA ns1 hm 1 2 3 4 60
"""


def bigZone(count: int, extra: str = "") -> str:
    lines = [f"many AAAA 2001:db8::{i + 1:x}" for i in range(count)]
    return BIG_HEAD + "\n".join(lines) + "\n" + extra


def _payload(rr: dns.RRHeader) -> Any:
    return rr.payload


class FakeProtocol:
    """
    Collects what the factory writes, as wire bytes.
    """

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def writeMessage(self, message: dns.Message, address: object = None) -> None:
        self.written.append(message.toStr())


def request(
    name: str,
    rrtype: int,
    edns: tuple[int, int] | None = None,
    queries: int = 1,
    cls: int = dns.IN,
) -> dns.Message:
    m = dns.Message(id=1234)
    m.queries = [dns.Query(name, rrtype, cls)] * queries
    if edns is not None:
        opt = dns.RRHeader(b"", dns.OPT, edns[0], edns[1] << 16, dns.UnknownRecord(b""))
        m.additional = [opt]
    # As the protocol hands it over after decoding.
    decoded = dns.Message()
    decoded.fromStr(m.toStr())
    return decoded


class FactoryTests(SynchronousTestCase):
    """
    Tests for L{Lin6DNSServerFactory}.
    """

    def setUp(self) -> None:
        directory = Path(self.mktemp())
        directory.mkdir()
        self.big = directory / "big.test.zone"
        self.big.write_text(bigZone(40))
        self.zones = ZoneSet([FORWARD, REVERSE, self.big])
        self.factory = Lin6DNSServerFactory(self.zones)

    def ask(
        self, message: dns.Message, udp: bool = True, factory: Lin6DNSServerFactory | None = None
    ) -> tuple[dns.Message, int]:
        proto = FakeProtocol()
        (factory or self.factory).messageReceived(message, proto, ("::1", 5353) if udp else None)
        self.assertEqual(len(proto.written), 1)
        answer = dns.Message()
        answer.fromStr(proto.written[0])
        return answer, len(proto.written[0])

    def test_answer(self) -> None:
        """
        An AAAA question gets an authoritative answer.
        """
        answer, _ = self.ask(request("stream.lin6.example", dns.AAAA))
        self.assertEqual(answer.rCode, dns.OK)
        self.assertTrue(answer.auth)
        self.assertEqual(len(answer.answers), 1)
        self.assertFalse(answer.trunc)

    def test_txt(self) -> None:
        """
        The TXT records at the service's reverse name come back whole.
        """
        answer, _ = self.ask(request(SERVICE_REVERSE, dns.TXT))
        self.assertEqual(
            sorted(tuple(_payload(a).data) for a in answer.answers),
            [
                (b"lin6 ls=[2001:db8:1::53]:7100 ls=[2001:db8:2::53]:7100",),
                (b"lin6 ls=[2001:db8:3::53]:7100",),
            ],
        )

    def test_nxdomain(self) -> None:
        """
        NXDOMAIN is authoritative and has the SOA in authority.
        """
        answer, _ = self.ask(request("nope.lin6.example", dns.AAAA))
        self.assertEqual(answer.rCode, dns.ENAME)
        self.assertTrue(answer.auth)
        self.assertEqual([(r.type, r.ttl) for r in answer.authority], [(dns.SOA, 60)])

    def test_nodata(self) -> None:
        """
        NODATA is NOERROR, authoritative, no answers and the SOA, also for an
        empty non-terminal of the reverse zone.
        """
        for name, rrtype in [
            ("stream.lin6.example", dns.TXT),
            ("0.2.0.9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa", dns.TXT),
        ]:
            answer, _ = self.ask(request(name, rrtype))
            self.assertEqual(answer.rCode, dns.OK)
            self.assertTrue(answer.auth)
            self.assertEqual(answer.answers, [])
            self.assertEqual([r.type for r in answer.authority], [dns.SOA])

    def test_refusedOutside(self) -> None:
        """
        Names outside every zone are REFUSED, not NXDOMAIN.
        """
        answer, _ = self.ask(request("example.com", dns.AAAA))
        self.assertEqual(answer.rCode, dns.EREFUSED)
        self.assertFalse(answer.auth)

    def test_longestZoneWins(self) -> None:
        """
        A name is answered from the zone with the longest matching apex.
        """
        self.assertIs(self.zones.zoneFor(b"x.Many.BIG.test"), self.zones.zones[2])
        self.assertIsNone(self.zones.zoneFor(b"test"))

    def test_formerr(self) -> None:
        """
        A message with no or two questions is FORMERR.
        """
        for count in (0, 2):
            answer, _ = self.ask(request("stream.lin6.example", dns.AAAA, queries=count))
            self.assertEqual(answer.rCode, dns.EFORMAT)

    def test_otherClassRefused(self) -> None:
        """
        Classes other than IN (and ANY) are REFUSED.
        """
        answer, _ = self.ask(request("stream.lin6.example", dns.AAAA, cls=dns.CH))
        self.assertEqual(answer.rCode, dns.EREFUSED)

    def test_transfer(self) -> None:
        """
        AXFR is refused unless allowed, and never over UDP.
        """
        answer, _ = self.ask(request("lin6.example", dns.AXFR), udp=False)
        self.assertEqual(answer.rCode, dns.EREFUSED)
        allowing = Lin6DNSServerFactory(self.zones, allowTransfer=True)
        answer, _ = self.ask(request("lin6.example", dns.AXFR), udp=True, factory=allowing)
        self.assertEqual(answer.rCode, dns.EREFUSED)
        answer, _ = self.ask(request("lin6.example", dns.AXFR), udp=False, factory=allowing)
        self.assertEqual(answer.rCode, dns.OK)
        self.assertGreater(len(answer.answers), 10)

    def test_transferOfApexOnly(self) -> None:
        """
        With transfers allowed, AXFR of a name that is not the apex of a
        zone served is NOTAUTH (RFC 5936 2.2.1), not SERVFAIL.
        """
        allowing = Lin6DNSServerFactory(self.zones, allowTransfer=True)
        for name in ("stream.lin6.example", "elsewhere.test"):
            answer, _ = self.ask(request(name, dns.AXFR), udp=False, factory=allowing)
            self.assertEqual(answer.rCode, 9, name)
            self.assertEqual(answer.answers, [])
        answer, _ = self.ask(request("LIN6.example.", dns.AXFR), udp=False, factory=allowing)
        self.assertEqual(answer.rCode, dns.OK)

    def test_twoOPTsFormerr(self) -> None:
        """
        A query with two OPT records is FORMERR (RFC 6891 6.1.1).
        """
        m = dns.Message(id=9)
        m.queries = [dns.Query("stream.lin6.example", dns.AAAA)]
        opt = dns.RRHeader(b"", dns.OPT, 1232, 0, dns.UnknownRecord(b""))
        m.additional = [opt, opt]
        decoded = dns.Message()
        decoded.fromStr(m.toStr())
        answer, _ = self.ask(decoded)
        self.assertEqual(answer.rCode, dns.EFORMAT)

    def test_flagsCopied(self) -> None:
        """
        Answers copy the request's opcode, RD and CD bits (RFC 1035 4.1.1,
        RFC 6840 5.9); RA stays clear (not recursive).
        """
        for rd, cd in ((1, 0), (0, 1), (0, 0)):
            m = dns.Message(id=5, recDes=rd, checkingDisabled=cd)
            m.queries = [dns.Query("stream.lin6.example", dns.AAAA)]
            decoded = dns.Message()
            decoded.fromStr(m.toStr())
            answer, _ = self.ask(decoded)
            self.assertEqual((answer.recDes, answer.checkingDisabled), (rd, cd))
            self.assertEqual((answer.opCode, answer.recAv, answer.rCode), (dns.OP_QUERY, 0, 0))

    def test_notImplementedOpcodes(self) -> None:
        """
        NOTIFY, UPDATE, STATUS and unassigned opcodes get NOTIMP in a
        response carrying the request's opcode and id, which is what a
        client checks to accept it.
        """
        for opcode in (dns.OP_NOTIFY, dns.OP_UPDATE, dns.OP_STATUS, dns.OP_INVERSE, 6, 15):
            m = dns.Message(id=77, opCode=opcode)
            m.queries = [dns.Query("lin6.example", dns.SOA)]
            decoded = dns.Message()
            decoded.fromStr(m.toStr())
            answer, _ = self.ask(decoded)
            self.assertEqual(
                (answer.id, answer.answer, answer.opCode, answer.rCode),
                (77, 1, opcode, dns.ENOTIMP),
            )

    def test_truncatedOverUDP(self) -> None:
        """
        Over UDP without EDNS an answer over 512 bytes has the TC bit and no
        records; over TCP it is whole.
        """
        answer, size = self.ask(request("many.big.test", dns.AAAA))
        self.assertTrue(answer.trunc)
        self.assertEqual(answer.answers, [])
        self.assertLessEqual(size, 512)
        answer, size = self.ask(request("many.big.test", dns.AAAA), udp=False)
        self.assertFalse(answer.trunc)
        self.assertEqual(len(answer.answers), 40)
        self.assertGreater(size, 512)

    def test_ednsPayload(self) -> None:
        """
        With EDNS the client's payload size (capped by ours) is the limit,
        and the answer carries an OPT record with our size.
        """
        answer, size = self.ask(request("many.big.test", dns.AAAA, edns=(4096, 0)))
        self.assertFalse(answer.trunc)
        self.assertEqual(len(answer.answers), 40)
        self.assertGreater(size, 512)
        opts = [r for r in answer.additional if r.type == dns.OPT]
        self.assertEqual([r.cls for r in opts], [1232])
        answer, size = self.ask(request("many.big.test", dns.AAAA, edns=(600, 0)))
        self.assertTrue(answer.trunc)
        self.assertLessEqual(size, 600)
        self.assertEqual([r.type for r in answer.additional], [dns.OPT])
        answer, _ = self.ask(request("many.big.test", dns.AAAA, edns=(100, 0)))
        self.assertTrue(answer.trunc)

    def test_capByOurPayload(self) -> None:
        """
        A client's larger payload size is capped by ours.
        """
        self.big.write_text(bigZone(60))
        self.zones.reload()
        answer, size = self.ask(request("many.big.test", dns.AAAA, edns=(4096, 0)))
        self.assertTrue(answer.trunc)
        self.assertLessEqual(size, 1232)

    def test_badvers(self) -> None:
        """
        EDNS versions above 0 get BADVERS (extended rcode 16).
        """
        answer, _ = self.ask(request("stream.lin6.example", dns.AAAA, edns=(1232, 1)))
        opts = [r for r in answer.additional if r.type == dns.OPT]
        self.assertEqual(len(opts), 1)
        self.assertEqual((opts[0].ttl >> 24) << 4 | answer.rCode, 16)
        self.assertEqual(answer.answers, [])


class TCPTests(SynchronousTestCase):
    """
    The factory's TCP protocol.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = Lin6DNSServerFactory(
            ZoneSet([FORWARD]), tcpIdleTimeout=10, reactor=self.clock
        )
        self.protocol = self.factory.buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def test_answers(self) -> None:
        """
        A length-prefixed query gets a length-prefixed answer.
        """
        query = dns.Message(id=9)
        query.queries = [dns.Query("stream.lin6.example", dns.AAAA)]
        wire = query.toStr()
        self.protocol.dataReceived(struct.pack("!H", len(wire)) + wire)
        data = self.transport.value()
        (length,) = struct.unpack("!H", data[:2])
        answer = dns.Message()
        answer.fromStr(data[2 : 2 + length])
        self.assertEqual((answer.id, len(answer.answers)), (9, 1))

    def test_idleTimeout(self) -> None:
        """
        A connection idle for C{tcpIdleTimeout} seconds is closed; traffic
        restarts the timer.
        """
        self.clock.advance(9)
        self.protocol.dataReceived(b"\x00")
        self.clock.advance(9)
        self.assertFalse(self.transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(self.transport.disconnecting)
        self.protocol.connectionLost(None)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class WireTests(SynchronousTestCase):
    """
    The factory behind a real L{dns.DNSDatagramProtocol}, fed bytes.
    """

    def setUp(self) -> None:
        self.factory = Lin6DNSServerFactory(ZoneSet([FORWARD, REVERSE]))
        self.protocol = dns.DNSDatagramProtocol(self.factory)
        self.transport = FakeDatagramTransport()
        self.protocol.transport = self.transport
        self.protocol.startProtocol()

    def answers(self) -> list[dns.Message]:
        result = []
        for data, _ in self.transport.written:
            m = dns.Message()
            m.fromStr(data)
            result.append(m)
        return result

    def test_responsesIgnored(self) -> None:
        """
        A response is never answered.
        """
        m = dns.Message(id=7, answer=1)
        m.queries = [dns.Query("stream.lin6.example", dns.AAAA)]
        self.protocol.datagramReceived(m.toStr(), ("::1", 53))
        self.assertEqual(self.transport.written, [])

    def test_garbage(self) -> None:
        """
        Random and mutated datagrams never raise, never get SERVFAIL, and
        every answer is a well-formed response; a good query still works
        after them.
        """
        rnd = random.Random(6)  # noqa: S311 - reproducible fuzzing, not crypto
        good = dns.Message(id=1)
        good.queries = [dns.Query("stream.lin6.example", dns.AAAA)]
        wire = good.toStr()
        for i in range(3000):
            if i % 2:
                data = rnd.randbytes(rnd.randint(0, 80))
            else:
                mutated = bytearray(wire)
                for _ in range(rnd.randint(1, 4)):
                    mutated[rnd.randrange(len(mutated))] = rnd.getrandbits(8)
                data = bytes(mutated)
            self.protocol.datagramReceived(data, ("::1", 5353))
        answers = self.answers()
        self.assertGreater(len(answers), 100)
        for answer in answers:
            self.assertTrue(answer.answer)
            self.assertNotEqual(answer.rCode, dns.ESERVER)
        self.transport.written.clear()
        self.protocol.datagramReceived(wire, ("::1", 5353))
        (answer,) = self.answers()
        self.assertEqual(len(answer.answers), 1)


class ZoneSetTests(TestCase):
    """
    Tests for L{ZoneSet}.
    """

    def setUp(self) -> None:
        directory = Path(self.mktemp())
        directory.mkdir()
        self.path = directory / "big.test.zone"
        self.path.write_text(bigZone(1))
        self.zones = ZoneSet([self.path, FORWARD])
        self.observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def count(self) -> int:
        zone = self.zones.zoneFor(b"many.big.test")
        assert zone is not None
        return len(zone.records[b"many.big.test"])

    def test_noFiles(self) -> None:
        """
        No zone files is an error.
        """
        self.assertRaises(ZoneError, ZoneSet, [])

    def test_sameZoneTwice(self) -> None:
        """
        Two files holding one zone is an error naming both.
        """
        copy = Path(self.mktemp())
        copy.write_bytes(FORWARD.read_bytes())
        e = self.assertRaises(ZoneError, ZoneSet, [FORWARD, copy])
        self.assertIn("also loaded", str(e))
        e = self.assertRaises(ZoneError, ZoneSet, [FORWARD, FORWARD])
        self.assertIn("given twice", str(e))

    def test_reload(self) -> None:
        """
        L{ZoneSet.reload} picks up changed files.
        """
        self.path.write_text(bigZone(3))
        self.assertEqual(self.zones.reload(), [])
        self.assertEqual(self.count(), 3)

    def test_reloadFailureKeepsOld(self) -> None:
        """
        A file that fails to load keeps its old zone; the error is returned
        and logged; the other files are reloaded.
        """
        before = self.zones.zones
        self.path.write_text(bigZone(3, "broken AAAA nonsense\n"))
        errors = self.zones.reload()
        self.assertEqual(len(errors), 1)
        self.assertIn("not an IPv6 address", str(errors[0]))
        self.assertEqual(self.count(), 1)
        self.assertIs(self.zones.zones[0], before[0])
        self.assertIsNot(self.zones.zones[1], before[1])
        self.assertTrue(any("keeping the old zone" in e["log_format"] for e in self.observer))
        self.path.unlink()
        self.assertEqual(len(self.zones.reload()), 1)
        self.assertEqual(self.count(), 1)

    def test_reloadClashKeepsAll(self) -> None:
        """
        When a reload would serve one zone from two files, all old zones stay.
        """
        self.path.write_text(FORWARD.read_text())
        errors = self.zones.reload()
        self.assertEqual(len(errors), 1)
        self.assertEqual(self.count(), 1)


class FakeThreadReactor:
    """
    Records L{IReactorFromThreads.callFromThread} calls.
    """

    def __init__(self) -> None:
        self.calls: list[Callable[[], Any]] = []

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kw: Any) -> None:
        self.calls.append(lambda: f(*args, **kw))


class ZoneReloadServiceTests(SynchronousTestCase):
    """
    Tests for L{ZoneReloadService}.
    """

    def setUp(self) -> None:
        directory = Path(self.mktemp())
        directory.mkdir()
        self.path = directory / "big.test.zone"
        self.path.write_text(bigZone(1))
        self.zones = ZoneSet([self.path])
        self.reactor = FakeThreadReactor()
        self.threads: list[tuple[Callable[[], Any], Deferred[Any]]] = []

        def runInThread(f: Callable[[], Any]) -> Deferred[Any]:
            d: Deferred[Any] = Deferred()
            self.threads.append((f, d))
            return d

        self.service = ZoneReloadService(
            self.zones,
            self.reactor,  # type: ignore[arg-type]
            runInThread,
        )

    def runThread(self) -> None:
        f, d = self.threads.pop(0)
        d.callback(f())

    def count(self) -> int:
        return len(self.zones.zones[0].records[b"many.big.test"])

    def test_sighup(self) -> None:
        """
        SIGHUP schedules a reload on the reactor thread while the service
        runs; the files are read in the worker and swapped in after;
        stopping restores the previous handler.
        """
        previous = signal.getsignal(signal.SIGHUP)
        self.service.startService()
        self.addCleanup(lambda: self.service.stopService() if self.service.running else None)
        self.path.write_text(bigZone(2))
        os.kill(os.getpid(), signal.SIGHUP)
        self.assertEqual(len(self.reactor.calls), 1)
        self.assertEqual(self.count(), 1)
        self.reactor.calls.pop()()
        self.assertEqual(self.count(), 1)
        self.runThread()
        self.assertEqual(self.count(), 2)
        self.service.stopService()
        self.assertEqual(signal.getsignal(signal.SIGHUP), previous)

    def test_reloadDuringReload(self) -> None:
        """
        A reload asked for during a reload runs once after it.
        """
        d = self.service.reload()
        assert d is not None
        self.assertIsNone(self.service.reload())
        self.assertIsNone(self.service.reload())
        self.path.write_text(bigZone(3))
        self.runThread()
        self.assertEqual(self.successResultOf(d), [])
        self.assertEqual(len(self.threads), 1)
        self.runThread()
        self.assertEqual(self.count(), 3)
        self.assertEqual(self.threads, [])

    def test_errorsReported(self) -> None:
        """
        The reload's L{Deferred} gives the errors; the old zone stays.
        """
        self.path.write_text("garbage\n")
        d = self.service.reload()
        assert d is not None
        self.runThread()
        errors = self.successResultOf(d)
        self.assertEqual(len(errors), 1)
        self.assertEqual(self.count(), 1)
