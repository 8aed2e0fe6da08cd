# -*- test-case-name: lin6twisted.ls.test.test_cli,lin6twisted.ma.test.test_cli -*-
"""
Shared pieces of the C{lin6} command line's subcommands: argument parsers
that turn bad input into one C{UsageError} sentence, options that may follow
positional arguments, and plain-text tables for status views.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Sequence

from twisted.python import usage

from lin6twisted.address import AddressError, NodeID

__all__ = [
    "Command",
    "InterspersedOptions",
    "formatTable",
    "parseAddressPort",
    "parseNodeID",
    "parseSeconds",
]


def parseAddressPort(text: str | None, option: str = "--ma") -> tuple[str, int]:
    """
    Parse an option's C{[IPv6 ADDRESS]:PORT} value.

    @raise usage.UsageError: missing or malformed, naming C{option}.
    """
    if not text:
        raise usage.UsageError(f"{option} is required ([ADDRESS]:PORT)")
    if not text.startswith("[") or "]:" not in text:
        raise usage.UsageError(f"{option} must be [ADDRESS]:PORT, got {text!r}")
    host, _, port = text[1:].partition("]:")
    try:
        ipaddress.IPv6Address(host)
        number = int(port)
    except ValueError:
        raise usage.UsageError(f"{option} must be [IPv6 address]:port, got {text!r}") from None
    if not 0 < number < 65536:
        raise usage.UsageError(f"{option} port must be 1..65535, got {number}")
    return host, number


def parseSeconds(text: object, option: str = "--timeout", positive: bool = False) -> float:
    """
    Parse an option's number of seconds.

    @param positive: whether 0 and negative values are refused too.
    @raise usage.UsageError: not a number (or not above 0), naming C{option}.
    """
    try:
        seconds = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise usage.UsageError(f"{option} must be a number of seconds, not {text!r}") from None
    if positive and not seconds > 0:
        raise usage.UsageError(f"{option} must be above 0")
    return seconds


def parseNodeID(text: str | None) -> NodeID:
    """
    Parse a Node ID argument.

    @raise usage.UsageError: missing or malformed.
    """
    if not text:
        raise usage.UsageError("a Node ID is required")
    try:
        return NodeID.fromString(text)
    except AddressError as e:
        raise usage.UsageError(str(e)) from None


class Command(usage.Options):
    """
    Options of the C{lin6} command or one of its subcommands, at any depth.

    C{synopsis} holds only this command's own arguments; the usage line
    puts the command names in front (C{Usage: lin6 node status [--json]}).
    Twisted's default would repeat every parent's whole synopsis.
    """

    synopsis = "[options]"

    def getSynopsis(self) -> str:
        names: list[str] = []
        node: usage.Options = self
        while node.parent is not None:
            node = node.parent
            names.append(node.subCommand or "")
        return " ".join(["Usage: lin6", *reversed(names), self.synopsis.rstrip()])


class InterspersedOptions(Command):
    """
    Options that may also come after the positional arguments, like GNU
    tools (C{lin6 ls query NODE_ID --tcp}); C{--} ends the options.
    """

    def parseOptions(self, options: list[str] | None = None) -> None:
        args = list(sys.argv[1:] if options is None else options)
        takesValue = {f"--{o[:-1]}" for o in self.longOpt if o.endswith("=")}
        takesValue |= {
            f"-{c}" for c, colon in zip(self.shortOpt, self.shortOpt[1:] + " ") if colon == ":"
        }
        flags: list[str] = []
        positional: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                positional += args[i + 1 :]
                break
            if arg.startswith("-") and len(arg) > 1:
                flags.append(arg)
                if arg in takesValue and i + 1 < len(args):
                    flags.append(args[i + 1])
                    i += 1
            else:
                positional.append(arg)
            i += 1
        super().parseOptions([*flags, "--", *positional])  # type: ignore[no-untyped-call]


def formatTable(
    header: Sequence[str], rows: Sequence[Sequence[str]], empty: str | None = None
) -> str:
    """
    Left-aligned columns two spaces apart, without trailing blanks.

    @param header: the column titles.
    @param rows: the data rows, each as wide as C{header}.
    @param empty: shown instead of the table when there are no rows
        (default: the header alone).
    @return: the lines, without a final newline.
    """
    if not rows and empty is not None:
        return empty
    table = [list(header), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table
    )
