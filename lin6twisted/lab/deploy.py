# -*- test-case-name: lin6twisted.lab.test.test_integration_lab -*-
"""
Build the lab from a L{LabPlan}: namespaces, links, the WAN core, and the
project's real daemons with configuration files written for their
addresses (zone files, PKI, directory, LS/MA/resolvd configs).

L{Lab} is synchronous (it drives subprocesses and C{ip}); L{Lab.destroy}
stops every daemon and removes every namespace, and is safe to call at any
point, also twice and from a signal handler's aftermath.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import define, field

from lin6twisted.address import NodeID, reverseName
from lin6twisted.directory import ServiceLevel
from lin6twisted.directory.embedded import EmbeddedDirectory
from lin6twisted.directory.interfaces import Subscriber
from lin6twisted.dns.txt import Endpoint, Locations, formatZoneTXT
from lin6twisted.lab.config import DADMode
from lin6twisted.lab.plan import (
    DNS_PORT,
    LS_MA_PORT,
    LS_PEER_PORT,
    LS_QUERY_PORT,
    LS_STATUS_PORT,
    MA_PORT,
    MA_STATUS_PORT,
    NODE_PORT,
    AccessNet,
    LabPlan,
    Place,
)
from lin6twisted.lab.wan import Spoke, WANCore
from lin6twisted.netns import Namespace, NetnsError, Topology, cleanupStale
from lin6twisted.pki import Role, makeTestPKI
from lin6twisted.testing.processes import Daemon, DaemonError, twistdArgv

__all__ = ["NS_PREFIX", "Lab", "LabError", "cleanupLeftovers"]

NS_PREFIX = "l6lab"
PROBE_NET = 9
ZONE = "lin6.example"

# Each lin6-resolvd gets a private bpffs for its pins, besides its own pin
# directory name (`dataplane_name`): `ip netns exec` runs the command in its
# own mount namespace, so this mount is private.
_PRIVATE_BPFFS = (
    'mkdir -p /run/lin6twisted/bpf && mount -t bpf bpf /run/lin6twisted/bpf && exec "$@"'
)


class LabError(RuntimeError):
    """
    The lab could not be built or a daemon failed.
    """


def _ep(host: str, port: int) -> str:
    """
    A Twisted client endpoint string for C{[host]:port}, for TOML literal
    strings.
    """
    return f"tcp:host={host.replace(':', chr(92) + ':')}:port={port}"


@define
class Lab:
    """
    A running (or half-built) lab.

    @ivar progress: called with a short text for every step.
    """

    plan: LabPlan
    workDir: Path
    progress: Callable[[str], None] = lambda text: None
    topo: Topology = field(init=False)
    wan: WANCore | None = None
    daemons: dict[str, Daemon] = field(factory=dict)
    ns: dict[str, Namespace] = field(factory=dict)
    subscribers: dict[NodeID, Subscriber] = field(factory=dict)
    serviceKey: bytes = field(factory=lambda: secrets.token_bytes(32))
    processes: list[Any] = field(factory=list)
    pki: Any = None
    controlErrors: dict[str, str] = field(factory=dict)
    sockDir: Path = field(init=False)
    probeNet: AccessNet | None = None
    probeNodeIDs: tuple[NodeID, ...] = tuple(
        NodeID.fromString(f"201:4a00:0:f{i}") for i in range(1, 4)
    )

    def __attrs_post_init__(self) -> None:
        self.topo = Topology(NS_PREFIX)
        # Control sockets live in a short directory: AF_UNIX paths are
        # limited to 107 bytes and work directories may be deep.
        self.sockDir = Path(tempfile.mkdtemp(prefix="l6lab-"))

    # -- topology ---------------------------------------------------------

    def ensureBuilt(self) -> None:
        """
        Build the C parts once if they are missing: C{l6wan} (C{wan_c/})
        and the dataplane's BPF object (C{dataplane_c/}), so the node
        daemons do not race to build it.

        @raise LabError: if a build fails.
        """
        import subprocess

        from lin6twisted.dataplane.interfaces import DataplaneError
        from lin6twisted.dataplane.kernel import buildObject
        from lin6twisted.lab.wan import WANError, wanBinary

        try:
            wanBinary()
        except WANError:
            self.progress("building l6wan (make -C wan_c)")
            src = Path(__file__).resolve().parents[2] / "wan_c"
            r = subprocess.run(["make", "-s", "-C", str(src)], capture_output=True, text=True)
            if r.returncode != 0:
                raise LabError(f"cannot build l6wan: {r.stderr.strip()}") from None
        try:
            buildObject()
        except DataplaneError as e:
            raise LabError(str(e)) from None

    def build(self) -> None:
        """
        Create the namespaces, links, addresses, routes and the WAN core.
        """
        plan = self.plan
        self.ensureBuilt()
        topo = self.topo
        self.workDir.mkdir(parents=True, exist_ok=True)
        self.progress("creating namespaces")
        core = self.ns["core"] = topo.addNamespace("core", router=True)
        spokes = []
        for place in plan.places.values():
            isRouter = place.kind in ("site", "access")
            ns = self.ns[place.name] = topo.addNamespace(_short(place), router=isRouter)
            topo.link(core, place.coreDevice, ns, "up0")
            core.addAddress(place.coreDevice, f"{place.coreAddress}/64")
            ns.addAddress("up0", f"{place.uplinkAddress}/64")
            ns.addRoute("default", via=place.coreAddress, dev="up0")
            core.addRoute(place.prefix48, via=place.uplinkAddress, dev=place.coreDevice)
            spokes.append(Spoke(place.name, place.coreDevice, (place.prefix48,)))
            if place.kind == "site":
                box = self.ns[f"{place.name}-box"] = topo.addNamespace(f"b{place.index}")
                topo.link(ns, "lan0", box, "eth0")
                ns.addAddress("lan0", f"{place.boxGateway}/64")
                box.addAddress("eth0", f"{place.boxAddress}/64")
                # The MA's own traffic (RTT probes, answers) leaves from the
                # box's plain address, never from S's locator on the same
                # interface: replies to the locator would meet S's dataplane.
                box.ip6(
                    f"route add default via {place.boxGateway} dev eth0 src {place.boxAddress}"
                )
        for mn in plan.config.mns:
            node = self.ns[mn.name] = topo.addNamespace(f"mn{len(self.ns)}")
            for i, net in enumerate(plan.mnNets[mn.name]):
                router = self.ns[net.place.name]
                dev = f"a{i}"
                topo.link(router, net.routerDevice, node, dev)
                router.addAddress(net.routerDevice, f"{net.gateway}/64")
                self._setDAD(node, dev)
            first = plan.mnNets[mn.name][0]
            node.addAddress("a0", f"{first.plainAddress}/64")
            node.addRoute("default", via=first.gateway, dev="a0")
        # The probe node: fresh attaches (LS failover) from the first MN's
        # first access network, on a /64 of its own.
        first = plan.mnNets[plan.config.mns[0].name][0]
        self.probeNet = AccessNet(first.place, PROBE_NET)
        probe = self.ns["probe"] = topo.addNamespace("probe")
        router = self.ns[first.place.name]
        topo.link(router, self.probeNet.routerDevice, probe, "a0")
        router.addAddress(self.probeNet.routerDevice, f"{self.probeNet.gateway}/64")
        probe.addAddress("a0", f"{self.probeNet.plainAddress}/64")
        probe.addRoute("default", via=self.probeNet.gateway, dev="a0")
        self.progress("starting the WAN core (l6wan)")
        delays = {(a, b): ms for (a, b), ms in plan.delays.items()}
        self.wan = WANCore(core, spokes, delays, self.workDir / "wan")
        self.wan.start()

    def _setDAD(self, node: Namespace, dev: str) -> None:
        mode = self.plan.config.scenario.dad
        if mode is DADMode.OFF:
            return
        node.sysctl(f"net.ipv6.conf.{dev}.accept_dad", 1)
        node.sysctl(f"net.ipv6.conf.{dev}.dad_transmits", 1)
        node.sysctl(f"net.ipv6.conf.{dev}.optimistic_dad", 1 if mode is DADMode.OPTIMISTIC else 0)
        node.sysctl(f"net.ipv6.conf.{dev}.use_optimistic", 1 if mode is DADMode.OPTIMISTIC else 0)

    # -- files ------------------------------------------------------------

    def writeFiles(self) -> None:
        """
        The directory (LDIF), the PKI and the zone files.
        """
        plan = self.plan
        self.progress("writing the directory, PKI and zone files")
        ldif = plan.config.ldif.read_text()
        sid = plan.config.serviceNodeID
        if f"lin6NodeID: {sid}\n" not in ldif:
            ldif += (
                f"\ndn: lin6NodeID={sid},ou=subscribers,dc=lin6,dc=example\n"
                "objectClass: lin6Subscriber\n"
                f"lin6NodeID: {sid}\n"
                "cn: lab-stream-service\n"
                "description: The lab's content servers (their shared LIN6 address)\n"
                "lin6ServiceLevel: premium\n"
                "lin6KeyID: 1\n"
                f"lin6Key: {self.serviceKey.hex()}\n"
                "lin6Enabled: TRUE\n"
            )
        for nodeID in self.probeNodeIDs:
            if f"lin6NodeID: {nodeID}\n" not in ldif:
                ldif += (
                    f"\ndn: lin6NodeID={nodeID},ou=subscribers,dc=lin6,dc=example\n"
                    "objectClass: lin6Subscriber\n"
                    f"lin6NodeID: {nodeID}\n"
                    "cn: lab-probe\n"
                    "description: The lab's probe node (fresh attaches)\n"
                    "lin6ServiceLevel: normal\n"
                    "lin6KeyID: 1\n"
                    f"lin6Key: {secrets.token_hex(32)}\n"
                    "lin6Enabled: TRUE\n"
                )
        self.ldifPath.write_text(ldif)
        directory = EmbeddedDirectory.fromLDIF(self.ldifPath)
        for nodeID, entry in directory.entries().items():
            if isinstance(entry, Subscriber):
                self.subscribers[nodeID] = entry
        for mn in plan.config.mns:
            sub = self.subscribers.get(mn.nodeID)
            if sub is None or not sub.enabled:
                raise LabError(f"{mn.name}: Node ID {mn.nodeID} is not an enabled subscriber")
        svc = self.subscribers.get(sid)
        if svc is None:
            raise LabError(f"the service Node ID {sid} is not in the directory")
        self.serviceKey = svc.key
        roles = {p.name: Role.LS for p in plan.lsPlaces}
        roles.update({f"ma-{p.name}": Role.MA for p in plan.sitePlaces})
        ips: dict[str, list[ipaddress.IPv6Address]] = {
            p.name: [ipaddress.IPv6Address(p.uplinkAddress)] for p in plan.lsPlaces
        }
        ips.update(
            {f"ma-{p.name}": [ipaddress.IPv6Address(p.boxAddress)] for p in plan.sitePlaces}
        )
        self.pki = makeTestPKI(self.workDir / "pki", roles, ips)
        zones = self.workDir / "zones"
        zones.mkdir(exist_ok=True)
        serial = time.strftime("%Y%m%d01")
        forward = [
            f"$ORIGIN {ZONE}.",
            "$TTL 60",
            f"@ IN SOA ns1 hostmaster ( {serial} 1h 15m 1w 60 )",
            "  IN NS ns1",
            f"ns1 IN AAAA {plan.dns.uplinkAddress}",
            f"{plan.config.service.removesuffix('.' + ZONE)} IN AAAA {plan.serviceAddress}",
        ]
        for p in plan.lsPlaces:
            forward.append(f"ls IN AAAA {p.uplinkAddress}")
            forward.append(f"{p.name} IN AAAA {p.uplinkAddress}")
        for i, p in enumerate(plan.sitePlaces, start=1):
            forward.append(f"ma{i} IN AAAA {p.boxAddress}")
        (zones / f"{ZONE}.zone").write_text("\n".join(forward) + "\n")
        order = self._lsOrder()
        txt = formatZoneTXT(
            Locations(ls=tuple(Endpoint(ipaddress.IPv6Address(p.uplinkAddress),
                                        LS_QUERY_PORT) for p in order))
        )  # fmt: skip
        revOrigin = reverseName(plan.serviceAddress.address).split(".", 16)[16]
        owner = ".".join(reverseName(plan.serviceAddress.address).split(".")[:16])
        reverse = [
            f"$ORIGIN {revOrigin}.",
            "$TTL 60",
            f"@ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. ( {serial} 1h 15m 1w 60 )",
            f"  IN NS ns1.{ZONE}.",
            f"{owner} IN TXT {txt}",
            f"{owner} IN PTR {plan.config.service}.",
        ]
        (zones / "reverse.zone").write_text("\n".join(reverse) + "\n")

    def _lsOrder(self) -> list[Place]:
        """
        The LS replicas in TXT order: the one the scenario kills first, so
        clients have to fail over.
        """
        places = self.plan.lsPlaces
        kill = self.plan.config.scenario.killLS
        return sorted(places, key=lambda p: (p.name != kill, p.index))

    @property
    def ldifPath(self) -> Path:
        return self.workDir / "subscribers.ldif"

    # -- daemons ----------------------------------------------------------

    def _daemon(
        self, key: str, ns: Namespace, plugin: str, conf: Path, wrap: bool = False
    ) -> Daemon:
        argv = twistdArgv(plugin, "--config", str(conf))
        if wrap:
            argv = ["sh", "-c", _PRIVATE_BPFFS, "sh", *argv]
        d = Daemon(argv, self.workDir / "logs" / f"{key}.log", netns=ns, cwd=str(self.workDir))
        self.daemons[key] = d
        d.start()
        return d

    def startDNS(self) -> None:
        self.progress("starting lin6-dns")
        conf = self.workDir / "dns.conf"
        conf.write_text(
            "[dns]\n"
            f'zones = ["zones/{ZONE}.zone", "zones/reverse.zone"]\n'
            f"port = {DNS_PORT}\n"
            'interface = "::"\n'
        )
        d = self._daemon("dns", self.ns["dns"], "lin6-dns", conf)
        d.waitForPort(self.plan.dns.uplinkAddress, DNS_PORT, timeout=20)

    def lsConfigPath(self, place: Place) -> Path:
        return self.workDir / f"{place.name}.conf"

    def startLS(self, only: str | None = None) -> None:
        plan = self.plan
        for place in plan.lsPlaces:
            if only is not None and place.name != only:
                continue
            self.progress(f"starting lin6-ls {place.name} ({place.country})")
            peers = "".join(
                f'\n[[ls.peer]]\nname = "{p.name}"\n'
                f"endpoint = '{_ep(p.uplinkAddress, LS_PEER_PORT)}'\n"
                for p in plan.lsPlaces
                if p.name != place.name
            )
            conf = self.lsConfigPath(place)
            conf.write_text(
                f'[ls]\nname = "{place.name}"\n'
                f"ma_listen = 'tcp6:port={LS_MA_PORT}'\n"
                f"peer_listen = 'tcp6:port={LS_PEER_PORT}'\n"
                f"query_port = {LS_QUERY_PORT}\n"
                'query_interface = "::"\n'
                f"query_tcp = 'tcp6:port={LS_QUERY_PORT}'\n"
                f"status_listen = 'tcp6:port={LS_STATUS_PORT}'\n"
                f'ma_timeout = "{plan.config.scenario.maTimeout}s"\n'
                'history_lifetime = "120s"\n'
                'peer_retry = "500ms"\n'
                'cookie_secret = "' + _labSecret(self.workDir) + '"\n'
                f"{peers}\n"
                f'[tls]\nca = "{self.pki.caFile}"\n'
                f'cert = "{self.pki.certFile(place.name)}"\n'
                f'key = "{self.pki.keyFile(place.name)}"\n'
                f'[directory]\nkind = "embedded"\nldif = "{self.ldifPath}"\n'
            )
            self._daemon(place.name, self.ns[place.name], "lin6-ls", conf)
        for place in plan.lsPlaces:
            if only is not None and place.name != only:
                continue
            self.daemons[place.name].waitForPort(place.uplinkAddress, LS_MA_PORT, timeout=30)

    def startMA(self, only: str | None = None) -> None:
        plan = self.plan
        levels = plan.config.levels
        servers = ", ".join(f'"{p.uplinkAddress}"' for p in self._lsOrder())
        for place in plan.sitePlaces:
            if only is not None and place.name != only:
                continue
            site = next(s for s in plan.config.sites if s.name == place.name)
            self.progress(f"starting lin6-ma at {place.name} ({place.country})")
            name = f"ma-{place.name}"
            conf = self.workDir / f"{name}.conf"
            conf.write_text(
                "[ma]\n"
                'listen = "::"\n'
                f"port = {MA_PORT}\n"
                f'advertise = "{place.boxAddress}"\n'
                f"status = 'tcp6:port={MA_STATUS_PORT}'\n"
                f'journal = "{self.workDir / (name + ".journal")}"\n'
                f"capacity = {site.capacity}\n"
                '\n[ma.bandwidth]\ninterface = "eth0"\n'
                f"normal = {levels['normal']}\npremium = {levels['premium']}\n"
                f"\n[ma.ls]\nservers = [{servers}]\nls_port = {LS_MA_PORT}\n"
                'heartbeat_interval = "500ms"\nretry_max = "1s"\n'
                f'\n[tls]\nca = "{self.pki.caFile}"\n'
                f'cert = "{self.pki.certFile(name)}"\n'
                f'key = "{self.pki.keyFile(name)}"\n'
                f'\n[directory]\nkind = "embedded"\nldif = "{self.ldifPath}"\n'
            )
            self._daemon(name, self.ns[f"{place.name}-box"], "lin6-ma", conf)
        for place in plan.sitePlaces:
            if only is not None and place.name != only:
                continue
            self.daemons[f"ma-{place.name}"].waitForPort(place.boxAddress, MA_STATUS_PORT, 30)

    def startStreams(self) -> None:
        plan = self.plan
        for place in plan.sitePlaces:
            self.progress(f"starting the stream server S at {place.name}")
            argv = [
                sys.executable, "-m", "lin6twisted.lab.stream", "serve",
                "--port", str(plan.config.streamPort),
                "--rate", str(plan.config.offeredRate),
            ]  # fmt: skip
            d = Daemon(
                argv,
                self.workDir / "logs" / f"s-{place.name}.log",
                netns=self.ns[f"{place.name}-box"],
            )
            self.daemons[f"s-{place.name}"] = d
            d.start()
        for place in plan.sitePlaces:
            self.daemons[f"s-{place.name}"].waitForPort(
                place.boxAddress, plan.config.streamPort, 20
            )

    def controlPath(self, key: str) -> Path:
        return self.sockDir / f"{key}.sock"

    def _resolvdConf(self, key: str, body: str) -> Path:
        conf = self.workDir / f"{key}.conf"
        conf.write_text(
            "[resolvd]\n"
            + body
            + f"port = {NODE_PORT}\n"
            + 'listen = "::"\n'
            + f'state_file = "{self.workDir / (key + ".state")}"\n'
            + f'control = "{self.controlPath(key)}"\n'
            + 'dataplane = "bpf"\n'
            + f'dataplane_name = "{key}"\n'
            + 'request_timeout = "500ms"\n'
            + "retries = 2\n"
            + 'backoff_max = "2s"\n'
        )
        return conf

    def startServerNodes(self) -> None:
        plan = self.plan
        for place in plan.sitePlaces:
            self.progress(f"starting lin6-resolvd on S at {place.name} (content server)")
            key = f"r-{place.name}"
            conf = self._resolvdConf(
                key,
                f'node_id = "{plan.config.serviceNodeID}"\n'
                f'lin6_address = "{plan.serviceAddress}"\n'
                f'key = "{self.serviceKey.hex()}"\n'
                "key_id = 1\n"
                # A content server: it registers the shared (mobile-style)
                # service Node ID with the MA in its own box, pinned.
                'role = "server"\n'
                f'ma = ["[{place.boxAddress}]:{MA_PORT}"]\n',
            )
            self._daemon(key, self.ns[f"{place.name}-box"], "lin6-resolvd", conf, wrap=True)

    def startMobileNodes(self) -> None:
        plan = self.plan
        for mn in plan.config.mns:
            self.progress(f"starting lin6-resolvd on {mn.name}")
            sub = self.subscribers[mn.nodeID]
            conf = self._resolvdConf(
                f"r-{mn.name}",
                f'node_id = "{mn.nodeID}"\n'
                f'key = "{sub.key.hex()}"\n'
                f"key_id = {sub.keyID}\n"
                'role = "mobile"\n'
                f'service = "{plan.config.service}"\n'
                f'dns = ["[{plan.dns.uplinkAddress}]:{DNS_PORT}"]\n',
            )
            self._daemon(f"r-{mn.name}", self.ns[mn.name], "lin6-resolvd", conf, wrap=True)

    def startProbe(self, key: str, nodeID: NodeID) -> Daemon:
        """
        Start a fresh mobile node daemon in the probe namespace.
        """
        plan = self.plan
        sub = self.subscribers[nodeID]
        conf = self._resolvdConf(
            key,
            f'node_id = "{nodeID}"\n'
            f'key = "{sub.key.hex()}"\n'
            f"key_id = {sub.keyID}\n"
            'role = "mobile"\n'
            f'service = "{plan.config.service}"\n'
            f'dns = ["[{plan.dns.uplinkAddress}]:{DNS_PORT}"]\n',
        )
        return self._daemon(key, self.ns["probe"], "lin6-resolvd", conf, wrap=True)

    def nodeStatus(self, key: str) -> dict[str, Any] | None:
        """
        The status of a lin6-resolvd (C{r-<site>} or C{r-<mn>}), or
        C{None} if it does not answer.
        """
        from lin6twisted.resolvd.cli import ControlClientError, ask

        try:
            result = ask(str(self.controlPath(key)), {"command": "status"}, timeout=2)
        except ControlClientError as e:
            self.controlErrors[key] = str(e)
            return None
        if not isinstance(result, dict):
            self.controlErrors[key] = f"status is a {type(result).__name__}"
            return None
        return result

    def nodeCache(self, key: str) -> list[dict[str, Any]] | None:
        """
        The peer cache rows of a lin6-resolvd, or C{None}.
        """
        from lin6twisted.resolvd.cli import ControlClientError, ask

        try:
            result = ask(str(self.controlPath(key)), {"command": "cache"}, timeout=2)
        except ControlClientError:
            return None
        return result if isinstance(result, list) else None

    def httpJSON(self, ns: Namespace, host: str, port: int, path: str) -> Any:
        """
        GET a JSON document from a status page inside a namespace.

        @return: the document, or C{None} if it cannot be fetched.
        """
        script = (
            "import sys, urllib.request\n"
            "u = 'http://[%s]:%s%s' % tuple(sys.argv[1:4])\n"
            "sys.stdout.write(urllib.request.urlopen(u, timeout=3).read().decode())\n"
        )
        r = ns.run([sys.executable, "-c", script, host, str(port), path], check=False)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def lsStatus(self, name: str) -> Any:
        place = self.plan.places[name]
        return self.httpJSON(self.ns[name], place.uplinkAddress, LS_STATUS_PORT, "/status.json")

    def maStatus(self, site: str) -> Any:
        place = self.plan.places[site]
        return self.httpJSON(self.ns[f"{site}-box"], place.boxAddress, MA_STATUS_PORT, "/status")

    # -- moves ------------------------------------------------------------

    def moveCommands(self, mn: str) -> tuple[AccessNet, AccessNet]:
        return self.plan.mnNets[mn]

    # -- teardown ---------------------------------------------------------

    def destroy(self) -> None:
        """
        Stop every process and remove every namespace (idempotent).
        """
        for p in self.processes:
            with contextlib.suppress(OSError):
                if p.poll() is None:
                    p.kill()
                    p.wait(5)
        self.processes.clear()
        for d in list(self.daemons.values()):
            with contextlib.suppress(DaemonError, OSError):
                d.stop(timeout=3)
        self.daemons.clear()
        if self.wan is not None:
            with contextlib.suppress(NetnsError, OSError):
                self.wan.stop()
            self.wan = None
        self.topo.destroy()
        self.ns.clear()
        shutil.rmtree(self.sockDir, ignore_errors=True)


def cleanupLeftovers() -> list[str]:
    """
    Remove what a lab killed without its teardown left behind: namespaces
    named with L{NS_PREFIX} whose creating process is gone, after killing
    the processes still running inside them.

    @return: the namespaces removed.
    """
    import os
    import re
    import signal

    from lin6twisted.netns import listNamespaces

    stale = []
    for name in listNamespaces():
        m = re.match(rf"^{NS_PREFIX}(\d+)x", name)
        if not m:
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        stale.append(name)
        r = subprocessRun(["ip", "netns", "pids", name])
        for pid in r.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
    cleanupStale(NS_PREFIX)
    return stale


def subprocessRun(argv: list[str]) -> str:
    import subprocess

    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _short(place: Place) -> str:
    return {"dns": "dns", "ls": "ls", "site": "r", "access": "acc"}[place.kind] + str(place.index)


def _labSecret(workDir: Path) -> str:
    path = workDir / "cookie.secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


__all__ += ["ServiceLevel"]
