# -*- test-case-name: lin6twisted.test.test_netns -*-
"""
Network namespaces and veth links for integration tests and the lab.

Everything this module creates lives inside namespaces it made itself: veth
pairs are created directly in their target namespaces (never in the host's
namespace), and L{Topology.destroy} removes every namespace, which removes
their links with them.  Namespace names carry a caller-chosen prefix, the
process id and a counter, so parallel runs do not collide, and
L{cleanupStale} removes namespaces left behind by dead processes.

Set-up uses iproute2's C{ip} (one C{ip -batch} per call where it can): this
is one-time configuration, not a data path.  Typical use in a trial test::

    topo = Topology("l6xx")
    self.addCleanup(topo.destroy)
    a, r = topo.addNamespace("a"), topo.addNamespace("r", router=True)
    topo.link(a, "eth0", r, "eth0", mtu=1500)
    a.addAddress("eth0", "2001:db8:1::2/64")
    r.addAddress("eth0", "2001:db8:1::1/64")
    a.addRoute("default", via="2001:db8:1::1", dev="eth0")
    a.run(["ping", "-6", "-c1", "2001:db8:1::1"])
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Any

from attrs import define, field

__all__ = [
    "Namespace",
    "NetnsError",
    "Topology",
    "cleanupStale",
    "isRoot",
    "listNamespaces",
]

_counter = itertools.count(1)
_NAME_OK = re.compile(r"^[a-z0-9]{1,8}$")


class NetnsError(RuntimeError):
    """
    A namespace command failed; the message has the command and its stderr.
    """


def isRoot() -> bool:
    """
    Whether this process may create namespaces (effective uid 0).
    """
    return os.geteuid() == 0


def _run(
    argv: Sequence[str],
    input: str | None = None,
    check: bool = True,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=None if env is None else {**os.environ, **env},
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise NetnsError(f"{' '.join(argv)}: {e}") from None
    if check and result.returncode != 0:
        raise NetnsError(
            f"{' '.join(argv)} exited {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result


def listNamespaces() -> list[str]:
    """
    The names of all named network namespaces.
    """
    out = _run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def cleanupStale(prefix: str) -> list[str]:
    """
    Delete namespaces named C{<prefix>-<pid>-...} whose creating process is
    gone.

    @return: the names deleted.
    """
    gone = []
    for name in listNamespaces():
        m = re.match(rf"^{re.escape(prefix)}(\d+)x", name)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        _run(["ip", "netns", "delete", name], check=False)
        gone.append(name)
    return gone


@define
class Namespace:
    """
    One network namespace.

    @ivar name: the kernel-visible name (C{ip netns exec NAME ...}).
    @ivar label: the short name given by the caller.
    """

    name: str
    label: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """
        The argument list that runs C{argv} inside this namespace.
        """
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self,
        argv: Sequence[str],
        check: bool = True,
        timeout: float = 30.0,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """
        Run a command inside the namespace and wait for it.

        @raise NetnsError: if it fails and C{check} is true.
        """
        return _run(self.command(argv), input=input, check=check, timeout=timeout, env=env)

    def popen(
        self,
        argv: Sequence[str],
        stdout: int | IO[Any] | None = subprocess.DEVNULL,
        stderr: int | IO[Any] | None = subprocess.STDOUT,
        env: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> subprocess.Popen[bytes]:
        """
        Start a command inside the namespace without waiting.
        """
        return subprocess.Popen(
            self.command(argv),
            stdout=stdout,
            stderr=stderr,
            env=None if env is None else {**os.environ, **env},
            **kw,
        )

    def ip(self, *batch: str) -> None:
        """
        Run C{ip} commands (one per argument, without the leading C{ip})
        inside the namespace as one batch.
        """
        _run(["ip", "-netns", self.name, "-batch", "-"], input="\n".join(batch) + "\n")

    def ip6(self, *batch: str) -> None:
        """
        Like L{ip}, with C{-6} for every command (rules, IPv6 routes).
        """
        _run(["ip", "-6", "-netns", self.name, "-batch", "-"], input="\n".join(batch) + "\n")

    def sysctl(self, key: str, value: str | int) -> None:
        """
        Set a sysctl inside the namespace.
        """
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def addAddress(self, dev: str, cidr: str, nodad: bool = True) -> None:
        """
        Add an address (C{2001:db8::1/64}) to an interface.
        """
        self.ip(f"address add {cidr} dev {dev}" + (" nodad" if nodad and ":" in cidr else ""))

    def delAddress(self, dev: str, cidr: str) -> None:
        """
        Remove an address from an interface.
        """
        self.ip(f"address del {cidr} dev {dev}")

    def addRoute(
        self, dest: str, via: str | None = None, dev: str | None = None, *extra: str
    ) -> None:
        """
        Add an IPv6 route (C{dest} may be C{default}).
        """
        words = ["route", "add", "::/0" if dest == "default" else dest]
        if via:
            words += ["via", via]
        if dev:
            words += ["dev", dev]
        self.ip(" ".join([*words, *extra]))

    def replaceRoute(self, dest: str, via: str | None = None, dev: str | None = None) -> None:
        """
        Add or replace an IPv6 route.
        """
        words = ["route", "replace", "::/0" if dest == "default" else dest]
        if via:
            words += ["via", via]
        if dev:
            words += ["dev", dev]
        self.ip(" ".join(words))

    def setOffload(self, dev: str, on: bool) -> None:
        """
        Turn checksum and segmentation offloads on or off on an interface.
        """
        state = "on" if on else "off"
        self.run(
            [
                "ethtool",
                "-K",
                dev,
                "rx",
                state,
                "tx",
                state,
                "tso",
                state,
                "gso",
                state,
                "gro",
                state,
            ],
            check=False,
        )

    def addresses(self, dev: str) -> list[str]:
        """
        The global IPv6 addresses (C{addr/len}) of an interface.
        """
        out = self.run(["ip", "-6", "-o", "address", "show", "dev", dev, "scope", "global"]).stdout
        return [line.split()[3] for line in out.splitlines() if len(line.split()) > 3]


@define
class Topology:
    """
    A set of namespaces and links, destroyed together.

    @ivar prefix: at most 8 lowercase letters/digits identifying the caller
        (for example C{l6dp}); namespace names are
        C{<prefix><pid>x<n><label>}.
    """

    prefix: str = field()
    namespaces: dict[str, Namespace] = field(factory=dict)

    @prefix.validator
    def _checkPrefix(self, attribute: object, value: str) -> None:
        if not _NAME_OK.match(value):
            raise ValueError(f"namespace prefix {value!r} must be 1-8 lowercase letters/digits")

    def addNamespace(self, label: str, router: bool = False) -> Namespace:
        """
        Create a namespace with loopback up, IPv6 on, DAD off, and
        forwarding on if C{router}.
        """
        name = f"{self.prefix}{os.getpid()}x{next(_counter)}{label}"
        _run(["ip", "netns", "add", name])
        ns = Namespace(name, label)
        self.namespaces[label] = ns
        ns.ip("link set lo up")
        for key, value in [
            ("net.ipv6.conf.all.disable_ipv6", 0),
            ("net.ipv6.conf.default.disable_ipv6", 0),
            ("net.ipv6.conf.all.accept_dad", 0),
            ("net.ipv6.conf.default.accept_dad", 0),
            ("net.ipv6.conf.all.forwarding", 1 if router else 0),
            ("net.ipv6.conf.default.forwarding", 1 if router else 0),
        ]:
            ns.sysctl(key, value)
        return ns

    def __getitem__(self, label: str) -> Namespace:
        return self.namespaces[label]

    def link(
        self,
        a: Namespace,
        devA: str,
        b: Namespace,
        devB: str,
        mtu: int | None = None,
        offload: bool = True,
    ) -> None:
        """
        Create a veth pair directly inside C{a} and C{b} and bring both ends up.

        @param offload: C{False} turns checksum/segmentation offloads off on
            both ends, so checksums on the wire are real.
        """
        for dev in (devA, devB):
            if not re.match(r"^[A-Za-z0-9_.-]{1,15}$", dev):
                raise ValueError(f"bad interface name {dev!r}")
        _run(
            [
                "ip", "link", "add", devA, "netns", a.name, "type", "veth",
                "peer", "name", devB, "netns", b.name,
            ]
        )  # fmt: skip
        for ns, dev in ((a, devA), (b, devB)):
            cmds = [f"link set {dev} up"]
            if mtu is not None:
                cmds.insert(0, f"link set {dev} mtu {mtu}")
            ns.ip(*cmds)
            if not offload:
                ns.setOffload(dev, False)

    def destroy(self) -> None:
        """
        Delete every namespace of this topology (idempotent).
        """
        errors = []
        for ns in list(self.namespaces.values()):
            result = _run(["ip", "netns", "pids", ns.name], check=False)
            for pid in result.stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            r = _run(["ip", "netns", "delete", ns.name], check=False)
            if r.returncode != 0 and "No such file" not in r.stderr:
                errors.append(f"{ns.name}: {r.stderr.strip()}")
        self.namespaces.clear()
        if errors:
            raise NetnsError("; ".join(errors))
