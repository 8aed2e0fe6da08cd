# -*- test-case-name: lin6twisted.resolvd.test.test_tap -*-
"""
The C{lin6-resolvd} configuration file (TOML, see L{lin6twisted.config})::

    [lin6]                        # optional: the deployment's LIN6 space
    prefix = "3ffe:501:1830:1999::/64"
    oui = "00:01:4a"

    [resolvd]
    node_id = "201:4a00:0:2"      # this node's Node ID (from the operator)
    key = "1a72...c5"             # its registration key, hex (or key_file)
    key_id = 1
    role = "mobile"               # "mobile", or "server" (content server: pinned MA)
    # pin_flag = true             # REGISTER carries PINNED (default: role = "server")
    service = "stream.lin6.example"   # name resolved to find the LSs
    dns = ["[2001:db8:53::1]:53"]     # DNS servers (needed unless ls/ma given)
    # ls = ["[2001:db8:1::53]:7100"]  # skip DNS: ask these LSs
    # ma = ["[2001:db8:1::10]:7300"]  # skip DNS and LS: use these MAs
    port = 7420                   # the node's UDP port (0: any)
    listen = "::"
    # interface = "eth0"          # only attach through this interface
    state_file = "/var/lib/lin6/resolvd.state"   # persisted sequence numbers
    control = "/run/lin6/resolvd.sock"           # the status socket ("none" disables)
    dataplane = "bpf"             # "bpf" (the eBPF dataplane) or "fake" (none)
    strict = false                # dataplane strict mode
    # dataplane_name = "mn1"      # directory of its BPF pins under /run/lin6twisted/bpf
                                  # (default: the network namespace's name)
    lifetime = "5m"               # registration lifetime asked for
    request_timeout = "1s"        # first retry after this; doubles per retry
    retries = 2
    backoff_max = "60s"
    report_interval = "30s"       # REPORTs to the MA ("0" disables)
    max_peer_ttl = "1h"
    max_negative_ttl = "60s"
    peer_idle = "10m"
    move_grace = "2s"
"""

from __future__ import annotations

import enum
from pathlib import Path

from attrs import frozen

from lin6twisted.address import AddressError, LIN6Address, LIN6Space, NodeID
from lin6twisted.config import Section, parseLIN6Space
from lin6twisted.dns.resolver import Server, parseServer
from lin6twisted.dns.txt import Endpoint, TXTSyntaxError, parseEndpoint
from lin6twisted.resolvd.core import NodeSettings

__all__ = ["DataplaneKind", "ResolvdSettings", "Role", "parseResolvdSettings"]


class Role(enum.Enum):
    """
    What kind of node this is.
    """

    MOBILE = "mobile"
    SERVER = "server"


class DataplaneKind(enum.Enum):
    """
    Which dataplane to drive.
    """

    BPF = "bpf"
    FAKE = "fake"


@frozen
class ResolvdSettings:
    """
    Everything C{lin6-resolvd} is configured with.
    """

    node: NodeSettings
    space: LIN6Space
    dns: tuple[Server, ...]
    port: int
    listen: str
    interface: str | None
    stateFile: Path | None
    control: Path | None
    dataplane: DataplaneKind
    strict: bool
    dataplaneName: str | None = None
    dnsTimeouts: tuple[float, ...] = (1.0, 3.0)


def _endpoints(section: Section, key: str) -> tuple[Endpoint, ...]:
    found = []
    for i, text in enumerate(section.getList(key, [])):
        try:
            found.append(parseEndpoint(text))
        except (TXTSyntaxError, ValueError) as e:
            raise section.error(key, f"entry {i + 1} {text!r}: {e}") from None
    return tuple(found)


def parseResolvdSettings(root: Section) -> ResolvdSettings:
    """
    Build the settings from a loaded file (see the module docstring).

    @raise lin6twisted.config.ConfigError: naming the bad key.
    """
    space = parseLIN6Space(root.section("lin6"))
    r = root.section("resolvd", required=True)
    try:
        nodeID = NodeID.fromString(r.getString("node_id"))
        space.checkNodeID(nodeID)
    except AddressError as e:
        raise r.error("node_id", str(e)) from None
    lin6Text = r.getString("lin6_address", None)
    try:
        if lin6Text is not None:
            lin6 = space.parse(lin6Text)
            if lin6.nodeID != nodeID:
                raise r.error("lin6_address", f"does not carry the Node ID {nodeID}")
        elif nodeID.isMobile:
            lin6 = space.address(nodeID)
        else:
            raise r.error("lin6_address", f"is required for the stationary Node ID {nodeID}")
    except AddressError as e:
        raise r.error("lin6_address", str(e)) from None
    assert isinstance(lin6, LIN6Address)
    if "key" in r and "key_file" in r:
        raise r.error("key", "give key or key_file, not both")
    if "key_file" in r:
        path = r.getPath("key_file", mustExist=True)
        try:
            key = bytes.fromhex(path.read_text("ascii").strip())
        except (OSError, ValueError) as e:
            raise r.error("key_file", f"must hold the key in hex ({e})") from None
        if not key:
            raise r.error("key_file", "is empty")
    else:
        key = r.getBytes("key")
    role = r.getEnum("role", Role, Role.MOBILE)
    dnsServers = []
    for i, text in enumerate(r.getList("dns", [])):
        try:
            dnsServers.append(parseServer(text))
        except ValueError as e:
            raise r.error("dns", f"entry {i + 1}: {e}") from None
    ls = _endpoints(r, "ls")
    ma = _endpoints(r, "ma")
    service = r.getString("service", None)
    if not (ls or ma) and (service is None or not dnsServers):
        raise r.error("service", "service and dns are required unless ls or ma is given")
    lifetime = r.getDuration("lifetime", 300.0, min=1, max=86400)
    node = NodeSettings(
        nodeID=nodeID,
        lin6=lin6,
        key=key,
        keyID=r.getInt("key_id", 1, min=0, max=(1 << 32) - 1),
        service=service,
        pinned=role is Role.SERVER,
        pinFlag=r.getBool("pin_flag", None),
        lsServers=ls,
        maServers=ma,
        lifetime=int(lifetime),
        requestTimeout=r.getDuration("request_timeout", 1.0, above=0),
        retries=r.getInt("retries", 2, min=0, max=10),
        backoffMax=r.getDuration("backoff_max", 60.0, above=0),
        maxPeerTTL=r.getDuration("max_peer_ttl", 3600.0, above=0),
        maxNegativeTTL=r.getDuration("max_negative_ttl", 60.0),
        peerIdle=r.getDuration("peer_idle", 600.0, above=0),
        reportInterval=r.getDuration("report_interval", 30.0),
        moveGrace=r.getDuration("move_grace", 2.0),
    )
    stateFile = r.getPath("state_file", None)
    controlText = r.getString("control", "/run/lin6/resolvd.sock")
    return ResolvdSettings(
        node=node,
        space=space,
        dns=tuple(dnsServers),
        port=r.getInt("port", 7420, min=0, max=65535),
        listen=r.getString("listen", "::"),
        interface=r.getString("interface", None),
        stateFile=stateFile,
        control=None if controlText == "none" else r.resolvePath(controlText),
        dataplane=r.getEnum("dataplane", DataplaneKind, DataplaneKind.BPF),
        strict=r.getBool("strict", False),
        dataplaneName=r.getString("dataplane_name", None),
    )
