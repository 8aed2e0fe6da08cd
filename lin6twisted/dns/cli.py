# -*- test-case-name: lin6twisted.dns.test.test_cli -*-
"""
C{lin6 resolve NAME}: resolve a name the LIN6 way and print it for humans.

    lin6 resolve stream.lin6.example --server [::1]:5353

asks the given DNS servers (never the system resolver) for the name's AAAA
record, checks it is a LIN6 address, then reads the LIN6 TXT records at its
C{ip6.arpa} name and lists the LS and MA endpoints.  NAME may also be a
LIN6 address, which skips the first step.  The exit status is 0 when both
steps succeed, 1 when a step fails (the reason is printed on stderr, one
sentence), 2 for bad options.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from twisted.internet.defer import Deferred
from twisted.python import usage

from lin6twisted._cliutil import InterspersedOptions, parseSeconds
from lin6twisted.address import AddressError, LIN6Address, LIN6Space
from lin6twisted.dns.resolver import Lin6Resolver, ResolverError, Server, parseServer
from lin6twisted.dns.txt import Locations

__all__ = ["Options", "describe", "formatResult", "run"]


class Options(InterspersedOptions):
    """
    Options of C{lin6 resolve}; options may come after NAME
    (C{lin6 resolve NAME --server ADDR:PORT}).
    """

    synopsis = "NAME [--server ADDR:PORT ...] [--timeout SECONDS]"
    optParameters = [
        ["timeout", "t", "2", "Seconds to wait for each server's answer."],
        ["prefix", None, "3ffe:501:1830:1999::/64", "The deployment's LIN6 prefix."],
        ["oui", None, "00:01:4a", "The deployment's Node ID OUI."],
    ]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.servers: list[Server] = []

    def opt_server(self, text: str) -> None:
        """
        A DNS server to ask, [IPv6]:port or IPv4:port (repeatable; default [::1]:53).
        """
        try:
            self.servers.append(parseServer(text))
        except ValueError as e:
            raise usage.UsageError(str(e)) from None

    opt_s = opt_server

    def parseArgs(self, name: str) -> None:  # type: ignore[override]
        self["name"] = name

    def postOptions(self) -> None:
        self["timeout"] = parseSeconds(self["timeout"], positive=True)
        try:
            self["space"] = LIN6Space.fromStrings(self["prefix"], self["oui"])
        except AddressError as e:
            raise usage.UsageError(str(e)) from None
        if not self.servers:
            self.servers.append(("::1", 53))


def _locationLines(locations: Locations) -> list[str]:
    lines = [f"  LS            {e}" for e in locations.ls]
    lines += [f"  MA            {e}" for e in locations.ma]
    return lines


def formatResult(name: str, address: LIN6Address, locations: Locations | None) -> str:
    """
    The human-readable report of a resolution.
    """
    kind = "mobile" if address.nodeID.isMobile else "stationary"
    lines = [
        name,
        f"  LIN6 address  {address}",
        f"  Node ID       {address.nodeID} ({kind})",
        f"  reverse name  {address.reverseName()}",
    ]
    if locations is not None:
        lines += _locationLines(locations)
    return "\n".join(lines) + "\n"


async def describe(resolver: Lin6Resolver, name: str, out: TextIO, err: TextIO) -> int:
    """
    Resolve C{name} (or take it as a LIN6 address), write the report to
    C{out} and a failure's reason to C{err}.

    @return: the exit status.
    """
    try:
        address = resolver.space.parse(name)
    except AddressError:
        address = None
    try:
        if address is None:
            address = await resolver.lookupLIN6(name)
        try:
            locations = await resolver.lookupLocations(address)
        except ResolverError:
            out.write(formatResult(name, address, None))
            raise
    except ResolverError as e:
        err.write(f"lin6 resolve: {e}\n")
        return 1
    out.write(formatResult(name, address, locations))
    return 0


def run(options: Options, reactor: Any = None) -> int:
    """
    Run C{lin6 resolve}.
    """
    if reactor is None:
        from twisted.internet import reactor as globalReactor

        reactor = globalReactor
    resolver = Lin6Resolver(
        options.servers,
        reactor,
        space=options["space"],
        timeouts=(options["timeout"],),
    )
    status: list[int] = []

    def finish(code: int) -> None:
        status.append(code)
        reactor.stop()

    def failed(f: Any) -> None:
        sys.stderr.write(f"lin6 resolve: {f.getErrorMessage()}\n")
        finish(1)

    def start() -> None:
        d = Deferred.fromCoroutine(describe(resolver, options["name"], sys.stdout, sys.stderr))
        d.addCallbacks(finish, failed)

    reactor.callWhenRunning(start)
    reactor.run()
    return status[0] if status else 1
