# -*- test-case-name: lin6twisted.lab.test.test_paper -*-
"""
The paper comparison: Table 5 file transfer and handover timing.

C{lin6 lab paper} (also C{tox -e bench -- paper}) measures the original
paper's Table 5 file transfer and its handover timing on this project's
own dataplane.

The test bed is the dataplane's (L{lin6twisted.dataplane.testbed.Pair}):
two LIN6 hosts C{a} and C{b} in different /64s through a router C{r}, C{b}
with a second link to a third /64 to move to.  The router's links towards
C{b} are rate-limited with HTB (default 6 Mbit/s, the paper's path), so the
router is the bottleneck of every transfer from C{a} to C{b}.

File transfer (Table 5): C{a} sends a generated "file" (default the paper's
53,850,039 bytes) over one TCP connection to C{b}, which checks every byte;
the time runs from C{connect()} to the receiver's byte count coming back.
Three paths on the same hosts and links, alternated round by round:

  - C{plain}: plain IPv6 between addresses that are not LIN6 addresses (the
    dataplane's ingress program sees and passes them);
  - C{lin6}: between the two LIN6 addresses, mapped to locators and back by
    the eBPF dataplane (0 bytes added per packet);
  - C{encap}: an IPv6-in-IPv6 tunnel like Mobile IPv6's (this kernel has no
    ip6_tunnel): a tc egress program (C{wan_c/l6pap_encap.bpf.c}) adds an
    outer IPv6 header plus a basic GRE header (44 bytes, the paper's MIPv6
    overhead; or a bare outer IPv6 header, 40 bytes), a tc ingress program
    strips it at the other end; the inner route MTU is lowered by the
    overhead, as a tunnel device would, so TCP's MSS shrinks with it.

Handover: a UDP stream (one datagram per millisecond by default) flows from
C{a} to C{b}'s LIN6 address while C{b} moves N times between its two links,
each time to a /64 never used before (break before make, as the paper
unplugged the notebook).  Each move: the old address goes and the old link
goes down; then (I{t0}) the new link comes up, the new router's link-layer
address is entered as its advertisement's SLLAO would, and the new locator
is configured with duplicate address detection (optimistic or standard, per
run).  The mover waits (netlink) until the address is usable, switches its
own locator (L{IDataplane.setOwnLocator}: source mapping, LIN6 route via
the new gateway), and then, with the default C{ma} signalling, REGISTERs
the new locator (HMAC-signed) with a real C{twistd lin6-ma} running in the
router's namespace, waits for its REGISTER_ACK and sends a NOTIFY to the
correspondent's LIN6 address; the correspondent verifies with a MAP_QUERY
to the MA and installs the confirmed locator (L{IDataplane.installMapping}).
The handover time is I{t0} to the first datagram that arrives through the
new link.  The node-side steps are those of C{lin6-resolvd}, driven here
by the harness (no router advertisements: the kernel here has no radvd);
the messages are the real ones on the wire.  With C{direct} signalling the
correspondent's mapping is updated by a call, without the MA round trips.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv6Address
from pathlib import Path
from typing import IO, Any, Final

from attrs import define, field, frozen
from twisted.python import usage

from lin6twisted._cliutil import Command
from lin6twisted.address import Locator, NodeID, Prefix
from lin6twisted.lab.config import DADMode
from lin6twisted.lab.selection import percentile

__all__ = [
    "FILE_SIZE",
    "KINDS",
    "PAPER",
    "EncapTunnel",
    "Handover",
    "MASignalling",
    "Options",
    "PaperBed",
    "PaperError",
    "PaperResults",
    "Transfer",
    "encapConfig",
    "measure",
    "movePlan",
    "outerHeader",
    "parseIGMP6",
    "parseSwitch",
    "run",
    "runPaper",
    "shaperCommands",
    "solicitedNode",
    "toolPath",
]

FILE_SIZE: Final = 53_850_039
"""The paper's file (Table 5), in bytes."""

PAPER: Final[dict[str, float]] = {
    "plain_s": 70.7,
    "lin6_s": 70.8,
    "mipv6_s": 74.9,
    "handover_lin6_ms": 199.0,
    "handover_mipv6_ms": 534.0,
}
"""The paper's figures: Table 5 (seconds) and section VI.C (milliseconds)."""

KINDS: Final = ("plain", "lin6", "encap")
"""The transfer paths, in the order of the table."""

NS_PREFIX: Final = "l6pap"
INNER_A: Final = IPv6Address("2001:db8:e::a")
INNER_B: Final = IPv6Address("2001:db8:e::b")
"""The tunnel's inner addresses (on C{lo} of C{a} and C{b})."""

_IP6_HLEN: Final = 40
_GRE_HLEN: Final = 4
_NEXTHDR_IPV6: Final = 41
_NEXTHDR_GRE: Final = 47
_ETH_P_IPV6: Final = 0x86DD
_CFG: Final = struct.Struct("=44sI16s")
_IFA_F_NODAD: Final = 0x02
_IFA_F_OPTIMISTIC: Final = 0x04
_IFA_F_TENTATIVE: Final = 0x40
_IFA_F_DADFAILED: Final = 0x08
_NUD_STALE: Final = 0x04
_TC_INGRESS_PARENT: Final = 0xFFFFFFF2
_TC_EGRESS_PARENT: Final = 0xFFFFFFF3
_DECAP_PRIO: Final = 0x10  # before the dataplane's ingress filter (0xC6)


class PaperError(RuntimeError):
    """
    The comparison could not be set up or a run failed; the message says
    which and why.
    """


def toolPath(name: str) -> Path:
    """
    A built file of C{wan_c/} (C{build/NAME}); C{$LIN6_WAN_BUILD} overrides
    the directory.

    @raise PaperError: if it has not been built (C{make -C wan_c}).
    """
    env = os.environ.get("LIN6_WAN_BUILD")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "wan_c" / "build"
    path = base / name
    if not path.is_file():
        raise PaperError(f"{path} does not exist: build it with 'make -C wan_c'")
    return path


