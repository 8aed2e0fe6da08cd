# -*- test-case-name: lin6twisted.dataplane.test.test_integration_dataplane -*-
"""
The real LIN6 dataplane: the eBPF programs of C{dataplane_c/} loaded,
pinned and attached, driven through libbpf (ctypes) and rtnetlink
(pyroute2).

What it sets up in the node's network namespace:

  - the LIN6 /64 route with an LWT C{xmit} BPF program (C{lin6_egress}),
    C{via} the current gateway and with the own LIN6 address as preferred
    source; the own LIN6 address itself as a /128 on C{lo};
  - a tc C{clsact} ingress filter (C{lin6_ingress}, direct action) on every
    interface the node has been attached through;
  - the hold device, a TUN (default name C{lin6hold}) to which the programs
    redirect packets that need a missing mapping; packets read from it wait
    in a L{HoldQueue} and are sent on when the mapping is installed
    (outgoing ones through a raw socket, so they take the LIN6 route again;
    incoming ones written back into the TUN, whose own ingress filter maps
    them);
  - maps and programs pinned under C{<pinRoot>/<name>/} on a bpffs (default
    C{/run/lin6twisted/bpf}, visible to C{bpftool} also inside
    C{ip netns exec}).

Miss events arrive through a BPF ring buffer whose epoll descriptor is
watched by the reactor: no polling, no threads.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import shutil
import socket
import struct
import time
from collections.abc import Iterator
from ipaddress import IPv6Address
from typing import Any, Final

from twisted.internet.interfaces import IReactorFDSet, IReactorTime, IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted.address import DEFAULT_SPACE, LIN6Address, LIN6Space, Locator, NodeID
from lin6twisted.dataplane import _libbpf
from lin6twisted.dataplane.hold import Direction, HeldPacket, HoldQueue, PacketError, classify
from lin6twisted.dataplane.interfaces import (
    COUNTER_NAMES,
    KERNEL_COUNTERS,
    DataplaneError,
    IDataplane,
    MissHandler,
)
from lin6twisted.dataplane.kernel import (
    CONFIG,
    FLAG_ACTIVE,
    FLAG_HOLD_INGRESS,
    FLAG_REROUTE,
    FLAG_STRICT,
    GENERATION,
    MAPPING,
    Config,
    MissEvent,
    buildObject,
    decodeMapping,
    encodeMapping,
    ensureBPFFS,
    inNetns,
    ipRouteIn,
    netnsName,
    storeGeneration,
)

__all__ = ["BPFDataplane"]

DEFAULT_PIN_ROOT: Final = "/run/lin6twisted/bpf"
_TC_INGRESS_PARENT: Final = 0xFFFFFFF2
_TC_PRIO: Final = 0xC6  # our filter's priority on clsact ingress
_TUNSETIFF: Final = 0x400454CA
_IFF_TUN: Final = 0x0001
_IFF_NO_PI: Final = 0x1000
_IFA_F_NODAD: Final = 0x02
_MAPS: Final = ("lin6_map", "lin6_cfg", "lin6_stats", "lin6_events")
_PROGS: Final = ("lin6_egress", "lin6_ingress", "lin6_ingress_l3")


@implementer(IReadDescriptor)
class _Reader:
    """
    Adapts a descriptor and a callback to L{IReadDescriptor}.
    """

    def __init__(self, fd: int, onReadable: Any, prefix: str) -> None:
        self._fd = fd
        self._onReadable = onReadable
        self._prefix = prefix

    def fileno(self) -> int:
        return self._fd

    def doRead(self) -> None:
        self._onReadable()

    def connectionLost(self, reason: Failure) -> None:
        pass

    def logPrefix(self) -> str:
        return self._prefix


def _netlinkCode(e: Exception) -> int | None:
    code = getattr(e, "code", None)
    return code if isinstance(code, int) else None


@implementer(IDataplane)
class BPFDataplane:
    """
    The eBPF dataplane of one node (one network namespace).

    @ivar strict: strict mode (settable while running).
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        space: LIN6Space = DEFAULT_SPACE,
        netns: str | None = None,
        name: str | None = None,
        strict: bool = False,
        reroute: bool = False,
        holdIngress: bool = True,
        capacity: int = 65536,
        moveGrace: float = 2.0,
        missInterval: float = 0.1,
        pinRoot: str = DEFAULT_PIN_ROOT,
        holdDevice: str = "lin6hold",
        holdQueue: HoldQueue | None = None,
    ) -> None:
        """
        @param reactor: an L{IReactorFDSet} and L{IReactorTime}.
        @param netns: the named network namespace to work in (C{None}: ours).
        @param name: the directory name under C{pinRoot} for the pins;
            default: the network namespace's name (see L{netnsName}), so
            nodes in different namespaces of one machine do not collide.
        @param reroute: egress returns C{BPF_LWT_REROUTE} (route lookup on
            the locator, for multihomed nodes) instead of C{BPF_OK}.
        @param holdIngress: hold incoming packets from mobile LIN6 Node IDs
            without a mapping (and report the miss) instead of passing them
            unmapped.
        @param moveGrace: seconds an old locator (ours or a peer's) stays
            accepted on ingress after a move.
        @param missInterval: at most one miss report per Node ID per this
            many seconds.
        """
        if not IReactorFDSet.providedBy(reactor) or not IReactorTime.providedBy(reactor):
            raise DataplaneError("the reactor must provide IReactorFDSet and IReactorTime")
        if not 1 <= capacity <= 1 << 24:
            raise DataplaneError(f"capacity {capacity} out of range")
        if name is None:
            name = netnsName(netns)
        if "/" in name or not name or name.startswith("."):
            raise DataplaneError(f"bad dataplane name {name!r}")
        self._reactor = reactor
        self.space = space
        self.netns = netns
        self.name = name
        self._strict = strict
        self.reroute = reroute
        self.holdIngress = holdIngress
        self.capacity = capacity
        self.moveGrace = moveGrace
        self.missInterval = missInterval
        self.pinDir = os.path.join(pinRoot, name)
        self._pinRoot = pinRoot
        self.holdDevice = holdDevice
        self.holdQueue = holdQueue if holdQueue is not None else HoldQueue()
        self.running = False
        self.released = 0
        self._missHandler: MissHandler | None = None
        self._obj: _libbpf.BPFObject | None = None
        self._map: _libbpf.MapFD | None = None
        self._cfgMemory: mmap.mmap | None = None
        self._generation = 0
        self._stats: _libbpf.MapFD | None = None
        self._rb: _libbpf.RingBuffer | None = None
        self._readers: list[_Reader] = []
        self._ipr: Any = None
        self._tun: int | None = None
        self._raw: socket.socket | None = None
        self._config = Config(space.prefix, oui=space.oui)
        self._attached: dict[int, bool] = {}  # ifindex -> clsact created by us
        self._own: tuple[LIN6Address, Locator, IPv6Address | None, int] | None = None
        self._addedAddresses: set[LIN6Address] = set()
        self._onLink = False  # no gateway: egress must reroute on the locator
        self._ncpu = 1

    # -- IDataplane --------------------------------------------------------

    @property
    def strict(self) -> bool:
        return self._strict

    @strict.setter
    def strict(self, value: bool) -> None:
        self._strict = bool(value)
        if self.running:
            self._writeConfig(self._config)

    def start(self) -> None:
        if self.running:
            return
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.running = True
        self.log.info(
            "LIN6 dataplane {name} started (netns {netns})", name=self.name, netns=self.netns
        )

    def _start(self) -> None:
        path = buildObject()
        try:
            self._obj = obj = _libbpf.BPFObject(str(path), {"lin6_map": self.capacity})
            self._ncpu = _libbpf.numPossibleCPUs()
            self._map = _libbpf.MapFD(obj.mapFD("lin6_map"), 8, MAPPING.size, "lin6_map")
            self._cfgMemory = _libbpf.mapMemory(obj.mapFD("lin6_cfg"), CONFIG.size)
            self._bumpGeneration()  # 1: the programs' mapping cache is on
            self._stats = _libbpf.MapFD(obj.mapFD("lin6_stats"), 4, 8 * self._ncpu, "lin6_stats")
            self._pin(obj)
        except _libbpf.BPFError as e:
            raise DataplaneError(f"cannot load the BPF dataplane: {e}") from None
        try:
            self._ipr = ipRouteIn(self.netns)
        except Exception as e:
            raise DataplaneError(f"cannot open rtnetlink in {self.netns}: {e}") from None
        with inNetns(self.netns):
            self._tun = self._openTun()
            self._raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self._raw.setblocking(False)
        holdIndex = self._linkIndex(self.holdDevice)
        self._ipr.link("set", index=holdIndex, state="up")
        self._attachIngress(holdIndex, "lin6_ingress_l3")
        self._config = Config(
            self.space.prefix,
            oui=self.space.oui,
            holdIfindex=holdIndex,
            missInterval=int(self.missInterval * 1e9),
        )
        self._writeConfig(self._config)
        try:
            self._rb = _libbpf.RingBuffer(obj.mapFD("lin6_events"), self._missRecord)
        except _libbpf.BPFError as e:
            raise DataplaneError(f"cannot open the miss ring buffer: {e}") from None
        for fd, cb, prefix in (
            (self._rb.fileno(), self._readRing, "lin6-dp-misses"),
            (self._tun, self._readHeld, "lin6-dp-hold"),
        ):
            reader = _Reader(fd, cb, prefix)
            self._reactor.addReader(reader)
            self._readers.append(reader)

    def stop(self) -> None:
        for reader in self._readers:
            self._reactor.removeReader(reader)
        self._readers = []
        if self._rb is not None:
            self._rb.close()
            self._rb = None
        if self._ipr is not None:
            self._teardownNetwork()
            with contextlib.suppress(Exception):
                self._ipr.close()
            self._ipr = None
        if self._tun is not None:
            os.close(self._tun)
            self._tun = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        if self._cfgMemory is not None:
            self._cfgMemory.close()
            self._cfgMemory = None
        if self._obj is not None:
            self._obj.close()
            self._obj = None
        shutil.rmtree(self.pinDir, ignore_errors=True)
        self._map = self._stats = None
        self._own = None
        self._attached = {}
        if self.running:
            self.running = False
            self.log.info("LIN6 dataplane {name} stopped", name=self.name)

    def setOwnLocator(
        self, lin6: LIN6Address, locator: Locator, gateway: IPv6Address | None, interface: str
    ) -> None:
        if not self.running or self._ipr is None:
            raise DataplaneError("the dataplane is not running")
        if locator.nodeID != lin6.nodeID:
            raise DataplaneError(f"own locator {locator} does not carry the Node ID of {lin6}")
        ifindex = self._linkIndex(interface)
        self._ensureOwnAddress(lin6)
        self._attachIngress(ifindex, "lin6_ingress")
        previous = self._own[1] if self._own is not None else None
        prevPrefix, prevUntil = None, 0
        if previous is not None and previous.prefix != locator.prefix:
            prevPrefix, prevUntil = (
                previous.prefix,
                self._monotonicNS() + int(self.moveGrace * 1e9),
            )
        elif previous is not None and self._config.ownPreviousPrefix is not None:
            prevPrefix = self._config.ownPreviousPrefix
            prevUntil = self._config.ownPreviousUntil
        self._config = Config(
            self.space.prefix,
            ownNodeID=lin6.nodeID,
            ownLIN6Prefix=lin6.prefix,
            ownPrefix=locator.prefix,
            ownPreviousPrefix=prevPrefix,
            ownPreviousUntil=prevUntil,
            missInterval=self._config.missInterval,
            holdIfindex=self._config.holdIfindex,
            oui=self.space.oui,
        )
        self._onLink = gateway is None
        # Source mapping first, then one atomic route replace: the new
        # gateway and the new source locator take over together, the old
        # locator stays accepted on ingress for the grace window.
        self._writeConfig(self._config)
        self._replaceRoute(lin6, gateway, ifindex)
        self._own = (lin6, locator, gateway, ifindex)
        self.log.info(
            "own locator {locator} via {gateway} on {interface}",
            locator=str(locator),
            gateway=str(gateway),
            interface=interface,
        )

    def installMapping(
        self, nodeID: NodeID, locator: Locator, previous: Locator | None = None
    ) -> None:
        if self._map is None:
            raise DataplaneError("the dataplane is not running")
        if locator.nodeID != nodeID:
            raise DataplaneError(f"locator {locator} does not carry Node ID {nodeID}")
        if previous is not None and previous.nodeID != nodeID:
            raise DataplaneError(f"previous locator {previous} does not carry Node ID {nodeID}")
        until = self._monotonicNS() + int(self.moveGrace * 1e9) if previous is not None else 0
        try:
            self._map.update(nodeID.packed, encodeMapping(locator, previous, until))
        except _libbpf.BPFError as e:
            if e.errno == errno.E2BIG:
                raise DataplaneError(f"mapping table full ({self.capacity} entries)") from None
            raise DataplaneError(f"cannot install mapping for {nodeID}: {e}") from None
        self._bumpGeneration()
        self._release(nodeID)

    def removeMapping(self, nodeID: NodeID) -> None:
        self.holdQueue.discard(nodeID)
        if self._map is None:
            return
        try:
            self._map.delete(nodeID.packed)
        except _libbpf.BPFError as e:
            raise DataplaneError(f"cannot remove mapping for {nodeID}: {e}") from None
        finally:
            self._bumpGeneration()

    def mappings(self) -> dict[NodeID, Locator]:
        if self._map is None:
            return {}
        return dict(decodeMapping(k, v) for k, v in self._map.items())

    def counters(self) -> dict[str, int]:
        result = dict.fromkeys(COUNTER_NAMES, 0)
        result["held_dropped"] = self.holdQueue.dropped
        result["held_released"] = self.released
        if self._stats is None:
            return result
        for i, name in enumerate(COUNTER_NAMES[:KERNEL_COUNTERS]):
            raw = self._stats.lookup(struct.pack("<I", i))
            if raw is not None:
                result[name] = sum(struct.unpack(f"<{self._ncpu}Q", raw))
        return result

    def setMissHandler(self, handler: MissHandler | None) -> None:
        self._missHandler = handler

    # -- more than IDataplane ---------------------------------------------

    def programFD(self, name: str) -> int:
        """
        The descriptor of one of the loaded programs (for measurements).
        """
        if self._obj is None:
            raise DataplaneError("the dataplane is not running")
        return self._obj.progFD(name)

    # -- internals --------------------------------------------------------

    def _monotonicNS(self) -> int:
        # The programs compare with bpf_ktime_get_ns(), which is
        # CLOCK_MONOTONIC: this is kernel time, not the reactor's clock.
        return time.clock_gettime_ns(time.CLOCK_MONOTONIC)

    def _flags(self, config: Config) -> int:
        flags = 0
        if self._strict:
            flags |= FLAG_STRICT
        if self.reroute or self._onLink:
            flags |= FLAG_REROUTE
        if self.holdIngress:
            flags |= FLAG_HOLD_INGRESS
        if config.ownNodeID is not None:
            flags |= FLAG_ACTIVE
        return flags

    def _bumpGeneration(self) -> None:
        """
        Tell the programs that C{lin6_map} changed: their per-CPU copies of
        its entries (C{lin6_cache}) are valid only for the generation they
        were made in.  Called after every change to the map; a store into
        the mapped configuration, no system call.
        """
        if self._cfgMemory is None:
            raise DataplaneError("the dataplane is not running")
        self._generation += 1
        storeGeneration(self._cfgMemory, self._generation)

    def _writeConfig(self, config: Config) -> None:
        """
        Write everything in C{lin6_cfg} but the generation, which only
        L{_bumpGeneration} changes.
        """
        if self._cfgMemory is None:
            raise DataplaneError("the dataplane is not running")
        data = Config(
            config.lin6Prefix,
            config.ownNodeID,
            config.ownLIN6Prefix,
            config.ownPrefix,
            config.ownPreviousPrefix,
            config.ownPreviousUntil,
            config.missInterval,
            self._flags(config),
            config.holdIfindex,
            config.oui,
        ).encode()
        self._cfgMemory[GENERATION.size : CONFIG.size] = data[GENERATION.size :]

    def _pin(self, obj: _libbpf.BPFObject) -> None:
        ensureBPFFS(self._pinRoot)
        shutil.rmtree(self.pinDir, ignore_errors=True)
        os.makedirs(self.pinDir)
        for m in _MAPS:
            _libbpf.pin(obj.mapFD(m), os.path.join(self.pinDir, m))
        for p in _PROGS:
            _libbpf.pin(obj.progFD(p), os.path.join(self.pinDir, p))

    def _openTun(self) -> int:
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise DataplaneError(f"cannot open /dev/net/tun: {e.strerror}") from None
        try:
            ifr = struct.pack("16sH22x", self.holdDevice.encode(), _IFF_TUN | _IFF_NO_PI)
            fcntl.ioctl(fd, _TUNSETIFF, ifr)
        except OSError as e:
            os.close(fd)
            raise DataplaneError(f"cannot create hold device {self.holdDevice}: {e}") from None
        return fd

    def _linkIndex(self, name: str) -> int:
        try:
            found = self._ipr.link_lookup(ifname=name)
        except Exception as e:
            raise DataplaneError(f"cannot look up interface {name}: {e}") from None
        if not found:
            raise DataplaneError(f"no interface {name!r}")
        return int(found[0])

    def _attachIngress(self, ifindex: int, prog: str) -> None:
        if ifindex in self._attached or self._obj is None:
            return
        created = True
        try:
            self._ipr.tc("add", "clsact", ifindex)
        except Exception as e:
            if _netlinkCode(e) != errno.EEXIST:
                raise DataplaneError(f"cannot add clsact on ifindex {ifindex}: {e}") from None
            created = False
        try:
            # replace: a filter left by a crashed instance is taken over
            self._ipr.tc(
                "replace-filter",
                "bpf",
                ifindex,
                ":1",
                fd=self._obj.progFD(prog),
                name=prog,
                parent=_TC_INGRESS_PARENT,
                prio=_TC_PRIO,
                protocol=0x86DD,
                classid=1,
                direct_action=True,
            )
        except Exception as e:
            raise DataplaneError(f"cannot attach {prog} on ifindex {ifindex}: {e}") from None
        self._attached[ifindex] = created

    def _ensureOwnAddress(self, lin6: LIN6Address) -> None:
        lo = self._linkIndex("lo")
        try:
            self._ipr.addr(
                "add", index=lo, address=str(lin6.address), prefixlen=128, flags=_IFA_F_NODAD
            )
        except Exception as e:
            if _netlinkCode(e) != errno.EEXIST:
                raise DataplaneError(f"cannot add {lin6} to lo: {e}") from None
        else:
            self._addedAddresses.add(lin6)

    def _routeSpec(self) -> dict[str, Any]:
        return {
            "dst": str(self.space.prefix.network),
            "family": socket.AF_INET6,
        }

    def _replaceRoute(self, lin6: LIN6Address, gateway: IPv6Address | None, ifindex: int) -> None:
        if self._obj is None:
            raise DataplaneError("the dataplane is not running")
        spec: dict[str, Any] = {
            **self._routeSpec(),
            "oif": ifindex,
            "prefsrc": str(lin6.address),
            "encap": {
                "type": "bpf",
                "xmit": {"fd": self._obj.progFD("lin6_egress"), "name": "lin6_egress"},
            },
        }
        if gateway is not None:
            spec["gateway"] = str(gateway)
        try:
            self._ipr.route("replace", **spec)
        except Exception as e:
            raise DataplaneError(f"cannot set the LIN6 route: {e}") from None

    def _teardownNetwork(self) -> None:
        ipr = self._ipr
        if self._own is not None:
            with contextlib.suppress(Exception):
                ipr.route("del", **self._routeSpec())
        for lin6 in self._addedAddresses:
            with contextlib.suppress(Exception):
                ipr.addr(
                    "del", index=self._linkIndex("lo"), address=str(lin6.address), prefixlen=128
                )
        self._addedAddresses = set()
        for ifindex, created in self._attached.items():
            with contextlib.suppress(Exception):
                if created:
                    ipr.tc("del", "clsact", ifindex)
                else:
                    ipr.tc(
                        "del-filter",
                        "bpf",
                        ifindex,
                        ":1",
                        parent=_TC_INGRESS_PARENT,
                        prio=_TC_PRIO,
                        protocol=0x86DD,
                    )

    # -- misses and held packets -------------------------------------------

    def _readRing(self) -> None:
        if self._rb is None:
            return
        try:
            self._rb.consume()
        except _libbpf.BPFError as e:
            self.log.error("miss ring buffer: {error}", error=str(e))

    def _missRecord(self, data: bytes) -> None:
        try:
            event = MissEvent.decode(data)
        except DataplaneError as e:
            self.log.warn("bad miss event: {error}", error=str(e))
            return
        self.log.debug(
            "miss for {node} ({direction})",
            node=str(event.nodeID),
            direction="egress" if event.egress else "ingress",
        )
        handler = self._missHandler
        if handler is None:
            return
        try:
            handler(event.nodeID)
        except Exception:
            self.log.failure("miss handler failed for {node}", node=str(event.nodeID))

    def _readHeld(self) -> None:
        if self._tun is None:
            return
        now = self._reactor.seconds()
        for _ in range(256):
            try:
                packet = os.read(self._tun, 65536)
            except BlockingIOError:
                break
            except OSError as e:
                self.log.error("hold device read: {error}", error=e.strerror)
                break
            try:
                direction, nodeID = classify(packet, self.space.prefix)
            except (PacketError, ValueError) as e:
                self.log.debug("ignoring packet on the hold device: {error}", error=str(e))
                continue
            self.holdQueue.add(nodeID, HeldPacket(direction, packet, now))
            # The mapping may have arrived while the packet was in flight.
            if self._map is not None and self._map.lookup(nodeID.packed) is not None:
                self._release(nodeID)

    def _release(self, nodeID: NodeID) -> None:
        for held in self.holdQueue.release(nodeID, self._reactor.seconds()):
            try:
                if held.direction is Direction.EGRESS:
                    if self._raw is not None:
                        dst = str(IPv6Address(held.data[24:40]))
                        self._raw.sendto(held.data, (dst, 0))
                elif self._tun is not None:
                    os.write(self._tun, held.data)
                self.released += 1
            except OSError as e:
                self.log.warn(
                    "cannot send on a held packet for {node}: {error}",
                    node=str(nodeID),
                    error=e.strerror,
                )

    def heldPackets(self) -> Iterator[tuple[NodeID, int]]:
        """
        How many packets wait per Node ID.
        """
        return iter(self.holdQueue.waiting().items())
