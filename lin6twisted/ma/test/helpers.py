"""
Shared values for the MA tests.
"""

from __future__ import annotations

from lin6twisted.address import DEFAULT_SPACE, Locator, NodeID, Prefix
from lin6twisted.directory import ServiceLevel, Subscriber

MN1 = DEFAULT_SPACE.nodeID(1, mobile=True)
MN2 = DEFAULT_SPACE.nodeID(2, mobile=True)
MN3 = DEFAULT_SPACE.nodeID(3, mobile=True)
SERVER = DEFAULT_SPACE.nodeID(0x100, mobile=False)

NET_A = Prefix.fromString("2001:db8:a::/64")
NET_B = Prefix.fromString("2001:db8:b::/64")

KEY1 = b"k" * 32
KEY2 = b"q" * 32
KEYS = {MN1: KEY1, MN2: KEY2, MN3: b"d" * 32, SERVER: b"s" * 32}

SUBSCRIBERS = [
    Subscriber(MN1, ServiceLevel.NORMAL, 1, KEY1, True, "mn1"),
    Subscriber(MN2, ServiceLevel.PREMIUM, 7, KEY2, True, "mn2"),
    Subscriber(MN3, ServiceLevel.NORMAL, 3, b"d" * 32, False, "mn3 (disabled)"),
    Subscriber(SERVER, ServiceLevel.NORMAL, 9, b"s" * 32, True, "server"),
]


def loc(prefix: Prefix, nodeID: NodeID) -> Locator:
    """
    The locator of C{nodeID} on C{prefix}.
    """
    return Locator(prefix, nodeID)
