"""
The C{dp} benchmark group: the eBPF dataplane against plain IPv6.

C{python -m lin6twisted.bench dp [--rounds N] [--seconds S]} (root only;
defaults 9 rounds of 1-second runs)
builds the test bed (two hosts in different /64s through a router, offloads
off, see L{lin6twisted.dataplane.testbed}) and measures, in one run on the
same namespaces:

  - C{dp.tcp_ratio}: TCP bulk throughput between the LIN6 addresses
    (mapped by the programs) over throughput between plain addresses of the
    same hosts on the same links (not mapped; the ingress program still runs
    and passes them).  Mapped and plain runs alternate (order swapped each
    round); the figure is the median of the per-round ratios, the absolute
    medians are printed beside it.
  - C{dp.udp64_ratio}: the same for 64-byte UDP payloads, as packets per
    second received by the sink.
  - C{dp.egress_ns}, C{dp.ingress_ns}: kernel-measured run time per packet
    of each program on its full mapping path (C{BPF_PROG_TEST_RUN}, repeat
    1,000,000, an identity mapping so every repetition does the whole
    rewrite and checksum fix); C{dp.egress_live_ns} and C{dp.ingress_live_ns}
    are the same from the kernel's run-time statistics during the mapped
    UDP runs.
  - C{dp.map_update_us}: one L{BPFDataplane.installMapping} call from Python
    (validation, encoding and the C{bpf(2)} update through libbpf), and
    C{dp.map_update_raw_us} for the bare map update.

Traffic comes from C{dataplane_c/lin6_blast} (sendmmsg/recvmmsg, plain
send/recv for TCP).  Everything shares the machine's CPUs: sender, router
and receiver compete, so absolute figures are those of this box only.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

from lin6twisted.address import Locator, Prefix
from lin6twisted.bench import Recorder, median
from lin6twisted.dataplane import _libbpf
from lin6twisted.dataplane.kernel import (
    FLAG_ACTIVE,
    MAPPING,
    Config,
    blastPath,
    buildObject,
    encodeMapping,
)
from lin6twisted.dataplane.testbed import PLAIN_A, PLAIN_B, SPACE, Pair
from lin6twisted.netns import Namespace, isRoot

__all__ = ["run"]


def _blast(
    recv: Namespace, send: Namespace, proto: str, dst: str, src: str, seconds: float
) -> Any:
    blast = str(blastPath())
    port = "5201" if proto == "tcp" else "5202"
    sink = recv.popen(
        [blast, f"{proto}-recv", port, str(seconds + 5)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert sink.stdout is not None
    sink.stdout.readline()  # "listening"
    sendArgs = [blast, f"{proto}-send", dst, port, str(seconds)]
    if proto == "udp":
        sendArgs.append("64")
    send.run([*sendArgs, src], timeout=seconds + 30)
    out, _ = sink.communicate(timeout=seconds + 30)
    result = json.loads(out.decode().strip().splitlines()[-1])
    if result["seconds"] <= 0:
        raise RuntimeError(f"{proto} sink saw no traffic: {result}")
    return result


def _rate(proto: str, result: Any) -> float:
    if proto == "tcp":
        return float(result["bytes"] * 8 / result["seconds"] / 1e6)
    return float(result["packets"] / result["seconds"])


def _progStats(pinDir: str, prog: str) -> tuple[int, int]:
    out = subprocess.run(
        ["bpftool", "-j", "prog", "show", "pinned", os.path.join(pinDir, prog)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info = json.loads(out)
    return int(info.get("run_time_ns", 0)), int(info.get("run_cnt", 0))


def _throughput(recorder: Recorder, pair: Pair, rounds: int, seconds: float) -> None:
    paths = {
        "mapped": (str(pair.lin6B), str(pair.lin6A)),
        "plain": (str(PLAIN_B), str(PLAIN_A)),
    }
    statsFD = _libbpf.enableStats()
    try:
        for proto, name, unit in (("tcp", "tcp", "Mbit/s"), ("udp", "udp64", "pkt/s")):
            rates: dict[str, list[float]] = {"mapped": [], "plain": []}
            ratios = []
            live = {"egress": [0, 0], "ingress": [0, 0]}
            for i in range(rounds):
                order = ["mapped", "plain"] if i % 2 == 0 else ["plain", "mapped"]
                this: dict[str, float] = {}
                for kind in order:
                    before = (
                        _progStats(pair.dpA.pinDir, "lin6_egress"),
                        _progStats(pair.dpB.pinDir, "lin6_ingress"),
                    )
                    dst, src = paths[kind]
                    this[kind] = _rate(proto, _blast(pair.b, pair.a, proto, dst, src, seconds))
                    if kind == "mapped" and proto == "udp":
                        after = (
                            _progStats(pair.dpA.pinDir, "lin6_egress"),
                            _progStats(pair.dpB.pinDir, "lin6_ingress"),
                        )
                        for key, b, a in zip(("egress", "ingress"), before, after):
                            live[key][0] += a[0] - b[0]
                            live[key][1] += a[1] - b[1]
                rates["mapped"].append(this["mapped"])
                rates["plain"].append(this["plain"])
                ratios.append(this["mapped"] / this["plain"])
            recorder.record(f"dp.{name}_mapped", median(rates["mapped"]), unit)
            recorder.record(f"dp.{name}_plain", median(rates["plain"]), unit)
            recorder.record(
                f"dp.{name}_ratio",
                median(ratios),
                "ratio",
                rounds=rounds,
                seconds=seconds,
                ratios="/".join(f"{r:.3f}" for r in ratios),
            )
            if proto == "udp":
                for key in ("egress", "ingress"):
                    total, count = live[key]
                    if count:
                        recorder.record(f"dp.{key}_live_ns", total / count, "ns", packets=count)
    finally:
        os.close(statsFD)


def _programCost(recorder: Recorder) -> None:
    from lin6twisted.dataplane.test._packets import UDP, packet

    obj = _libbpf.BPFObject(str(buildObject()), {"lin6_map": 65536})
    try:
        me, peer = SPACE.nodeID(1, mobile=True), SPACE.nodeID(2, mobile=True)
        lin6 = SPACE.prefix
        # Identity mapping: the rewritten packet is again mappable, so each
        # of the repetitions runs the whole mapping path.
        cfg = Config(lin6, ownNodeID=me, ownLIN6Prefix=lin6, ownPrefix=lin6, flags=FLAG_ACTIVE)
        _libbpf.MapFD(obj.mapFD("lin6_cfg"), 4, 72).update(bytes(4), cfg.encode())
        _libbpf.MapFD(obj.mapFD("lin6_map"), 8, MAPPING.size).update(
            peer.packed, encodeMapping(Locator(lin6, peer), None, 0)
        )
        egress = packet(UDP, SPACE.address(me).address, SPACE.address(peer).address, bytes(64))
        ingress = packet(UDP, SPACE.address(peer).address, SPACE.address(me).address, bytes(64))
        stats = _libbpf.MapFD(obj.mapFD("lin6_stats"), 4, 8 * _libbpf.numPossibleCPUs())
        for prog, frame, name, counter in (
            ("lin6_egress", egress, "dp.egress_ns", 0),
            ("lin6_ingress", ingress, "dp.ingress_ns", 4),
        ):
            times = [_libbpf.testRun(obj.progFD(prog), frame, 1_000_000)[1] for _ in range(5)]
            raw = stats.lookup(counter.to_bytes(4, "little")) or b""
            mapped = sum(int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8))
            if mapped < 5_000_000:
                raise RuntimeError(f"{prog} did not take the mapping path ({mapped} mapped)")
            recorder.record(name, median([float(t) for t in times]), "ns", method="test_run")
    finally:
        obj.close()


def _mapUpdate(recorder: Recorder, pair: Pair) -> None:
    dp = pair.dpA
    nodes = [SPACE.nodeID(0x1000 + i, mobile=True) for i in range(20_000)]
    prefix = Prefix.fromString("2001:db8:77::/64")
    locs = [Locator(prefix, n) for n in nodes]
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for n, loc in zip(nodes, locs):
            dp.installMapping(n, loc)
        samples.append((time.perf_counter() - start) / len(nodes) * 1e6)
    recorder.record(
        "dp.map_update_us", median(samples), "us", count=len(nodes), api="installMapping"
    )
    raw = _libbpf.MapFD(dp._map.fd if dp._map else -1, 8, MAPPING.size)
    values = [encodeMapping(loc, None, 0) for loc in locs]
    keys = [n.packed for n in nodes]
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for k, v in zip(keys, values):
            raw.update(k, v)
        samples.append((time.perf_counter() - start) / len(keys) * 1e6)
    recorder.record("dp.map_update_raw_us", median(samples), "us", count=len(keys))
    for n in nodes:
        dp.removeMapping(n)


def run(recorder: Recorder, args: list[str]) -> None:
    """
    Run the dataplane benchmark (see the module docstring).
    """
    rounds, seconds = 9, 1.0
    it = iter(args)
    for word in it:
        if word == "--rounds":
            rounds = int(next(it))
        elif word == "--seconds":
            seconds = float(next(it))
    if not isRoot():
        recorder.note("dp: needs root (namespaces, BPF); skipped")
        return
    from twisted.internet import reactor

    buildObject()
    _programCost(recorder)
    pair = Pair(reactor, prefix="l6dpb")
    try:
        pair.build()
        _mapUpdate(recorder, pair)
        load = os.getloadavg()[0]
        recorder.note(
            f"dp: {os.cpu_count()} CPUs, load average {load:.2f} before the throughput runs; "
            "sender, router and receiver share these CPUs with everything else"
        )
        _throughput(recorder, pair, rounds, seconds)
    finally:
        pair.destroy()
