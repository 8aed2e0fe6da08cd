# -*- test-case-name: lin6twisted.dns.test.test_txt -*-
"""
The LIN6 TXT syntax: where to go next for a LIN6 address.

The TXT records at the C{ip6.arpa} name of a LIN6 address say which Load
Sharing servers (LS) serve it, or, for a plain LIN6 node, which Mapping Agent
(MA) holds its mapping::

    ; the service's shared LIN6 address: its LS replicas
    0.0.1.0.0.0.0.0.0.0.a.4.1.0.2.0  TXT  "lin6 ls=[2001:db8:1::53]:7100 ls=[2001:db8:2::53]:7100"
    ; a plain mobile node: its MA
    2.0.0.0.0.0.0.0.0.0.a.4.1.0.2.0  TXT  "lin6 ma=[2001:db8:1::10]:7300"

Rules (version 1):

  1. A TXT record is ours when its first token is the version tag C{lin6}
     (version 1) or C{lin6/N} (version N).  Records with any other first
     token are not ours and are skipped, so other TXT uses can share the
     name.  Records of versions other than 1 are skipped too (a zone can
     publish a newer syntax next to version 1); a set holding I{only} such
     records is rejected with L{UnsupportedVersion}.
  2. The character-strings of one record are joined with a single space,
     so a long record can be split between strings at a token boundary
     (C{"lin6 ls=[2001:db8:1::53]:7100" "ls=[2001:db8:2::53]:7100"}).
     Several records at the name add up, in the order they arrive.
  3. After the tag come C{key=value} tokens separated by spaces or tabs.
     Keys are lower-case letters, digits and C{-}, starting with a letter.
     Known keys:
       - C{ls=[IPv6]:port}: a Load Sharing server's query endpoint;
       - C{ma=[IPv6]:port}: a Mapping Agent's mapping endpoint.
     Unknown keys with well-formed C{key=value} syntax are ignored (they
     are for later versions of the clients).
  4. Endpoints are a literal IPv6 address in brackets, a colon and a
     decimal port 1-65535; no scope ids, no host names, no IPv4.  The same
     endpoint listed twice counts once; order is otherwise kept (clients
     fail over along it).
  5. Text is printable US-ASCII; a record of ours is at most 64 tokens.
     Anything else in a record of ours (a token without C{=}, an empty
     value, a bad address or port, control bytes) rejects the whole set
     with a L{TXTSyntaxError} saying what was wrong: a half-understood
     record is an operator's mistake, not something to guess around.

This module has no Twisted imports.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Final

from attrs import field, frozen

__all__ = [
    "MAX_TOKENS",
    "TAG",
    "Endpoint",
    "Locations",
    "TXTSyntaxError",
    "UnsupportedVersion",
    "formatLocations",
    "formatZoneTXT",
    "parseEndpoint",
    "parseLocations",
]

TAG: Final = "lin6"
"""The version tag of version 1 records."""

VERSION: Final = 1
"""The syntax version this module reads and writes."""

MAX_TOKENS: Final = 64
"""The most tokens (tag included) one record of ours may hold."""

_TAG_RE: Final = re.compile(r"^lin6(?:/([0-9]{1,3}))?$")
_KEY_RE: Final = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_ENDPOINT_RE: Final = re.compile(r"^\[([0-9A-Fa-f:.]{2,45})\]:([0-9]{1,5})$")
_PRINTABLE: Final = re.compile(r"^[\x20-\x7e\t]*$")


class TXTSyntaxError(ValueError):
    """
    A LIN6 TXT record is malformed; the message says which token and why.
    """


class UnsupportedVersion(TXTSyntaxError):
    """
    The only LIN6 TXT records at a name are of versions this code does not
    read.
    """


@frozen(order=True)
class Endpoint:
    """
    An IPv6 address and port, written C{[2001:db8::1]:7100}.

    @ivar host: the address.
    @ivar port: the port, 1-65535.
    """

    host: ipaddress.IPv6Address = field()
    port: int = field()

    @host.validator
    def _checkHost(self, attribute: object, value: object) -> None:
        if not isinstance(value, ipaddress.IPv6Address):
            raise TypeError(f"endpoint host must be an IPv6Address, not {type(value).__name__}")

    @port.validator
    def _checkPort(self, attribute: object, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
            raise ValueError(f"endpoint port must be 1-65535, not {value!r}")

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}"


@frozen
class Locations:
    """
    Where to go next for a LIN6 address, as read from its TXT records.

    @ivar ls: the Load Sharing servers, in the order listed.
    @ivar ma: the Mapping Agents, in the order listed.
    """

    ls: tuple[Endpoint, ...] = ()
    ma: tuple[Endpoint, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ls or self.ma)


def parseEndpoint(text: str) -> Endpoint:
    """
    Parse C{[IPv6]:port}.

    @raise TXTSyntaxError: if C{text} is not of that form.
    """
    m = _ENDPOINT_RE.match(text)
    if m is None:
        raise TXTSyntaxError(f"endpoint {text!r} is not of the form [IPv6 address]:port")
    try:
        host = ipaddress.IPv6Address(m.group(1))
    except ipaddress.AddressValueError as e:
        raise TXTSyntaxError(f"endpoint {text!r} has a bad IPv6 address ({e})") from None
    port = int(m.group(2))
    if not 0 < port < 65536:
        raise TXTSyntaxError(f"endpoint {text!r} has port {port}, outside 1-65535")
    return Endpoint(host, port)


def _decode(strings: Sequence[bytes | str]) -> str:
    parts: list[str] = []
    for s in strings:
        if isinstance(s, str):
            text = s
        elif isinstance(s, bytes | bytearray):
            try:
                text = bytes(s).decode("ascii")
            except UnicodeDecodeError:
                raise TXTSyntaxError(f"TXT string {bytes(s)!r} is not ASCII") from None
        else:
            raise TXTSyntaxError(f"TXT string must be bytes, not {type(s).__name__}")
        parts.append(text)
    return " ".join(parts)


def _parseRecord(text: str, ls: list[Endpoint], ma: list[Endpoint]) -> None:
    if not _PRINTABLE.match(text):
        raise TXTSyntaxError(f"LIN6 TXT record {text!r} holds control or non-ASCII characters")
    tokens = text.split()
    if len(tokens) > MAX_TOKENS:
        raise TXTSyntaxError(
            f"LIN6 TXT record has {len(tokens)} tokens, more than the limit of {MAX_TOKENS}"
        )
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep:
            raise TXTSyntaxError(f"token {token!r} in a LIN6 TXT record is not key=value")
        if not _KEY_RE.match(key):
            raise TXTSyntaxError(f"token {token!r} in a LIN6 TXT record has a malformed key")
        if not value:
            raise TXTSyntaxError(f"token {token!r} in a LIN6 TXT record has an empty value")
        if key == "ls":
            ls.append(parseEndpoint(value))
        elif key == "ma":
            ma.append(parseEndpoint(value))
        # Unknown keys are for later clients: ignored.


def _unique(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    return tuple(dict.fromkeys(endpoints))


def parseLocations(records: Iterable[Sequence[bytes | str]]) -> Locations:
    """
    Read the LIN6 TXT records among the TXT records at one name.

    @param records: one entry per TXT record, each the record's
        character-strings (bytes as on the wire; text is accepted too).
    @return: the endpoints listed; empty L{Locations} (false) when there is
        no record of ours at all.
    @raise UnsupportedVersion: if every record of ours has a version other
        than 1.
    @raise TXTSyntaxError: if a version 1 record is malformed.
    """
    ls: list[Endpoint] = []
    ma: list[Endpoint] = []
    ours = 0
    otherVersions: list[int] = []
    for strings in records:
        text = _decode(strings)
        tokens = text.split(None, 1)
        if not tokens:
            continue
        m = _TAG_RE.match(tokens[0])
        if m is None:
            continue
        version = int(m.group(1)) if m.group(1) is not None else VERSION
        if version != VERSION:
            otherVersions.append(version)
            continue
        ours += 1
        _parseRecord(text, ls, ma)
    if not ours and otherVersions:
        raise UnsupportedVersion(
            f"LIN6 TXT records of version {sorted(set(otherVersions))}, "
            f"this client reads version {VERSION} only"
        )
    return Locations(_unique(ls), _unique(ma))


def formatLocations(locations: Locations) -> list[bytes]:
    """
    The character-strings of one version 1 TXT record listing C{locations},
    split at token boundaries so no string exceeds 255 bytes.

    L{parseLocations} reads the result back to C{locations}.
    """
    tokens = [TAG]
    tokens += [f"ls={e}" for e in locations.ls]
    tokens += [f"ma={e}" for e in locations.ma]
    if len(tokens) > MAX_TOKENS:
        raise TXTSyntaxError(f"{len(tokens) - 1} endpoints do not fit one LIN6 TXT record")
    strings: list[bytes] = []
    current = ""
    for token in tokens:
        candidate = f"{current} {token}" if current else token
        if len(candidate) > 255:
            strings.append(current.encode("ascii"))
            current = token
        else:
            current = candidate
    strings.append(current.encode("ascii"))
    return strings


def formatZoneTXT(locations: Locations) -> str:
    """
    The RDATA of the TXT record listing C{locations} as it is written in a
    BIND zone file: quoted strings separated by spaces, e.g.
    C{"lin6 ls=[2001:db8:1::53]:7100"} (for tools that write zones, like
    the lab).
    """
    return " ".join(f'"{s.decode("ascii")}"' for s in formatLocations(locations))
