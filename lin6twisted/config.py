# -*- test-case-name: lin6twisted.test.test_config -*-
"""
Configuration files: one TOML file per daemon, loaded into typed settings.

Every daemon reads its settings the same way::

    def build(root: Section) -> LSSettings:
        ls = root.section("ls", required=True)
        return LSSettings(
            listen=ls.getEndpoint("listen", "tcp6:7001"),
            heartbeatTimeout=ls.getDuration("heartbeat_timeout", 3.0, above=0),
            space=parseLIN6Space(root.section("lin6")),
            tls=parseTLS(root.section("tls", required=True)),
        )

    class Options(usage.Options):
        optParameters = [["config", "c", "/etc/lin6/ls.conf", "Configuration file."]]

        def postOptions(self) -> None:
            self["settings"] = configFromOptions(self["config"], build)

L{loadConfig} (and L{configFromOptions}, its C{usage} front end) parses the
file, hands the root L{Section} to the builder and then calls
L{Section.finish}, which rejects every key and table the builder never read,
so a typo (C{heartbeat_timout}) fails at start instead of being ignored.

Conventions of the files (C{etc/*.conf} are the examples):

  - The format is TOML 1.0 (read with the standard library's C{tomllib}).
  - Keys are C{snake_case}; each daemon's own settings live in a table named
    after it (C{[ls]}, C{[ma]}, C{[dns]}, C{[resolvd]}); tables every daemon
    shares are C{[lin6]} (L{parseLIN6Space}: C{prefix}, C{oui}) and C{[tls]}
    (L{parseTLS}: C{ca}, C{cert}, C{key}).
  - Durations are seconds, given as a number (C{2.5}) or as a string with a
    unit: C{"250ms"}, C{"30s"}, C{"5m"}, C{"1h"} (L{Section.getDuration}).
  - Relative paths are relative to the directory holding the config file,
    so a deployment directory can be moved as a whole (L{Section.getPath}).
  - Listening and connecting addresses are Twisted endpoint strings
    (C{"tcp6:port=7001:interface=\\:\\:"}, C{"tcp:host=2001\\:db8\\:\\:1:port=7001"}),
    checked by syntax at start (L{Section.getEndpoint}).
  - Byte strings (keys, OUIs) are hex, optionally with C{:} between octets
    (L{Section.getBytes}).
  - Any key or table the daemon does not know is an error.

Errors are L{ConfigError}s whose text names the file, the place and the
reason in one line, e.g.::

    etc/ls.conf: [ls] heartbeat_timeout: must be a number > 0, got 'abc'
    etc/ls.conf: line 12, column 3: invalid TOML: Expected '=' after a key
"""

from __future__ import annotations

import enum
import ipaddress
import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar, overload

from twisted.python import usage

from lin6twisted.address import AddressError, LIN6Space, Prefix, parseIPv6

if TYPE_CHECKING:
    from lin6twisted.pki import TLSSettings

__all__ = [
    "ConfigError",
    "Section",
    "configFromOptions",
    "loadConfig",
    "loadTOML",
    "loadTOMLString",
    "parseLIN6Space",
    "parseTLS",
]

T = TypeVar("T")
D = TypeVar("D")
E = TypeVar("E", bound=enum.Enum)


