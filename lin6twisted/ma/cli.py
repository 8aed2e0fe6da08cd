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

Exit status: 0 on an answer that is a success, 1 otherwise (a timeout, a
refusal, not found), 2 on bad arguments.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import time

from twisted.python import usage

from lin6twisted.address import AddressError, NodeID
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

__all__ = ["Options", "run"]


def _ma(text: str | None) -> tuple[str, int]:
    if not text:
        raise usage.UsageError("--ma is required ([ADDRESS]:PORT)")
    if not text.startswith("[") or "]:" not in text:
        raise usage.UsageError(f"--ma must be [ADDRESS]:PORT, got {text!r}")
    host, _, port = text[1:].partition("]:")
    try:
        ipaddress.IPv6Address(host)
        number = int(port)
    except ValueError:
        raise usage.UsageError(f"--ma must be [IPv6 address]:port, got {text!r}") from None
    if not 0 < number < 65536:
        raise usage.UsageError(f"--ma port must be 1..65535, got {number}")
    return host, number


def _node(text: str | None) -> NodeID:
    if not text:
        raise usage.UsageError("a Node ID is required")
    try:
        return NodeID.fromString(text)
    except AddressError as e:
        raise usage.UsageError(str(e)) from None


class _Common(usage.Options):
    optParameters = [
        ["ma", "m", None, "The MA's mapping port, [ADDRESS]:PORT."],
        ["timeout", "t", "3", "Seconds to wait for the answer."],
    ]

    def postOptions(self) -> None:
        self["ma"] = _ma(self["ma"])
        try:
            self["timeout"] = float(self["timeout"])
        except ValueError:
            raise usage.UsageError("--timeout must be a number of seconds") from None


class QueryOptions(_Common):
    """
    C{lin6 ma query}.
    """

    synopsis = "--ma [ADDRESS]:PORT NODE_ID"

    def parseArgs(self, node: str) -> None:  # type: ignore[override]
        self["node"] = _node(node)


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
        self["node"] = _node(self["node"])
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


class Options(usage.Options):
    """
    C{lin6 ma}: the subcommands.
    """

    synopsis = "query|register [options]"
    subCommands = [
        ["query", None, QueryOptions, "Ask an MA for a node's locators."],
        ["register", None, RegisterOptions, "Register (or deregister) a node's locators."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("lin6 ma needs a subcommand: query or register")


def _exchange(ma: tuple[str, int], data: bytes, timeout: float) -> object:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, ma)
        reply, _ = s.recvfrom(65535)
    return decodeMappingMessage(reply)


def run(options: Options) -> int:
    """
    Carry out C{lin6 ma}.
    """
    sub = options.subOptions
    try:
        if options.subCommand == "query":
            reply = _exchange(sub["ma"], MapQuery(1, sub["node"]).encode(), sub["timeout"])
            if not isinstance(reply, MapReply):
                raise WireError(f"unexpected answer {reply!r}")
            if reply.status is MapStatus.NOT_FOUND:
                sys.stdout.write(f"{reply.nodeID}: not found (ttl {reply.ttl}s)\n")
                return 1
            locs = " ".join(str(a) for a in reply.locators)
            sys.stdout.write(f"{reply.nodeID}: {locs} (ttl {reply.ttl}s)\n")
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
        sys.stdout.write(
            f"{reply.nodeID}: {reply.status.name} (lifetime {reply.lifetime}s, "
            f"sequence {reply.sequence})\n"
        )
        return 0 if reply.status is RegisterStatus.OK else 1
    except TimeoutError:
        sys.stderr.write(f"lin6 ma: no answer from [{sub['ma'][0]}]:{sub['ma'][1]}\n")
    except (OSError, WireError, ValueError) as e:
        sys.stderr.write(f"lin6 ma: {e}\n")
    return 1
