"""
Register a sample subscriber with an MA from inside a namespace:
C{python -m lin6twisted.ma.test.regclient MA_ADDRESS PORT NODE_ID SEQUENCE
LOCATOR [LIFETIME]}; prints the REGISTER_ACK status name.
"""

from __future__ import annotations

import sys

from lin6twisted.address import NodeID
from lin6twisted.ma.test.mastub import MappingClient, sampleSubscribers


def main(argv: list[str]) -> None:
    host, port, node, seq, locator = argv[:5]
    lifetime = int(argv[5]) if len(argv) > 5 else 300
    client = MappingClient(int(port), host=host, bind="::")
    try:
        sub = sampleSubscribers()[NodeID.fromString(node)]
        ack = client.register(sub, int(seq), locator, lifetime=lifetime)
    finally:
        client.close()
    sys.stdout.write(f"{ack.status.name}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
