# -*- test-case-name: lin6twisted.ma.test.test_status -*-
# mypy: disallow-untyped-calls=False
"""
The MA's HTTP status page (C{/status}, JSON) and Prometheus metrics
(C{/metrics}, text format 0.0.4).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import Resource
from twisted.web.server import Request

from lin6twisted._web import LeafPage
from lin6twisted.directory import ServiceLevel
from lin6twisted.ma.service import MappingAgent

__all__ = ["MetricsResource", "StatusResource", "statusRoot"]


def statusDocument(
    agent: MappingAgent, clock: IReactorTime, lsLink: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """
    The status as a JSON-ready dict.
    """
    now = clock.seconds()
    counts = agent.table.counts(now)
    return {
        "time": now,
        "counts": {lvl.text: counts[lvl] for lvl in ServiceLevel},
        "bindings": [
            {
                "node": str(b.nodeID),
                "locators": [str(loc) for loc in b.locators],
                "level": b.level.text,
                "sequence": b.sequence,
                "pinned": b.pinned,
                "remaining": b.remaining(now),
            }
            for b in agent.table.bindings()
            if not b.isExpired(now)
        ],
        "bandwidth": {
            str(node): {"class": f"1:{minor:x}", "level": level.text}
            for node, (minor, level) in agent.shaper.classes().items()
        },
        "ls": lsLink(),
        "reports": {
            str(node): {
                "rtt_to_ma_us": r.rttToMAus,
                "bytes_in": r.bytesIn,
                "bytes_out": r.bytesOut,
                "handovers": r.handovers,
                "last_handover_ms": r.lastHandoverMs,
            }
            for node, r in agent.reports.items()
        },
        "stats": dict(agent.stats),
    }


class StatusResource(LeafPage):
    """
    C{GET /status}: L{statusDocument} as JSON.
    """

    def __init__(
        self, agent: MappingAgent, clock: IReactorTime, lsLink: Callable[[], dict[str, Any]]
    ) -> None:
        super().__init__()
        self.agent, self.clock, self.lsLink = agent, clock, lsLink

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        doc = statusDocument(self.agent, self.clock, self.lsLink)
        return json.dumps(doc, indent=1).encode()


class MetricsResource(LeafPage):
    """
    C{GET /metrics}: Prometheus text exposition.
    """

    def __init__(
        self, agent: MappingAgent, clock: IReactorTime, lsLink: Callable[[], dict[str, Any]]
    ) -> None:
        super().__init__()
        self.agent, self.clock, self.lsLink = agent, clock, lsLink

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; version=0.0.4")
        now = self.clock.seconds()
        lines = [
            "# HELP lin6_ma_bindings Live bindings by service level (pinned excluded).",
            "# TYPE lin6_ma_bindings gauge",
        ]
        for lvl, n in self.agent.table.counts(now).items():
            lines.append(f'lin6_ma_bindings{{level="{lvl.text}"}} {n}')
        lines += [
            "# HELP lin6_ma_events_total Mapping service events by kind.",
            "# TYPE lin6_ma_events_total counter",
        ]
        for kind, n in sorted(self.agent.stats.items()):
            lines.append(f'lin6_ma_events_total{{kind="{kind}"}} {n}')
        link = self.lsLink()
        lines += [
            "# HELP lin6_ma_ls_connected Whether the LS link is up.",
            "# TYPE lin6_ma_ls_connected gauge",
            f"lin6_ma_ls_connected {1 if link.get('connected') else 0}",
            "# HELP lin6_ma_heartbeats_total Heartbeats sent to the LS.",
            "# TYPE lin6_ma_heartbeats_total counter",
            f"lin6_ma_heartbeats_total {link.get('heartbeats', 0)}",
            "# HELP lin6_ma_pending_notifies NOTIFYs awaiting acknowledgement.",
            "# TYPE lin6_ma_pending_notifies gauge",
            f"lin6_ma_pending_notifies {self.agent.pendingNotifies()}",
        ]
        return ("\n".join(lines) + "\n").encode()


def statusRoot(
    agent: MappingAgent, clock: IReactorTime, lsLink: Callable[[], dict[str, Any]]
) -> Resource:
    """
    The root resource: C{/status} and C{/metrics}.
    """
    root = Resource()
    root.putChild(b"status", StatusResource(agent, clock, lsLink))
    root.putChild(b"metrics", MetricsResource(agent, clock, lsLink))
    return root
