# -*- test-case-name: lin6twisted.ls.test.test_cli -*-
"""
C{lin6 ls status [--url URL] [--json]}: show a running LS's tables.

Reads the LS's C{/status.json} (its C{status_listen}, by default
C{http://127.0.0.1:8100}) and prints the MA table, the history table, the
peers and the counters, or the raw JSON with C{--json}.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any, TextIO

from twisted.python import usage

__all__ = ["Options", "StatusOptions", "formatStatus", "run"]


class StatusOptions(usage.Options):
    """
    C{lin6 ls status} options.
    """

    optParameters = [
        ["url", "u", "http://127.0.0.1:8100", "The LS's status site."],
        ["timeout", "t", 5.0, "Seconds to wait for it.", float],
    ]
    optFlags = [["json", "j", "Print the raw status JSON."]]


class Options(usage.Options):
    """
    C{lin6 ls} options: one subcommand.
    """

    synopsis = "Usage: lin6 ls status [--url URL] [--json]"
    subCommands = [["status", None, StatusOptions, "Show a running LS's tables."]]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a subcommand is required (status)")


def _rows(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def formatStatus(status: dict[str, Any]) -> str:
    """
    The human-readable form of a status document.
    """
    out = [f"LS {status['name']}, up {status['uptime_s']:.0f} s"]
    mas = [["MA", "port", "state", "load", "limit", "timer s", "via"]]
    for m in status["mas"]:
        state = "active" if m["active"] else "inactive"
        mas.append(
            [m["address"], str(m["port"]), state, f"{m['load_index']:g}", f"{m['limit']:g}",
             f"{m['timer_s']:.1f}", m["via"]]
        )  # fmt: skip
    out += ["", f"MA table ({len(status['mas'])})", _rows(mas)]
    hist = [["prefix", "MA", "timer s", "rtt ms"]]
    for h in status["history"]:
        hist.append([h["prefix"], h["ma"], f"{h['timer_s']:.1f}", f"{h['rtt_ms']:.3f}"])
    out += ["", f"History table ({len(status['history'])})", _rows(hist)]
    peers = [["peer", "up", "syncs", "endpoint"]]
    for p in status["peers"]:
        peers.append([p["name"], "up" if p["up"] else "down", str(p["syncs"]), p["endpoint"]])
    out += ["", "Peers", _rows(peers)]
    counters = [[k, str(v)] for k, v in status["counters"].items() if v]
    out += ["", "Counters (non-zero)", _rows(counters) if counters else "(none)"]
    return "\n".join(out) + "\n"


def run(options: Options, out: TextIO | None = None) -> int:
    """
    Fetch and print the status; 1 if the LS cannot be reached.
    """
    out = out or sys.stdout
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
