# -*- test-case-name: lin6twisted.directory.test.test_cli -*-
"""
C{lin6 directory}: serve or check the embedded subscriber directory.

    - C{lin6 directory serve --ldif etc/subscribers.ldif --port tcp:3890}
      loads the LDIF and serves it over LDAP, read-only, so several daemons
      (C{kind = "ldap"}, C{url = "ldap://127.0.0.1:3890"}) share one
      embedded directory.  C{--require-bind} refuses searches before a
      simple bind.  C{SIGHUP} reloads the file (a bad file is logged and
      the current entries stay).
    - C{lin6 directory check --ldif FILE} loads the LDIF and lists every
      subscriber, and every entry refused with the reason; the exit status
      is 1 if any entry was refused.
"""

from __future__ import annotations

import signal
import sys
from typing import Any, TextIO

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.testing import MemoryReactor
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)
from twisted.python import usage

from lin6twisted._cliutil import Command
from lin6twisted._listen import EndpointServer
from lin6twisted.directory.embedded import (
    DirectoryServerFactory,
    EmbeddedDirectory,
    LDIFLoadError,
    loadLDIF,
)
from lin6twisted.directory.interfaces import BadDirectoryEntry, Subscriber

__all__ = ["CheckOptions", "Options", "ServeOptions", "run", "serverService"]


def serverService(
    directory: EmbeddedDirectory, description: str, reactor: Any, requireBind: bool = False
) -> EndpointServer:
    """
    A service serving C{directory}'s tree over LDAP on the server endpoint
    C{description} (e.g. C{"tcp:3890:interface=127.0.0.1"}).
    """
    endpoint = serverFromString(reactor, description)
    factory = DirectoryServerFactory(directory.root, requireBind=requireBind)
    return EndpointServer(endpoint, factory, f"LDAP ({description})")


class _LDIFOption(Command):
    optParameters = [["ldif", "l", None, "The LDIF file (see etc/subscribers.ldif)."]]

    def postOptions(self) -> None:
        if not self["ldif"]:
            raise usage.UsageError("--ldif is required")


class ServeOptions(_LDIFOption):
    """
    Options of C{lin6 directory serve}.
    """

    synopsis = "--ldif FILE [--port ENDPOINT] [--require-bind]"
    optParameters = [
        ["port", "p", "tcp:3890:interface=127.0.0.1", "Server endpoint to listen on."],
    ]
    optFlags = [["require-bind", None, "Refuse searches before a successful simple bind."]]

    def postOptions(self) -> None:
        super().postOptions()
        try:
            serverFromString(MemoryReactor(), self["port"])  # type: ignore[no-untyped-call]
        except (ValueError, TypeError, KeyError, OSError) as e:
            raise usage.UsageError(
                f"--port: not a Twisted server endpoint string ({e or type(e).__name__})"
            ) from None


class CheckOptions(_LDIFOption):
    """
    Options of C{lin6 directory check}.
    """

    synopsis = "--ldif FILE"


class Options(Command):
    """
    Options of C{lin6 directory}.
    """

    synopsis = "(serve | check) [options]"
    subCommands = [
        ["serve", None, ServeOptions, "Serve an LDIF file over LDAP, read-only."],
        ["check", None, CheckOptions, "Validate an LDIF file's subscriber entries."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a subcommand (serve or check) is required")


def check(path: str, out: TextIO) -> int:
    """
    Validate the subscriber entries of an LDIF file and report on C{out}.

    @return: 0 if all are valid, 1 if any is refused, 2 if the file cannot
        be loaded.
    """
    try:
        directory = EmbeddedDirectory(loadLDIF(path))
    except LDIFLoadError as e:
        out.write(f"{e}\n")
        return 2
    valid = refused = 0
    for nodeID, outcome in sorted(directory.entries().items()):
        if isinstance(outcome, BadDirectoryEntry):
            refused += 1
            out.write(f"REFUSED {nodeID}: {outcome}\n")
        else:
            valid += 1
            out.write(_describe(outcome) + "\n")
    for problem in directory.unreachable:
        refused += 1
        out.write(f"REFUSED (no usable Node ID): {problem}\n")
    out.write(f"{valid} valid, {refused} refused\n")
    return 1 if refused else 0


def _describe(s: Subscriber) -> str:
    kind = "mobile" if s.nodeID.isMobile else "stationary"
    state = "enabled" if s.enabled else "DISABLED"
    return f"OK {s.nodeID} {s.name or '-'} {kind} {s.level.text} key {s.keyID} {state}"


def _serve(options: ServeOptions) -> int:
    from twisted.internet import reactor, task

    observer = FilteringLogObserver(
        textFileLogObserver(sys.stderr),
        [LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)],
    )
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    try:
        directory = EmbeddedDirectory.fromLDIF(options["ldif"])
    except LDIFLoadError as e:
        sys.stderr.write(f"lin6 directory serve: {e}\n")
        return 2
    service = serverService(directory, options["port"], reactor, options["require-bind"])

    factory: DirectoryServerFactory = service.factory

    def reload() -> None:
        if directory.reload():
            factory.root = directory.root

    def main(reactor: Any) -> Any:
        signal.signal(signal.SIGHUP, lambda *_: reactor.callFromThread(reload))
        service.startService()  # type: ignore[no-untyped-call]
        reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
        return Deferred()  # runs until interrupted

    try:
        task.react(main)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def run(options: Options) -> int:
    """
    Run C{lin6 directory serve} or C{lin6 directory check}.
    """
    sub = options.subOptions
    if options.subCommand == "check":
        return check(sub["ldif"], sys.stdout)
    return _serve(sub)
