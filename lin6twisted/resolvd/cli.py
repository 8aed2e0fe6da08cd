# -*- test-case-name: lin6twisted.resolvd.test.test_control -*-
"""
C{lin6 node ...}: ask the local C{lin6-resolvd} through its status socket.

    lin6 node status              the node's state, MA, locator, counters
    lin6 node cache               the peer mapping cache and the dataplane's copy
    lin6 node resolve PEER        resolve a Node ID or LIN6 address via the MA
    lin6 node status --json       the raw JSON answer

The socket defaults to C{/run/lin6/resolvd.sock} (C{--socket PATH}).  The
exit status is 0 on success, 1 when the daemon cannot be reached or refuses
(the reason is printed on stderr), 2 for bad options.
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any, TextIO

from twisted.python import usage

from lin6twisted._cliutil import Command, parseSeconds

__all__ = ["ControlClientError", "Options", "ask", "formatCache", "formatStatus", "run"]

DEFAULT_SOCKET = "/run/lin6/resolvd.sock"


class ControlClientError(Exception):
    """
    The daemon could not be reached, or answered with an error.
    """


class _Command(Command):
    optFlags = [["json", "j", "Print the raw JSON answer."]]


class _Status(_Command):
    synopsis = "[--json]"


class _Cache(_Command):
    synopsis = "[--json]"


class _Resolve(_Command):
    synopsis = "[--force] [--json] PEER"
    optFlags = [["force", "f", "Ask the MA even if the answer is cached."]]

    def parseArgs(self, *args: str) -> None:
        if len(args) != 1:
            raise usage.UsageError("resolve takes one PEER: a Node ID or a LIN6 address")
        self["peer"] = args[0]


class Options(Command):
    """
    Options of C{lin6 node}.
    """

    synopsis = "[--socket PATH] [--timeout S] (status | cache | resolve PEER)"
    optParameters = [
        ["socket", "s", DEFAULT_SOCKET, "The node daemon's status socket."],
        ["timeout", "t", "15", "Seconds to wait for the answer."],
    ]
    subCommands = [
        ["status", None, _Status, "Show the node's state."],
        ["cache", None, _Cache, "Show the peer mapping cache."],
        ["resolve", None, _Resolve, "Resolve a peer through the MA."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a command is required: status, cache or resolve")
        self["timeout"] = parseSeconds(self["timeout"])


def ask(path: str, request: dict[str, Any], timeout: float = 15.0) -> Any:
    """
    Send one request to the status socket and return its C{result}.

    @raise ControlClientError: if the socket cannot be used or the daemon
        answers with an error.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(json.dumps(request).encode("utf-8") + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        raise ControlClientError(f"cannot talk to the node daemon at {path}: {e}") from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise ControlClientError(f"the node daemon at {path} sent no valid answer") from None
    if not isinstance(answer, dict):
        raise ControlClientError(f"the node daemon at {path} sent no valid answer")
    if not answer.get("ok"):
        raise ControlClientError(str(answer.get("error", "the node daemon refused")))
    return answer.get("result")


def formatStatus(status: dict[str, Any]) -> str:
    """
    The status answer, for humans.
    """

    def show(key: str) -> str:
        value = status.get(key)
        return "-" if value is None or value == "" else str(value)

    if status.get("locator") is None:
        where = "-  (no locator: detached)"
    else:
        where = (
            f"{show('locator')} on {show('interface')} via {status.get('gateway') or 'on-link'}"
        )
    if status.get("registered_locator") is None:
        registered = "no"
    else:
        registered = f"{show('registered_locator')} (expires in {show('binding_expires_in')}s)"
    rtt = status.get("rtt_to_ma_ms")
    lines = [
        f"state         {show('state')}",
        f"node id       {show('node_id')}",
        f"lin6 address  {show('lin6_address')}",
        f"locator       {where}",
        f"MA            {show('ma')}" + ("  (pinned)" if status.get("pinned") else ""),
        f"LS list       {', '.join(status.get('ls') or []) or '-'}",
        f"registered    {registered}",
        f"RTT to MA     {'-' if rtt is None else f'{rtt} ms'}",
        f"peers         {show('peers')} cached, {show('pending_queries')} pending",
    ]
    stats = status.get("stats") or {}
    lines.append(
        "counters      " + (" ".join(f"{k}={v}" for k, v in sorted(stats.items())) or "-")
    )
    dataplane = status.get("dataplane")
    if not dataplane:
        lines.append("dataplane     -")
    else:
        counters = dataplane.get("counters") or {}
        lines.append(
            f"dataplane     running={dataplane.get('running')} "
            f"mappings={dataplane.get('mappings')} "
            + " ".join(f"{k}={v}" for k, v in sorted(counters.items()))
        )
    return "\n".join(lines) + "\n"


def formatCache(rows: list[dict[str, Any]]) -> str:
    """
    The cache answer, for humans: one line per peer.
    """
    out = [f"{'NODE ID':<22} {'LOCATOR':<40} {'TTL':>8}  INSTALLED"]
    for row in rows:
        out.append(
            f"{row.get('node_id', ''):<22} {row.get('locator') or 'NOT FOUND':<40} "
            f"{row.get('ttl', 0):>8.1f}  {'yes' if row.get('installed') else 'no'}"
        )
    return "\n".join(out) + "\n"


def run(options: Options, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """
    Run C{lin6 node ...}.

    @return: the exit status.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    command = options.subCommand
    sub = options.subOptions
    request: dict[str, Any] = {"command": command}
    if command == "resolve":
        request["peer"] = sub["peer"]
        request["force"] = bool(sub["force"])
    try:
        result = ask(options["socket"], request, options["timeout"])
    except ControlClientError as e:
        err.write(f"lin6 node: {e}\n")
        return 1
    if sub["json"]:
        out.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    elif command == "status":
        out.write(formatStatus(result))
    elif command == "cache":
        out.write(formatCache(result))
    else:
        out.write(f"{result['node_id']} -> {result['locator'] or 'no mapping'}\n")
    return 0
