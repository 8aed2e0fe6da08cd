"""
Benchmarks of the node daemon's core: C{python -m lin6twisted.bench resolvd}.

Measured on L{lin6twisted.resolvd.core.NodeCore} with the in-memory
dataplane and host (no network, no reactor), so they show the daemon's own
cost per event:

  - C{resolvd.peer_resolutions_per_s}: dataplane misses for distinct peers,
    each turned into a MAP_QUERY, answered with a MAP_REPLY (decoded,
    checked, cached) and installed in the dataplane;
  - C{resolvd.handover_core_us}: one move handled end to end in the core:
    new prefix -> dataplane switched -> HMAC-signed REGISTER built ->
    REGISTER_ACK decoded -> registered (microseconds per handover).

The handover gap in network namespaces with the real daemons is printed by
C{lin6twisted.resolvd.test.test_integration_attach}.

Arguments: C{count=N} (events per repeat, default 20,000).
"""

from __future__ import annotations

import itertools
import time
from ipaddress import IPv6Address

from lin6twisted.address import DEFAULT_SPACE, Locator, NodeID, Prefix
from lin6twisted.bench import Recorder, median
from lin6twisted.dataplane import FakeDataplane
from lin6twisted.dns.txt import Endpoint
from lin6twisted.resolvd.core import NodeCore, NodeSettings, NodeState, Send
from lin6twisted.resolvd.host import FakeHostConfig
from lin6twisted.resolvd.netmon import Attachment
from lin6twisted.resolvd.state import MemorySequenceStore
from lin6twisted.wire import MapQuery, MapReply, MapStatus, Register, RegisterAck, RegisterStatus

MN = NodeID.fromString("201:4a00:0:2")
MA = Endpoint(IPv6Address("2001:db8:1::10"), 7300)
MA_SOURCE = (str(MA.host), MA.port)


def _registeredCore() -> NodeCore:
    settings = NodeSettings(
        nodeID=MN,
        lin6=DEFAULT_SPACE.address(MN),
        key=bytes(32),
        maServers=(MA,),
        reportInterval=0,
        maxPeerTTL=1e9,
    )
    ids = itertools.count(1)
    core = NodeCore(
        settings,
        DEFAULT_SPACE,
        FakeDataplane(capacity=1 << 24),
        FakeHostConfig(),
        MemorySequenceStore(),
        lambda: next(ids) & 0xFFFFFFFF,
    )
    [send] = core.start(Attachment(Prefix.fromString("2001:db8:a::/64"), None, "eth0"), 0.0)
    _ack(core, send, 0.001)
    if core.state is not NodeState.REGISTERED:
        raise RuntimeError("the core did not register")
    return core


def _ack(core: NodeCore, send: object, now: float) -> None:
    assert isinstance(send, Send)
    r = Register.decode(send.payload)
    ack = RegisterAck(r.requestId, r.nodeID, RegisterStatus.OK, 3600, r.sequence)
    core.datagramReceived(ack.encode(), MA_SOURCE, now)


def peerResolutions(count: int) -> float:
    core = _registeredCore()
    peers = [DEFAULT_SPACE.nodeID(1000 + i, mobile=True) for i in range(count)]
    prefix = Prefix.fromString("2001:db8:9::/64")
    start = time.perf_counter()
    for i, peer in enumerate(peers):
        [send] = core.missReported(peer, 1.0 + i * 1e-6)
        assert isinstance(send, Send)
        q = MapQuery.decode(send.payload)
        reply = MapReply(q.requestId, peer, MapStatus.FOUND, 600, (Locator(prefix, peer).address,))
        core.datagramReceived(reply.encode(), MA_SOURCE, 1.0 + i * 1e-6)
    elapsed = time.perf_counter() - start
    if len(core.dataplane.mappings()) != count:
        raise RuntimeError("not every mapping was installed")
    return count / elapsed


def handovers(count: int) -> float:
    core = _registeredCore()
    prefixes = [Prefix.fromString("2001:db8:a::/64"), Prefix.fromString("2001:db8:b::/64")]
    start = time.perf_counter()
    for i in range(count):
        now = 10.0 + i * 0.01
        attachment = Attachment(prefixes[(i + 1) % 2], None, "eth0")
        [send] = core.attachmentChanged(attachment, now)
        _ack(core, send, now + 0.001)
    elapsed = time.perf_counter() - start
    if core.stats.handovers != count:
        raise RuntimeError("not every handover completed")
    return elapsed / count * 1e6


def run(recorder: Recorder, args: list[str]) -> None:
    count = 20000
    for arg in args:
        if arg.startswith("count="):
            count = int(arg.split("=", 1)[1])
    rates = [peerResolutions(count) for _ in range(3)]
    recorder.record("resolvd.peer_resolutions_per_s", round(median(rates)), "resolutions/s")
    costs = [handovers(count // 4) for _ in range(3)]
    recorder.record("resolvd.handover_core_us", round(median(costs), 2), "us")
