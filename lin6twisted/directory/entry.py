# -*- test-case-name: lin6twisted.directory.test.test_entry -*-
"""
LDAP entries to L{Subscriber}s, with strict validation.

The schema is in C{etc/lin6.schema} (object class C{lin6Subscriber}).  An
entry that breaks any of its value rules is refused with a
L{BadDirectoryEntry} whose message names the entry, the attribute and the
problem; the backends log it and keep serving other entries.

This module has no Twisted imports; it works on plain attribute mappings
(attribute name -> list of values), whatever backend produced them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from lin6twisted.address import DEFAULT_SPACE, AddressError, LIN6Space, NodeID
from lin6twisted.directory.interfaces import BadDirectoryEntry, ServiceLevel, Subscriber

__all__ = [
    "ATTRIBUTES",
    "KEY_MAX_BYTES",
    "KEY_MIN_BYTES",
    "OBJECT_CLASS",
    "nodeIDFilterText",
    "normalizeAttributes",
    "parseSubscriber",
]

OBJECT_CLASS: Final = "lin6Subscriber"
ATTRIBUTES: Final = (
    "objectClass",
    "lin6NodeID",
    "lin6ServiceLevel",
    "lin6KeyID",
    "lin6Key",
    "lin6Enabled",
    "cn",
)
"""The attributes a lookup asks for."""

KEY_MIN_BYTES: Final = 16
KEY_MAX_BYTES: Final = 64
_HEX: Final = re.compile(r"^[0-9a-fA-F]+$")
_KEY_ID_MAX: Final = (1 << 32) - 1

Attributes = Mapping[str, list[bytes]]


def normalizeAttributes(
    attributes: Iterable[tuple[str | bytes, Iterable[str | bytes]]],
) -> Attributes:
    """
    Normalise attribute pairs from any backend: names become lower-case
    text, values bytes (text values are UTF-8 encoded).  Values of the same
    attribute given twice are merged.
    """
    result: dict[str, list[bytes]] = {}
    for name, values in attributes:
        key = (name.decode("utf-8", "replace") if isinstance(name, bytes) else name).lower()
        bucket = result.setdefault(key, [])
        for value in values:
            bucket.append(value.encode("utf-8") if isinstance(value, str) else bytes(value))
    return result


def nodeIDFilterText(nodeID: NodeID) -> str:
    """
    The LDAP filter finding the entry of C{nodeID}.

    The schema asks for the canonical text (C{201:4a00:0:2}); the filter also
    matches the other accepted spellings (eight octets, sixteen hex digits)
    so an entry written that way is still found, and then validated.  Node
    ID text contains no filter metacharacters, so nothing needs escaping.
    """
    forms = [str(nodeID), nodeID.asEUI64(), f"{nodeID.value:016x}"]
    inner = "".join(f"(lin6NodeID={form})" for form in forms)
    return f"(&(objectClass={OBJECT_CLASS})(|{inner}))"


def _single(dn: str, attributes: Attributes, name: str) -> str:
    values = attributes.get(name.lower(), [])
    if not values:
        raise BadDirectoryEntry(f"entry {dn!r}: attribute {name} is missing")
    if len(values) > 1:
        raise BadDirectoryEntry(
            f"entry {dn!r}: attribute {name} must have one value, has {len(values)}"
        )
    try:
        return values[0].decode("ascii").strip()
    except UnicodeDecodeError:
        raise BadDirectoryEntry(f"entry {dn!r}: attribute {name} is not ASCII text") from None


def parseSubscriber(
    dn: str,
    attributes: Attributes,
    space: LIN6Space = DEFAULT_SPACE,
    expected: NodeID | None = None,
) -> Subscriber:
    """
    Validate one C{lin6Subscriber} entry and build its L{Subscriber}.

    @param dn: the entry's DN, for messages.
    @param attributes: its attributes, as L{normalizeAttributes} returns them.
    @param space: the deployment; the Node ID must carry its OUI.
    @param expected: the Node ID that was looked up, if any; the entry must
        carry it.
    @raise BadDirectoryEntry: if any rule of C{etc/lin6.schema} is broken.
    """
    classes = {v.decode("utf-8", "replace").lower() for v in attributes.get("objectclass", [])}
    if OBJECT_CLASS.lower() not in classes:
        raise BadDirectoryEntry(f"entry {dn!r} is not a {OBJECT_CLASS}")

    text = _single(dn, attributes, "lin6NodeID")
    try:
        nodeID = space.checkNodeID(NodeID.fromString(text))
    except AddressError as e:
        raise BadDirectoryEntry(f"entry {dn!r}: bad lin6NodeID: {e}") from None
    if expected is not None and nodeID != expected:
        raise BadDirectoryEntry(
            f"entry {dn!r}: lin6NodeID {nodeID} is not the Node ID looked up ({expected})"
        )

    text = _single(dn, attributes, "lin6ServiceLevel")
    try:
        level = ServiceLevel.fromText(text)
    except ValueError as e:
        raise BadDirectoryEntry(f"entry {dn!r}: bad lin6ServiceLevel: {e}") from None

    text = _single(dn, attributes, "lin6KeyID")
    if not text.isdigit() or not 0 <= int(text) <= _KEY_ID_MAX:
        raise BadDirectoryEntry(
            f"entry {dn!r}: bad lin6KeyID {text!r} (expected an integer 0..{_KEY_ID_MAX})"
        )
    keyID = int(text)

    text = _single(dn, attributes, "lin6Key")
    if not _HEX.match(text) or len(text) % 2:
        raise BadDirectoryEntry(
            f"entry {dn!r}: bad lin6Key (expected an even number of hex digits)"
        )
    key = bytes.fromhex(text)
    if not KEY_MIN_BYTES <= len(key) <= KEY_MAX_BYTES:
        raise BadDirectoryEntry(
            f"entry {dn!r}: bad lin6Key: {len(key)} bytes, expected "
            f"{KEY_MIN_BYTES} to {KEY_MAX_BYTES}"
        )

    text = _single(dn, attributes, "lin6Enabled")
    if text not in ("TRUE", "FALSE"):
        raise BadDirectoryEntry(f"entry {dn!r}: bad lin6Enabled {text!r} (expected TRUE or FALSE)")
    enabled = text == "TRUE"

    names = attributes.get("cn", [])
    name = names[0].decode("utf-8", "replace") if names else ""
    return Subscriber(nodeID=nodeID, level=level, keyID=keyID, key=key, enabled=enabled, name=name)
