# -*- test-case-name: lin6twisted.ls.test.test_server -*-
"""
What the daemons' HTTP status sites share.
"""

from __future__ import annotations

from twisted.web.resource import NoResource, Resource
from twisted.web.server import Request

__all__ = ["LeafPage"]


class LeafPage(Resource):
    """
    A page with no children: a path below it (C{/metrics/x}) is 404, not
    the page again (Twisted renders a leaf for any path below it).
    """

    isLeaf = True

    def render(self, request: Request) -> bytes:
        if request.postpath:
            page: bytes = NoResource().render(request)
            return page
        result: bytes = super().render(request)  # type: ignore[no-untyped-call]
        return result
