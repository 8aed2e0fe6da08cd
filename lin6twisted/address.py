# -*- test-case-name: lin6twisted.test.test_address -*-
"""
LIN6 addressing: Node IDs, /64 prefixes, locators and LIN6 addresses.

A LIN6 address is a 64-bit LIN6 prefix (non-routable, default
C{3ffe:501:1830:1999::/64}) followed by a 64-bit EUI-64 Node ID whose upper
24 bits are the LIN6 OUI (default C{00:01:4a}).  The universal/local bit
(C{0x02} in the first octet, called the I{global bit} by the LIN6 papers)
marks a mobile node (C{02:01:4a}).  A I{locator} is the node's current
routable /64 prefix followed by the same Node ID.

Stationary nodes (global bit clear) use their own routable prefix as the
upper half of their LIN6 address, so their LIN6 address is also their
locator (C{3ffe:501:808:4001:1:4a00::1}); mobile nodes always use the LIN6
prefix (C{3ffe:501:1830:1999:201:4a00::2}).

The prefix and OUI are deployment settings, carried by L{LIN6Space}; the
defaults are in L{DEFAULT_SPACE}.

All value types are immutable, validated at construction, hashable and
print in canonical text.  Every malformed input raises a subclass of
L{AddressError}.

This module has no Twisted imports.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from attrs import field, frozen

__all__ = [
    "DEFAULT_LIN6_PREFIX",
    "DEFAULT_OUI",
    "DEFAULT_SPACE",
    "GLOBAL_BIT",
    "AddressError",
    "LIN6Address",
    "LIN6AddressError",
    "LIN6Space",
    "Locator",
    "NodeID",
    "NodeIDError",
    "OUIError",
    "Prefix",
    "PrefixError",
    "parseIPv6",
    "reverseName",
]

_MASK64: Final = (1 << 64) - 1
GLOBAL_BIT: Final = 0x02
"""The universal/local bit of the first Node ID octet: set for mobile nodes."""


class AddressError(ValueError):
    """
    Base class of every addressing error; the message says what was wrong.
    """


class NodeIDError(AddressError):
    """
    A Node ID is malformed (wrong length, bad hex) or out of range.
    """


class OUIError(AddressError):
    """
    An OUI is malformed, or a Node ID does not carry the deployment's OUI.
    """


class PrefixError(AddressError):
    """
    A /64 prefix is malformed or has bits set below its length.
    """


class LIN6AddressError(AddressError):
    """
    An address is not a valid LIN6 address in the deployment's space.
    """


def parseIPv6(text: str) -> ipaddress.IPv6Address:
    """
    Parse an IPv6 address in any textual form accepted by L{ipaddress}.

    @param text: the address, without brackets, zone or prefix length.
    @raise AddressError: if C{text} is not an IPv6 address.
    """
    if not isinstance(text, str):
        raise AddressError(f"IPv6 address must be text, not {type(text).__name__}")
    try:
        return ipaddress.IPv6Address(text)
    except ipaddress.AddressValueError as e:
        raise AddressError(f"not an IPv6 address: {text!r} ({e})") from None


def reverseName(address: ipaddress.IPv6Address | str | int) -> str:
    """
    The C{ip6.arpa} name of an IPv6 address (no trailing dot).

    @param address: an address object, its text, or its 128-bit integer.
    """
    if isinstance(address, int):
        address = ipaddress.IPv6Address(address)
    elif isinstance(address, str):
        address = parseIPv6(address)
    return address.reverse_pointer


_HEX_GROUPS = re.compile(r"^[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{1,4}){3}$")
_OCTETS = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){7}$")
_PLAIN = re.compile(r"^[0-9a-fA-F]{16}$")


@frozen(order=True)
class NodeID:
    """
    A 64-bit EUI-64 Node ID (the lower half of a LIN6 address).

    Text forms accepted by L{fromString}: four hex groups like an IPv6
    interface identifier (C{201:4a00:0:2}), eight octets (C{02:01:4a:00:00:00:00:02}
    or with dashes) or sixteen hex digits.  L{str} gives the four-group form.

    @ivar value: the Node ID as an unsigned 64-bit integer.
    """

    value: int = field()

    @value.validator
    def _check(self, attribute: object, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise NodeIDError(f"Node ID must be an integer, not {type(value).__name__}")
        if not 0 <= value <= _MASK64:
            raise NodeIDError(f"Node ID {value:#x} is outside 64 bits")

    @classmethod
    def fromBytes(cls, data: bytes) -> NodeID:
        """
        Build a Node ID from its 8 network-order bytes.

        @raise NodeIDError: if C{data} is not exactly 8 bytes.
        """
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) != 8:
            raise NodeIDError(f"Node ID needs exactly 8 bytes, got {len(bytes(data))}")
        return cls(int.from_bytes(data, "big"))

    @classmethod
    def fromString(cls, text: str) -> NodeID:
        """
        Parse a Node ID from text (see the class docstring for the forms).

        @raise NodeIDError: if C{text} is in none of the accepted forms.
        """
        if not isinstance(text, str):
            raise NodeIDError(f"Node ID must be text, not {type(text).__name__}")
        t = text.strip()
        if _HEX_GROUPS.match(t):
            value = 0
            for group in t.split(":"):
                value = (value << 16) | int(group, 16)
            return cls(value)
        if _OCTETS.match(t):
            return cls(int(re.sub("[:-]", "", t), 16))
        if _PLAIN.match(t):
            return cls(int(t, 16))
        raise NodeIDError(
            f"not a Node ID: {text!r} (expected 4 hex groups like 201:4a00:0:2, "
            "8 octets like 02:01:4a:00:00:00:00:02, or 16 hex digits)"
        )

    @classmethod
    def ofAddress(cls, address: ipaddress.IPv6Address | str) -> NodeID:
        """
        The lower 64 bits of an IPv6 address.
        """
        if isinstance(address, str):
            address = parseIPv6(address)
        return cls(int(address) & _MASK64)

    @property
    def packed(self) -> bytes:
        """
        The 8 network-order bytes.
        """
        return self.value.to_bytes(8, "big")

    @property
    def isMobile(self) -> bool:
        """
        Whether the global (universal/local) bit is set: a mobile node.
        """
        return bool((self.value >> 56) & GLOBAL_BIT)

    @property
    def oui(self) -> bytes:
        """
        The upper 24 bits with the global bit cleared, as 3 bytes.
        """
        raw = bytearray(self.packed[:3])
        raw[0] &= ~GLOBAL_BIT & 0xFF
        return bytes(raw)

    def asEUI64(self) -> str:
        """
        The eight-octet form, C{02:01:4a:00:00:00:00:02}.
        """
        return ":".join(f"{b:02x}" for b in self.packed)

    def __str__(self) -> str:
        v = self.value
        return ":".join(f"{(v >> s) & 0xFFFF:x}" for s in (48, 32, 16, 0))


@frozen(order=True)
class Prefix:
    """
    A /64 network prefix (the upper half of an IPv6 address).

    @ivar value: the upper 64 bits as an unsigned integer.
    """

    value: int = field()

    @value.validator
    def _check(self, attribute: object, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise PrefixError(f"prefix must be an integer, not {type(value).__name__}")
        if not 0 <= value <= _MASK64:
            raise PrefixError(f"prefix {value:#x} is outside 64 bits")

    @classmethod
    def fromString(cls, text: str) -> Prefix:
        """
        Parse C{3ffe:501:1830:1999::/64}, C{3ffe:501:1830:1999::} or
        C{3ffe:501:1830:1999}.

        @raise PrefixError: if the text is malformed, the length is not 64,
            or bits are set below the prefix length.
        """
        if not isinstance(text, str):
            raise PrefixError(f"prefix must be text, not {type(text).__name__}")
        t = text.strip()
        if "/" in t:
            t, _, length = t.partition("/")
            if length != "64":
                raise PrefixError(f"prefix {text!r} must be a /64, not /{length}")
        elif _HEX_GROUPS.match(t):
            t = t + "::"
        try:
            address = ipaddress.IPv6Address(t)
        except ipaddress.AddressValueError as e:
            raise PrefixError(f"not an IPv6 prefix: {text!r} ({e})") from None
        if int(address) & _MASK64:
            raise PrefixError(f"prefix {text!r} has bits set below /64")
        return cls(int(address) >> 64)

    @classmethod
    def fromBytes(cls, data: bytes) -> Prefix:
        """
        Build a prefix from its 8 network-order bytes.

        @raise PrefixError: if C{data} is not exactly 8 bytes.
        """
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) != 8:
            raise PrefixError(f"prefix needs exactly 8 bytes, got {len(bytes(data))}")
        return cls(int.from_bytes(data, "big"))

    @classmethod
    def ofAddress(cls, address: ipaddress.IPv6Address | str) -> Prefix:
        """
        The /64 containing an IPv6 address.
        """
        if isinstance(address, str):
            address = parseIPv6(address)
        return cls(int(address) >> 64)

    @property
    def packed(self) -> bytes:
        """
        The 8 network-order bytes.
        """
        return self.value.to_bytes(8, "big")

    @property
    def network(self) -> ipaddress.IPv6Network:
        """
        The prefix as an L{ipaddress.IPv6Network}.
        """
        return ipaddress.IPv6Network((self.value << 64, 64))

    def contains(self, address: ipaddress.IPv6Address) -> bool:
        """
        Whether C{address} lies inside this /64.
        """
        return int(address) >> 64 == self.value

    def __str__(self) -> str:
        return f"{ipaddress.IPv6Address(self.value << 64)}/64"


@frozen
class _Composed:
    """
    Shared behaviour of L{Locator} and L{LIN6Address}: a prefix plus a Node ID.
    """

    prefix: Prefix
    nodeID: NodeID

    @property
    def address(self) -> ipaddress.IPv6Address:
        """
        The full 128-bit address.
        """
        return ipaddress.IPv6Address((self.prefix.value << 64) | self.nodeID.value)

    @property
    def packed(self) -> bytes:
        """
        The 16 network-order bytes.
        """
        return self.prefix.packed + self.nodeID.packed

    def reverseName(self) -> str:
        """
        The C{ip6.arpa} name of the address (no trailing dot).
        """
        return reverseName(self.address)

    def __str__(self) -> str:
        return str(self.address)


@frozen
class Locator(_Composed):
    """
    A routable address: the node's current /64 prefix and its Node ID.
    """

    @classmethod
    def fromString(cls, text: str) -> Locator:
        """
        Parse a locator from IPv6 text.

        @raise AddressError: if C{text} is not an IPv6 address.
        """
        return cls.fromAddress(parseIPv6(text))

    @classmethod
    def fromAddress(cls, address: ipaddress.IPv6Address) -> Locator:
        """
        Split an IPv6 address into prefix and Node ID.
        """
        return cls(Prefix.ofAddress(address), NodeID.ofAddress(address))

    @classmethod
    def fromBytes(cls, data: bytes) -> Locator:
        """
        Build a locator from its 16 network-order bytes.

        @raise AddressError: if C{data} is not exactly 16 bytes.
        """
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) != 16:
            raise AddressError(f"locator needs exactly 16 bytes, got {len(bytes(data))}")
        return cls(Prefix.fromBytes(data[:8]), NodeID.fromBytes(data[8:]))


@frozen
class LIN6Address(_Composed):
    """
    A LIN6 address as applications see it.

    Build one with L{LIN6Space.address} or L{LIN6Space.parse}, which check
    the deployment's prefix and OUI.
    """

    def locator(self, prefix: Prefix) -> Locator:
        """
        The locator of this node when it is attached to C{prefix}.
        """
        return Locator(prefix, self.nodeID)


def _parseOUI(oui: str | bytes) -> bytes:
    if isinstance(oui, bytes):
        raw = oui
    else:
        if not isinstance(oui, str) or not re.match(
            r"^[0-9a-fA-F]{2}[:-]?[0-9a-fA-F]{2}[:-]?[0-9a-fA-F]{2}$", oui.strip()
        ):
            raise OUIError(f"not an OUI: {oui!r} (expected 3 octets like 00:01:4a)")
        raw = bytes.fromhex(re.sub("[:-]", "", oui.strip()))
    if len(raw) != 3:
        raise OUIError(f"an OUI is 3 bytes, got {len(raw)}")
    if raw[0] & GLOBAL_BIT:
        raise OUIError(f"OUI {raw.hex(':')} has the global bit set; give the stationary form")
    return raw


@frozen
class LIN6Space:
    """
    A deployment's LIN6 prefix and OUI, and the checks that depend on them.

    @ivar prefix: the non-routable LIN6 prefix mobile nodes' addresses use.
    @ivar oui: the OUI every Node ID of the deployment carries (3 bytes,
        global bit clear).
    """

    prefix: Prefix = field(factory=lambda: Prefix.fromString("3ffe:501:1830:1999::/64"))
    oui: bytes = field(default=b"\x00\x01\x4a", converter=_parseOUI)

    @classmethod
    def fromStrings(cls, prefix: str, oui: str) -> LIN6Space:
        """
        Build a space from configuration text.

        @raise AddressError: if either value is malformed.
        """
        return cls(Prefix.fromString(prefix), _parseOUI(oui))

    def isNodeID(self, nodeID: NodeID) -> bool:
        """
        Whether C{nodeID} carries this deployment's OUI.
        """
        return nodeID.oui == self.oui

    def checkNodeID(self, nodeID: NodeID) -> NodeID:
        """
        Return C{nodeID} if it carries the OUI.

        @raise OUIError: otherwise.
        """
        if not self.isNodeID(nodeID):
            raise OUIError(
                f"Node ID {nodeID} has OUI {nodeID.oui.hex(':')}, "
                f"not the deployment's {self.oui.hex(':')}"
            )
        return nodeID

    def nodeID(self, serial: int, mobile: bool) -> NodeID:
        """
        Build the Node ID with this OUI, the given 40-bit serial number and
        the mobile (global) bit.

        @raise NodeIDError: if C{serial} does not fit in 40 bits.
        """
        if not 0 <= serial < (1 << 40):
            raise NodeIDError(f"Node ID serial {serial} does not fit in 40 bits")
        first = self.oui[0] | (GLOBAL_BIT if mobile else 0)
        top = bytes([first]) + self.oui[1:]
        return NodeID((int.from_bytes(top, "big") << 40) | serial)

    def address(self, nodeID: NodeID, prefix: Prefix | None = None) -> LIN6Address:
        """
        The LIN6 address of C{nodeID}.

        @param prefix: for a stationary node, its routable prefix; mobile
            nodes always use the LIN6 prefix and may pass it or C{None}.
        @raise LIN6AddressError: if a mobile Node ID is given another
            prefix, or a stationary one none.
        @raise OUIError: if the Node ID lacks the OUI.
        """
        self.checkNodeID(nodeID)
        if nodeID.isMobile:
            if prefix is not None and prefix != self.prefix:
                raise LIN6AddressError(
                    f"mobile Node ID {nodeID} must use the LIN6 prefix {self.prefix}, not {prefix}"
                )
            return LIN6Address(self.prefix, nodeID)
        if prefix is None:
            raise LIN6AddressError(f"stationary Node ID {nodeID} needs its routable prefix")
        return LIN6Address(prefix, nodeID)

    def parse(self, text: str) -> LIN6Address:
        """
        Parse and validate a LIN6 address.

        @raise AddressError: if C{text} is not IPv6, its Node ID lacks the
            OUI, or a mobile Node ID has a prefix other than the LIN6 prefix.
        """
        return self.fromAddress(parseIPv6(text))

    def fromAddress(self, address: ipaddress.IPv6Address) -> LIN6Address:
        """
        Validate an address object as a LIN6 address (see L{parse}).
        """
        try:
            return self.address(NodeID.ofAddress(address), Prefix.ofAddress(address))
        except OUIError as e:
            raise LIN6AddressError(f"{address} is not a LIN6 address: {e}") from None

    def isLIN6Prefixed(self, address: ipaddress.IPv6Address) -> bool:
        """
        Whether C{address} lies in the LIN6 prefix (needs mapping on the wire).
        """
        return self.prefix.contains(address)

    def toLocator(self, address: LIN6Address, current: Prefix) -> Locator:
        """
        Map a LIN6 address to a locator: the prefix becomes C{current}.
        """
        return Locator(current, address.nodeID)

    def toLIN6(self, locator: Locator) -> LIN6Address:
        """
        Map a locator back to the LIN6 address of its node.

        Mobile Node IDs get the LIN6 prefix; stationary ones keep the
        locator's prefix, which is their LIN6 address.

        @raise OUIError: if the locator's Node ID lacks the OUI.
        """
        nodeID = self.checkNodeID(locator.nodeID)
        if nodeID.isMobile:
            return LIN6Address(self.prefix, nodeID)
        return LIN6Address(locator.prefix, nodeID)


DEFAULT_SPACE: Final = LIN6Space()
DEFAULT_LIN6_PREFIX: Final = DEFAULT_SPACE.prefix
DEFAULT_OUI: Final = DEFAULT_SPACE.oui
