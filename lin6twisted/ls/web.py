# mypy: disable-error-code="no-untyped-call"
# -*- test-case-name: lin6twisted.ls.test.test_server -*-
"""
The LS's HTTP status: C{/status.json} (tables, peers, counters),
(C{?limit=N} rows per table, default L{DEFAULT_ROWS}, C{0} for all),
C{/counters.json} (counters and table sizes only, cheap to poll),
C{/metrics} (Prometheus text) and C{/} (a human-readable page).
"""

from __future__ import annotations

import html
import json
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request

from lin6twisted._web import LeafPage
from lin6twisted.ls.server import LSServer

__all__ = ["DEFAULT_ROWS", "StatusResource", "metricsText"]

DEFAULT_ROWS = 10_000
"""Rows of each table C{/status.json} shows unless C{?limit=N} (0: all)."""


def metricsText(server: LSServer) -> str:
    """
    The Prometheus exposition of C{server}'s counters and gauges.
    """
    core = server.core
    lines = []
    for name, value in sorted({**core.counters, **server.counters}.items()):
        metric = f"lin6_ls_{name}_total"
        lines += [
            f"# HELP {metric} LS events since start: {name.replace('_', ' ')}.",
            f"# TYPE {metric} counter",
            f"{metric} {value}",
        ]
    gauges = {
        "mas": (core.maSize, "MAs in the MA table."),
        "mas_active": (core.activeMAs, "MAs whose heartbeat timer runs."),
        "history_entries": (core.historySize, "Prefix -> MA answers in the history table."),
        "peers_up": (
            sum(1 for link in server.peers.values() if link.up),
            "Peer LSs with a connection up.",
        ),
        "pending_rounds": (core.pendingRounds(), "MA selections waiting for RTT replies."),
    }
    for name, (value, text) in gauges.items():
        lines += [
            f"# HELP lin6_ls_{name} {text}",
            f"# TYPE lin6_ls_{name} gauge",
            f"lin6_ls_{name} {value}",
        ]
    lines.append("# HELP lin6_ls_ma_load_index Load index of each MA (users by weight).")
    lines.append("# TYPE lin6_ls_ma_load_index gauge")
    settings = server.settings
    for state in core.mas():
        lines.append(f'lin6_ls_ma_load_index{{ma="{state.address}"}} {state.loadIndex(settings)}')
    return "\n".join(lines) + "\n"


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


class _JSON(LeafPage):
    def __init__(self, server: LSServer) -> None:
        super().__init__()
        self.lsServer = server

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        limit: int | None = DEFAULT_ROWS
        raw = (request.args or {}).get(b"limit")
        if raw:
            try:
                limit = max(0, int(raw[0]))
            except ValueError:
                limit = DEFAULT_ROWS
            if limit == 0:
                limit = None
        return json.dumps(self.lsServer.status(limit), indent=1).encode()


class _Counters(LeafPage):
    def __init__(self, server: LSServer) -> None:
        super().__init__()
        self.lsServer = server

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(self.lsServer.counterStatus()).encode()


class _Metrics(LeafPage):
    def __init__(self, server: LSServer) -> None:
        super().__init__()
        self.lsServer = server

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; version=0.0.4")
        return metricsText(self.lsServer).encode()


class StatusResource(Resource):
    """
    The root of the status site.
    """

    def __init__(self, server: LSServer) -> None:
        super().__init__()
        self.lsServer = server
        self.putChild(b"status.json", _JSON(server))
        self.putChild(b"metrics", _Metrics(server))
        self.putChild(b"counters.json", _Counters(server))

    def getChild(self, path: bytes, request: Request) -> Resource:
        if path == b"":
            return self
        return super().getChild(path, request)  # type: ignore[no-any-return]

    def render_GET(self, request: Request) -> bytes:
        s = self.lsServer.status(500)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        name = html.escape(s["name"])
        mas = s["mas"]
        hist = s["history"]
        page = (
            f"<!doctype html><html><head><title>LS {name}</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border:1px solid #ccc}"
            "table{border-collapse:collapse;margin-bottom:1em}</style></head><body>"
            f"<h1>Load Sharing server {name}</h1>"
            f"<p>up {s['uptime_s']} s; settings {html.escape(json.dumps(s['settings']))}</p>"
            f"<h2>Peers</h2>{_table(s['peers'], ['name', 'endpoint', 'up', 'syncs'])}"
            f"<h2>MA table ({s['mas_total']}; first {len(mas)} shown)</h2>"
            + _table(
                mas,
                ["address", "port", "active", "load_index", "limit", "timer_s", "via", "sequence"],
            )
            + f"<h2>History table ({s['history_total']}; first {len(hist)} shown)</h2>"
            + _table(hist, ["prefix", "ma", "timer_s", "rtt_ms"])
            + "<h2>Counters</h2>"
            + _table(
                [{"name": k, "value": v} for k, v in s["counters"].items()], ["name", "value"]
            )
            + '<p><a href="status.json">status.json</a> <a href="metrics">metrics</a></p>'
            "</body></html>"
        )
        return page.encode()
