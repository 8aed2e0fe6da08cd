"""
The C{dp} benchmark group: the eBPF dataplane against plain IPv6.

C{python -m lin6twisted.bench dp [--rounds N] [--seconds S] [--offload on|off]
[--sink poll|block] [--no-pin] [--aa] [--no-floor]} (root only; defaults 15
rounds of 1-second runs, both offload settings, polling sink, pinned, floor
arm on) builds the test bed (two
hosts in different /64s through a router, see
L{lin6twisted.dataplane.testbed}) and measures, in one run on the same
namespaces:

  - C{dp.tcp_ratio}: TCP bulk throughput between the LIN6 addresses
    (mapped by the programs) over throughput between plain addresses of the
    same hosts on the same links (not mapped; the ingress program still runs
    and passes them).  Mapped and plain runs alternate (order swapped each
    round); the figure is the median of the per-round ratios (their
    quartiles in the detail), the absolute medians are printed beside it.
  - C{dp.udp64_ratio}: the same for 64-byte UDP payloads, as packets per
    second received by the sink.
  - C{dp.udp64_floor_ratio}: in the same rounds, a third arm: a plain
    address routed through an LWT xmit program that only returns C{BPF_OK}
    (C{dataplane_c/lwt_floor.bpf.o}), over plain.  The design puts egress
    on this hook, so this is the ceiling of C{dp.udp64_ratio} for any
    program; C{dp.udp64_ratio_over_floor} (mapped over floor) is what the
    two LIN6 programs add on top of it.  C{--no-floor} skips the arm.
  - C{dp.egress_ns}, C{dp.ingress_ns}: kernel-measured run time per packet
    of each program on its full mapping path (C{BPF_PROG_TEST_RUN}, repeat
    1,000,000, an identity mapping so every repetition does the whole
    rewrite and checksum fix), with the per-CPU mapping cache on as the
    control runs it (C{dp.egress_nocache_ns} and C{dp.ingress_nocache_ns}:
    the same with every packet looking the peer up in the hash map);
    C{dp.egress_live_ns} and C{dp.ingress_live_ns}
    are the same from the kernel's run-time statistics during extra mapped
    UDP runs after the ratio runs.
  - C{dp.map_update_us}: one L{BPFDataplane.installMapping} call from Python
    (validation, encoding and the C{bpf(2)} update through libbpf), and
    C{dp.map_update_raw_us} for the bare map update.
  - C{dp.tcp_cpu_ratio}, C{dp.udp64_cpu_ratio} (and C{..._nooffload}):
    the same pairs, as what was delivered per CPU-second the sending (and,
    for TCP, receiving) processes used, the kernel path run on their behalf
    included (tick-based accounting charges softirq work to the interrupted
    task).  On a quiet machine this equals the throughput ratio (the sender
    is CPU-bound); when other processes take CPU time during a run, the
    throughput ratio moves by tens of percent and this one does not.
  - with C{--aa}: C{dp.tcp_ratio_aa} and C{dp.udp64_ratio_aa} (and
    C{..._nooffload_aa}), the same procedure with plain traffic in both
    arms: how far from 1 a ratio lands by noise alone on this box (the
    resolution of the ratios above).

Measurement choices (the same for both arms; none of them slows either):

  - The kernel's BPF run-time statistics are off during the ratio runs:
    collecting them costs two clock reads per program run, which only the
    mapped arm (the only one running the egress program) would pay.
  - Both offload configurations are measured, each on a test bed of its
    own: offloads on (the veth defaults: checksum offload, TSO/GSO, GRO),
    what a deployment on veth runs, gives C{dp.tcp_ratio} and
    C{dp.udp64_ratio}; offloads off (software checksums, one packet per
    segment, as in the dataplane integration tests, which check checksums
    on the wire) gives C{dp.tcp_ratio_nooffload} and
    C{dp.udp64_ratio_nooffload}.  C{--offload on|off} runs only one.
  - The sender and the sink are pinned to two different CPUs (C{taskset}):
    on a 2-CPU box, the scheduler otherwise moves them onto one CPU for
    parts of a run, which changes the figures by tens of percent between
    runs.  The whole path (sender, router, receiver stack) runs in the
    sender's softirq context on its CPU; the sink only copies.
  - The UDP sink polls (C{recvmmsg(MSG_DONTWAIT)}) instead of sleeping: a
    sleeping sink is woken per datagram (an inter-processor interrupt, which
    costs microseconds in a VM) and UDP send-buffer accounting then paces
    the sender by the sink's wake-ups, so a small difference in per-packet
    cost is amplified into a large difference in rate.  C{--sink block}
    measures that case.

Traffic comes from C{dataplane_c/lin6_blast} (sendmmsg/recvmmsg, plain
send/recv for TCP).  Everything shares the machine's CPUs: sender, router
and receiver compete, so absolute figures are those of this box only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import subprocess
import time
from ipaddress import IPv6Address
from typing import Any, Final

from attrs import define

from lin6twisted.address import Locator, Prefix
from lin6twisted.bench import Recorder, median
from lin6twisted.dataplane import _libbpf
from lin6twisted.dataplane.interfaces import COUNTER_NAMES
from lin6twisted.dataplane.kernel import (
    CONFIG,
    FLAG_ACTIVE,
    MAPPING,
    Config,
    blastPath,
    buildObject,
    encodeMapping,
    floorPath,
    storeGeneration,
)
from lin6twisted.dataplane.testbed import GW_A, PLAIN_A, PLAIN_B, SPACE, Pair
from lin6twisted.netns import Namespace, isRoot

__all__ = ["run"]

FLOOR_B: Final = IPv6Address("2001:db8:b::200")
"""A plain address of C{b} that C{a} reaches through the floor program."""


@define
class _Options:
    rounds: int = 15
    seconds: float = 1.0
    offload: bool = True
    offloadGiven: bool = False
    sink: str = "poll"
    pin: bool = True
    aa: bool = False
    floor: bool = True
    liveRounds: int = 3


def _pinning(want: bool) -> tuple[list[str], list[str]]:
    """
    The command prefixes that pin the sender and the sink to two different
    CPUs, or two empty prefixes if that is not possible (or not wanted).
    """
    cpus = sorted(os.sched_getaffinity(0))
    taskset = shutil.which("taskset")
    if not want or len(cpus) < 2 or taskset is None:
        return [], []
    return [taskset, "-c", str(cpus[0])], [taskset, "-c", str(cpus[1])]


def _blast(
    recv: Namespace,
    send: Namespace,
    proto: str,
    dst: str,
    src: str,
    seconds: float,
    opts: _Options,
) -> Any:
    blast = str(blastPath())
    port = "5201" if proto == "tcp" else "5202"
    pinSend, pinSink = _pinning(opts.pin)
    sinkArgs = [*pinSink, blast, f"{proto}-recv", port, str(seconds + 5)]
    if proto == "udp" and opts.sink == "poll":
        sinkArgs.append("poll")
    sink = recv.popen(sinkArgs, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert sink.stdout is not None
    sink.stdout.readline()  # "listening"
    sendArgs = [*pinSend, blast, f"{proto}-send", dst, port, str(seconds)]
    if proto == "udp":
        sendArgs.append("64")
    sent = send.run([*sendArgs, src], timeout=seconds + 30).stdout
    out, _ = sink.communicate(timeout=seconds + 30)
    result = json.loads(out.decode().strip().splitlines()[-1])
    if result["seconds"] <= 0:
        raise RuntimeError(f"{proto} sink saw no traffic: {result}")
    result["sender"] = json.loads(sent.strip().splitlines()[-1])
    return result


def _rate(proto: str, result: Any) -> float:
    if proto == "tcp":
        return float(result["bytes"] * 8 / result["seconds"] / 1e6)
    return float(result["packets"] / result["seconds"])


def _cpuRate(proto: str, result: Any) -> float:
    """
    What was delivered per CPU-second spent on it: for UDP the sender's CPU
    time (its own work plus the whole path, run in its softirq context; the
    polling sink spins regardless of load), for TCP the sender's and the
    sink's (the ACK path runs in the sink's context).  Unlike the rate, this
    does not drop when other processes take CPU time from the run.
    """
    if proto == "tcp":
        return float(result["bytes"] * 8 / 1e6 / (result["sender"]["cpu"] + result["cpu"]))
    return float(result["packets"] / result["sender"]["cpu"])


def _progStats(pinDir: str, prog: str) -> tuple[int, int]:
    out = subprocess.run(
        ["bpftool", "-j", "prog", "show", "pinned", os.path.join(pinDir, prog)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info = json.loads(out)
    return int(info.get("run_time_ns", 0)), int(info.get("run_cnt", 0))


def _quartiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 4], ordered[(3 * n) // 4]


_PROTOS = (("tcp", "tcp", "Mbit/s"), ("udp", "udp64", "pkt/s"))


def _addFloorPath(pair: Pair) -> None:
    """
    Route a second plain address of C{b} (L{FLOOR_B}) from C{a} through an
    LWT xmit program that only returns C{BPF_OK}, via the same gateway as
    the LIN6 route: the path of the plain arm plus the hook alone.
    """
    pair.b.addAddress("eth0", f"{FLOOR_B}/64")
    pair.a.ip6(
        f"route add {FLOOR_B}/128 encap bpf xmit obj {floorPath()} section lwt_xmit "
        f"via {GW_A} dev eth0"
    )


def _ratios(
    recorder: Recorder, pair: Pair, opts: _Options, arms: tuple[str, str], suffix: str
) -> None:
    """
    Alternate runs of the two arms (order swapped each round) and record
    the median of the per-round ratios C{arms[0] / arms[1]}.  With
    C{opts.floor} (and two different arms), the UDP rounds also run the
    floor arm (L{_addFloorPath}) next to the plain one (rounds run mapped,
    plain, floor, then floor, plain, mapped), for
    C{dp.udp64_floor_ratio} (floor over plain: the hook's own share) and
    C{dp.udp64_ratio_over_floor} (mapped over floor: what the programs
    add).
    """
    paths = {
        "mapped": (str(pair.lin6B), str(pair.lin6A)),
        "plain": (str(PLAIN_B), str(PLAIN_A)),
        "floor": (str(FLOOR_B), str(PLAIN_A)),
    }
    for proto, name, unit in _PROTOS:
        names = list(arms)
        if proto == "udp" and opts.floor and arms[0] != arms[1]:
            names.append("floor")  # next to plain: each round runs plain between the two
        rates: list[list[float]] = [[] for _ in names]
        perCPU: list[list[float]] = [[] for _ in names]
        for i in range(opts.rounds):
            order = range(len(names)) if i % 2 == 0 else reversed(range(len(names)))
            for arm in order:
                dst, src = paths[names[arm]]
                result = _blast(pair.b, pair.a, proto, dst, src, opts.seconds, opts)
                rates[arm].append(_rate(proto, result))
                perCPU[arm].append(_cpuRate(proto, result))
        first, base = 0, 1
        if not suffix.endswith("_aa"):
            recorder.record(f"dp.{name}_mapped{suffix}", median(rates[first]), unit)
            recorder.record(f"dp.{name}_plain{suffix}", median(rates[base]), unit)
        _recordRatios(recorder, f"dp.{name}_ratio{suffix}", rates[first], rates[base], opts)
        _recordRatios(recorder, f"dp.{name}_cpu_ratio{suffix}", perCPU[first], perCPU[base])
        if "floor" in names:
            floor = names.index("floor")
            recorder.record(f"dp.{name}_floor{suffix}", median(rates[floor]), unit)
            _recordRatios(recorder, f"dp.{name}_floor_ratio{suffix}", rates[floor], rates[base])
            _recordRatios(
                recorder, f"dp.{name}_ratio_over_floor{suffix}", rates[first], rates[floor]
            )


def _recordRatios(
    recorder: Recorder,
    name: str,
    over: list[float],
    under: list[float],
    opts: _Options | None = None,
) -> None:
    """
    Record the median of the per-round ratios C{over[i] / under[i]}, with
    their quartiles and all of them in the detail.
    """
    ratios = [o / u for o, u in zip(over, under, strict=True)]
    q1, q3 = _quartiles(ratios)
    extra = {} if opts is None else {"rounds": opts.rounds, "seconds": opts.seconds}
    recorder.record(
        name,
        median(ratios),
        "ratio",
        **extra,
        q1=f"{q1:.3f}",
        q3=f"{q3:.3f}",
        ratios="/".join(f"{r:.3f}" for r in ratios),
    )


def _liveCost(recorder: Recorder, pair: Pair, opts: _Options) -> None:
    """
    Per-packet program run time from the kernel's statistics, during
    mapped UDP runs of their own (statistics on; not used for the ratios).
    """
    live = {"egress": [0, 0], "ingress": [0, 0]}
    statsFD = _libbpf.enableStats()
    try:
        for _ in range(opts.liveRounds):
            before = (
                _progStats(pair.dpA.pinDir, "lin6_egress"),
                _progStats(pair.dpB.pinDir, "lin6_ingress"),
            )
            _blast(pair.b, pair.a, "udp", str(pair.lin6B), str(pair.lin6A), opts.seconds, opts)
            after = (
                _progStats(pair.dpA.pinDir, "lin6_egress"),
                _progStats(pair.dpB.pinDir, "lin6_ingress"),
            )
            for key, b, a in zip(("egress", "ingress"), before, after):
                live[key][0] += a[0] - b[0]
                live[key][1] += a[1] - b[1]
    finally:
        os.close(statsFD)
    for key in ("egress", "ingress"):
        total, count = live[key]
        if count:
            recorder.record(f"dp.{key}_live_ns", total / count, "ns", packets=count)


def _programCost(recorder: Recorder) -> None:
    from lin6twisted.dataplane.test._packets import UDP, packet

    obj = _libbpf.BPFObject(str(buildObject()), {"lin6_map": 65536})
    stack = contextlib.ExitStack()
    try:
        me, peer = SPACE.nodeID(1, mobile=True), SPACE.nodeID(2, mobile=True)
        lin6 = SPACE.prefix
        # Identity mapping: the rewritten packet is again mappable, so each
        # of the repetitions runs the whole mapping path.
        cfg = Config(lin6, ownNodeID=me, ownLIN6Prefix=lin6, ownPrefix=lin6, flags=FLAG_ACTIVE)
        _libbpf.MapFD(obj.mapFD("lin6_cfg"), 4, CONFIG.size).update(bytes(4), cfg.encode())
        cfgMemory = stack.enter_context(_libbpf.mapMemory(obj.mapFD("lin6_cfg"), CONFIG.size))
        _libbpf.MapFD(obj.mapFD("lin6_map"), 8, MAPPING.size).update(
            peer.packed, encodeMapping(Locator(lin6, peer), None, 0)
        )
        egress = packet(UDP, SPACE.address(me).address, SPACE.address(peer).address, bytes(64))
        ingress = packet(UDP, SPACE.address(peer).address, SPACE.address(me).address, bytes(64))
        ncpu = _libbpf.numPossibleCPUs()
        stats = _libbpf.MapFD(obj.mapFD("lin6_stats"), 4, 8 * ncpu)
        # Generation 1: the per-CPU mapping cache on, as the control runs
        # the programs; 0: every packet looks the peer up in lin6_map.
        for generation, suffix in ((1, ""), (0, "_nocache")):
            storeGeneration(cfgMemory, generation)
            for prog, frame, name, counter in (
                ("lin6_egress", egress, "dp.egress", "egress_mapped"),
                ("lin6_ingress", ingress, "dp.ingress", "ingress_mapped"),
            ):
                key = COUNTER_NAMES.index(counter).to_bytes(4, "little")
                stats.update(key, bytes(8 * ncpu))
                times = [_libbpf.testRun(obj.progFD(prog), frame, 1_000_000)[1] for _ in range(5)]
                mapped = sum(struct.unpack(f"<{ncpu}Q", stats.lookup(key) or bytes(8 * ncpu)))
                if mapped < 5_000_000:
                    raise RuntimeError(f"{prog} did not take the mapping path ({mapped} mapped)")
                recorder.record(
                    f"{name}{suffix}_ns",
                    median([float(t) for t in times]),
                    "ns",
                    method="test_run",
                    cache="on" if generation else "off",
                )
    finally:
        stack.close()
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


def _parse(args: list[str]) -> _Options:
    opts = _Options()
    it = iter(args)
    for word in it:
        if word == "--rounds":
            opts.rounds = int(next(it))
        elif word == "--seconds":
            opts.seconds = float(next(it))
        elif word == "--offload":
            opts.offload = next(it) == "on"
            opts.offloadGiven = True
        elif word == "--sink":
            opts.sink = next(it)
        elif word == "--no-pin":
            opts.pin = False
        elif word == "--aa":
            opts.aa = True
        elif word == "--no-floor":
            opts.floor = False
    return opts


def run(recorder: Recorder, args: list[str]) -> None:
    """
    Run the dataplane benchmark (see the module docstring).
    """
    opts = _parse(args)
    if not isRoot():
        recorder.note("dp: needs root (namespaces, BPF); skipped")
        return
    from twisted.internet import reactor

    buildObject()
    _programCost(recorder)
    configs = [opts.offload] if opts.offloadGiven else [True, False]
    for n, offload in enumerate(configs):
        opts.offload = offload
        pair = Pair(reactor, prefix="l6dpb", offload=offload)
        try:
            pair.build()
            if opts.floor:
                _addFloorPath(pair)
            if n == 0:
                _mapUpdate(recorder, pair)
            load = os.getloadavg()[0]
            pinSend, pinSink = _pinning(opts.pin)
            recorder.note(
                f"dp: {os.cpu_count()} CPUs, load average {load:.2f} before the throughput "
                "runs; sender, router and receiver share these CPUs with everything else; "
                f"offloads {'on' if offload else 'off'}, {opts.sink} sink, "
                f"sender/sink pinned: {' '.join(pinSend[-1:] + pinSink[-1:]) or 'no'}"
            )
            suffix = "" if offload else "_nooffload"
            _ratios(recorder, pair, opts, ("mapped", "plain"), suffix)
            if opts.aa:
                _ratios(recorder, pair, opts, ("plain", "plain"), f"{suffix}_aa")
            if n == len(configs) - 1:
                _liveCost(recorder, pair, opts)
        finally:
            pair.destroy()
