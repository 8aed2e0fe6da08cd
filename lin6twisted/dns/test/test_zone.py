"""
Tests for L{lin6twisted.dns.zone}.
"""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.names import dns
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.dns.txt import Endpoint, Locations, formatZoneTXT, parseLocations
from lin6twisted.dns.zone import NXDomain, ZoneAuthority, ZoneError, loadZone

ROOT = Path(__file__).resolve().parents[3]
ZONES = ROOT / "etc" / "zones"
REVERSE_ZONE = ZONES / "9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa.zone"

HEAD = b"""$ORIGIN example.test.
$TTL 1h
@ IN SOA ns1 hostmaster ( 7 1h 15m 1w 30 )
  IN NS ns1
"""


class ZoneFileTests(SynchronousTestCase):
    """
    Reading BIND zone files.
    """

    def write(self, content: bytes, name: str = "example.test.zone") -> Path:
        directory = Path(self.mktemp())
        directory.mkdir()
        path = directory / name
        path.write_bytes(content)
        return path

    def load(self, body: bytes) -> ZoneAuthority:
        return loadZone(self.write(HEAD + body))

    def lookup(self, zone: ZoneAuthority, name: str, rrtype: int) -> Any:
        return self.successResultOf(zone.query(dns.Query(name, rrtype)))

    def test_shippedZones(self) -> None:
        """
        The zone files in C{etc/zones} load, with the service's LIN6 address
        and the LS replicas.
        """
        forward = loadZone(ZONES / "lin6.example.zone")
        self.assertEqual(forward.zoneName, b"lin6.example")
        answers, _, _ = self.lookup(forward, "stream.lin6.example", dns.AAAA)
        self.assertEqual(
            [str(ipaddress.IPv6Address(a.payload.address)) for a in answers],
            ["3ffe:501:1830:1999:201:4a00:0:100"],
        )
        answers, _, _ = self.lookup(forward, "ls.lin6.example", dns.AAAA)
        self.assertEqual(len(answers), 3)
        reverse = loadZone(REVERSE_ZONE)
        self.assertEqual(reverse.zoneName, b"9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa")

    def test_quotedStrings(self) -> None:
        """
        Quoted TXT strings keep spaces, semicolons and escaped quotes; several
        strings make one record.
        """
        zone = self.load(
            b'txt IN TXT "lin6 ls=[2001:db8::1]:7100" "a;b \\"c\\"" \\065bc "\\100"\n'
        )
        answers, _, _ = self.lookup(zone, "txt.example.test", dns.TXT)
        self.assertEqual(
            answers[0].payload.data,
            [b"lin6 ls=[2001:db8::1]:7100", b'a;b "c"', b"Abc", b"d"],
        )

    def test_lin6TXTRoundTrip(self) -> None:
        """
        A TXT record written with L{formatZoneTXT} (several strings) loads
        back to the same L{Locations}.
        """
        many = Locations(
            ls=tuple(
                Endpoint(ipaddress.IPv6Address(f"2001:db8:ffff:ffff:ffff:ffff:ffff:{i:x}"), 7100)
                for i in range(12)
            )
        )
        text = formatZoneTXT(many)
        self.assertGreater(text.count('" "'), 0)
        zone = self.load(f"svc TXT {text}\n".encode())
        answers, _, _ = self.lookup(zone, "svc.example.test", dns.TXT)
        self.assertEqual(parseLocations([answers[0].payload.data]), many)

    def test_continuationAndBlankOwner(self) -> None:
        """
        Parentheses continue a record over lines; a line starting with a
        blank reuses the previous owner; comments are dropped.
        """
        zone = self.load(
            b'multi IN TXT ( "one" ; first\n   "two" )\n       IN AAAA 2001:db8::1 ; same owner\n'
        )
        answers, _, _ = self.lookup(zone, "multi.example.test", dns.TXT)
        self.assertEqual(answers[0].payload.data, [b"one", b"two"])
        answers, _, _ = self.lookup(zone, "multi.example.test", dns.AAAA)
        self.assertEqual(len(answers), 1)

    def test_relativeNamesAndTTLs(self) -> None:
        """
        Relative names in data are expanded with the origin; TTLs take unit
        suffixes and may come before or after the class.
        """
        zone = self.load(
            b"www 30m IN CNAME host\n"
            b"host IN 90 AAAA 2001:db8::2\n"
            b"mail MX 10 host.other.test.\n"
            b"$ORIGIN sub.example.test.\n"
            b"deep 1h30m A 192.0.2.1\n"
            b"srv SRV 0 5 7100 @\n"
        )
        answers, _, _ = self.lookup(zone, "www.example.test", dns.CNAME)
        self.assertEqual(answers[0].payload.name.name, b"host.example.test")
        self.assertEqual(answers[0].ttl, 1800)
        answers, _, _ = self.lookup(zone, "host.example.test", dns.AAAA)
        self.assertEqual(answers[0].ttl, 90)
        answers, _, _ = self.lookup(zone, "mail.example.test", dns.MX)
        self.assertEqual(answers[0].payload.name.name, b"host.other.test")
        answers, _, _ = self.lookup(zone, "deep.sub.example.test", dns.A)
        self.assertEqual(answers[0].ttl, 5400)
        answers, _, _ = self.lookup(zone, "srv.sub.example.test", dns.SRV)
        self.assertEqual(answers[0].payload.target.name, b"sub.example.test")
        self.assertEqual(answers[0].payload.port, 7100)

    def test_defaultOrigin(self) -> None:
        """
        Without C{$ORIGIN} the file name (less C{.zone}) is the origin.
        """
        zone = loadZone(self.write(b"@ SOA ns1 hm 1 2 3 4 5\nx AAAA ::1\n", "other.test.zone"))
        self.assertEqual(zone.zoneName, b"other.test")
        self.lookup(zone, "x.other.test", dns.AAAA)

    def test_duplicatesServedOnce(self) -> None:
        """
        A record given twice is one record of its RRset (RFC 2181 5); the
        same data with another TTL is kept (the file's author sees both).
        """
        zone = self.load(b"x AAAA ::1\nx AAAA ::1\nx TXT a\nx 60 TXT a\n")
        answers, _, _ = self.lookup(zone, "x.example.test", dns.AAAA)
        self.assertEqual(len(answers), 1)
        answers, _, _ = self.lookup(zone, "x.example.test", dns.TXT)
        self.assertEqual(len(answers), 2)

    def test_nodata(self) -> None:
        """
        An existing name without the type asked is NODATA: no answers, the
        SOA in authority with TTL min(SOA TTL, MINIMUM).
        """
        zone = self.load(b"host AAAA 2001:db8::2\n")
        answers, authority, _ = self.lookup(zone, "host.example.test", dns.TXT)
        self.assertEqual(answers, [])
        self.assertEqual([(r.type, r.ttl) for r in authority], [(dns.SOA, 30)])

    def test_emptyNonTerminal(self) -> None:
        """
        A name that exists only because a name below it does is NODATA, not
        NXDOMAIN.
        """
        zone = self.load(b"a.b.c AAAA 2001:db8::2\n")
        for name in ["b.c.example.test", "c.example.test"]:
            answers, authority, _ = self.lookup(zone, name, dns.AAAA)
            self.assertEqual(answers, [])
            self.assertEqual(authority[0].type, dns.SOA)

    def test_nxdomain(self) -> None:
        """
        A missing name fails with L{NXDomain} carrying the SOA.
        """
        zone = self.load(b"host AAAA 2001:db8::2\n")
        f = self.failureResultOf(zone.query(dns.Query("nope.example.test", dns.AAAA)), NXDomain)
        self.assertEqual(f.value.soa.type, dns.SOA)
        self.assertEqual(f.value.soa.ttl, 30)

    def test_errorsNameFileAndLine(self) -> None:
        """
        Malformed files give a L{ZoneError} naming the file and line.
        """
        cases = [
            (b"bad AAAA 2001:db8::zz\n", 5, "not an IPv6 address"),
            (b"bad A 2001:db8::1\n", 5, "not an IPv4 address"),
            (b"bad FOO 1\n", 5, "not supported"),
            (b"bad CH TXT x\n", 5, "only IN"),
            (b"bad TXT\n", 5, "at least one string"),
            (b'bad TXT "unterminated\n', 5, "unterminated"),
            (b"bad TXT ( x\n", 5, "never closed"),
            (b"bad TXT x )\n", 5, "without"),
            (b"\n\nbad MX x host\n", 7, "not a number"),
            (b"bad MX 70000 host\n", 5, "16 bits"),
            (b"$INCLUDE other\n", 5, "not supported"),
            (b"$TTL forever\n", 5, "not a TTL"),
            (b"@ SOA a b 1 2 3 4 5\n", 5, "second SOA"),
            (b"bad AAAA\n", 5, "needs 1"),
            (b"bad 300\n", 5, "no type"),
            (b"x" * 64 + b" AAAA ::1\n", 5, "63"),
            (b'bad TXT "' + b"x" * 256 + b'"\n', 5, "255"),
            (b"bad TXT \\999\n", 5, "above 255"),
            (b"bad 1x AAAA ::1\n", 5, "'1x' is neither a TTL nor a record type"),
            (b"* AAAA ::1\n", 5, "wildcard owner *.example.test is not supported"),
            (b"*.sub AAAA ::1\n", 5, "wildcard"),
        ]
        for body, line, fragment in cases:
            with self.subTest(body=body):
                path = self.write(HEAD + body)
                e = self.assertRaises(ZoneError, loadZone, path)
                self.assertEqual(e.line, line)
                self.assertIn(fragment, str(e))
                self.assertTrue(str(e).startswith(f"{path}, line {line}: "), str(e))

    def test_wholeFileErrors(self) -> None:
        """
        No SOA, names outside the zone, CNAME with other data and unreadable
        files are L{ZoneError}s.
        """
        e = self.assertRaises(ZoneError, loadZone, self.write(b"x AAAA ::1\n"))
        self.assertIn("no SOA", str(e))
        e = self.assertRaises(ZoneError, self.load, b"host.elsewhere. AAAA ::1\n")
        self.assertIn("outside the zone", str(e))
        e = self.assertRaises(ZoneError, self.load, b"x CNAME y\nx AAAA ::1\n")
        self.assertIn("CNAME and other", str(e))
        e = self.assertRaises(ZoneError, loadZone, Path(self.mktemp()))
        self.assertIn("cannot read", str(e))
        zone = self.load(b"\tAAAA ::1\n")
        self.lookup(zone, "example.test", dns.AAAA)
        e = self.assertRaises(ZoneError, loadZone, self.write(b" AAAA ::1\n@ SOA a b 1 2 3 4 5\n"))
        self.assertIn("no previous owner", str(e))

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=400))
    def test_garbage(self, junk: bytes) -> None:
        """
        Arbitrary bytes appended to a zone either load or raise
        L{ZoneError}, nothing else.
        """
        path = Path(FilePath(self.mktemp()).path)
        path.write_bytes(HEAD + junk)
        with contextlib.suppress(ZoneError):
            loadZone(path)