class ConfigError(Exception):
    """
    A configuration file is missing, unreadable, malformed or holds a bad
    value.

    @ivar path: the file, as given.
    @ivar table: the names of the table holding the bad key (C{()} for the
        top level).
    @ivar key: the bad key, or C{None} when the error concerns a whole table
        or the whole file.
    @ivar line: for syntax errors, the 1-based line, else C{None}.
    @ivar column: for syntax errors, the 1-based column, else C{None}.
    @ivar reason: what is wrong, as a sentence fragment.
    """

    def __init__(
        self,
        path: str,
        reason: str,
        *,
        table: Sequence[str] = (),
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason
        self.table = tuple(table)
        self.key = key
        self.line = line
        self.column = column

    @property
    def where(self) -> str:
        """
        The place of the error: a dotted key (C{ls.heartbeat_timeout}), a
        table (C{ls}), C{line 12, column 3}, or C{""} for the whole file.
        """
        if self.line is not None:
            if self.column is None:
                return f"line {self.line}"
            return f"line {self.line}, column {self.column}"
        parts = [*self.table, *([self.key] if self.key is not None else [])]
        return ".".join(_quoteKey(p) for p in parts)

    def __str__(self) -> str:
        if self.line is not None:
            place = self.where
        else:
            table = ".".join(_quoteKey(p) for p in self.table)
            bits = []
            if table:
                bits.append(f"[{table}]")
            if self.key is not None:
                bits.append(_quoteKey(self.key))
            place = " ".join(bits)
        if place:
            return f"{self.path}: {place}: {self.reason}"
        return f"{self.path}: {self.reason}"


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+(\[[0-9]+\])?$")


def _quoteKey(key: str) -> str:
    if _BARE_KEY.match(key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _show(value: object) -> str:
    """
    Show a configured value in an error message (TOML-ish, shortened).
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = repr(value)
    else:
        text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text


class _Required(enum.Enum):
    REQUIRED = "REQUIRED"


REQUIRED: Final = _Required.REQUIRED

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s|m|h)?\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def _bounds(min: float | None, max: float | None, above: float | None, unit: str = "") -> str:
    parts = []
    if above is not None:
        parts.append(f"> {above:g}{unit}")
    if min is not None:
        parts.append(f">= {min:g}{unit}")
    if max is not None:
        parts.append(f"<= {max:g}{unit}")
    return " and ".join(parts)


class Section:
    """
    One TOML table, with typed getters that record which keys were read.

    Every getter takes the key and, optionally, a default returned when the
    key is absent; without a default the key is required.  A present key
    with a bad value is always an error, whatever the default.

    @ivar path: the file the table came from (for messages).
    @ivar table: the names leading to this table (C{()} for the top level).
    @ivar baseDir: the directory relative paths are resolved against.
    """

    def __init__(
        self,
        path: str,
        data: Mapping[str, object],
        table: Sequence[str] = (),
        baseDir: Path | None = None,
    ) -> None:
        self.path = path
        self.table = tuple(table)
        self.baseDir = baseDir if baseDir is not None else Path(path).parent
        self._data = dict(data)
        self._read: set[str] = set()
        self._children: list[Section] = []

    # -- generic access ---------------------------------------------------

    def error(self, key: str | None, reason: str) -> ConfigError:
        """
        Build (not raise) a L{ConfigError} about C{key} of this table, for
        checks the getters cannot express (e.g. one value against another).
        """
        return ConfigError(self.path, reason, table=self.table, key=key)

    def __contains__(self, key: object) -> bool:
        """
        Whether C{key} is present (does not count as reading it).
        """
        return key in self._data

    def keys(self) -> Iterator[str]:
        """
        The keys present in this table (reading none of them).
        """
        return iter(list(self._data))

    def _raw(self, key: str, default: object) -> object:
        self._read.add(key)
        if key not in self._data and default is REQUIRED:
            raise self.error(key, "is required")
        return self._data.get(key, default)

    def _get(self, key: str, default: object, convert: Callable[[object], T]) -> T | object:
        self._read.add(key)
        if key not in self._data:
            if default is REQUIRED:
                raise self.error(key, "is required")
            return default
        value = self._data[key]
        try:
            return convert(value)
        except _Bad as e:
            raise self.error(key, f"{e.reason}, got {_show(value)}") from None

    # -- scalars ----------------------------------------------------------

    @overload
    def getString(self, key: str) -> str: ...
    @overload
    def getString(self, key: str, default: D) -> str | D: ...

    def getString(self, key: str, default: object = REQUIRED) -> object:
        """
        A non-empty string.
        """

        def convert(value: object) -> str:
            if not isinstance(value, str) or not value:
                raise _Bad("must be a non-empty string")
            return value

        return self._get(key, default, convert)

    @overload
    def getInt(self, key: str, *, min: int | None = ..., max: int | None = ...) -> int: ...
    @overload
    def getInt(
        self, key: str, default: D, *, min: int | None = ..., max: int | None = ...
    ) -> int | D: ...

    def getInt(
        self,
        key: str,
        default: object = REQUIRED,
        *,
        min: int | None = None,
        max: int | None = None,
    ) -> object:
        """
        An integer, optionally within C{[min, max]}.
        """

        def convert(value: object) -> int:
            bounds = _bounds(min, max, None)
            want = f"an integer {bounds}" if bounds else "an integer"
            if isinstance(value, bool) or not isinstance(value, int):
                raise _Bad(f"must be {want}")
            if (min is not None and value < min) or (max is not None and value > max):
                raise _Bad(f"must be {want}")
            return value

        return self._get(key, default, convert)

    @overload
    def getFloat(
        self,
        key: str,
        *,
        min: float | None = ...,
        max: float | None = ...,
        above: float | None = ...,
    ) -> float: ...
    @overload
    def getFloat(
        self,
        key: str,
        default: D,
        *,
        min: float | None = ...,
        max: float | None = ...,
        above: float | None = ...,
    ) -> float | D: ...

    def getFloat(
        self,
        key: str,
        default: object = REQUIRED,
        *,
        min: float | None = None,
        max: float | None = None,
        above: float | None = None,
    ) -> object:
        """
        A finite number (TOML integer or float), optionally within
        C{[min, max]} and strictly greater than C{above}.
        """

        def convert(value: object) -> float:
            bounds = _bounds(min, max, above)
            want = f"a number {bounds}" if bounds else "a number"
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Bad(f"must be {want}")
            number = float(value)
            if not _inRange(number, min, max, above):
                raise _Bad(f"must be {want}")
            return number

        return self._get(key, default, convert)

    @overload
    def getDuration(
        self,
        key: str,
        *,
        min: float | None = ...,
        max: float | None = ...,
        above: float | None = ...,
    ) -> float: ...
    @overload
    def getDuration(
        self,
        key: str,
        default: D,
        *,
        min: float | None = ...,
        max: float | None = ...,
        above: float | None = ...,
    ) -> float | D: ...

    def getDuration(
        self,
        key: str,
        default: object = REQUIRED,
        *,
        min: float | None = 0.0,
        max: float | None = None,
        above: float | None = None,
    ) -> object:
        """
        A duration in seconds: a number of seconds, or a string with a unit
        (C{"250ms"}, C{"30s"}, C{"5m"}, C{"1h"}).  Never negative unless
        C{min} says so.
        """

        def convert(value: object) -> float:
            bounds = _bounds(min, max, above, "s")
            want = "a duration (seconds, or a string like '250ms', '30s', '5m', '1h')"
            if bounds:
                want += f" {bounds}"
            if isinstance(value, bool):
                raise _Bad(f"must be {want}")
            if isinstance(value, int | float):
                seconds = float(value)
            elif isinstance(value, str) and (match := _DURATION.match(value)):
                seconds = float(match.group(1)) * _UNITS[match.group(2)]
            else:
                raise _Bad(f"must be {want}")
            if not _inRange(seconds, min, max, above):
                raise _Bad(f"must be {want}")
            return seconds

        return self._get(key, default, convert)

    @overload
    def getBool(self, key: str) -> bool: ...
    @overload
    def getBool(self, key: str, default: D) -> bool | D: ...

    def getBool(self, key: str, default: object = REQUIRED) -> object:
        """
        A TOML boolean (C{true} or C{false}; strings are not accepted).
        """

        def convert(value: object) -> bool:
            if not isinstance(value, bool):
                raise _Bad("must be true or false")
            return value

        return self._get(key, default, convert)

    @overload
    def getBytes(self, key: str, *, length: int | None = ...) -> bytes: ...
    @overload
    def getBytes(self, key: str, default: D, *, length: int | None = ...) -> bytes | D: ...

    def getBytes(
        self, key: str, default: object = REQUIRED, *, length: int | None = None
    ) -> object:
        """
        Bytes given as hex text, optionally with C{:} between octets
        (C{"00:01:4a"} or C{"00014a"}).

        @param length: the exact number of bytes required, if any.
        """

        def convert(value: object) -> bytes:
            want = "hex bytes" if length is None else f"{length} hex bytes"
            if not isinstance(value, str):
                raise _Bad(f"must be {want}")
            text = value.strip()
            if ":" in text:
                octets = text.split(":")
                if not all(re.fullmatch(r"[0-9a-fA-F]{2}", o) for o in octets):
                    raise _Bad(f"must be {want}")
                text = "".join(octets)
            try:
                data = bytes.fromhex(text)
            except ValueError:
                raise _Bad(f"must be {want}") from None
            if not data or (length is not None and len(data) != length):
                raise _Bad(f"must be {want}")
            return data

        return self._get(key, default, convert)

    @overload
    def getEnum(self, key: str, choices: type[E]) -> E: ...
    @overload
    def getEnum(self, key: str, choices: type[E], default: D) -> E | D: ...

    def getEnum(self, key: str, choices: type[E], default: object = REQUIRED) -> object:
        """
        One member of the enum C{choices}, given by its (string) value.
        """

        def convert(value: object) -> E:
            for member in choices:
                if member.value == value:
                    return member
            names = ", ".join(repr(m.value) for m in choices)
            raise _Bad(f"must be one of {names}")

        return self._get(key, default, convert)

    @overload
    def getIPv6Address(self, key: str) -> ipaddress.IPv6Address: ...
    @overload
    def getIPv6Address(self, key: str, default: D) -> ipaddress.IPv6Address | D: ...

    def getIPv6Address(self, key: str, default: object = REQUIRED) -> object:
        """
        An IPv6 address in any text form.
        """
        return self._get(key, default, _convertIPv6)

    @overload
    def getAddressList(self, key: str) -> list[ipaddress.IPv6Address]: ...
    @overload
    def getAddressList(self, key: str, default: D) -> list[ipaddress.IPv6Address] | D: ...

    def getAddressList(self, key: str, default: object = REQUIRED) -> object:
        """
        A list of IPv6 addresses (may be empty).
        """

        def convert(value: object) -> list[ipaddress.IPv6Address]:
            if not isinstance(value, list):
                raise _Bad("must be a list of IPv6 addresses")
            result = []
            for index, item in enumerate(value):
                try:
                    result.append(_convertIPv6(item))
                except _Bad:
                    raise _Bad(
                        f"must be a list of IPv6 addresses (item {index + 1} is not)"
                    ) from None
            return result

        return self._get(key, default, convert)

    @overload
    def getList(self, key: str) -> list[str]: ...
    @overload
    def getList(self, key: str, default: D) -> list[str] | D: ...

    def getList(self, key: str, default: object = REQUIRED) -> object:
        """
        A list of non-empty strings (may be empty).
        """

        def convert(value: object) -> list[str]:
            if not isinstance(value, list) or not all(
                isinstance(item, str) and item for item in value
            ):
                raise _Bad("must be a list of non-empty strings")
            return list(value)

        return self._get(key, default, convert)

    @overload
    def getEndpoint(self, key: str, *, client: bool = ...) -> str: ...
    @overload
    def getEndpoint(self, key: str, default: D, *, client: bool = ...) -> str | D: ...

    def getEndpoint(self, key: str, default: object = REQUIRED, *, client: bool = False) -> object:
        """
        A Twisted endpoint description, checked by syntax: a server one
        (for C{serverFromString}) or, with C{client=True}, a client one
        (for C{clientFromString}).  The string is returned unchanged; the
        daemon builds the endpoint with its own reactor.  Nothing listens
        or connects during the check.
        """

        def convert(value: object) -> str:
            kind = "client" if client else "server"
            if not isinstance(value, str) or not value:
                raise _Bad(f"must be a Twisted {kind} endpoint string")
            _checkEndpoint(value, client=client)
            return value

        return self._get(key, default, convert)

    @overload
    def getPath(self, key: str, *, mustExist: bool = ..., directory: bool = ...) -> Path: ...
    @overload
    def getPath(
        self, key: str, default: D, *, mustExist: bool = ..., directory: bool = ...
    ) -> Path | D: ...

    def getPath(
        self,
        key: str,
        default: object = REQUIRED,
        *,
        mustExist: bool = False,
        directory: bool = False,
    ) -> object:
        """
        A filesystem path; relative paths are relative to L{baseDir} (the
        config file's directory).  A default is returned unchanged.

        @param mustExist: require the path to exist (a regular file, or a
            directory if C{directory} is true).
        """

        def convert(value: object) -> Path:
            return self._convertPath(value, mustExist, directory)

        return self._get(key, default, convert)

    def resolvePath(self, text: str) -> Path:
        """
        Resolve a path as L{getPath} does: C{~} expanded, relative paths
        taken relative to L{baseDir}.
        """
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = self.baseDir / path
        return path

    def _convertPath(self, value: object, mustExist: bool, directory: bool) -> Path:
        if not isinstance(value, str) or not value:
            raise _Bad("must be a path")
        path = self.resolvePath(value)
        if mustExist:
            if directory and not path.is_dir():
                raise _Bad(f"must be an existing directory ({path})")
            if not directory and not path.is_file():
                raise _Bad(f"must be an existing file ({path})")
        return path

    @overload
    def getPathList(
        self, key: str, *, mustExist: bool = ..., directory: bool = ...
    ) -> list[Path]: ...
    @overload
    def getPathList(
        self, key: str, default: D, *, mustExist: bool = ..., directory: bool = ...
    ) -> list[Path] | D: ...

    def getPathList(
        self,
        key: str,
        default: object = REQUIRED,
        *,
        mustExist: bool = False,
        directory: bool = False,
    ) -> object:
        """
        A list of paths (may be empty), each resolved and checked as by
        L{getPath}.
        """

        def convert(value: object) -> list[Path]:
            if not isinstance(value, list):
                raise _Bad("must be a list of paths")
            result = []
            for index, item in enumerate(value):
                try:
                    result.append(self._convertPath(item, mustExist, directory))
                except _Bad as e:
                    raise _Bad(f"item {index + 1} {e.reason}") from None
            return result

        return self._get(key, default, convert)

    @overload
    def getIPAddress(self, key: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address: ...
    @overload
    def getIPAddress(
        self, key: str, default: D
    ) -> ipaddress.IPv4Address | ipaddress.IPv6Address | D: ...

    def getIPAddress(self, key: str, default: object = REQUIRED) -> object:
        """
        An IPv4 or IPv6 address (e.g. an interface to listen on).
        """

        def convert(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
            if not isinstance(value, str):
                raise _Bad("must be an IP address")
            try:
                return ipaddress.ip_address(value)
            except ValueError:
                raise _Bad("must be an IP address") from None

        return self._get(key, default, convert)

    # -- tables -----------------------------------------------------------

    def section(self, name: str, required: bool = False) -> Section:
        """
        The sub-table C{name}; an empty one if it is absent and not
        C{required}.  Its keys are checked by L{finish} too.
        """
        value = self._raw(name, REQUIRED if required else None)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.error(name, f"must be a table, got {_show(value)}")
        child = Section(self.path, value, (*self.table, name), self.baseDir)
        self._children.append(child)
        return child

    def sectionList(self, name: str) -> list[Section]:
        """
        The array of tables C{name} (C{[[name]]} in TOML); empty if absent.
        """
        value = self._raw(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(name, f"must be an array of tables ([[...]]), got {_show(value)}")
        result = []
        for index, item in enumerate(value):
            child = Section(self.path, item, (*self.table, f"{name}[{index + 1}]"), self.baseDir)
            self._children.append(child)
            result.append(child)
        return result

    def finish(self) -> None:
        """
        Reject keys and tables nobody read, here and in every sub-table
        obtained through L{section} or L{sectionList}.

        @raise ConfigError: naming the first unknown key.
        """
        for key in self._data:
            if key not in self._read:
                what = "table" if isinstance(self._data[key], dict) else "key"
                raise self.error(key, f"unknown {what} (a typo?)")
        for child in self._children:
            child.finish()


class _Bad(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _inRange(number: float, min: float | None, max: float | None, above: float | None) -> bool:
    if math.isnan(number) or math.isinf(number):
        return False
    if min is not None and number < min:
        return False
    if max is not None and number > max:
        return False
    return not (above is not None and number <= above)


def _convertIPv6(value: object) -> ipaddress.IPv6Address:
    if not isinstance(value, str):
        raise _Bad("must be an IPv6 address")
    try:
        return parseIPv6(value)
    except AddressError:
        raise _Bad("must be an IPv6 address") from None


def _checkEndpoint(description: str, client: bool = False) -> None:
    """
    Check the syntax of a Twisted endpoint description without using it.

    @raise _Bad: if it does not parse.
    """
    from twisted.internet.endpoints import clientFromString, serverFromString
    from twisted.internet.testing import MemoryReactor

    kind = "client" if client else "server"
    try:
        if client:
            clientFromString(MemoryReactor(), description)  # type: ignore[no-untyped-call]
        else:
            serverFromString(MemoryReactor(), description)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, KeyError, OSError) as e:
        detail = str(e) or type(e).__name__
        raise _Bad(f"must be a Twisted {kind} endpoint string ({detail})") from None


# -- loading ---------------------------------------------------------------


def loadTOMLString(text: str, path: str = "<string>", baseDir: Path | None = None) -> Section:
    """
    Parse TOML text into the root L{Section}.

    @param path: the name used in error messages.
    @raise ConfigError: on a syntax error, with line and column.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        match = _TOML_POSITION.search(message)
        reason = _TOML_POSITION.sub("", message).strip()
        if match:
            raise ConfigError(
                path,
                f"invalid TOML: {reason}",
                line=int(match.group(1)),
                column=int(match.group(2)),
            ) from None
        raise ConfigError(path, f"invalid TOML: {reason}") from None
    return Section(path, data, (), baseDir if baseDir is not None else Path(path).parent)


def loadTOML(path: str | Path) -> Section:
    """
    Read and parse a TOML file into the root L{Section}.

    @raise ConfigError: if the file is missing, unreadable, not UTF-8 or
        not valid TOML (with line and column).
    """
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(name, "no such file") from None
    except IsADirectoryError:
        raise ConfigError(name, "is a directory, not a file") from None
    except OSError as e:
        raise ConfigError(name, f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(name, "invalid TOML: not UTF-8 text", line=line) from None
    return loadTOMLString(text, name, Path(path).parent)


def loadConfig(path: str | Path, build: Callable[[Section], T]) -> T:
    """
    Load C{path}, build settings from it with C{build(root)}, and reject
    keys C{build} did not read (L{Section.finish}).

    @raise ConfigError: on any problem with the file.
    """
    root = loadTOML(path)
    result = build(root)
    root.finish()
    return result


def configFromOptions(path: str | Path, build: Callable[[Section], T]) -> T:
    """
    L{loadConfig} for C{usage.Options.postOptions}: a L{ConfigError}
    becomes a C{usage.UsageError} carrying its one-line text, so
    C{twistd lin6-ls --config bad.conf} prints the file, place and reason
    instead of a traceback.

    @raise usage.UsageError: on any problem with the file.
    """
    try:
        return loadConfig(path, build)
    except ConfigError as e:
        raise usage.UsageError(str(e)) from None


# -- shared tables -----------------------------------------------------------


def parseLIN6Space(section: Section) -> LIN6Space:
    """
    Read the C{[lin6]} table: C{prefix} (the LIN6 /64, default
    C{"3ffe:501:1830:1999::/64"}) and C{oui} (hex, default C{"00:01:4a"}).
    """
    default = LIN6Space()
    prefixText = section.getString("prefix", None)
    prefix = default.prefix
    if prefixText is not None:
        try:
            prefix = Prefix.fromString(prefixText)
        except AddressError as e:
            raise section.error("prefix", f"must be a /64 prefix ({e})") from None
    oui = section.getBytes("oui", default.oui, length=3)
    try:
        return LIN6Space(prefix, oui)
    except AddressError as e:
        raise section.error("oui", str(e)) from None


def parseTLS(section: Section) -> TLSSettings:
    """
    Read the C{[tls]} table: C{ca} (the deployment CA certificate),
    C{cert} (this daemon's certificate) and C{key} (its private key), all
    PEM files; load them and check that they belong together.
    """
    from lin6twisted.pki import TLSError, TLSSettings

    ca = section.getPath("ca", mustExist=True)
    cert = section.getPath("cert", mustExist=True)
    key = section.getPath("key", mustExist=True)
    try:
        return TLSSettings.load(ca, cert, key)
    except TLSError as e:
        raise section.error(e.field, e.reason) from None
