# -*- test-case-name: lin6twisted.ma.test.test_cli -*-
"""
C{lin6 ma}: talk to a Mapping Agent's mapping port (operators, the lab).

  - C{lin6 ma query --ma [ADDR]:PORT NODE_ID}: print the locators of a node
    and the TTL (or C{not found}).
  - C{lin6 ma register --ma [ADDR]:PORT --node NODE_ID --key HEX
    [--key-id N] --locator ADDR [--locator ADDR ...] [--lifetime S]
    [--sequence N] [--pinned]}: send an authenticated REGISTER and print the
    status.  The sequence defaults to the current time in microseconds, so
    it grows across runs.  C{--lifetime 0} deregisters.

  - C{lin6 ma status [--url URL] [--json]}: read a running MA's HTTP
    C{/status} (its C{status} endpoint, by default C{http://[::1]:7380})
    and print the LS link, the binding counts, the bindings, bandwidth
    classes, MN reports and non-zero counters, or the raw JSON.

Exit status: 0 on an answer that is a success, 1 otherwise (a timeout, a
refusal, not found, an unreachable status page), 2 on bad arguments.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any, TextIO

from twisted.python import usage

from lin6twisted._cliutil import (
    Command,
    InterspersedOptions,
    formatTable,
    parseAddressPort,
    parseNodeID,
    parseSeconds,
)
from lin6twisted.wire import WireError
from lin6twisted.wire.mapping import (
    MapQuery,
    MapReply,
    MapStatus,
    Register,
    RegisterAck,
    RegisterFlags,
    RegisterStatus,
    decodeMappingMessage,
)

__all__ = ["Options", "formatStatus", "run"]


class _Common(InterspersedOptions):
    optParameters = [
        ["ma", "m", None, "The MA's mapping port, [ADDRESS]:PORT."],
        ["timeout", "t", "3", "Seconds to wait for the answer."],
    ]

    def postOptions(self) -> None:
        self["ma"] = parseAddressPort(self["ma"])
        self["timeout"] = parseSeconds(self["timeout"])


class QueryOptions(_Common):
    """
    C{lin6 ma query}.
    """

    synopsis = "--ma [ADDRESS]:PORT NODE_ID"

    def parseArgs(self, node: str) -> None:  # type: ignore[override]
        self["node"] = parseNodeID(node)


class RegisterOptions(_Common):
    """
    C{lin6 ma register}.
    """

    synopsis = "--ma [ADDRESS]:PORT --node NODE_ID --key HEX --locator ADDR [options]"
    optFlags = [["pinned", "p", "Pin the binding (content servers)."]]
    optParameters = [
        ["node", "n", None, "The registering Node ID."],
        ["key", "k", None, "The node's registration key, hex."],
        ["key-id", None, "1", "The key's id."],
        ["lifetime", "l", "300", "Seconds (0 deregisters)."],
        ["sequence", "s", None, "Sequence number (default: the time in microseconds)."],
    ]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["locators"] = []

    def opt_locator(self, value: str) -> None:
        """
        A locator to register (repeatable, preferred first).
        """
        try:
            self["locators"].append(ipaddress.IPv6Address(value))
        except ValueError:
            raise usage.UsageError(f"--locator: not an IPv6 address: {value!r}") from None

    def postOptions(self) -> None:
        super().postOptions()
        self["node"] = parseNodeID(self["node"])
        if not self["key"]:
            raise usage.UsageError("--key is required")
        try:
            self["key"] = bytes.fromhex(self["key"].replace(":", ""))
        except ValueError:
            raise usage.UsageError("--key must be hex") from None
        if not self["locators"]:
            raise usage.UsageError("at least one --locator is required")
        try:
            self["key-id"] = int(self["key-id"])
            self["lifetime"] = int(self["lifetime"])
            seq = self["sequence"]
            self["sequence"] = int(seq) if seq is not None else time.time_ns() // 1000
        except ValueError:
            raise usage.UsageError("--key-id, --lifetime and --sequence are numbers") from None


class StatusOptions(Command):
    """
    C{lin6 ma status}.
    """

    synopsis = "[--url URL] [--json]"
    optParameters = [
        ["url", "u", "http://[::1]:7380", "The MA's status site (its 'status' endpoint)."],
        ["timeout", "t", "5", "Seconds to wait for it."],
    ]
    optFlags = [["json", "j", "Print the raw status JSON."]]

    def postOptions(self) -> None:
        if not self["url"].startswith(("http://", "https://")):
            raise usage.UsageError(f"--url must be an http:// URL, got {self['url']!r}")
        self["timeout"] = parseSeconds(self["timeout"])


class Options(Command):
    """
    C{lin6 ma}: the subcommands.
    """

    synopsis = "(query | register | status) [options]"
    subCommands = [
        ["query", None, QueryOptions, "Ask an MA for a node's locators."],
        ["register", None, RegisterOptions, "Register (or deregister) a node's locators."],
        ["status", None, StatusOptions, "Show a running MA's bindings and LS link."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("lin6 ma needs a subcommand: query, register or status")


def _lsLink(link: dict[str, Any]) -> str:
    if not link.get("configured", False):
        return "LS link: not configured"
    state = f"up to {link.get('peer')}" if link.get("connected") else "down"
    return (
        f"LS link: {state} (boot id {link.get('bootID', '?')}, "
        f"sequence {link.get('sequence', 0)}, heartbeats {link.get('heartbeats', 0)}, "
        f"RTT requests {link.get('rttRequests', 0)}, assignments {link.get('assignments', 0)})"
    )


def formatStatus(status: dict[str, Any]) -> str:
    """
    The human-readable form of an MA's C{/status} document.
    """
    counts = status["counts"]
    levels = ", ".join(f"{n} {level}" for level, n in counts.items())
    out = [_lsLink(status.get("ls", {})), f"Bindings by level (not pinned): {levels or 'none'}"]
    bindings = []
    for b in sorted(status["bindings"], key=lambda b: b["node"]):
        remaining = b["remaining"]
        left = "pinned" if b["pinned"] else "-" if remaining is None else f"{remaining:.0f}"
        bindings.append([b["node"], b["level"], " ".join(b["locators"]), left, str(b["sequence"])])
    out += [
        "",
        f"Bindings ({len(bindings)})",
        formatTable(["node", "level", "locators", "left s", "sequence"], bindings),
    ]
    classes = [[node, c["class"], c["level"]] for node, c in sorted(status["bandwidth"].items())]
    out += ["", "Bandwidth classes", formatTable(["node", "class", "level"], classes, "(none)")]
    reports = [
        [node, f"{r['rtt_to_ma_us'] / 1000:.3f}", str(r["bytes_in"]), str(r["bytes_out"]),
         str(r["handovers"]), str(r["last_handover_ms"])]
        for node, r in sorted(status["reports"].items())
    ]  # fmt: skip
    out += [
        "",
        "MN reports",
        formatTable(
            ["node", "rtt ms", "bytes in", "bytes out", "handovers", "last handover ms"],
            reports,
            "(none)",
        ),
    ]
    counters = [[k, str(v)] for k, v in sorted(status["stats"].items()) if v]
    out += ["", "Counters (non-zero)", formatTable(["counter", "value"], counters, "(none)")]
    return "\n".join(out) + "\n"


def _status(sub: StatusOptions, out: TextIO) -> int:
    url = sub["url"].rstrip("/") + "/status"
    try:
        with urllib.request.urlopen(url, timeout=sub["timeout"]) as response:  # noqa: S310
            status = json.loads(response.read())
        text = json.dumps(status, indent=1) + "\n" if sub["json"] else formatStatus(status)
    except (urllib.error.URLError, OSError, ValueError) as e:
        sys.stderr.write(f"lin6 ma status: cannot read {url}: {e}\n")
        return 1
    except (KeyError, TypeError, AttributeError) as e:
        sys.stderr.write(f"lin6 ma status: {url} is not an MA status document ({e!r})\n")
        return 1
    out.write(text)
    return 0


def _exchange(ma: tuple[str, int], data: bytes, timeout: float) -> object:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, ma)
        reply, _ = s.recvfrom(65535)
    return decodeMappingMessage(reply)


def run(options: Options, out: TextIO | None = None) -> int:
    """
    Carry out C{lin6 ma}.
    """
    sub = options.subOptions
    out = out or sys.stdout
    if options.subCommand == "status":
        return _status(sub, out)
    try:
        if options.subCommand == "query":
            reply = _exchange(sub["ma"], MapQuery(1, sub["node"]).encode(), sub["timeout"])
            if not isinstance(reply, MapReply):
                raise WireError(f"unexpected answer {reply!r}")
            if reply.status is MapStatus.NOT_FOUND:
                out.write(f"{reply.nodeID}: not found (ttl {reply.ttl}s)\n")
                return 1
            locs = " ".join(str(a) for a in reply.locators)
            out.write(f"{reply.nodeID}: {locs} (ttl {reply.ttl}s)\n")
            return 0
        flags = RegisterFlags.PINNED if sub["pinned"] else RegisterFlags(0)
        message = Register(
            sub["sequence"] & 0xFFFFFFFF,
            sub["node"],
            tuple(sub["locators"]),
            sub["lifetime"],
            sub["key-id"],
            sub["sequence"],
            flags,
        ).sign(sub["key"])
        reply = _exchange(sub["ma"], message.encode(), sub["timeout"])
        if not isinstance(reply, RegisterAck):
            raise WireError(f"unexpected answer {reply!r}")
        out.write(
            f"{reply.nodeID}: {reply.status.name} (lifetime {reply.lifetime}s, "
            f"sequence {reply.sequence})\n"
        )
        return 0 if reply.status is RegisterStatus.OK else 1
    except TimeoutError:
        sys.stderr.write(f"lin6 ma: no answer from [{sub['ma'][0]}]:{sub['ma'][1]}\n")
    except (OSError, WireError, ValueError) as e:
        sys.stderr.write(f"lin6 ma: {e}\n")
    return 1
