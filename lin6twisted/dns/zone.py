# -*- test-case-name: lin6twisted.dns.test.test_zone -*-
"""
Zones from standard BIND zone files, served by L{twisted.names}.

L{ZoneAuthority} is a L{twisted.names.authority.BindAuthority} whose file
reader follows RFC 1035 section 5.1 more closely than Twisted's (which
splits quoted TXT strings at spaces and does not expand relative names
inside records), and whose answers follow RFC 2308:

  - quoted character-strings with spaces, C{;} and C{\\"}/C{\\DDD} escapes;
  - C{( ... )} continuation over several lines, C{;} comments;
  - a line starting with a blank reuses the previous owner;
  - C{@}, relative owners and relative names in NS, CNAME, PTR, MX, SRV
    and SOA data are expanded with the current C{$ORIGIN};
  - C{$ORIGIN} and C{$TTL} (with unit suffixes like C{1h}); the class
    C{IN}; the record types A, AAAA, NS, CNAME, PTR, MX, SRV, SOA, TXT;
  - exactly one SOA, at the zone apex; every owner inside the zone;
  - empty non-terminals (names that exist only because names below them
    do, like most labels of an C{ip6.arpa} zone) answer NODATA, not
    NXDOMAIN;
  - negative answers carry the SOA with the negative TTL
    min(SOA TTL, SOA MINIMUM), and NXDOMAIN is raised as L{NXDomain}
    carrying that SOA record for the server to put in the authority
    section.

Any problem is a L{ZoneError} naming the file and line in one sentence.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.names import authority, dns
from twisted.names.error import AuthoritativeDomainError

__all__ = ["NXDomain", "ZoneAuthority", "ZoneError", "loadZone"]

DEFAULT_TTL: Final = 3600
_TTL_RE: Final = re.compile(rb"^(?:[0-9]+[smhdwSMHDW]?)+$")
_UNITS: Final = {b"s": 1, b"m": 60, b"h": 3600, b"d": 86400, b"w": 604800}
_NAME_TYPES: Final = {b"NS", b"CNAME", b"PTR"}
_TYPES: Final = {b"A", b"AAAA", b"NS", b"CNAME", b"PTR", b"MX", b"SRV", b"SOA", b"TXT"}
_CLASSES: Final = {b"IN"}
_OTHER_CLASSES: Final = {b"CH", b"HS", b"CS", b"ANY"}


class ZoneError(Exception):
    """
    A zone file cannot be read or is malformed; C{str()} is one sentence
    naming the file (and line).
    """

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        super().__init__(path, reason, line)
        self.path = path
        self.reason = reason
        self.line = line

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.reason}"
        return f"{self.path}, line {self.line}: {self.reason}"


class NXDomain(AuthoritativeDomainError):
    """
    The name does not exist in a zone we are authoritative for.

    @ivar soa: the zone's SOA record with the negative TTL, for the
        authority section of the answer.
    """

    def __init__(self, name: bytes, soa: dns.RRHeader) -> None:
        super().__init__(name)
        self.soa = soa


class _Bad(Exception):
    """
    Internal: a problem on the current line.
    """


# -- lexer -------------------------------------------------------------------


class _Token(bytes):
    """
    A token; C{quoted} tells a character-string in quotes (never a
    directive, owner marker or number) from a bare word.
    """

    quoted: bool = False


def _unescape(raw: bytes, line: int) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x5C:  # backslash
            if raw[i + 1 : i + 4].isdigit() and len(raw[i + 1 : i + 4]) == 3:
                value = int(raw[i + 1 : i + 4])
                if value > 255:
                    raise _Bad(f"escape \\{value} is above 255")
                out.append(value)
                i += 4
                continue
            if i + 1 >= len(raw):
                raise _Bad("a backslash ends the string")
            out.append(raw[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def _logicalLines(data: bytes) -> Iterator[tuple[int, bool, list[_Token]]]:
    """
    Split a zone file into logical lines: (first physical line number,
    starts with a blank, tokens).
    """
    line = 1
    start = 1
    tokens: list[_Token] = []
    blankStart = False
    depth = 0
    atLineStart = True
    i = 0
    n = len(data)
    while i < n:
        c = data[i]
        if atLineStart:
            atLineStart = False
            if depth == 0:
                start = line
                blankStart = c in b" \t"
        if c == 0x0A:  # newline
            line += 1
            atLineStart = True
            i += 1
            if depth == 0:
                if tokens:
                    yield start, blankStart, tokens
                tokens = []
            continue
        if c in b" \t\r":
            i += 1
            continue
        if c == 0x3B:  # ';' comment
            while i < n and data[i] != 0x0A:
                i += 1
            continue
        if c == 0x28:  # '('
            depth += 1
            i += 1
            continue
        if c == 0x29:  # ')'
            if depth == 0:
                raise ZoneError("", "')' without '('", line)
            depth -= 1
            i += 1
            continue
        if c == 0x22:  # '"'
            j = i + 1
            raw = bytearray()
            while True:
                if j >= n or data[j] == 0x0A:
                    raise ZoneError("", "unterminated quoted string", line)
                if data[j] == 0x5C and j + 1 < n:
                    raw += data[j : j + 2]
                    j += 2
                    continue
                if data[j] == 0x22:
                    break
                raw.append(data[j])
                j += 1
            try:
                token = _Token(_unescape(bytes(raw), line))
            except _Bad as e:
                raise ZoneError("", str(e), line) from None
            token.quoted = True
            tokens.append(token)
            i = j + 1
            continue
        j = i
        while j < n and data[j] not in b' \t\r\n;()"':
            if data[j] == 0x5C:
                j += 1
            j += 1
        try:
            tokens.append(_Token(_unescape(data[i:j], line)))
        except _Bad as e:
            raise ZoneError("", str(e), line) from None
        i = j
    if depth:
        raise ZoneError("", "'(' is never closed", start)
    if tokens:
        yield start, blankStart, tokens


# -- record building -----------------------------------------------------------


def _ttl(token: bytes) -> int:
    if not _TTL_RE.match(token):
        raise _Bad(f"{token.decode(errors='replace')!r} is not a TTL")
    total = 0
    for number, unit in re.findall(rb"([0-9]+)([smhdwSMHDW]?)", token):
        total += int(number) * _UNITS.get(unit.lower(), 1)
    if total > 0x7FFFFFFF:
        raise _Bad(f"TTL {token.decode()} is above 2^31-1 seconds")
    return total


def _checkName(name: bytes) -> bytes:
    if len(name) > 253:
        raise _Bad(f"name {name[:40].decode(errors='replace')}... is longer than 253 bytes")
    if name:
        for label in name.split(b"."):
            if not label:
                raise _Bad(f"name {name.decode(errors='replace')!r} has an empty label")
            if len(label) > 63:
                raise _Bad(f"label {label[:20].decode(errors='replace')!r}... is over 63 bytes")
    return name


def _expand(token: bytes, origin: bytes) -> bytes:
    """
    An absolute name without trailing dot, lower-cased where stored.
    """
    if token == b"@":
        return origin
    if token.endswith(b"."):
        return _checkName(token[:-1])
    if not origin:
        return _checkName(token)
    return _checkName(token + b"." + origin)


def _int(token: bytes, what: str, bits: int) -> int:
    if not token.isdigit():
        raise _Bad(f"{what} {token.decode(errors='replace')!r} is not a number")
    value = int(token)
    if value >= 1 << bits:
        raise _Bad(f"{what} {value} does not fit in {bits} bits")
    return value


def _make(factory: Any, *args: Any, **kw: Any) -> Any:
    """
    Call an untyped L{twisted.names.dns} record constructor.
    """
    return factory(*args, **kw)


def _need(rdata: list[_Token], count: int, rrtype: str) -> None:
    if len(rdata) != count:
        raise _Bad(f"{rrtype} needs {count} data fields, got {len(rdata)}")


def _record(rrtype: bytes, rdata: list[_Token], origin: bytes, ttl: int) -> Any:
    t = rrtype.decode()
    if rrtype == b"A":
        _need(rdata, 1, t)
        try:
            address = ipaddress.IPv4Address(rdata[0].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise _Bad(f"{rdata[0].decode(errors='replace')!r} is not an IPv4 address") from None
        return _make(dns.Record_A, str(address), ttl)
    if rrtype == b"AAAA":
        _need(rdata, 1, t)
        try:
            address6 = ipaddress.IPv6Address(rdata[0].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise _Bad(f"{rdata[0].decode(errors='replace')!r} is not an IPv6 address") from None
        return _make(dns.Record_AAAA, str(address6), ttl)
    if rrtype in _NAME_TYPES:
        _need(rdata, 1, t)
        cls = getattr(dns, f"Record_{t}")
        return cls(_expand(rdata[0], origin), ttl)
    if rrtype == b"MX":
        _need(rdata, 2, t)
        return _make(
            dns.Record_MX, _int(rdata[0], "MX preference", 16), _expand(rdata[1], origin), ttl
        )
    if rrtype == b"SRV":
        _need(rdata, 4, t)
        return _make(
            dns.Record_SRV,
            _int(rdata[0], "SRV priority", 16),
            _int(rdata[1], "SRV weight", 16),
            _int(rdata[2], "SRV port", 16),
            _expand(rdata[3], origin),
            ttl=ttl,
        )
    if rrtype == b"SOA":
        _need(rdata, 7, t)
        return _make(
            dns.Record_SOA,
            mname=_expand(rdata[0], origin),
            rname=_expand(rdata[1], origin),
            serial=_int(rdata[2], "SOA serial", 32),
            refresh=_ttl(rdata[3]),
            retry=_ttl(rdata[4]),
            expire=_ttl(rdata[5]),
            minimum=_ttl(rdata[6]),
            ttl=ttl,
        )
    if rrtype == b"TXT":
        if not rdata:
            raise _Bad("TXT needs at least one string")
        for s in rdata:
            if len(s) > 255:
                raise _Bad(f"TXT string of {len(s)} bytes is over the 255-byte limit")
        return _make(dns.Record_TXT, *[bytes(s) for s in rdata], ttl=ttl)
    raise _Bad(f"record type {t} is not supported")


# -- the authority -------------------------------------------------------------


class ZoneAuthority(authority.BindAuthority):
    """
    One zone loaded from a BIND zone file (see the module docstring).

    @ivar path: the file.
    @ivar zoneName: the zone apex (the SOA owner), lower-case, no final dot.
    @ivar serial: the SOA serial.
    @ivar negativeTTL: min(SOA TTL, SOA MINIMUM).
    """

    path: str
    zoneName: bytes
    serial: int
    negativeTTL: int
    records: dict[bytes, list[Any]]  # type: ignore[assignment]
    soa: tuple[bytes, Any]  # type: ignore[assignment]
    _names: frozenset[bytes]

    def __init__(self, filename: str | Path, origin: str | None = None) -> None:
        """
        @param filename: the zone file.
        @param origin: the initial C{$ORIGIN}; by default the file's name
            without a C{.zone} or C{.db} suffix.
        @raise ZoneError: if the file cannot be read or is malformed.
        """
        self._initialOrigin = origin
        super().__init__(str(filename))  # type: ignore[no-untyped-call]

    def loadFile(self, filename: str) -> None:
        """
        Read and check C{filename}; fill C{records} and C{soa}.

        @raise ZoneError: on any problem.
        """
        self.path = filename
        try:
            data = Path(filename).read_bytes()
        except OSError as e:
            raise ZoneError(filename, f"cannot read the zone file ({e.strerror or e})") from None
        origin = self._initialOrigin
        if origin is None:
            origin = re.sub(r"\.(zone|db)$", "", Path(filename).name)
        try:
            self._parse(data, origin.rstrip(".").lower().encode("ascii"))
        except ZoneError as e:
            raise ZoneError(filename, e.reason, e.line) from None
        except UnicodeEncodeError:
            raise ZoneError(filename, f"origin {origin!r} is not ASCII") from None

    def _parse(self, data: bytes, origin: bytes) -> None:
        ttl = DEFAULT_TTL
        records: dict[bytes, list[Any]] = {}
        soa: tuple[bytes, Any] | None = None
        owner: bytes | None = None
        for line, blankStart, tokens in _logicalLines(data):
            try:
                first = tokens[0]
                if not first.quoted and first.startswith(b"$"):
                    directive = first.upper()
                    if directive == b"$TTL":
                        _need(tokens[1:], 1, "$TTL")
                        ttl = _ttl(tokens[1])
                    elif directive == b"$ORIGIN":
                        _need(tokens[1:], 1, "$ORIGIN")
                        origin = _expand(tokens[1], origin).lower()
                    else:
                        raise _Bad(f"directive {first.decode(errors='replace')} is not supported")
                    continue
                if blankStart:
                    if owner is None:
                        raise _Bad("a record starts with a blank but there is no previous owner")
                    rest = tokens
                else:
                    owner = _expand(first, origin).lower()
                    if b"*" in owner.split(b".")[0]:
                        shown = owner.decode(errors="replace")
                        raise _Bad(f"wildcard owner {shown} is not supported")
                    rest = tokens[1:]
                recordTTL = ttl
                seenTTL = seenClass = False
                while rest and not rest[0].quoted:
                    word = rest[0].upper()
                    if not seenTTL and _TTL_RE.match(rest[0]) and word not in _TYPES:
                        recordTTL = _ttl(rest[0])
                        seenTTL = True
                    elif not seenClass and word in _CLASSES:
                        seenClass = True
                    elif word in _OTHER_CLASSES:
                        raise _Bad(f"class {word.decode()} is not supported, only IN")
                    else:
                        break
                    rest = rest[1:]
                if not rest:
                    raise _Bad("the record has no type")
                rrtype = rest[0].upper()
                if rest[0].quoted or rrtype not in _TYPES:
                    text = rest[0].decode(errors="replace")
                    if not rest[0].quoted and text[:1].isdigit():
                        raise _Bad(f"{text!r} is neither a TTL nor a record type")
                    raise _Bad(f"record type {text!r} is not supported")
                record = _record(rrtype, rest[1:], origin, recordTTL)
                if rrtype == b"SOA":
                    if soa is not None:
                        raise _Bad("a second SOA record")
                    soa = (owner, record)
                rrs = records.setdefault(owner, [])
                if record not in rrs:  # an RRset holds no duplicates (RFC 2181 5)
                    rrs.append(record)
            except _Bad as e:
                raise ZoneError("", str(e), line) from None
        if soa is None:
            raise ZoneError("", "the zone has no SOA record")
        apex = soa[0]
        for name, rrs in records.items():
            if name != apex and not name.endswith(b"." + apex):
                raise ZoneError("", f"{name.decode()} is outside the zone {apex.decode()}")
            types = {r.TYPE for r in rrs}
            if dns.CNAME in types and len(rrs) > 1:
                raise ZoneError("", f"{name.decode()} has a CNAME and other records")
        names: set[bytes] = set()
        for name in records:
            labels = name.split(b".")
            for i in range(len(labels)):
                candidate = b".".join(labels[i:])
                names.add(candidate)
                if candidate == apex:
                    break
        self.records = records
        self.soa = soa
        self.zoneName = apex
        self.serial = soa[1].serial
        soaTTL = soa[1].ttl if soa[1].ttl is not None else DEFAULT_TTL
        self.negativeTTL = min(soaTTL, soa[1].minimum)
        self._names = frozenset(names)

    def soaHeader(self) -> dns.RRHeader:
        """
        The SOA record with the negative TTL, for negative answers.
        """
        return dns.RRHeader(self.soa[0], dns.SOA, dns.IN, self.negativeTTL, self.soa[1], auth=True)

    def _lookup(
        self, name: bytes, cls: int, type: int, timeout: object = None
    ) -> Deferred[tuple[list[dns.RRHeader], list[dns.RRHeader], list[dns.RRHeader]]]:
        key = name.lower().rstrip(b".")
        if key not in self.records and key in self._names:
            return defer.succeed(([], [self.soaHeader()], []))
        d: Deferred[Any] = super()._lookup(key, cls, type, timeout)  # type: ignore[no-untyped-call]

        def negative(result: tuple[list[Any], list[Any], list[Any]]) -> Any:
            answers, authorityRRs, additional = result
            if not answers and authorityRRs and all(r.type == dns.SOA for r in authorityRRs):
                return (answers, [self.soaHeader()], additional)
            return result

        def nxdomain(f: Any) -> Any:
            if f.check(AuthoritativeDomainError) and not f.check(NXDomain):
                raise NXDomain(name, self.soaHeader())
            return f

        return d.addCallbacks(negative, nxdomain)


def loadZone(path: str | Path, origin: str | None = None) -> ZoneAuthority:
    """
    Load one zone file.

    @raise ZoneError: if it cannot be read or is malformed.
    """
    return ZoneAuthority(path, origin)