def outerHeader(src: IPv6Address, dst: IPv6Address, overhead: int) -> bytes:
    """
    The outer header template the encap program pushes: an IPv6 header from
    C{src} to C{dst} (payload length filled in per packet) carrying IPv6
    (C{overhead} 40) or a basic GRE header carrying IPv6 (C{overhead} 44).

    @raise PaperError: for any other overhead.
    """
    if overhead not in (_IP6_HLEN, _IP6_HLEN + _GRE_HLEN):
        raise PaperError(f"the encap overhead is 40 or 44 bytes, not {overhead}")
    nexthdr = _NEXTHDR_IPV6 if overhead == _IP6_HLEN else _NEXTHDR_GRE
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, 0, nexthdr, 64, src.packed, dst.packed)
    if overhead == _IP6_HLEN:
        return ip6
    return ip6 + struct.pack("!HH", 0, _ETH_P_IPV6)


def encapConfig(
    src: IPv6Address, dst: IPv6Address, overhead: int, innerRemote: IPv6Address
) -> bytes:
    """
    The value of the encap programs' C{l6pap_cfg} map (C{struct l6pap_cfg}:
    the header template padded to 44 bytes, its length, and the peer's
    inner address, to which packets are tunnelled).
    """
    header = outerHeader(src, dst, overhead)
    return _CFG.pack(header, len(header), innerRemote.packed)


def shaperCommands(dev: str, rate: str, limit: int = 100) -> list[str]:
    """
    The C{tc} commands (without the leading C{tc}) that limit C{dev}'s
    egress to C{rate} with HTB and a C{limit}-packet FIFO.
    """
    return [
        f"qdisc replace dev {dev} root handle 1: htb default 10",
        f"class replace dev {dev} parent 1: classid 1:10 htb rate {rate} ceil {rate}",
        f"qdisc replace dev {dev} parent 1:10 handle 10: pfifo limit {limit}",
    ]


def _mono() -> float:
    # The tools stamp with CLOCK_MONOTONIC, which every namespace shares.
    return time.clock_gettime(time.CLOCK_MONOTONIC)


@frozen
class Transfer:
    """
    One file transfer.

    @ivar seconds: C{connect()} to the receiver's byte count (sender side).
    @ivar receiverSeconds: accept to EOF (receiver side).
    @ivar mss: the sender's TCP MSS on that path.
    """

    kind: str
    seconds: float
    receiverSeconds: float
    size: int
    mss: int


@frozen
class Switch:
    """
    A change of arrival interface reported by C{l6pap_xfer udp-recv}.
    """

    ifindex: int
    at: float
    seq: int
    previousAt: float
    previousSeq: int


