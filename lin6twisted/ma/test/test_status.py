"""
Tests for L{lin6twisted.ma.status}.
"""

from __future__ import annotations

import json

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

from lin6twisted.directory import FakeDirectory, ServiceLevel
from lin6twisted.ma.core import MappingTable
from lin6twisted.ma.service import MappingAgent
from lin6twisted.ma.status import statusRoot
from lin6twisted.ma.test.helpers import MN1, MN2, NET_A, SERVER, SUBSCRIBERS, loc
from lin6twisted.wire.mapping import Report


class StatusTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = MemoryReactorClock()
        self.table = MappingTable()
        self.agent = MappingAgent(self.table, FakeDirectory(SUBSCRIBERS), self.clock)
        self.table.register(MN1, [loc(NET_A, MN1)], 100, 1, ServiceLevel.NORMAL, 0)
        self.table.register(MN2, [loc(NET_A, MN2)], 100, 1, ServiceLevel.PREMIUM, 0)
        self.table.register(SERVER, [loc(NET_A, SERVER)], 9, 1, ServiceLevel.PREMIUM, 0, True)
        self.agent.shaper.install(MN1, ServiceLevel.NORMAL)
        self.agent.stats["registrations"] = 3
        self.agent.reports[MN2] = Report(1, MN2, 1, 850, 10, 20, 2, 31)
        self.root = statusRoot(
            self.agent, self.clock, lambda: {"connected": True, "heartbeats": 7}
        )

    def get(self, *path: bytes) -> bytes:
        request = DummyRequest(list(path))
        body = getChildForRequest(self.root, request).render(request)  # as the site walks
        assert isinstance(body, bytes)
        self.code = request.responseCode
        return body

    def test_noPagesBelowPages(self) -> None:
        """
        A path below a page (C{/status/x}) is 404, not the page again.
        """
        for page in (b"status", b"metrics"):
            self.get(page)
            self.assertIn(self.code, (None, 200))
            self.get(page, b"x")
            self.assertEqual(self.code, 404)

    def test_status(self) -> None:
        """
        C{/status} has the counts, bindings, bandwidth classes and LS link.
        """
        self.clock.advance(10)
        doc = json.loads(self.get(b"status"))
        self.assertEqual(doc["counts"], {"normal": 1, "premium": 1})
        nodes = {b["node"]: b for b in doc["bindings"]}
        self.assertEqual(nodes[str(MN1)]["remaining"], 90)
        self.assertTrue(nodes[str(SERVER)]["pinned"])
        self.assertEqual(doc["bandwidth"][str(MN1)], {"class": "1:10", "level": "normal"})
        self.assertEqual(doc["ls"]["heartbeats"], 7)
        self.assertEqual(doc["reports"][str(MN2)]["last_handover_ms"], 31)

    def test_metrics(self) -> None:
        """
        C{/metrics} is Prometheus text.
        """
        text = self.get(b"metrics").decode()
        self.assertIn('lin6_ma_bindings{level="normal"} 1\n', text)
        self.assertIn('lin6_ma_events_total{kind="registrations"} 3\n', text)
        self.assertIn("lin6_ma_ls_connected 1\n", text)
        self.assertIn("lin6_ma_heartbeats_total 7\n", text)
