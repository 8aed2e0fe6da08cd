"""
Helpers shared by the message modules: field checks at construction,
fast construction of already-valid values at decode time, and the frame
error diagnosis of a decoder.

This module has no Twisted imports.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from lin6twisted.address import NodeID, Prefix
from lin6twisted.wire._frame import (
    HEADER_SIZE,
    MAX_FRAME,
    VERSION,
    BadLength,
    InvalidField,
    MalformedBody,
    OversizedFrame,
    UnknownType,
    WireError,
    checkFrame,
)

__all__ = [
    "ADDRESS",
    "NODEID",
    "PREFIX",
    "U8",
    "U16",
    "U32",
    "U64",
    "Check",
    "build",
    "checkBytes",
    "checkFields",
    "checkSize",
    "expectEnd",
    "expectVariable",
    "fastAddress",
    "fastNodeID",
    "fastPrefix",
    "fixedError",
    "fixedSizeError",
    "malformed",
    "toEnum",
]

U8: Final = 0xFF
U16: Final = 0xFFFF
U32: Final = 0xFFFFFFFF
U64: Final = 0xFFFFFFFFFFFFFFFF


class _Kind(enum.Enum):
    ADDRESS = "an IPv6Address"
    NODEID = "a NodeID"
    PREFIX = "a Prefix"


ADDRESS: Final = _Kind.ADDRESS
NODEID: Final = _Kind.NODEID
PREFIX: Final = _Kind.PREFIX

Check = tuple[str, "int | _Kind"]
"""A field name and what it must hold: an unsigned maximum or a kind."""

_KIND_TYPES: Final[dict[_Kind, type]] = {
    _Kind.ADDRESS: ipaddress.IPv6Address,
    _Kind.NODEID: NodeID,
    _Kind.PREFIX: Prefix,
}

_RID: Final = struct.Struct("!I")
_new = object.__new__
_set = object.__setattr__

T = TypeVar("T")
E = TypeVar("E", bound=enum.IntEnum)


def _checkInt(obj: object, name: str, value: object, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidField(
            f"{type(obj).__name__}.{name} must be an integer, not {type(value).__name__}"
        )
    if not 0 <= value <= maximum:
        raise InvalidField(f"{type(obj).__name__}.{name} = {value} is outside 0..{maximum}")


def _checkKind(obj: object, name: str, value: object, kind: _Kind) -> None:
    if not isinstance(value, _KIND_TYPES[kind]):
        raise InvalidField(
            f"{type(obj).__name__}.{name} must be {kind.value}, not {type(value).__name__}"
        )


_CHECKERS: dict[type, Callable[[object], None]] = {}


def _makeChecker(cls: type, checks: Iterable[Check]) -> Callable[[object], None]:
    """
    Generate a function checking the fields of a C{cls} instance, with a
    fast path for plain C{int} values in range.
    """
    namespace: dict[str, Any] = {"_checkInt": _checkInt, "_checkKind": _checkKind}
    lines = ["def check(o):"]
    for i, (name, kind) in enumerate(checks):
        if not name.isidentifier():  # pragma: no cover - names come from the classes
            raise ValueError(name)
        lines.append(f"    v = o.{name}")
        if isinstance(kind, int):
            lines.append(f"    if type(v) is not int or not 0 <= v <= {kind}:")
            lines.append(f"        _checkInt(o, {name!r}, v, {kind})")
        else:
            namespace[f"_T{i}"] = _KIND_TYPES[kind]
            namespace[f"_K{i}"] = kind
            lines.append(f"    if not isinstance(v, _T{i}):")
            lines.append(f"        _checkKind(o, {name!r}, v, _K{i})")
    lines.append("    return None")
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from attrs field names only
    checker: Callable[[object], None] = namespace["check"]
    return checker


def checkFields(obj: object, checks: Iterable[Check]) -> None:
    """
    Check the fields of a freshly constructed value.  A class always
    passes the same C{checks}.

    @raise InvalidField: naming the class and field, if a value is of the
        wrong type or out of range.
    """
    cls = type(obj)
    checker = _CHECKERS.get(cls)
    if checker is None:
        checker = _CHECKERS[cls] = _makeChecker(cls, tuple(checks))
    checker(obj)


def toEnum(enumType: type[E], value: Any) -> E:
    """
    Convert C{value} to a member of C{enumType} (for attrs converters).

    @raise InvalidField: if C{value} is not one of its values.
    """
    if isinstance(value, enumType):
        return value
    if not isinstance(value, bool) and isinstance(value, int):
        try:
            return enumType(value)
        except ValueError:
            pass
    raise InvalidField(
        f"{value!r} is not a {enumType.__name__} "
        f"(expected one of {', '.join(m.name for m in enumType)})"
    )


_BUILDERS: dict[type, Callable[..., Any]] = {}


def _makeBuilder(cls: type) -> Callable[..., Any]:
    """
    Generate C{build_<Class>(a0, a1, ...)} setting each slot directly (like
    attrs generates C{__init__}, minus the checks).
    """
    names = [a.name for a in cls.__attrs_attrs__]  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {"_new": _new, "cls": cls}
    params = ", ".join(f"a{i}" for i in range(len(names)))
    lines = [f"def build_{cls.__name__}({params}):", "    o = _new(cls)"]
    for i, name in enumerate(names):
        namespace[f"_s{i}"] = cls.__dict__[name].__set__
        lines.append(f"    _s{i}(o, a{i})")
    lines.append("    return o")
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from attrs field names only
    builder: Callable[..., Any] = namespace[f"build_{cls.__name__}"]
    return builder


def build(cls: type[T], values: tuple[Any, ...]) -> T:
    """
    Construct an attrs instance from already-valid values, bypassing
    C{__init__} and its checks (the decoders use this after validating the
    bytes themselves).

    @param values: the values of every attrs field, in declaration order.
    """
    maker = _BUILDERS.get(cls)
    if maker is None:
        maker = _BUILDERS[cls] = _makeBuilder(cls)
    result: T = maker(*values)
    return result


_setNodeID = NodeID.__dict__["value"].__set__
_setPrefix = Prefix.__dict__["value"].__set__


def fastNodeID(value: int) -> NodeID:
    """
    A L{NodeID} from a 64-bit unsigned integer read off the wire.
    """
    obj: NodeID = _new(NodeID)
    _setNodeID(obj, value)
    return obj


_ADDRESSES: dict[bytes, ipaddress.IPv6Address] = {}

ADDRESS_CACHE_SIZE: Final = 65536
"""
How many decoded addresses L{fastAddress} keeps (it starts again from empty
when full, so garbage cannot grow it).
"""


def fastAddress(packed: bytes) -> ipaddress.IPv6Address:
    """
    The L{ipaddress.IPv6Address} for 16 bytes read off the wire.

    Addresses are immutable, so one object is shared by every message that
    carries the same address: the MA addresses of heartbeats and table
    updates repeat, and building an C{IPv6Address} costs several times a
    dictionary lookup (a sync of 100,000 history rows names 10,000 MAs).
    """
    address = _ADDRESSES.get(packed)
    if address is None:
        if len(_ADDRESSES) >= ADDRESS_CACHE_SIZE:
            _ADDRESSES.clear()
        address = _ADDRESSES[packed] = ipaddress.IPv6Address(packed)
    return address


def fastPrefix(value: int) -> Prefix:
    """
    A L{Prefix} from a 64-bit unsigned integer read off the wire.
    """
    obj: Prefix = _new(Prefix)
    _setPrefix(obj, value)
    return obj


def _typeError(mtype: int, expected: int, name: str, rid: int) -> UnknownType:
    return UnknownType(
        f"expected message type {expected:#04x} ({name}), got {mtype:#04x} at offset 1",
        messageType=mtype,
        requestId=rid,
        offset=1,
    )


def fixedSizeError(data: bytes, expected: int, name: str, size: int) -> WireError:
    """
    Diagnose why C{data} is not a valid fixed-size frame of type C{expected}.

    @return: the L{WireError} to raise.
    """
    try:
        mtype, rid = checkFrame(data)
    except WireError as e:
        return e
    if mtype != expected:
        return _typeError(mtype, expected, name, rid)
    return BadLength(
        f"a {name} frame is {size} bytes, this one is {len(data)}",
        messageType=mtype,
        requestId=rid,
        offset=min(len(data), size),
    )


def expectVariable(data: bytes, expected: int, name: str, minimum: int) -> int:
    """
    Check the header of a variable-size frame of type C{expected}.

    @param minimum: the smallest valid frame of this type.
    @return: the request id.
    @raise WireError: the subclass saying what is wrong.
    """
    size = len(data)
    if (
        minimum <= size <= MAX_FRAME
        and data[0] == VERSION
        and data[1] == expected
        and (data[2] << 8 | data[3]) == size
    ):
        return _RID.unpack_from(data, 4)[0]  # type: ignore[no-any-return]
    mtype, rid = checkFrame(data)
    if mtype != expected:
        raise _typeError(mtype, expected, name, rid)
    if len(data) < minimum:
        raise BadLength(
            f"a {name} frame is at least {minimum} bytes, this one is {len(data)}",
            messageType=mtype,
            requestId=rid,
            offset=len(data),
        )
    return rid


def checkSize(name: str, size: int) -> None:
    """
    Refuse to build a message whose frame would exceed the maximum.

    @raise OversizedFrame: if C{size} is too big.
    """
    if size > MAX_FRAME:
        raise OversizedFrame(f"a {name} frame of {size} bytes exceeds the maximum of {MAX_FRAME}")
    if size < HEADER_SIZE:  # pragma: no cover - sizes are computed, never this small
        raise BadLength(f"a {name} frame of {size} bytes is shorter than its header")


def fixedError(data: bytes, cls: type, size: int) -> WireError:
    """
    Diagnose why C{data} is not a valid frame of the fixed-size message
    class C{cls} (which has C{TYPE} and C{NAME}).
    """
    return fixedSizeError(data, cls.TYPE, cls.NAME, size)  # type: ignore[attr-defined]


def malformed(cls: type, rid: int, offset: int, what: str) -> MalformedBody:
    """
    A L{MalformedBody} about a frame of message class C{cls}.
    """
    mtype: int = cls.TYPE  # type: ignore[attr-defined]
    return MalformedBody(
        f"{cls.NAME} at offset {offset}: {what}",  # type: ignore[attr-defined]
        messageType=mtype,
        requestId=rid,
        offset=offset,
    )


def checkBytes(owner: object, name: str, value: object, low: int, high: int) -> None:
    """
    Check a bytes field's type and length at construction.

    @raise InvalidField: if it is not L{bytes} of C{low}..C{high} bytes.
    """
    if not isinstance(value, bytes):
        raise InvalidField(
            f"{type(owner).__name__}.{name} must be bytes, not {type(value).__name__}"
        )
    if not low <= len(value) <= high:
        raise InvalidField(
            f"{type(owner).__name__}.{name} is {len(value)} bytes, must be {low}..{high}"
        )


def expectEnd(cls: type, data: bytes, rid: int, size: int) -> None:
    """
    Check that the body's own counts add up to the frame's length.

    @raise BadLength: if they do not.
    """
    if len(data) != size:
        raise BadLength(
            f"{cls.NAME} body says the frame is {size} bytes, "  # type: ignore[attr-defined]
            f"its length field says {len(data)}",
            messageType=cls.TYPE,  # type: ignore[attr-defined]
            requestId=rid,
            offset=min(size, len(data)),
        )
