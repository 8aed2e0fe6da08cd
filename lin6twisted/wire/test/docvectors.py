"""
Render and parse the hex test vectors of C{docs/protocol.md}.

Run C{python -m lin6twisted.wire.test.docvectors} to print the vector
section after changing a message; the tests check that the document and
L{lin6twisted.wire.test.vectors} agree byte for byte.

A vector in the document is an HTML comment naming it, then a fenced block
of hex with one field per line and C{#} comments::

    <!-- vector: heartbeat -->
    ```text
    01 01 0038 0000002a   # header: version 1, HEARTBEAT, length 56, request 42
    ...
    ```

A rejected input is C{<!-- reject: NAME decoder=ls error=BadVersion -->}
followed by the same kind of block.
"""

from __future__ import annotations

import enum
import re
import sys
from pathlib import Path
from typing import Final

import attrs

from lin6twisted.address import NodeID, Prefix
from lin6twisted.wire import (
    HMAC_SIZE,
    LS_TYPES,
    MAPPING_TYPES,
    AnswerTableUpdate,
    MARequest,
    MATableUpdate,
)
from lin6twisted.wire.test.vectors import VECTORS


def findDocument() -> Path:
    """
    Find C{docs/protocol.md}: next to the source tree this module comes
    from, or (when the package is installed, as in a tox environment) in
    the current directory or one of its parents.
    """
    here = Path(__file__).resolve().parents[3]
    cwd = Path.cwd().resolve()
    for base in (here, cwd, *cwd.parents):
        candidate = base / "docs" / "protocol.md"
        if candidate.is_file():
            return candidate
    return here / "docs" / "protocol.md"


DOC = findDocument()
"""The protocol document."""

_BLOCK = re.compile(r"<!--\s*(vector|reject):\s*([\w-]+)([^>]*)-->\s*```text\n(.*?)```", re.DOTALL)

_MA_ENTRY = [
    ("maAddress", 16),
    ("maPort", 2),
    ("bootID", 8),
    ("sequence", 8),
    ("normal", 4),
    ("premium", 4),
    ("capacity", 4),
    ("interval", 2),
    ("active", 1),
    ("ageMs", 4),
]
_ANSWER_ENTRY = [
    ("prefix", 8),
    ("maAddress", 16),
    ("maPort", 2),
    ("createdMs", 8),
    ("lifetime", 4),
    ("rttUs", 4),
    ("level", 1),
]

_FIXED: dict[str, list[tuple[str, int]]] = {
    "HEARTBEAT": [
        ("maAddress", 16),
        ("maPort", 2),
        ("bootID", 8),
        ("sequence", 8),
        ("normal", 4),
        ("premium", 4),
        ("capacity", 4),
        ("interval", 2),
    ],
    "RTT_REQUEST": [("target", 16), ("count", 1), ("timeoutMs", 2)],
    "RTT_REPLY": [("target", 16), ("status", 1), ("meanRTTus", 4), ("received", 1)],
    "MA_REPLY": [
        ("nodeID", 8),
        ("maAddress", 16),
        ("maPort", 2),
        ("lifetime", 4),
        ("rttUs", 4),
    ],
    "SYNC_REQUEST": [("lsID", 16), ("bootID", 8)],
    "ASSIGNMENT": [("nodeID", 8), ("level", 1), ("prefix", 8)],
    "SYNC_DONE": [("maCount", 4), ("answerCount", 4)],
    "REGISTER_ACK": [("nodeID", 8), ("status", 1), ("lifetime", 4), ("sequence", 8)],
    "MAP_QUERY": [("nodeID", 8)],
    "NOTIFY_ACK": [("nodeID", 8)],
    "REPORT": [
        ("nodeID", 8),
        ("keyID", 4),
        ("sequence", 8),
        ("rttToMAus", 4),
        ("bytesIn", 8),
        ("bytesOut", 8),
        ("handovers", 4),
        ("lastHandoverMs", 4),
        ("hmac", HMAC_SIZE),
    ],
}


