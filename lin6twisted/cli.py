# -*- test-case-name: lin6twisted.test.test_cli -*-
"""
The C{lin6} command line: C{lin6 <subcommand> [options]}.

Each subcommand lives in its own module as a C{usage.Options} subclass and
a C{run(options) -> int} function; this module only dispatches.  Add a
subcommand by adding one row to L{SUBCOMMANDS}.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from twisted.python import usage

from lin6twisted._cliutil import Command

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, one-line help).  The module defines Options and run(options).
    "pki": ("lin6twisted.pki.cli", "Create the deployment CA and role certificates."),
    "ls": ("lin6twisted.ls.cli", "Show an LS's tables, or ask it for a node's MA."),
    "directory": ("lin6twisted.directory.cli", "Serve or check the subscriber directory (LDIF)."),
    "resolve": ("lin6twisted.dns.cli", "Resolve a name the LIN6 way (AAAA, then reverse TXT)."),
    "node": ("lin6twisted.resolvd.cli", "Ask the local node daemon: status, cache, resolve."),
    "lab": ("lin6twisted.lab.cli", "Build a whole deployment in namespaces and run the scenario."),
    "ma": ("lin6twisted.ma.cli", "Query, register with, or show the status of an MA."),
}


class Options(Command):
    """
    Top-level options: only the subcommand.
    """

    synopsis = "<subcommand> [options]"

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.subCommands = [
            (name, None, _lazyOptions(module), help)
            for name, (module, help) in sorted(SUBCOMMANDS.items())
        ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a subcommand is required")


def _lazyOptions(module: str) -> type[usage.Options]:
    return importlib.import_module(module).Options  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    """
    Entry point of the C{lin6} console script.

    @return: the process exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    options = Options()
    try:
        options.parseOptions(args)  # type: ignore[no-untyped-call]
    except usage.UsageError as e:
        sys.stderr.write(f"{options}\nlin6: {e}\n")
        return 2
    assert options.subCommand is not None
    module = importlib.import_module(SUBCOMMANDS[options.subCommand][0])
    return int(module.run(options.subOptions))


if __name__ == "__main__":
    raise SystemExit(main())
