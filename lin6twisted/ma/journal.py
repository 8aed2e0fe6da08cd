# -*- test-case-name: lin6twisted.ma.test.test_journal -*-
"""
The MA's append-only journal: bindings and last sequence numbers survive a
restart.

Each record is one line: the CRC-32 of the JSON text in 8 hex digits, a
space, the JSON text, a newline.  Three kinds of record::

    {"op": "bind", "node": ..., "seq": ..., "loc": [...], "level": "premium",
     "reg": <seconds>, "exp": <seconds> | null, "pin": false}
    {"op": "unbind", "node": ..., "seq": ...}
    {"op": "seq", "node": ..., "seq": ...}

Times are reactor seconds, i.e. wall-clock time with a real reactor, so an
expiry read back after a restart is still meaningful.

Replaying applies the records in order.  A line that fails its checksum, is
not valid JSON, is not a known record or is cut short (no newline: a crash
in the middle of a write) is reported and skipped, never fatal; after such
a load the journal is compacted at once, so the bad bytes are gone.
Compaction writes the live state (one C{seq} record per known Node ID and
one C{bind} record per live binding) to a temporary file, syncs it and
renames it over the journal.

This module has no Twisted imports; file I/O is blocking (appends are
small and buffered by the OS).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from typing import IO, Any

from attrs import define, field, frozen

from lin6twisted.address import AddressError, Locator, NodeID
from lin6twisted.directory import ServiceLevel
from lin6twisted.ma.core import Binding, MappingTable

__all__ = [
    "BadRecord",
    "Journal",
    "LoadReport",
    "bindRecord",
    "decodeRecord",
    "encodeBind",
    "encodeRecord",
    "unbindRecord",
]


class BadRecord(ValueError):
    """
    A journal line is corrupt or not a known record.
    """


def encodeRecord(record: dict[str, Any]) -> bytes:
    """
    One journal line for C{record}.
    """
    body = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def decodeRecord(line: bytes) -> dict[str, Any]:
    """
    Check and parse one journal line (with or without its newline).

    @raise BadRecord: if the checksum, the JSON or the record shape is wrong.
    """
    line = line.rstrip(b"\n")
    if len(line) < 10 or line[8:9] != b" ":
        raise BadRecord("line too short or missing checksum")
    try:
        crc = int(line[:8], 16)
    except ValueError:
        raise BadRecord("checksum is not hex") from None
    body = line[9:]
    if zlib.crc32(body) != crc:
        raise BadRecord("checksum mismatch")
    try:
        record = json.loads(body)
    except ValueError as e:
        raise BadRecord(f"not JSON: {e}") from None
    if not isinstance(record, dict) or record.get("op") not in ("bind", "unbind", "seq"):
        raise BadRecord("unknown record")
    if not isinstance(record.get("node"), str) or not _isInt(record.get("seq")):
        raise BadRecord("record lacks node or seq")
    return record


def _isInt(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def bindRecord(b: Binding) -> dict[str, Any]:
    """
    The C{bind} record of a binding (locators as 32 hex digits, which
    encode much faster than IPv6 text; both forms are read back).
    """
    return {
        "op": "bind",
        "node": str(b.nodeID),
        "seq": b.sequence,
        "loc": [loc.packed.hex() for loc in b.locators],
        "level": b.level.text,
        "reg": b.registered,
        "exp": b.expires,
        "pin": b.pinned,
    }


def encodeBind(b: Binding) -> bytes:
    """
    The journal line of L{bindRecord}C{(b)}, built without the generic JSON
    encoder (this is on every registration's path).
    """
    locs = ",".join(f'"{loc.packed.hex()}"' for loc in b.locators)
    exp = "null" if b.expires is None else repr(float(b.expires))
    body = (
        f'{{"exp":{exp},"level":"{b.level.text}","loc":[{locs}],"node":"{b.nodeID}",'
        f'"op":"bind","pin":{"true" if b.pinned else "false"},'
        f'"reg":{float(b.registered)!r},"seq":{int(b.sequence)}}}'
    ).encode()
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _locator(text: object) -> Locator:
    if not isinstance(text, str):
        raise BadRecord(f"locator must be text, not {type(text).__name__}")
    if len(text) == 32 and ":" not in text:
        try:
            return Locator.fromBytes(bytes.fromhex(text))
        except ValueError as e:
            raise BadRecord(f"bad locator {text!r}: {e}") from None
    return Locator.fromString(text)


def unbindRecord(nodeID: NodeID, sequence: int) -> dict[str, Any]:
    """
    The C{unbind} record of a deregistration or expiry.
    """
    return {"op": "unbind", "node": str(nodeID), "seq": sequence}


def _binding(record: dict[str, Any], nodeID: NodeID) -> Binding:
    try:
        locators = tuple(_locator(t) for t in record["loc"])
        level = ServiceLevel.fromText(record["level"])
        registered = float(record["reg"])
        expires = None if record["exp"] is None else float(record["exp"])
        pinned = bool(record["pin"])
    except (KeyError, TypeError, ValueError) as e:  # AddressError is a ValueError
        raise BadRecord(f"bad bind record: {e}") from None
    return Binding(nodeID, locators, level, record["seq"], registered, expires, pinned)


def applyRecord(table: MappingTable, record: dict[str, Any]) -> None:
    """
    Apply one decoded record to C{table}.

    @raise BadRecord: if a field does not parse.
    """
    try:
        nodeID = NodeID.fromString(record["node"])
    except AddressError as e:
        raise BadRecord(str(e)) from None
    seq: int = record["seq"]
    op = record["op"]
    if op == "bind":
        table.restoreBinding(_binding(record, nodeID))
        return
    if op == "unbind":
        table.remove(nodeID, seq)
    table.restoreSequence(nodeID, seq)


@frozen
class LoadReport:
    """
    What reading the journal found.

    @ivar records: records applied.
    @ivar bad: (line number, reason) of every skipped line.
    @ivar expired: bindings dropped because their lifetime ran out while
        the MA was down.
    """

    records: int
    bad: tuple[tuple[int, str], ...]
    expired: tuple[Binding, ...]


@define
class Journal:
    """
    An append-only journal file.

    @ivar path: the file.
    @ivar compactAfter: compact when the records written since the last
        compaction exceed this many and twice the live state.
    @ivar sync: call C{fsync} after every append (survives power loss,
        costs throughput); without it a record survives a crash of the
        process but not of the machine.
    """

    path: str
    compactAfter: int = 10_000
    sync: bool = False
    _file: IO[bytes] | None = field(default=None, init=False)
    _written: int = field(default=0, init=False)

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - iterated below
        except FileNotFoundError:
            return
        with f:
            yield from enumerate(f, 1)

    def load(self, table: MappingTable, now: float) -> LoadReport:
        """
        Replay the journal into C{table}, drop what expired meanwhile and
        rewrite the file compacted, then open it for appending.
        """
        applied = 0
        bad: list[tuple[int, str]] = []
        for number, line in self._lines():
            if not line.endswith(b"\n"):
                bad.append((number, "truncated record (no end of line)"))
                continue
            try:
                applyRecord(table, decodeRecord(line))
            except BadRecord as e:
                bad.append((number, str(e)))
                continue
            applied += 1
        expired = tuple(table.expire(now))
        self.compact(table)
        return LoadReport(applied, tuple(bad), expired)

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open
        return self._file

    def append(self, record: dict[str, Any] | bytes, table: MappingTable | None = None) -> None:
        """
        Append one record (a dict, or a line made by L{encodeBind}); compact
        afterwards if C{table} is given and the file has grown enough.
        """
        f = self._open()
        f.write(record if isinstance(record, bytes) else encodeRecord(record))
        f.flush()
        if self.sync:
            os.fsync(f.fileno())
        self._written += 1
        if table is not None and self._written > max(self.compactAfter, 2 * len(table)):
            self.compact(table)

    def compact(self, table: MappingTable) -> None:
        """
        Rewrite the journal as the live state of C{table}.
        """
        self.close()
        tmp = self.path + ".tmp"
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        bindings = {b.nodeID: b for b in table.bindings()}
        with open(tmp, "wb") as f:
            for nodeID, seq in table.sequences().items():
                if nodeID not in bindings:
                    f.write(encodeRecord({"op": "seq", "node": str(nodeID), "seq": seq}))
            for b in bindings.values():
                f.write(encodeRecord(bindRecord(b)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._written = 0

    def close(self) -> None:
        """
        Close the file (the next append reopens it).
        """
        if self._file is not None:
            self._file.close()
            self._file = None
