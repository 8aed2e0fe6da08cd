"""
Ask an LS for an MA from inside a namespace, as an MN would:
C{python -m lin6twisted.ma.test.askls LS_ADDRESS PORT NODE_ID}; prints
C{MA_REPLY <ma address> <ma port> <rtt us>} or the error.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred

from lin6twisted.address import NodeID
from lin6twisted.ls.testclients import MNQuery
from lin6twisted.wire.ls import MAReply


def main(argv: list[str]) -> None:
    from twisted.internet import task

    host, port, node = argv[0], int(argv[1]), NodeID.fromString(argv[2])

    def go(reactor: Any) -> Deferred[None]:
        proto = MNQuery(reactor)
        listening = reactor.listenUDP(0, proto, interface="::")

        async def ask() -> None:
            try:
                answer = await proto.ask(node, host, port, timeout=8.0)
            finally:
                listening.stopListening()
            if isinstance(answer, MAReply):
                sys.stdout.write(f"MA_REPLY {answer.maAddress} {answer.maPort} {answer.rttUs}\n")
            else:
                sys.stdout.write(f"{answer!r}\n")

        return ensureDeferred(ask())

    task.react(go, [])


if __name__ == "__main__":
    main(sys.argv[1:])
