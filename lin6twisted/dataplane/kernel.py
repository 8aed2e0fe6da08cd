# -*- test-case-name: lin6twisted.dataplane.test.test_kernel -*-
"""
Byte layouts shared with the BPF programs (C{dataplane_c/lin6_dp.h}), the
location of the compiled object, bpffs mounting and network-namespace entry.

Prefixes and Node IDs travel as their 8 network-order bytes, exactly as
they sit in the packet, so the BPF side compares them without swapping.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import mmap
import os
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from attrs import frozen

from lin6twisted.address import Locator, NodeID, Prefix
from lin6twisted.dataplane.interfaces import DataplaneError

__all__ = [
    "CONFIG",
    "FLAG_ACTIVE",
    "FLAG_HOLD_INGRESS",
    "FLAG_REROUTE",
    "FLAG_STRICT",
    "GENERATION",
    "MAPPING",
    "MISS_EVENT",
    "Config",
    "MissEvent",
    "blastPath",
    "buildObject",
    "decodeMapping",
    "encodeMapping",
    "ensureBPFFS",
    "floorPath",
    "inNetns",
    "ipRouteIn",
    "loadGeneration",
    "netnsName",
    "objectPath",
    "sourceDir",
    "storeGeneration",
]

FLAG_STRICT: Final = 1 << 0
FLAG_REROUTE: Final = 1 << 1
FLAG_HOLD_INGRESS: Final = 1 << 2
FLAG_ACTIVE: Final = 1 << 3

MAPPING: Final = struct.Struct("<8s8sQ")
"""struct lin6_mapping: prefix, previous prefix, previous valid until (ns)."""

CONFIG: Final = struct.Struct("<Q8s8s8s8sI4s8sQQII")
"""struct lin6_config (the single entry of the mappable C{lin6_cfg})."""

GENERATION: Final = struct.Struct("<Q")
"""The first field of struct lin6_config: the generation of lin6_map,
incremented after every change to it; the programs trust their per-CPU
copies of its entries only for the current one (0: no copies).  The control
stores it alone, with one aligned 8-byte write into the mapped value
(L{storeGeneration})."""

MISS_EVENT: Final = struct.Struct("<8s8sII")
"""struct lin6_miss_event: Node ID, sender prefix, direction, ifindex."""

MISS_EGRESS: Final = 1
MISS_INGRESS: Final = 2

STATS_SLOTS: Final = 16

_ZERO8: Final = bytes(8)


def encodeMapping(locator: Locator, previous: Locator | None, previousUntil: int) -> bytes:
    """
    The map value for a peer at C{locator}, C{previous} accepted until the
    CLOCK_MONOTONIC time C{previousUntil} (ns).
    """
    if previous is None:
        return MAPPING.pack(locator.prefix.packed, _ZERO8, 0)
    return MAPPING.pack(locator.prefix.packed, previous.prefix.packed, previousUntil)


def decodeMapping(key: bytes, value: bytes) -> tuple[NodeID, Locator]:
    """
    A map entry as the Node ID and its current locator.
    """
    prefix, _, _ = MAPPING.unpack(value)
    nodeID = NodeID.fromBytes(key)
    return nodeID, Locator(Prefix.fromBytes(prefix), nodeID)


@frozen
class Config:
    """
    The dataplane configuration (the single entry of C{lin6_cfg}).
    """

    lin6Prefix: Prefix
    ownNodeID: NodeID | None = None
    ownLIN6Prefix: Prefix | None = None
    ownPrefix: Prefix | None = None
    ownPreviousPrefix: Prefix | None = None
    ownPreviousUntil: int = 0
    missInterval: int = 100_000_000
    flags: int = 0
    holdIfindex: int = 0
    oui: bytes = b"\x00\x01\x4a"
    generation: int = 0

    def encode(self) -> bytes:
        def b(v: Prefix | NodeID | None) -> bytes:
            return _ZERO8 if v is None else v.packed

        return CONFIG.pack(
            self.generation,
            self.lin6Prefix.packed,
            b(self.ownNodeID),
            b(self.ownLIN6Prefix),
            b(self.ownPrefix),
            self.flags,
            self.oui + b"\x00",
            b(self.ownPreviousPrefix),
            self.ownPreviousUntil,
            self.missInterval,
            self.holdIfindex,
            0,
        )


def storeGeneration(value: mmap.mmap, generation: int) -> None:
    """
    Store C{generation} into the mapped C{lin6_cfg} value: one aligned
    8-byte write, so a program never reads half of it.
    """
    with memoryview(value) as whole, whole[: GENERATION.size].cast("Q") as field:
        field[0] = generation


def loadGeneration(value: mmap.mmap) -> int:
    """
    The generation in the mapped C{lin6_cfg} value.
    """
    with memoryview(value) as whole, whole[: GENERATION.size].cast("Q") as field:
        return int(field[0])


@frozen
class MissEvent:
    """
    A miss reported by the BPF programs.
    """

    nodeID: NodeID
    senderPrefix: Prefix | None
    egress: bool
    ifindex: int

    @classmethod
    def decode(cls, data: bytes) -> MissEvent:
        """
        @raise DataplaneError: if C{data} is not a miss event.
        """
        if len(data) < MISS_EVENT.size:
            raise DataplaneError(f"short miss event ({len(data)} bytes)")
        node, prefix, direction, ifindex = MISS_EVENT.unpack_from(data)
        if direction not in (MISS_EGRESS, MISS_INGRESS):
            raise DataplaneError(f"miss event with unknown direction {direction}")
        return cls(
            NodeID.fromBytes(node),
            None if direction == MISS_EGRESS else Prefix.fromBytes(prefix),
            direction == MISS_EGRESS,
            ifindex,
        )


def sourceDir() -> Path:
    """
    The C{dataplane_c/} directory: C{$LIN6_DP_SOURCE}, else the one next to
    this package in a source tree (editable install), else the one in the
    current directory (tox runs from the project root with the package
    installed into its own environment).
    """
    env = os.environ.get("LIN6_DP_SOURCE")
    if env:
        return Path(env)
    for candidate in (
        Path(__file__).resolve().parents[2] / "dataplane_c",
        Path.cwd() / "dataplane_c",
    ):
        if (candidate / "Makefile").exists():
            return candidate
    return Path(__file__).resolve().parents[2] / "dataplane_c"


def blastPath() -> Path:
    """
    The benchmark's traffic generator (C{dataplane_c/lin6_blast}).
    """
    return sourceDir() / "lin6_blast"


def floorPath() -> Path:
    """
    The benchmark's LWT xmit program that only returns C{BPF_OK}
    (C{dataplane_c/lwt_floor.bpf.o}): the hook's own cost.
    """
    return sourceDir() / "lwt_floor.bpf.o"


def objectPath() -> Path:
    """
    Where the compiled BPF object lives (C{dataplane_c/lin6_dp.bpf.o}), or
    C{$LIN6_DP_OBJECT} if set.
    """
    env = os.environ.get("LIN6_DP_OBJECT")
    return Path(env) if env else sourceDir() / "lin6_dp.bpf.o"


def buildObject() -> Path:
    """
    Make sure the BPF object exists and is newer than its sources, running
    the Makefile once if not (a one-time build, never per packet or update).

    @raise DataplaneError: if the object is missing and cannot be built.
    """
    path = objectPath()
    src = sourceDir()
    targets = {
        path: [src / "lin6_dp.bpf.c", src / "lin6_dp.h"],
        src / "lin6_blast": [src / "lin6_blast.c"],
        floorPath(): [src / "lwt_floor.bpf.c"],
    }
    fresh = all(
        target.exists()
        and all(not s.exists() or s.stat().st_mtime <= target.stat().st_mtime for s in sources)
        for target, sources in targets.items()
    )
    if fresh or ("LIN6_DP_OBJECT" in os.environ and path.exists()):
        return path
    if not (src / "Makefile").exists():
        raise DataplaneError(f"BPF object {path} missing and no Makefile to build it")
    try:
        subprocess.run(
            ["make", "-s", "-C", str(src)],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        raise DataplaneError(f"cannot build the BPF object: {detail.strip()}") from None
    return path


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_CLONE_NEWNET: Final = 0x40000000
_BPF_FS_MAGIC: Final = 0xCAFE4A11


def _isBPFFS(path: str) -> bool:
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 10 or fields[4] != path:
                    continue
                sep = fields.index("-")
                if fields[sep + 1] == "bpf":
                    return True
    except OSError:
        return False
    return False


def ensureBPFFS(path: str) -> None:
    """
    Mount a bpffs at C{path} unless one is there.  Outside C{/sys} (for
    example under C{/run}) it is also visible to tools run through
    C{ip netns exec}, which remounts C{/sys}.

    @raise DataplaneError: if it cannot be mounted.
    """
    os.makedirs(path, exist_ok=True)
    if _isBPFFS(path):
        return
    if _libc.mount(b"bpf", path.encode(), b"bpf", 0, None) != 0:
        code = ctypes.get_errno()
        if code != errno.EBUSY:
            raise DataplaneError(f"cannot mount bpffs at {path}: {os.strerror(code)}")


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise DataplaneError(f"setns: {os.strerror(code)}")


def netnsName(netns: str | None = None) -> str:
    """
    A name for the network namespace C{netns} (or the one this thread is
    in): its own name if it has one under C{/run/netns} (also when we were
    started by C{ip netns exec NAME}), else C{ns<inode>}.  Dataplanes in
    different namespaces share C{/run}, so their pins go under this name.
    """
    if netns is not None:
        return netns
    try:
        mine = os.stat("/proc/thread-self/ns/net").st_ino
    except OSError:
        return "lin6"
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir("/run/netns")):
            with contextlib.suppress(OSError):
                if os.stat(os.path.join("/run/netns", entry)).st_ino == mine:
                    return entry
    return f"ns{mine}"


@contextlib.contextmanager
def inNetns(name: str | None) -> Iterator[None]:
    """
    Run the body in the named network namespace (this thread only), so
    sockets and devices made there belong to it; C{None}: stay.

    @raise DataplaneError: if the namespace does not exist.
    """
    if name is None:
        yield
        return
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    except OSError as e:
        raise DataplaneError(f"no network namespace {name!r}: {e.strerror}") from None
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def ipRouteIn(name: str | None) -> Any:
    """
    A pyroute2 C{IPRoute} bound to the named network namespace (C{None}:
    ours).

    The netlink socket is made in the namespace by this thread rather than
    with C{IPRoute(netns=...)}, which forks a helper process: the child
    shares the reactor's epoll instance, and in-process users (tests, the
    paper harness) then lost reactor registrations.

    @raise DataplaneError: if the namespace does not exist.
    """
    from pyroute2 import IPRoute

    with inNetns(name):
        return IPRoute()