def _layout(message: object) -> list[tuple[str, int]]:
    name: str = message.NAME  # type: ignore[attr-defined]
    if name in _FIXED:
        return _FIXED[name]
    if isinstance(message, MARequest):
        return [("nodeID", 8), ("cookieLength", 1), ("cookie", len(message.cookie))]
    if isinstance(message, MATableUpdate | AnswerTableUpdate):
        entry = _MA_ENTRY if isinstance(message, MATableUpdate) else _ANSWER_ENTRY
        fields = [("count", 2)]
        for i in range(len(message.entries)):
            fields += [(f"entries[{i}].{f}", n) for f, n in entry]
        return fields
    if name == "ERROR":
        text = message.message.encode()  # type: ignore[attr-defined]
        return [("code", 2), ("messageLength", 2), ("message", len(text))]
    if name == "RELAY":
        inner = message.inner.encode()  # type: ignore[attr-defined]
        return [("ma", 16), ("inner (a whole RTT_REQUEST frame)", len(inner))]
    if name == "COOKIE_CHALLENGE":
        return [("cookieLength", 1), ("cookie", len(message.cookie))]  # type: ignore[attr-defined]
    locators: tuple[object, ...] = message.locators  # type: ignore[attr-defined]
    locs = [(f"locators[{i}]", 16) for i in range(len(locators))]
    if name == "REGISTER":
        return [
            ("nodeID", 8),
            ("lifetime", 4),
            ("keyID", 4),
            ("sequence", 8),
            ("flags", 1),
            ("locatorCount", 1),
            *locs,
            ("hmac", HMAC_SIZE),
        ]
    if name == "MAP_REPLY":
        return [("nodeID", 8), ("status", 1), ("ttl", 4), ("locatorCount", 1), *locs]
    if name == "NOTIFY":
        return [("nodeID", 8), ("locatorCount", 1), *locs]
    raise ValueError(f"no layout for {name}")


def _hexLines(data: bytes, label: str) -> list[str]:
    lines = []
    for start in range(0, len(data), 16):
        chunk = data[start : start + 16].hex(" ")
        lines.append(f"{chunk:<47}  # {label}" if start == 0 else chunk)
    return lines


def renderVector(name: str, message: object) -> str:
    """
    The document block of one vector: header line, then one field a line.
    """
    data: bytes = message.encode()  # type: ignore[attr-defined]
    code = data[1]
    typeName = (LS_TYPES.get(code) or MAPPING_TYPES[code]).NAME
    rid = int.from_bytes(data[4:8], "big")
    lines = [
        f"{data[:8].hex(' '):<47}  # header: version {data[0]}, {typeName} "
        f"({code:#04x}), length {len(data)}, requestId {rid}"
    ]
    offset = 8
    for label, size in _layout(message):
        lines += _hexLines(data[offset : offset + size], label)
        offset += size
    if offset != len(data):
        raise ValueError(f"layout of {name} covers {offset} of {len(data)} bytes")
    body = "\n".join(lines)
    return f"<!-- vector: {name} -->\n```text\n{body}\n```\n"


def _show(value: object) -> str:
    if isinstance(value, enum.Enum):
        return value.name or str(value.value)
    if isinstance(value, bytes):
        return value.hex() or "(empty)"
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if attrs.has(type(value)) and not isinstance(value, NodeID | Prefix):
        return describe(value)
    return str(value)


def describe(message: object) -> str:
    """
    A readable one-line description of a message or entry.
    """
    fields = ", ".join(
        f"{a.name}={_show(getattr(message, a.name))}"
        for a in attrs.fields(type(message))  # type: ignore[arg-type]
    )
    return f"{type(message).__name__}({fields})"


def renderAll() -> str:
    """
    Every vector of L{VECTORS}, each after a line naming its message.
    """
    parts = []
    for name, message in VECTORS.items():
        parts.append(f"`{name}`: {describe(message)}\n\n{renderVector(name, message)}")
    return "\n".join(parts)


def parseHex(block: str) -> bytes:
    """
    The bytes of a vector block: hex digits, whitespace ignored, C{#}
    comments to the end of the line.
    """
    digits = "".join(line.split("#", 1)[0] for line in block.splitlines())
    return bytes.fromhex("".join(digits.split()))


def parseDocument(text: str) -> tuple[dict[str, bytes], dict[str, tuple[str, str, bytes]]]:
    """
    The vectors and rejected inputs of the document.

    @return: C{(vectors, rejects)}: vector name -> bytes, and reject name ->
        C{(decoder, error class name, bytes)}.
    @raise ValueError: if a name repeats or a reject lacks its decoder or
        error.
    """
    vectors: dict[str, bytes] = {}
    rejects: dict[str, tuple[str, str, bytes]] = {}
    for kind, name, extra, block in _BLOCK.findall(text):
        if name in vectors or name in rejects:
            raise ValueError(f"vector {name} appears twice")
        data = parseHex(block)
        if kind == "vector":
            vectors[name] = data
        else:
            options = dict(re.findall(r"(\w+)=(\w+)", extra))
            if "decoder" not in options or "error" not in options:
                raise ValueError(f"reject {name} needs decoder= and error=")
            rejects[name] = (options["decoder"], options["error"], data)
    return vectors, rejects


BEGIN: Final = (
    "<!-- BEGIN GENERATED VECTORS (python -m lin6twisted.wire.test.docvectors --write) -->"
)
END: Final = "<!-- END GENERATED VECTORS -->"


def rewriteDocument(text: str) -> str:
    """
    Replace the generated vector section of the document text.

    @raise ValueError: if the markers are missing.
    """
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END)
    return text[:start] + "\n\n" + renderAll() + "\n" + text[end:]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DOC.write_text(rewriteDocument(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(renderAll())
