# -*- test-case-name: lin6twisted.ma.test.test_tap -*-
"""
The MA's configuration file (TOML, see L{lin6twisted.config})::

    [lin6]                      # optional: prefix, oui
    [ma]
    listen = "::"               # mapping port address (UDP)
    port = 7300                 # mapping port
    advertise = "2001:db8::5"   # the mapping address heartbeats announce
                                # (default: listen, or ::1 if listen is ::)
    status = "tcp6:port=7380:interface=\\:\\:1"   # HTTP status and /metrics; optional
    journal = "ma.journal"      # bindings survive restarts; optional
    journal_sync = false        # fsync every record
    max_lifetime = "1h"         # longest binding lifetime granted
    reply_ttl = "60s"           # longest TTL of a positive MAP_REPLY
    negative_ttl = "10s"        # TTL of a negative MAP_REPLY
    check_source = false        # REGISTER must come from one of its locators
    capacity = 100              # nodes this MA serves (reported to the LS)
    notify_retries = 3          # NOTIFYs sent per correspondent until acknowledged
    notify_interval = "1s"
    source_rate = 500.0         # datagrams per second per source address (0: no limit)
    source_burst = 1000

    [ma.bandwidth]              # optional: per-level HTB classes on S's egress
    interface = "eth0"
    normal = 2000000            # bits per second
    premium = 6000000
    ceiling = 10000000000       # the link, bits per second
    queue = 100                 # leaf queue, packets

    [ma.ls]                     # optional: the LS client
    servers = ["2001:db8::10", "2001:db8::11"]   # LS replicas, tried in order; or:
    dns_name = "ls.lin6.example"     # LS replicas from DNS (their AAAA records); or:
    dns_service = "stream.lin6.example"  # the LIN6 way: AAAA -> reverse TXT "ls=" entries
    dns_servers = ["[2001:db8::53]:53"]  # needed with dns_name / dns_service
    ls_port = 7101                   # the LSs' MA channel port
    heartbeat_interval = "1s"
    retry_max = "10s"
    probe_interval = "1s"       # least time between RTT probes of one target
    probe_timeout = "2s"        # longest wait for echo replies (the LS may ask for less)
    require_assignment = false  # mobile nodes register only after the LS assigned them here
    assignment_lifetime = "5m"  # how long an assignment notice allows a first registration

    [tls]                       # needed with [ma.ls]: ca, cert (role ma), key
    [directory]                 # see lin6twisted.directory.settings
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from attrs import field, frozen

from lin6twisted.address import DEFAULT_SPACE, LIN6Space
from lin6twisted.config import Section, parseLIN6Space, parseTLS
from lin6twisted.directory import ServiceLevel
from lin6twisted.directory.settings import DirectorySettings, parseDirectorySettings
from lin6twisted.ma.bandwidth import ShaperSettings
from lin6twisted.ma.core import TableSettings
from lin6twisted.pki import TLSSettings

__all__ = ["LSClientSettings", "MASettings", "parseMASettings"]


@frozen
class LSClientSettings:
    """
    The C{[ma.ls]} table.
    """

    servers: tuple[ipaddress.IPv6Address, ...] = ()
    dnsName: str | None = None
    dnsService: str | None = None
    dnsServers: tuple[str, ...] = ()
    lsPort: int = 7101
    heartbeatInterval: float = 1.0
    retryMax: float = 10.0
    probeInterval: float = 1.0
    probeTimeout: float = 2.0
    requireAssignment: bool = False
    assignmentLifetime: float = 300.0


@frozen
class MASettings:
    """
    The whole MA configuration.
    """

    listen: str = "::"
    port: int = 7300
    advertise: ipaddress.IPv6Address = field(factory=lambda: ipaddress.IPv6Address("::1"))
    status: str | None = None
    journal: Path | None = None
    journalSync: bool = False
    table: TableSettings = field(factory=TableSettings)
    checkSource: bool = False
    capacity: int = 100
    notifyRetries: int = 3
    notifyInterval: float = 1.0
    sourceRate: float = 500.0
    sourceBurst: int = 1000
    bandwidth: ShaperSettings | None = None
    ls: LSClientSettings | None = None
    tls: TLSSettings | None = None
    directory: DirectorySettings = field(factory=DirectorySettings)
    space: LIN6Space = DEFAULT_SPACE


def _bandwidth(section: Section) -> ShaperSettings:
    return ShaperSettings(
        interface=section.getString("interface"),
        rates={
            ServiceLevel.NORMAL: section.getInt("normal", min=8000),
            ServiceLevel.PREMIUM: section.getInt("premium", min=8000),
        },
        ceiling=section.getInt("ceiling", 10_000_000_000, min=8000),
        queue=section.getInt("queue", 100, min=1),
    )


def _ls(section: Section) -> LSClientSettings:
    servers = tuple(section.getAddressList("servers", []))
    dnsName = section.getString("dns_name", None)
    dnsService = section.getString("dns_service", None)
    if dnsName is not None and dnsService is not None:
        raise section.error("dns_service", "give dns_name or dns_service, not both")
    if not servers and dnsName is None and dnsService is None:
        raise section.error("servers", "give servers, dns_name or dns_service")
    dnsServers = tuple(section.getList("dns_servers", []))
    if (dnsName or dnsService) and not dnsServers:
        raise section.error("dns_servers", "dns_name and dns_service need dns_servers")
    from lin6twisted.dns.resolver import parseServer

    for i, text in enumerate(dnsServers):
        try:
            parseServer(text)
        except ValueError as e:
            raise section.error("dns_servers", f"item {i + 1}: {e}") from None
    return LSClientSettings(
        servers=servers,
        dnsName=dnsName,
        dnsService=dnsService,
        dnsServers=dnsServers,
        lsPort=section.getInt("ls_port", 7101, min=1, max=65535),
        heartbeatInterval=section.getDuration("heartbeat_interval", 1.0, above=0),
        retryMax=section.getDuration("retry_max", 10.0, above=0),
        probeInterval=section.getDuration("probe_interval", 1.0, min=0),
        probeTimeout=section.getDuration("probe_timeout", 2.0, above=0),
        requireAssignment=section.getBool("require_assignment", False),
        assignmentLifetime=section.getDuration("assignment_lifetime", 300.0, above=0),
    )


def parseMASettings(root: Section) -> MASettings:
    """
    Build L{MASettings} from a loaded file.

    @raise lin6twisted.config.ConfigError: on a missing, unknown or bad value.
    """
    space = parseLIN6Space(root.section("lin6"))
    ma = root.section("ma", required=True)
    table = TableSettings(
        maxLifetime=ma.getDuration("max_lifetime", 3600.0, above=0),
        replyTTL=ma.getDuration("reply_ttl", 60.0, min=0),
        negativeTTL=ma.getDuration("negative_ttl", 10.0, min=0),
    )
    bandwidth = _bandwidth(ma.section("bandwidth")) if "bandwidth" in ma else None
    ls = _ls(ma.section("ls")) if "ls" in ma else None
    tls = None
    if "tls" in root:
        tls = parseTLS(root.section("tls"))
    elif ls is not None:
        raise root.error("tls", "the LS client ([ma.ls]) needs a [tls] table")
    directory = parseDirectorySettings(root.section("directory", required=True))
    listen = ma.getString("listen", "::")
    try:
        listenAddress = ipaddress.IPv6Address(listen)
    except ValueError:
        raise ma.error("listen", "must be an IPv6 address") from None
    if listenAddress.is_unspecified:
        listenAddress = ipaddress.IPv6Address("::1")
    return MASettings(
        listen=listen,
        advertise=ma.getIPv6Address("advertise", listenAddress),
        port=ma.getInt("port", 7300, min=0, max=65535),
        status=ma.getEndpoint("status", None),
        journal=ma.getPath("journal", None),
        journalSync=ma.getBool("journal_sync", False),
        table=table,
        checkSource=ma.getBool("check_source", False),
        capacity=ma.getInt("capacity", 100, min=1, max=0xFFFFFFFF),
        notifyRetries=ma.getInt("notify_retries", 3, min=1, max=10),
        notifyInterval=ma.getDuration("notify_interval", 1.0, above=0),
        sourceRate=ma.getFloat("source_rate", 500.0, min=0),
        sourceBurst=ma.getInt("source_burst", 1000, min=1),
        bandwidth=bandwidth,
        ls=ls,
        tls=tls,
        directory=directory,
        space=space,
    )
