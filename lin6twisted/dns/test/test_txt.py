"""
Tests for L{lin6twisted.dns.txt}.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.dns.txt import (
    MAX_TOKENS,
    Endpoint,
    Locations,
    TXTSyntaxError,
    UnsupportedVersion,
    formatLocations,
    formatZoneTXT,
    parseEndpoint,
    parseLocations,
)

LS1 = Endpoint(ipaddress.IPv6Address("2001:db8:1::53"), 7100)
LS2 = Endpoint(ipaddress.IPv6Address("2001:db8:2::53"), 7100)
MA1 = Endpoint(ipaddress.IPv6Address("2001:db8:1::10"), 7300)


class ParseEndpointTests(SynchronousTestCase):
    """
    Tests for L{parseEndpoint}.
    """

    def test_valid(self) -> None:
        """
        C{[address]:port} parses into an L{Endpoint} that prints back the same.
        """
        e = parseEndpoint("[2001:DB8:1::53]:7100")
        self.assertEqual(e, LS1)
        self.assertEqual(str(e), "[2001:db8:1::53]:7100")

    def test_invalid(self) -> None:
        """
        Anything but a bracketed literal IPv6 address and a port 1-65535 is a
        L{TXTSyntaxError}.
        """
        for text in [
            "2001:db8::1:7403",
            "[2001:db8::1]",
            "[2001:db8::1]:",
            "[2001:db8::1]:0",
            "[2001:db8::1]:65536",
            "[2001:db8::1]:123456",
            "[2001:db8::g]:53",
            "[192.0.2.1]:53",
            "[fe80::1%eth0]:53",
            "[ls.lin6.example]:53",
            "[2001:db8::1]:+53",
            "[2001:db8::1]:53x",
            "",
        ]:
            with self.subTest(text=text):
                self.assertRaises(TXTSyntaxError, parseEndpoint, text)


class ParseLocationsTests(SynchronousTestCase):
    """
    Tests for L{parseLocations}.
    """

    def test_lsList(self) -> None:
        """
        A version 1 record lists LS endpoints in order.
        """
        result = parseLocations([[b"lin6 ls=[2001:db8:1::53]:7100 ls=[2001:db8:2::53]:7100"]])
        self.assertEqual(result, Locations(ls=(LS1, LS2)))
        self.assertTrue(result)

    def test_ma(self) -> None:
        """
        C{ma=} lists a Mapping Agent.
        """
        self.assertEqual(
            parseLocations([[b"lin6 ma=[2001:db8:1::10]:7300"]]), Locations(ma=(MA1,))
        )

    def test_explicitVersion(self) -> None:
        """
        C{lin6/1} is the same as C{lin6}.
        """
        self.assertEqual(
            parseLocations([[b"lin6/1 ls=[2001:db8:1::53]:7100"]]), Locations(ls=(LS1,))
        )

    def test_stringsJoinedWithSpace(self) -> None:
        """
        The strings of one record are joined with a space.
        """
        self.assertEqual(
            parseLocations([[b"lin6 ls=[2001:db8:1::53]:7100", b"ls=[2001:db8:2::53]:7100"]]),
            Locations(ls=(LS1, LS2)),
        )

    def test_severalRecordsAddUp(self) -> None:
        """
        Several records at the name add up, in order, duplicates dropped.
        """
        self.assertEqual(
            parseLocations(
                [
                    [b"lin6 ls=[2001:db8:2::53]:7100"],
                    [b"lin6 ls=[2001:db8:1::53]:7100 ma=[2001:db8:1::10]:7300"],
                    [b"lin6 ls=[2001:db8:2::53]:7100"],
                ]
            ),
            Locations(ls=(LS2, LS1), ma=(MA1,)),
        )

    def test_foreignRecordsSkipped(self) -> None:
        """
        Records not starting with the tag are not ours and are skipped, even
        when they look broken.
        """
        self.assertEqual(
            parseLocations(
                [
                    [b"v=spf1 -all"],
                    [b"lin6x ls=garbage"],
                    [b""],
                    [b"\xff\xfe"[:0]],
                    [b"lin6 ls=[2001:db8:1::53]:7100"],
                ]
            ),
            Locations(ls=(LS1,)),
        )

    def test_nothingOurs(self) -> None:
        """
        No record of ours gives empty (false) L{Locations}.
        """
        result = parseLocations([[b"hello world"]])
        self.assertEqual(result, Locations())
        self.assertFalse(result)
        self.assertFalse(parseLocations([]))

    def test_unknownKeysIgnored(self) -> None:
        """
        Well-formed unknown keys are ignored.
        """
        self.assertEqual(
            parseLocations([[b"lin6 weight=3 ls=[2001:db8:1::53]:7100 x-site=tokyo"]]),
            Locations(ls=(LS1,)),
        )

    def test_otherVersionsSkipped(self) -> None:
        """
        Records of other versions are skipped when a version 1 record exists.
        """
        self.assertEqual(
            parseLocations([[b"lin6/2 ls=anything;goes"], [b"lin6 ls=[2001:db8:1::53]:7100"]]),
            Locations(ls=(LS1,)),
        )

    def test_onlyOtherVersions(self) -> None:
        """
        Only records of other versions is L{UnsupportedVersion}, a
        L{TXTSyntaxError}.
        """
        e = self.assertRaises(UnsupportedVersion, parseLocations, [[b"lin6/2 ls=x"]])
        self.assertIsInstance(e, TXTSyntaxError)
        self.assertIn("version", str(e))

    def test_malformedRejected(self) -> None:
        """
        A malformed record of ours rejects the whole set with a message that
        names the bad token.
        """
        for record, fragment in [
            (b"lin6 ls", "'ls'"),
            (b"lin6 ls=", "empty value"),
            (b"lin6 =[2001:db8::1]:1", "malformed key"),
            (b"lin6 LS=[2001:db8::1]:1", "malformed key"),
            (b"lin6 ls=[2001:db8::1]:99999", "99999"),
            (b"lin6 ls=2001:db8::1", "2001:db8::1"),
            (b"lin6 ma=[::1]:7300 ls=[2001:db8::1::2]:1", "bad IPv6"),
            (b"lin6 ls=[2001:db8::1]:1\x00", "control"),
            (b"lin6 ls=[2001:db8::1]:1 \xc3\xa9", "ASCII"),
        ]:
            with self.subTest(record=record):
                e = self.assertRaises(
                    TXTSyntaxError,
                    parseLocations,
                    [[b"lin6 ls=[2001:db8:1::53]:7100"], [record]],
                )
                self.assertIn(fragment, str(e))

    def test_tooManyTokens(self) -> None:
        """
        More than L{MAX_TOKENS} tokens in one record is rejected.
        """
        record = "lin6" + " x=1" * MAX_TOKENS
        self.assertRaises(TXTSyntaxError, parseLocations, [[record.encode()]])
        self.assertEqual(parseLocations([[record.rsplit(" ", 1)[0].encode()]]), Locations())

    def test_nonBytes(self) -> None:
        """
        Strings that are neither bytes nor text are rejected.
        """
        self.assertRaises(TXTSyntaxError, parseLocations, [[123]])


class FormatLocationsTests(SynchronousTestCase):
    """
    Tests for L{formatLocations}.
    """

    def test_format(self) -> None:
        """
        One short record is a single string in the documented syntax.
        """
        self.assertEqual(
            formatLocations(Locations(ls=(LS1,), ma=(MA1,))),
            [b"lin6 ls=[2001:db8:1::53]:7100 ma=[2001:db8:1::10]:7300"],
        )

    def test_longSplitAtTokens(self) -> None:
        """
        Long records are split into strings of at most 255 bytes at token
        boundaries.
        """
        many = tuple(
            Endpoint(ipaddress.IPv6Address(f"2001:db8:ffff:ffff:ffff:ffff:ffff:{i:x}"), 65535)
            for i in range(20)
        )
        strings = formatLocations(Locations(ls=many))
        self.assertGreater(len(strings), 1)
        self.assertTrue(all(len(s) <= 255 for s in strings))
        self.assertEqual(parseLocations([strings]), Locations(ls=many))

    def test_zoneText(self) -> None:
        """
        L{formatZoneTXT} gives quoted strings for a zone file.
        """
        self.assertEqual(
            formatZoneTXT(Locations(ls=(LS1, LS2))),
            '"lin6 ls=[2001:db8:1::53]:7100 ls=[2001:db8:2::53]:7100"',
        )

    def test_tooMany(self) -> None:
        """
        More endpoints than one record may hold is an error.
        """
        many = tuple(Endpoint(ipaddress.IPv6Address(i + 1), 1) for i in range(MAX_TOKENS))
        self.assertRaises(TXTSyntaxError, formatLocations, Locations(ls=many))


endpoints = st.builds(
    Endpoint,
    st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
    st.integers(1, 65535),
)


class PropertyTests(SynchronousTestCase):
    """
    Property tests: round trips and garbage.
    """

    @given(
        st.lists(endpoints, max_size=20, unique=True),
        st.lists(endpoints, max_size=20, unique=True),
    )
    def test_roundTrip(self, ls: list[Endpoint], ma: list[Endpoint]) -> None:
        """
        L{parseLocations} reads back what L{formatLocations} writes.
        """
        locations = Locations(tuple(ls), tuple(ma))
        self.assertEqual(parseLocations([formatLocations(locations)]), locations)

    @given(st.lists(st.lists(st.binary(max_size=300), max_size=4), max_size=4))
    def test_garbageBytes(self, records: list[list[bytes]]) -> None:
        """
        Arbitrary bytes either parse or raise L{TXTSyntaxError}, nothing else.
        """
        try:
            result = parseLocations(records)
        except TXTSyntaxError:
            return
        self.assertIsInstance(result, Locations)

    @given(
        st.lists(
            st.text(
                alphabet=st.sampled_from(list("lin6/=[]:0123456789abcdef ls ma\t.%")),
                max_size=80,
            ).map(lambda t: ["lin6 " + t]),
            max_size=4,
        )
    )
    def test_garbageInOurRecords(self, records: list[list[str]]) -> None:
        """
        Near-miss text after the tag either parses or raises
        L{TXTSyntaxError}, nothing else.
        """
        try:
            result = parseLocations(records)
        except TXTSyntaxError:
            return
        self.assertIsInstance(result, Locations)