def parseSwitch(line: str) -> Switch | None:
    """
    Parse one line of C{l6pap_xfer udp-recv} output; C{None} if it is not a
    switch report.

    @raise PaperError: if it claims to be one but is malformed.
    """
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        doc = json.loads(line)
    except ValueError as e:
        raise PaperError(f"bad line from the stream receiver: {line!r}: {e}") from None
    if not isinstance(doc, dict) or "switch" not in doc:
        return None
    try:
        return Switch(
            int(doc["switch"]),
            float(doc["t"]),
            int(doc["seq"]),
            float(doc["prevT"]),
            int(doc["prevSeq"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise PaperError(f"bad switch report {line!r}: {e}") from None


@frozen
class Handover:
    """
    One move, as monotonic times.

    @ivar linkUp: I{t0}: the new link comes up (the reconnection).
    @ivar usable: the new address is usable (DAD done, or optimistic).
    @ivar switched: both dataplanes hold the new locator.
    @ivar arrived: the first datagram arrives through the new link.
    @ivar lastOld: the last datagram arrived through the old link.
    @ivar lost: datagrams sent but never received across this move.
    @ivar via: how the correspondent learnt the new locator: C{"ma"}
        (REGISTER, NOTIFY, MAP_QUERY through a real C{lin6-ma}) or
        C{"direct"} (a call on its dataplane).
    """

    dad: DADMode
    linkUp: float
    usable: float
    switched: float
    arrived: float
    lastOld: float
    lost: int
    via: str = "direct"

    @property
    def gapMs(self) -> float:
        """
        The handover time: new link up to stream flowing again.
        """
        return (self.arrived - self.linkUp) * 1000

    @property
    def dadMs(self) -> float:
        """
        New link up to the address being usable.
        """
        return (self.usable - self.linkUp) * 1000

    @property
    def signalMs(self) -> float:
        """
        Address usable to both dataplanes holding the new locator (own
        locator switch, and the MA round trips with C{ma} signalling).
        """
        return (self.switched - self.usable) * 1000

    @property
    def deliveryMs(self) -> float:
        """
        Both dataplanes switched to the first datagram through the new link
        (the router resolving the new locator, the stream's next datagram).
        """
        return (self.arrived - self.switched) * 1000

    @property
    def outageMs(self) -> float:
        """
        Last datagram through the old link to the first through the new one
        (includes the disconnection itself).
        """
        return (self.arrived - self.lastOld) * 1000


@define
class PaperResults:
    """
    Everything one comparison measured.
    """

    size: int
    rate: str
    overhead: int
    transfers: list[Transfer] = field(factory=list)
    handovers: list[Handover] = field(factory=list)

    def seconds(self, kind: str) -> list[float]:
        return [t.seconds for t in self.transfers if t.kind == kind]

    def medianSeconds(self, kind: str) -> float:
        values = self.seconds(kind)
        return float(statistics.median(values)) if values else math.nan

    def ratio(self, kind: str) -> float:
        """
        Median over rounds of C{kind}'s time over plain's time in the same
        round.
        """
        per = [
            k / p for k, p in zip(self.seconds(kind), self.seconds("plain"), strict=False) if p > 0
        ]
        return float(statistics.median(per)) if per else math.nan

    def gaps(self, dad: DADMode) -> list[float]:
        return [h.gapMs for h in self.handovers if h.dad is dad]

    def figures(self) -> list[tuple[str, float, str, dict[str, Any]]]:
        """
        The figures as C{(name, value, unit, detail)}, named as the bench
        prints them (without the C{paper.} group prefix).
        """
        out: list[tuple[str, float, str, dict[str, Any]]] = []
        for kind in KINDS:
            values = self.seconds(kind)
            if values:
                out.append(
                    (
                        f"{kind}_s",
                        self.medianSeconds(kind),
                        "s",
                        {"runs": "/".join(f"{v:.2f}" for v in values), "bytes": self.size},
                    )
                )
        for kind in ("lin6", "encap"):
            if self.seconds(kind) and self.seconds("plain"):
                out.append((f"{kind}_over_plain", self.ratio(kind), "ratio", {}))
        for dad, prefix in ((DADMode.OPTIMISTIC, "handover"), (DADMode.STANDARD, "handover_dad")):
            gaps = self.gaps(dad)
            if not gaps:
                continue
            dads = [h.dadMs for h in self.handovers if h.dad is dad]
            lost = sum(h.lost for h in self.handovers if h.dad is dad)
            out.append(
                (
                    f"{prefix}_median_ms",
                    float(statistics.median(gaps)),
                    "ms",
                    {
                        "moves": len(gaps),
                        "dad_median_ms": round(statistics.median(dads), 2),
                        "via": "+".join(sorted({h.via for h in self.handovers if h.dad is dad})),
                    },
                )
            )
            out.append((f"{prefix}_p95_ms", percentile(gaps, 95), "ms", {"lost": lost}))
        return out

    def table(self) -> str:
        """
        The side-by-side table with the paper's figures.
        """
        mss = {t.kind: t.mss for t in self.transfers}
        head = (
            f"File transfer of {self.size:,} bytes over a {self.rate} HTB bottleneck "
            f"(median of {len(self.seconds('plain'))} round(s))"
        )
        rows = [
            head,
            f"{'path':<36}{'overhead':>9}{'MSS':>6}{'this lab':>11}{'ratio':>8}"
            f"{'paper':>9}{'ratio':>8}",
        ]
        paper = {"plain": PAPER["plain_s"], "lin6": PAPER["lin6_s"], "encap": PAPER["mipv6_s"]}
        names = {
            "plain": "IPv6-IPv6",
            "lin6": "LIN6-LIN6 (eBPF dataplane)",
            "encap": "IPv6-in-IPv6 tunnel (paper: MIPv6)",
        }
        overheads = {"plain": 0, "lin6": 0, "encap": self.overhead}
        for kind in KINDS:
            if not self.seconds(kind):
                continue
            ours = self.medianSeconds(kind)
            ratio = self.ratio(kind) if self.seconds("plain") else math.nan
            rows.append(
                f"{names[kind]:<36}{overheads[kind]:>9}"
                f"{mss.get(kind, 0):>6}{ours:>10.2f}s{ratio:>8.3f}"
                f"{paper[kind]:>8.1f}s{paper[kind] / PAPER['plain_s']:>8.3f}"
            )
        if self.handovers:
            rows.append("")
            rows.append(
                f"{'handover (new link up -> stream flowing)':<42}{'moves':>6}{'median':>9}"
                f"{'p95':>9}{'DAD':>8}{'lost':>6}"
            )
            for dad in (DADMode.OPTIMISTIC, DADMode.STANDARD):
                gaps = self.gaps(dad)
                if not gaps:
                    continue
                dads = [h.dadMs for h in self.handovers if h.dad is dad]
                lost = sum(h.lost for h in self.handovers if h.dad is dad)
                via = {h.via for h in self.handovers if h.dad is dad}
                label = f"LIN6, {dad.value} DAD" + (", via lin6-ma" if via == {"ma"} else "")
                rows.append(
                    f"{label:<42}{len(gaps):>6}"
                    f"{statistics.median(gaps):>7.1f}ms{percentile(gaps, 95):>7.1f}ms"
                    f"{statistics.median(dads):>6.0f}ms{lost:>6}"
                )
            rows.append(
                f"{'paper: LIN6 / MIPv6 (mean of 10)':<42}{10:>6}"
                f"{PAPER['handover_lin6_ms']:>7.0f}ms / {PAPER['handover_mipv6_ms']:.0f}ms"
            )
        return "\n".join(rows)

    def toJSON(self) -> dict[str, Any]:
        """
        The results as a JSON-ready document.
        """
        return {
            "size": self.size,
            "rate": self.rate,
            "overhead": self.overhead,
            "paper": dict(PAPER),
            "figures": {name: value for name, value, _, _ in self.figures()},
            "transfers": [
                {
                    "kind": t.kind,
                    "seconds": t.seconds,
                    "receiverSeconds": t.receiverSeconds,
                    "mss": t.mss,
                }
                for t in self.transfers
            ],
            "handovers": [
                {
                    "dad": h.dad.value,
                    "gapMs": h.gapMs,
                    "dadMs": h.dadMs,
                    "signalMs": h.signalMs,
                    "deliveryMs": h.deliveryMs,
                    "outageMs": h.outageMs,
                    "lost": h.lost,
                    "via": h.via,
                }
                for h in self.handovers
            ],
        }


def movePlan(moves: int, start: int = 0) -> list[tuple[str, str, Prefix, IPv6Address]]:
    """
    Where moves C{start} to C{start + moves - 1} of C{b} go: C{(b's device,
    router's device, new /64, gateway)}.  C{b} starts on C{eth0}; moves
    alternate between its two links, each to a prefix never used before
    (so no router holds state about the new address).
    """
    plan = []
    for k in range(start, start + moves):
        dev, rdev = ("eth1", "eth2") if k % 2 == 0 else ("eth0", "eth1")
        prefix = Prefix.fromString(f"2001:db8:f0:{k + 1:x}::/64")
        plan.append((dev, rdev, prefix, IPv6Address(f"2001:db8:f0:{k + 1:x}::1")))
    return plan


class _Lines:
    """
    Reads a child's stdout line by line with a deadline.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._fd = stream.fileno()
        self._buffer = b""
        self.closed = False

    def readline(self, timeout: float) -> str | None:
        """
        The next line, or C{None} at end of file or after C{timeout} seconds.
        """
        deadline = _mono() + timeout
        while b"\n" not in self._buffer:
            left = deadline - _mono()
            if left <= 0 or self.closed:
                return None
            ready, _, _ = select.select([self._fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._fd, 65536)
            if not chunk:
                self.closed = True
                break
            self._buffer += chunk
        if b"\n" not in self._buffer:
            return None
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(errors="replace")

    def waitFor(self, word: str, timeout: float) -> None:
        deadline = _mono() + timeout
        while True:
            line = self.readline(max(0.0, deadline - _mono()))
            if line is None:
                raise PaperError(f"no {word!r} from the tool within {timeout:.0f} s")
            if word in line:
                return


def _lastJSON(text: str, what: str) -> dict[str, Any]:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise PaperError(f"{what} printed no result: {text.strip()[-300:]!r}")
    try:
        doc = json.loads(lines[-1])
    except ValueError as e:
        raise PaperError(f"{what} printed a bad result {lines[-1]!r}: {e}") from None
    if not isinstance(doc, dict):
        raise PaperError(f"{what} printed a bad result {lines[-1]!r}")
    if "error" in doc:
        raise PaperError(f"{what} failed: {doc['error']}")
    return doc


def _netlinkCode(e: Exception) -> int | None:
    code = getattr(e, "code", None)
    return code if isinstance(code, int) else None


def _ipRoute(netns: str) -> Any:
    from lin6twisted.dataplane.kernel import ipRouteIn

    try:
        return ipRouteIn(netns)
    except Exception as e:
        raise PaperError(f"cannot open rtnetlink in {netns}: {e}") from None


@define
class EncapTunnel:
    """
    One end of the encapsulating baseline in a namespace: the inner address
    on C{lo}, the route to the peer's inner address (MTU lowered by the
    overhead), the encap (egress) and decap (ingress) filters on C{device}.
    """

    netns: str
    local: IPv6Address
    remote: IPv6Address
    innerLocal: IPv6Address
    innerRemote: IPv6Address
    gateway: IPv6Address
    device: str
    overhead: int
    linkMTU: int = 1500
    _obj: Any = None
    _ipr: Any = None

    def start(self) -> None:
        """
        Load and attach both programs.

        @raise PaperError: if anything fails (call L{stop} in any case).
        """
        from lin6twisted.dataplane import _libbpf

        try:
            self._obj = obj = _libbpf.BPFObject(str(toolPath("l6pap_encap.bpf.o")))
            cfg = _libbpf.MapFD(obj.mapFD("l6pap_cfg"), 4, _CFG.size, "l6pap_cfg")
            cfg.update(
                bytes(4), encapConfig(self.local, self.remote, self.overhead, self.innerRemote)
            )
        except _libbpf.BPFError as e:
            raise PaperError(f"cannot load the encap programs: {e}") from None
        self._ipr = ipr = _ipRoute(self.netns)
        try:
            lo = ipr.link_lookup(ifname="lo")[0]
            ifindex = ipr.link_lookup(ifname=self.device)[0]
        except (IndexError, Exception) as e:
            raise PaperError(f"no interface {self.device} in {self.netns}: {e}") from None
        try:
            ipr.addr(
                "add",
                index=lo,
                address=str(self.innerLocal),
                prefixlen=128,
                flags=_IFA_F_NODAD,
            )
        except Exception as e:
            if _netlinkCode(e) != 17:  # EEXIST
                raise PaperError(f"cannot add {self.innerLocal}: {e}") from None
        with contextlib.suppress(Exception):
            ipr.tc("add", "clsact", ifindex)
        try:
            for prog, parent in (
                ("l6pap_decap", _TC_INGRESS_PARENT),
                ("l6pap_encap", _TC_EGRESS_PARENT),
            ):
                ipr.tc(
                    "replace-filter",
                    "bpf",
                    ifindex,
                    ":1",
                    fd=obj.progFD(prog),
                    name=prog,
                    parent=parent,
                    prio=_DECAP_PRIO,
                    protocol=_ETH_P_IPV6,
                    classid=1,
                    direct_action=True,
                )
            # Like a tunnel device: the inner route's MTU leaves room for
            # the outer header, so TCP's MSS shrinks by the overhead.
            ipr.route(
                "replace",
                dst=f"{self.innerRemote}/128",
                family=socket.AF_INET6,
                gateway=str(self.gateway),
                oif=ifindex,
                prefsrc=str(self.innerLocal),
                metrics={"mtu": self.linkMTU - self.overhead},
            )
        except Exception as e:
            raise PaperError(f"cannot attach the encap programs in {self.netns}: {e}") from None

    def counters(self) -> tuple[int, int, int, int]:
        """
        Encapsulated, encap failures, decapsulated, decap failures (summed
        over CPUs).
        """
        from lin6twisted.dataplane import _libbpf

        if self._obj is None:
            return (0, 0, 0, 0)
        ncpu = _libbpf.numPossibleCPUs()
        stats = _libbpf.MapFD(self._obj.mapFD("l6pap_stats"), 4, 8 * ncpu, "l6pap_stats")
        values = []
        for i in range(4):
            raw = stats.lookup(struct.pack("<I", i))
            values.append(sum(struct.unpack(f"<{ncpu}Q", raw)) if raw else 0)
        return (values[0], values[1], values[2], values[3])

    def stop(self) -> None:
        """
        Release the programs (the namespace's removal takes the rest).
        """
        if self._ipr is not None:
            with contextlib.suppress(Exception):
                self._ipr.close()
            self._ipr = None
        if self._obj is not None:
            self._obj.close()
            self._obj = None


MA_PORT: Final = 7300
NOTIFY_PORT: Final = 7302


def _subscriberLDIF(entries: Sequence[tuple[NodeID, bytes]]) -> str:
    """
    A directory for the handover: the tree's root and one enabled normal
    subscriber per C{(Node ID, key)}.
    """
    text = (
        "dn: dc=lin6,dc=example\nobjectClass: dcObject\nobjectClass: organization\n"
        "dc: lin6\no: LIN6 paper comparison\n\n"
        "dn: ou=subscribers,dc=lin6,dc=example\nobjectClass: organizationalUnit\n"
        "ou: subscribers\n"
    )
    for nodeID, key in entries:
        text += (
            f"\ndn: lin6NodeID={nodeID},ou=subscribers,dc=lin6,dc=example\n"
            f"objectClass: lin6Subscriber\nlin6NodeID: {nodeID}\ncn: paper-{nodeID}\n"
            f"lin6ServiceLevel: normal\nlin6KeyID: 1\nlin6Key: {key.hex()}\nlin6Enabled: TRUE\n"
        )
    return text


class _Datagrams:
    """
    A blocking UDP socket made inside a namespace, for one side of the
    mapping protocol.
    """

    def __init__(self, netns: str, port: int = 0, timeout: float = 3.0) -> None:
        from lin6twisted.dataplane.kernel import inNetns

        with inNetns(netns):
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.timeout = timeout
        self.skipped: list[Any] = []
        self.sock.bind(("::", port))

    def send(self, message: Any, address: tuple[str, int]) -> None:
        self.sock.sendto(message.encode(), address)

    def receive(self, kind: type[Any]) -> Any:
        """
        The next message of type C{kind}; others (a late duplicate) are
        counted in C{skipped} and passed over.
        """
        from lin6twisted.wire.mapping import decodeMappingMessage

        deadline = _mono() + self.timeout
        while True:
            left = deadline - _mono()
            if left <= 0:
                raise PaperError(f"no {kind.__name__} within {self.timeout} s")
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            try:
                message = decodeMappingMessage(data)
            except Exception as e:
                raise PaperError(f"bad {kind.__name__}: {e}") from None
            if isinstance(message, kind):
                return message
            self.skipped.append(message)

    def close(self) -> None:
        self.sock.close()


@define
class MASignalling:
    """
    The handover's signalling through a real C{twistd lin6-ma} (embedded
    directory) in the router's namespace: the mover REGISTERs its new
    locator (HMAC-signed, sequence-numbered) and sends a NOTIFY to the
    correspondent's LIN6 address; the correspondent verifies with a
    MAP_QUERY to the MA and installs what the MA answers.  The node-side
    logic of C{lin6-resolvd} is played by this object, the messages are the
    real ones on the wire.
    """

    pair: Any
    workDir: Path
    daemon: Any = None
    sequence: int = 0
    _keys: dict[NodeID, bytes] = field(factory=dict)
    _mover: _Datagrams | None = None
    _peer: _Datagrams | None = None

    @property
    def maAddress(self) -> str:
        from lin6twisted.dataplane import testbed

        return str(testbed.GW_A)

    def start(self) -> None:
        """
        Start the MA and the two nodes' sockets.

        @raise PaperError: if the MA does not come up.
        """
        import secrets

        from lin6twisted.dataplane import testbed
        from lin6twisted.testing.processes import Daemon, DaemonError, twistdArgv

        self.workDir.mkdir(parents=True, exist_ok=True)
        self._keys = {n: secrets.token_bytes(32) for n in (testbed.NODE_A, testbed.NODE_B)}
        ldif = self.workDir / "subscribers.ldif"
        ldif.write_text(_subscriberLDIF(sorted(self._keys.items(), key=lambda e: str(e[0]))))
        conf = self.workDir / "ma.conf"
        conf.write_text(
            f'[ma]\nlisten = "::"\nport = {MA_PORT}\n'
            f'journal = "{self.workDir / "ma.journal"}"\n'
            'max_lifetime = "10m"\nnegative_ttl = "1s"\n'
            f'\n[directory]\nkind = "embedded"\nldif = "{ldif}"\n'
        )
        self.daemon = Daemon(
            twistdArgv("lin6-ma", "--config", str(conf)),
            self.workDir / "ma.log",
            netns=self.pair.r,
            cwd=str(self.workDir),
        )
        self.daemon.start()
        try:
            self.daemon.waitForLog("MappingProtocol starting", timeout=30)
        except DaemonError as e:
            raise PaperError(f"lin6-ma did not start: {e}") from None
        self._mover = _Datagrams(self.pair.b.name)
        self._peer = _Datagrams(self.pair.a.name, NOTIFY_PORT)

    def register(self, locator: Locator) -> None:
        """
        The mover registers C{locator} with the MA.

        @raise PaperError: unless the MA accepts it.
        """
        from lin6twisted.dataplane import testbed
        from lin6twisted.wire.mapping import Register, RegisterAck, RegisterFlags, RegisterStatus

        assert self._mover is not None
        self.sequence += 1
        message = Register(
            self.sequence,
            testbed.NODE_B,
            (locator.address,),
            600,
            1,
            self.sequence,
            RegisterFlags(0),
        ).sign(self._keys[testbed.NODE_B])
        self._mover.send(message, (self.maAddress, MA_PORT))
        ack = self._mover.receive(RegisterAck)
        if ack.status is not RegisterStatus.OK:
            raise PaperError(f"lin6-ma refused the registration of {locator}: {ack.status.name}")

    def notifyAndVerify(self, locator: Locator) -> Locator:
        """
        The mover notifies the correspondent, which asks the MA; return the
        locator the MA confirms.

        @raise PaperError: if a message is lost or the MA does not confirm
            C{locator}.
        """
        from lin6twisted.dataplane import testbed
        from lin6twisted.wire.mapping import MapQuery, MapReply, MapStatus, Notify

        assert self._mover is not None and self._peer is not None
        self._mover.send(
            Notify(self.sequence, testbed.NODE_B, (locator.address,)),
            (str(self.pair.lin6A), NOTIFY_PORT),
        )
        while True:  # earlier notices (the MA sends its own too) are passed over
            notice = self._peer.receive(Notify)
            if notice.locators[0] == locator.address:
                break
            self._peer.skipped.append(notice)
        self._peer.send(MapQuery(self.sequence, notice.nodeID), (self.maAddress, MA_PORT))
        reply = self._peer.receive(MapReply)
        if reply.status is not MapStatus.FOUND or reply.locators[0] != locator.address:
            raise PaperError(f"lin6-ma does not confirm {locator}: {reply}")
        return Locator(Prefix(int(reply.locators[0]) >> 64), testbed.NODE_B)

    def stop(self) -> None:
        for sock in (self._mover, self._peer):
            if sock is not None:
                sock.close()
        self._mover = self._peer = None
        if self.daemon is not None:
            with contextlib.suppress(Exception):
                self.daemon.stop()
            self.daemon = None


@define
class PaperBed:
    """
    The dataplane's test bed with an HTB bottleneck towards C{b} and,
    optionally, the encap tunnel between C{a} and C{b}.
    """

    reactor: Any
    rate: str = "6mbit"
    overhead: int = 44
    encap: bool = True
    pair: Any = None
    tunnels: list[EncapTunnel] = field(factory=list)
    moved: int = 0
    ma: MASignalling | None = None
    _at: tuple[str, Locator] | None = None
    _workDir: str | None = None

    def build(self) -> None:
        """
        Create everything; call L{destroy} in any case.
        """
        from lin6twisted.dataplane import testbed

        self.pair = pair = testbed.Pair(self.reactor, prefix=NS_PREFIX)
        pair.build(mapped=True)
        for dev in ("eth1", "eth2"):
            pair.r.run(
                ["tc", "-batch", "-"], input="\n".join(shaperCommands(dev, self.rate)) + "\n"
            )
        if self.encap:
            for ns, local, remote, inLocal, inRemote, gw in (
                (pair.a, testbed.PLAIN_A, testbed.PLAIN_B, INNER_A, INNER_B, testbed.GW_A),
                (pair.b, testbed.PLAIN_B, testbed.PLAIN_A, INNER_B, INNER_A, testbed.GW_B),
            ):
                tunnel = EncapTunnel(
                    ns.name, local, remote, inLocal, inRemote, gw, "eth0", self.overhead
                )
                self.tunnels.append(tunnel)
                tunnel.start()

    def startMA(self) -> MASignalling:
        """
        Run a C{lin6-ma} in the router's namespace for the handover's
        signalling (see L{MASignalling}).
        """
        import tempfile

        if self.ma is None:
            self._workDir = tempfile.mkdtemp(prefix="l6pap-")
            self.ma = MASignalling(self.pair, Path(self._workDir))
            self.ma.start()
            self.ma.register(self._location()[1])
        return self.ma

    def _location(self) -> tuple[str, Locator]:
        from lin6twisted.dataplane import testbed

        if self._at is None:
            return ("eth0", Locator(testbed.PREFIX_B, testbed.NODE_B))
        return self._at

    def destroy(self) -> None:
        """
        Remove everything (idempotent).
        """
        import shutil

        if self.ma is not None:
            self.ma.stop()
            self.ma = None
        if self._workDir is not None:
            shutil.rmtree(self._workDir, ignore_errors=True)
            self._workDir = None
        for tunnel in self.tunnels:
            tunnel.stop()
        self.tunnels = []
        if self.pair is not None:
            self.pair.destroy()
            self.pair = None

    def endpoints(self, kind: str) -> tuple[str, str]:
        """
        (destination on C{b}, source on C{a}) of a transfer path.
        """
        from lin6twisted.dataplane import testbed

        p = self.pair
        if kind == "plain":
            return str(testbed.PLAIN_B), str(testbed.PLAIN_A)
        if kind == "lin6":
            return str(p.lin6B), str(p.lin6A)
        if kind == "encap":
            if not self.tunnels:
                raise PaperError("this bed was built without the encap tunnel")
            return str(INNER_B), str(INNER_A)
        raise PaperError(f"unknown path {kind!r}; paths: {', '.join(KINDS)}")

    def transfer(self, kind: str, size: int, port: int, timeout: float) -> Transfer:
        """
        Send C{size} bytes from C{a} to C{b} on path C{kind} and time it.

        @raise PaperError: if the transfer fails, times out, or arrives
            short, corrupted or from the wrong address.
        """
        dst, src = self.endpoints(kind)
        xfer = str(toolPath("l6pap_xfer"))
        recv = self.pair.b.popen(
            [xfer, "tcp-recv", str(port), str(timeout)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            assert recv.stdout is not None
            lines = _Lines(recv.stdout)
            lines.waitFor("listening", 10)
            sent = self.pair.a.run(
                [xfer, "tcp-send", dst, str(port), str(size), str(timeout), src],
                check=False,
                timeout=timeout + 10,
            )
            rest = []
            while (line := lines.readline(15)) is not None:
                rest.append(line)
            recv.wait(5)
        finally:
            if recv.poll() is None:
                recv.kill()
                recv.wait()
        s = _lastJSON(sent.stdout + sent.stderr, f"{kind} sender")
        r = _lastJSON("\n".join(rest), f"{kind} receiver")
        if r.get("bytes") != size or s.get("acked") != size:
            raise PaperError(f"{kind}: {size} bytes sent, {r.get('bytes')} received")
        if r.get("intact") is not True:
            raise PaperError(f"{kind}: the received file differs from the one sent")
        if IPv6Address(str(r.get("peer"))) != IPv6Address(src):
            raise PaperError(f"{kind}: the receiver saw {r.get('peer')}, not {src}")
        return Transfer(kind, float(s["seconds"]), float(r["seconds"]), size, int(s["mss"]))

    def handovers(
        self,
        dad: DADMode,
        moves: int,
        port: int,
        intervalUs: int = 1000,
        dwell: float = 0.3,
        progress: Callable[[Handover], object] | None = None,
    ) -> list[Handover]:
        """
        Stream from C{a} to C{b} while C{b} moves C{moves} times between
        its two links, each time to a new /64 (L{movePlan}; see the module
        docstring); DAD as C{dad}.

        @raise PaperError: if the stream does not resume within 10 s, or
            the new address fails DAD.
        """
        from lin6twisted.dataplane import testbed

        p = self.pair
        for dev in ("eth0", "eth1"):
            for key, value in (
                ("accept_dad", 0 if dad is DADMode.OFF else 1),
                ("dad_transmits", 1),
                ("optimistic_dad", 1 if dad is DADMode.OPTIMISTIC else 0),
                ("use_optimistic", 1 if dad is DADMode.OPTIMISTIC else 0),
            ):
                p.b.sysctl(f"net.ipv6.conf.{dev}.{key}", value)
        ipr = _ipRoute(p.b.name)
        xfer = str(toolPath("l6pap_xfer"))
        seconds = 30 + moves * (dwell + 4)
        recv = p.b.popen(
            [xfer, "udp-recv", str(port), str(seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        send: subprocess.Popen[bytes] | None = None
        try:
            assert recv.stdout is not None
            lines = _Lines(recv.stdout)
            lines.waitFor("listening", 10)
            send = p.a.popen(
                [xfer, "udp-send", str(p.lin6B), str(port), str(seconds), str(intervalUs), "200"]
            )
            plan = movePlan(moves, self.moved)
            p.r.ip(*[f"address add {gw}/64 dev {rdev} nodad" for _, rdev, _, gw in plan])
            index = {dev: int(ipr.link_lookup(ifname=dev)[0]) for dev in ("eth0", "eth1")}
            if self._at is None:
                # Every move is to a freshly brought-up link (the first too).
                ipr.link("set", index=index["eth1"], state="down")
            oldDev, oldLoc = self._location()
            first = self._nextSwitch(lines, index[oldDev], 10)
            if first is None:
                raise PaperError("the stream does not reach b before the first move")
            results = []
            macs = {
                link["ifname"]: link["address"]
                for link in json.loads(p.r.run(["ip", "-j", "link", "show"]).stdout)
            }
            for newDev, rdev, prefix, gateway in plan:
                newLoc = Locator(prefix, testbed.NODE_B)
                time.sleep(dwell)
                results.append(
                    self._move(
                        ipr, lines, index, dad, oldDev, oldLoc, newDev, newLoc, gateway, macs[rdev]
                    )
                )
                self.moved += 1
                self._at = (newDev, newLoc)
                oldDev, oldLoc = newDev, newLoc
                if progress is not None:
                    progress(results[-1])
            return results
        finally:
            for proc in (send, recv):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait()
            with contextlib.suppress(Exception):
                ipr.close()

    def _nextSwitch(self, lines: _Lines, ifindex: int, timeout: float) -> Switch | None:
        deadline = _mono() + timeout
        while (line := lines.readline(max(0.0, deadline - _mono()))) is not None:
            switch = parseSwitch(line)
            if switch is not None and switch.ifindex == ifindex:
                return switch
        return None

    def _move(
        self,
        ipr: Any,
        lines: _Lines,
        index: dict[str, int],
        dad: DADMode,
        oldDev: str,
        oldLoc: Locator,
        newDev: str,
        newLoc: Locator,
        gateway: IPv6Address,
        gatewayMAC: str,
    ) -> Handover:
        from lin6twisted.dataplane import testbed

        p = self.pair
        # The disconnection: the old address goes, the old link goes down.
        with contextlib.suppress(Exception):
            ipr.addr("del", index=index[oldDev], address=str(oldLoc.address), prefixlen=64)
        ipr.link("set", index=index[oldDev], state="down")
        # t0: the reconnection.  The new locator is configured as SLAAC
        # would from the new prefix, with optimistic or standard DAD.
        linkUp = _mono()
        ipr.link("set", index=index[newDev], state="up")
        # What the new router's advertisement brings besides the prefix: its
        # link-layer address (SLLAO), so a node whose addresses are still
        # optimistic reaches it without soliciting (RFC 4429).
        ipr.neigh(
            "replace",
            dst=str(gateway),
            lladdr=gatewayMAC,
            ifindex=index[newDev],
            state=_NUD_STALE,
            family=socket.AF_INET6,
        )
        flags = {
            DADMode.OPTIMISTIC: _IFA_F_OPTIMISTIC,
            DADMode.STANDARD: 0,
            DADMode.OFF: _IFA_F_NODAD,
        }[dad]
        ipr.addr(
            "add", index=index[newDev], address=str(newLoc.address), prefixlen=64, flags=flags
        )
        usable = self._waitUsable(ipr, index[newDev], newLoc.address, 10)
        p.dpB.setOwnLocator(p.lin6B, newLoc, gateway, newDev)
        ipr.route("replace", dst="::/0", family=socket.AF_INET6, gateway=str(gateway))
        learnt = newLoc
        if self.ma is not None:
            self.ma.register(newLoc)
            learnt = self.ma.notifyAndVerify(newLoc)
        p.dpA.installMapping(testbed.NODE_B, learnt, previous=oldLoc)
        switched = _mono()
        switch = self._nextSwitch(lines, index[newDev], 10)
        if switch is None:
            raise PaperError(f"the stream did not resume through {newDev} within 10 s")
        return Handover(
            dad,
            linkUp,
            usable,
            switched,
            switch.at,
            switch.previousAt,
            max(0, switch.seq - switch.previousSeq - 1),
            "ma" if self.ma is not None else "direct",
        )

    def _waitUsable(self, ipr: Any, ifindex: int, address: IPv6Address, timeout: float) -> float:
        """
        Wait until C{address} is usable: not tentative (or optimistic), and
        able to answer neighbour solicitations, i.e. its solicited-node
        multicast group is joined (Linux joins it when DAD starts, a moment
        after the address is added; a solicitation before that goes
        unanswered and the sender retries only a second later).
        """
        deadline = _mono() + timeout
        group = solicitedNode(address)
        while _mono() < deadline:
            for msg in ipr.get_addr(family=socket.AF_INET6, index=ifindex):
                if IPv6Address(msg.get_attr("IFA_ADDRESS")) != address:
                    continue
                flags = msg.get_attr("IFA_FLAGS")
                flags = msg["flags"] if flags is None else flags
                if flags & _IFA_F_DADFAILED:
                    raise PaperError(f"{address} failed duplicate address detection")
                usable = not flags & _IFA_F_TENTATIVE or flags & _IFA_F_OPTIMISTIC
                if usable and group in self._groups(ifindex):
                    return _mono()
            time.sleep(0.0005)
        raise PaperError(f"{address} is not usable after {timeout:.0f} s")

    def _groups(self, ifindex: int) -> set[IPv6Address]:
        from lin6twisted.dataplane.kernel import inNetns

        with inNetns(self.pair.b.name), open("/proc/thread-self/net/igmp6") as f:
            return parseIGMP6(f.read(), ifindex)


def solicitedNode(address: IPv6Address) -> IPv6Address:
    """
    The solicited-node multicast address of C{address} (RFC 4291).
    """
    return IPv6Address(int(IPv6Address("ff02::1:ff00:0")) | (int(address) & 0xFFFFFF))


def parseIGMP6(text: str, ifindex: int) -> set[IPv6Address]:
    """
    The IPv6 multicast groups joined on C{ifindex}, from C{/proc/net/igmp6}
    (C{index name group users flags timer} per line, the group as 32 hex
    digits); malformed lines are skipped.
    """
    groups = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0] != str(ifindex) or len(fields[2]) != 32:
            continue
        try:
            groups.add(IPv6Address(int(fields[2], 16)))
        except ValueError:
            continue
    return groups


def _rate(value: str) -> str:
    text = value.strip().lower()
    number = text[:-3].rstrip("kmg")
    if not text.endswith("bit") or not number:
        raise ValueError(value)
    if float(number) <= 0:
        raise ValueError(value)
    return text


class Options(Command):
    """
    C{lin6 lab paper}: the paper's Table 5 and handover timing on this box.
    """

    synopsis = "[options]"
    longdesc = (
        "Reproduce the original paper's file transfer table (plain IPv6, LIN6 "
        "through the eBPF dataplane, an encapsulating tunnel) on an HTB-limited "
        "path, and its handover timing with optimistic and standard DAD.  Root only."
    )
    optParameters: Sequence[Sequence[Any]] = [
        ["size", "s", FILE_SIZE, "Bytes per file transfer (the paper's file by default).", int],
        ["rounds", "n", 3, "Transfers per path (alternating paths; the median is reported).", int],
        ["moves", "m", 20, "Moves per DAD mode for the handover timing.", int],
        ["rate", "r", "6mbit", "The bottleneck's rate (tc syntax: 6mbit, 500kbit).", _rate],
        ["overhead", None, 44, "Bytes the tunnel adds: 44 (IPv6 + GRE) or 40 (IPv6).", int],
        ["interval", None, 1000, "Microseconds between datagrams of the handover stream.", int],
        [
            "signalling",
            None,
            "ma",
            "How the correspondent learns the new locator: ma (REGISTER, NOTIFY and "
            "MAP_QUERY through a real lin6-ma) or direct (a call on its dataplane).",
        ],
        ["json", "j", None, "Also write the results as JSON to this file."],
    ]
    optFlags: Sequence[Sequence[str | None]] = [
        ["no-transfer", None, "Skip the file transfers."],
        ["no-handover", None, "Skip the handover timing."],
    ]

    def postOptions(self) -> None:
        if self["size"] < 1:
            raise usage.UsageError("--size must be at least 1 byte")
        if self["rounds"] < 1:
            raise usage.UsageError("--rounds must be at least 1")
        if not 0 <= self["moves"] <= 1000:
            raise usage.UsageError("--moves must be between 0 and 1000")
        if self["overhead"] not in (40, 44):
            raise usage.UsageError("--overhead must be 40 or 44")
        if self["signalling"] not in ("ma", "direct"):
            raise usage.UsageError("--signalling must be ma or direct")
        if not 100 <= self["interval"] <= 100_000:
            raise usage.UsageError("--interval must be between 100 and 100000 microseconds")


def _timeout(size: int, rate: str) -> float:
    text = rate[:-3]
    scale = {"k": 1e3, "m": 1e6, "g": 1e9}.get(text[-1:], 1.0)
    bps = float(text.rstrip("kmg")) * scale
    return 30.0 + 3.0 * size * 8 / bps


def measure(options: Options, out: Callable[[str], object], reactor: Any = None) -> PaperResults:
    """
    Run the comparison as C{options} say, reporting progress to C{out}.

    @raise PaperError: (or L{lin6twisted.dataplane.DataplaneError},
        L{lin6twisted.netns.NetnsError}) if set-up or a run fails.
    """
    if reactor is None:
        from twisted.internet import reactor as globalReactor

        reactor = globalReactor
    from lin6twisted.netns import cleanupStale

    cleanupStale(NS_PREFIX)
    results = PaperResults(options["size"], options["rate"], options["overhead"])
    port = 6100
    if not options["no-transfer"]:
        bed = PaperBed(reactor, options["rate"], options["overhead"], encap=True)
        try:
            bed.build()
            timeout = _timeout(options["size"], options["rate"])
            for r in range(options["rounds"]):
                order = KINDS if r % 2 == 0 else tuple(reversed(KINDS))
                for kind in order:
                    port += 1
                    t = bed.transfer(kind, options["size"], port, timeout)
                    results.transfers.append(t)
                    out(f"round {r + 1} {kind:<5} {t.seconds:8.2f} s  (MSS {t.mss})")
            a, b = bed.tunnels[0].counters(), bed.tunnels[1].counters()
            if a[1] + a[3] + b[1] + b[3]:
                raise PaperError(f"the tunnel failed packets: a {a}, b {b}")
        finally:
            bed.destroy()
    if not options["no-handover"] and options["moves"] > 0:
        for dad in (DADMode.OPTIMISTIC, DADMode.STANDARD):
            bed = PaperBed(reactor, options["rate"], options["overhead"], encap=False)
            try:
                bed.build()
                if options["signalling"] == "ma":
                    bed.startMA()
                port += 1

                def show(h: Handover) -> None:
                    out(
                        f"move ({h.dad.value} DAD): {h.gapMs:7.1f} ms = address usable "
                        f"{h.dadMs:.1f} + signalling {h.signalMs:.1f} + first datagram "
                        f"{h.deliveryMs:.1f} ms ({h.lost} datagrams lost)"
                    )

                results.handovers += bed.handovers(
                    dad, options["moves"], port, options["interval"], progress=show
                )
            finally:
                bed.destroy()
    return results


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def runPaper(options: Options, out: Callable[[str], object] = _stdout) -> int:
    """
    C{lin6 lab paper}: measure, print the table and the figures.  Ctrl-C
    or SIGTERM tear everything down.

    @return: the exit status: 0 when every run succeeded, 1 on failure, 130
        when interrupted.
    """
    from lin6twisted.dataplane import DataplaneError
    from lin6twisted.netns import NetnsError, isRoot

    if not isRoot():
        out("lin6 lab paper needs root (network namespaces, BPF, tc)")
        return 1
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        results = measure(options, out)
    except (PaperError, DataplaneError, NetnsError) as e:
        out(f"paper comparison failed: {e}")
        return 1
    except KeyboardInterrupt:
        out("paper comparison interrupted; everything was torn down")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    out("")
    out(results.table())
    out("")
    for name, value, unit, _ in results.figures():
        out(f"paper.{name} {value:.6g} {unit}")
    if options["json"]:
        with open(options["json"], "w") as f:
            json.dump(results.toJSON(), f, indent=2)
        out(f"results written to {options['json']}")
    return 0


def run(options: Options) -> int:
    """
    The C{run(options)} entry point of the C{lin6} command line.
    """
    return runPaper(options)
