# -*- test-case-name: lin6twisted.ls.test.test_cli -*-
"""
C{lin6 ls}: talk to a Load Sharing server (operators, the lab).

  - C{lin6 ls status [--url URL] [--json]}: reads the LS's
    C{/status.json} (its C{status_listen}, by default
    C{http://127.0.0.1:8100}) and prints the MA table, the history table,
    the peers and the counters, or the raw JSON with C{--json}.
  - C{lin6 ls query --ls [ADDRESS]:PORT NODE_ID [--timeout S] [--tcp]}: asks
    the LS's query port for an MA the way a mobile node does (MA_REQUEST,
    the cookie round trip, over UDP or with C{--tcp} over its TCP query
    port) and prints the MA_REPLY (MA address and port, lifetime, RTT) or
    the LS's error code and message.

Exit status: 0 on success (a status page read, an MA_REPLY), 1 otherwise
(an unreachable LS, a timeout, an LS error), 2 on bad arguments.
"""

from __future__ import annotations

import json
import sys
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
from lin6twisted.ls.query import LSAnswer, QueryError, askLS
from lin6twisted.wire import MAReply

__all__ = ["Options", "QueryOptions", "StatusOptions", "formatAnswer", "formatStatus", "run"]


class StatusOptions(Command):
    """
    C{lin6 ls status} options.
    """

    optParameters = [
        ["url", "u", "http://127.0.0.1:8100", "The LS's status site."],
        ["timeout", "t", 5.0, "Seconds to wait for it.", float],
    ]
    optFlags = [["json", "j", "Print the raw status JSON."]]


class QueryOptions(InterspersedOptions):
    """
    C{lin6 ls query} options.
    """

    synopsis = "--ls [ADDRESS]:PORT NODE_ID [--timeout S] [--tcp]"
    optParameters = [
        ["ls", "l", None, "The LS's query port, [ADDRESS]:PORT."],
        ["timeout", "t", "3", "Seconds to wait for the whole exchange."],
    ]
    optFlags = [["tcp", None, "Ask over the LS's TCP query port instead of UDP."]]

    def parseArgs(self, node: str) -> None:  # type: ignore[override]
        self["node"] = parseNodeID(node)

    def postOptions(self) -> None:
        self["ls"] = parseAddressPort(self["ls"], "--ls")
        self["timeout"] = parseSeconds(self["timeout"], positive=True)


class Options(Command):
    """
    C{lin6 ls} options: one subcommand.
    """

    synopsis = "(status | query) [options]"
    subCommands = [
        ["status", None, StatusOptions, "Show a running LS's tables."],
        ["query", None, QueryOptions, "Ask an LS for a node's MA, as the node does."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a subcommand is required (status or query)")


def formatStatus(status: dict[str, Any]) -> str:
    """
    The human-readable form of a status document.
    """
    out = [f"LS {status['name']}, up {status['uptime_s']:.0f} s"]
    mas = []
    for m in status["mas"]:
        state = "active" if m["active"] else "inactive"
        mas.append(
            [m["address"], str(m["port"]), state, f"{m['load_index']:g}", f"{m['limit']:g}",
             f"{m['timer_s']:.1f}", m["via"]]
        )  # fmt: skip
    maHeader = ["MA", "port", "state", "load", "limit", "timer s", "via"]
    out += ["", f"MA table ({len(status['mas'])})", formatTable(maHeader, mas)]
    hist = [
        [h["prefix"], h["ma"], f"{h['timer_s']:.1f}", f"{h['rtt_ms']:.3f}"]
        for h in status["history"]
    ]
    histHeader = ["prefix", "MA", "timer s", "rtt ms"]
    out += ["", f"History table ({len(status['history'])})", formatTable(histHeader, hist)]
    peers = [
        [p["name"], "up" if p["up"] else "down", str(p["syncs"]), p["endpoint"]]
        for p in status["peers"]
    ]
    out += ["", "Peers", formatTable(["peer", "up", "syncs", "endpoint"], peers)]
    counters = [[k, str(v)] for k, v in status["counters"].items() if v]
    out += ["", "Counters (non-zero)", formatTable(["counter", "value"], counters, "(none)")]
    return "\n".join(out) + "\n"


def formatAnswer(answer: LSAnswer) -> str:
    """
    One line for an LS's answer to an MA request.
    """
    if isinstance(answer, MAReply):
        rtt = f"rtt {answer.rttUs / 1000:.3f} ms" if answer.rttUs else "from history, no rtt"
        return (
            f"{answer.nodeID}: MA [{answer.maAddress}]:{answer.maPort} "
            f"(lifetime {answer.lifetime} s, {rtt})\n"
        )
    detail = f": {answer.message}" if answer.message else ""
    return f"LS error {answer.code.name}{detail}\n"


def _query(sub: QueryOptions, out: TextIO) -> int:
    host, port = sub["ls"]
    try:
        answer = askLS(host, port, sub["node"], sub["timeout"], tcp=sub["tcp"])
    except QueryError as e:
        sys.stderr.write(f"lin6 ls query: {e}\n")
        return 1
    out.write(formatAnswer(answer))
    return 0 if isinstance(answer, MAReply) else 1


def run(options: Options, out: TextIO | None = None) -> int:
    """
    Carry out C{lin6 ls}: 0 on success, 1 if the LS cannot be reached or
    refuses.
    """
    out = out or sys.stdout
    if options.subCommand == "query":
        return _query(options.subOptions, out)
    sub: StatusOptions = options.subOptions
    url = sub["url"].rstrip("/") + "/status.json"
    try:
        with urllib.request.urlopen(url, timeout=sub["timeout"]) as response:  # noqa: S310
            status = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        sys.stderr.write(f"lin6 ls status: cannot read {url}: {e}\n")
        return 1
    out.write(json.dumps(status, indent=1) + "\n" if sub["json"] else formatStatus(status))
    return 0
