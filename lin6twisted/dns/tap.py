# -*- test-case-name: lin6twisted.dns.test.test_tap -*-
"""
C{twistd lin6-dns}: the authoritative DNS server of a LIN6 deployment.

Usage like C{twistd dns}::

    twistd -n lin6-dns --config etc/dns.conf
    twistd -n lin6-dns --bindzone etc/zones/lin6.example.zone --port 5353 --interface ::1

The configuration file (TOML, see C{etc/dns.conf}) has one table::

    [dns]
    zones = ["zones/lin6.example.zone"]   # BIND zone files, relative to the file
    port = 53
    interface = "::"                      # "::" answers IPv6 and IPv4
    udp_payload = 1232                    # largest EDNS UDP answer
    allow_transfer = false                # AXFR over TCP

Command-line options win over the file; C{--bindzone} files are added to
the file's. SIGHUP reloads every zone file (see L{ZoneSet.reload}).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from attrs import frozen
from twisted.application import service
from twisted.names import dns
from twisted.python import usage

from lin6twisted._listen import TCPServer
from lin6twisted._udp import UDPServer
from lin6twisted.config import Section, configFromOptions
from lin6twisted.dns.server import (
    EDNS_PAYLOAD,
    Lin6DNSServerFactory,
    ZoneReloadService,
    ZoneSet,
)
from lin6twisted.dns.zone import ZoneError

__all__ = ["DNSSettings", "Options", "makeService", "parseSettings"]


@frozen
class DNSSettings:
    """
    The settings of C{lin6-dns}.
    """

    zones: tuple[Path, ...] = ()
    port: int = 53
    interface: str = "::"
    udpPayload: int = EDNS_PAYLOAD
    allowTransfer: bool = False


def parseSettings(root: Section) -> DNSSettings:
    """
    Read the C{[dns]} table of a configuration file.

    @raise lin6twisted.config.ConfigError: on a bad value.
    """
    section = root.section("dns")
    zones = section.getList("zones", [])
    paths = []
    for index, _ in enumerate(zones):
        paths.append(_zonePath(section, zones, index))
    interface = section.getString("interface", "::")
    _checkInterface(interface, section)
    return DNSSettings(
        zones=tuple(paths),
        port=section.getInt("port", 53, min=0, max=65535),
        interface=interface,
        udpPayload=section.getInt("udp_payload", EDNS_PAYLOAD, min=512, max=65535),
        allowTransfer=section.getBool("allow_transfer", False),
    )


def _zonePath(section: Section, zones: list[str], index: int) -> Path:
    path = Path(zones[index]).expanduser()
    if not path.is_absolute():
        path = section.baseDir / path
    return path


def _checkInterface(interface: str, section: Section | None = None) -> None:
    if interface == "":
        return
    try:
        ipaddress.ip_address(interface)
    except ValueError:
        message = f"must be an IP address to listen on, not {interface!r}"
        if section is not None:
            raise section.error("interface", message) from None
        raise usage.UsageError(f"--interface {message}") from None


class Options(usage.Options):
    """
    Options of C{twistd lin6-dns}.
    """

    synopsis = "[--config FILE] [--bindzone FILE ...] [--port N] [--interface ADDR]"
    optParameters = [
        ["config", "c", None, "TOML configuration file (see etc/dns.conf)."],
        ["port", "p", None, "The port to answer on, UDP and TCP [default: 53]."],
        ["interface", "i", None, "The address to listen on [default: ::, all]."],
    ]
    optFlags = [["verbose", "v", "Log every query and answer."]]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.bindzones: list[Path] = []

    def opt_bindzone(self, filename: str) -> None:
        """
        A BIND zone file to serve (repeatable).
        """
        self.bindzones.append(Path(filename))

    def postOptions(self) -> None:
        settings = DNSSettings()
        if self["config"] is not None:
            settings = configFromOptions(self["config"], parseSettings)
        port = settings.port
        if self["port"] is not None:
            try:
                port = int(self["port"])
            except ValueError:
                raise usage.UsageError(f"--port must be a number, not {self['port']!r}") from None
            if not 0 <= port <= 65535:
                raise usage.UsageError(f"--port must be 0-65535, not {port}")
        interface = settings.interface
        if self["interface"] is not None:
            interface = self["interface"]
            _checkInterface(interface)
        zones = (*settings.zones, *self.bindzones)
        if not zones:
            raise usage.UsageError(
                "no zone files to serve: give --bindzone FILE or zones in the [dns] table"
            )
        self["settings"] = DNSSettings(
            zones=zones,
            port=port,
            interface=interface,
            udpPayload=settings.udpPayload,
            allowTransfer=settings.allowTransfer,
        )
        try:
            self["zoneset"] = ZoneSet(zones)
        except ZoneError as e:
            raise usage.UsageError(str(e)) from None


def makeService(options: Options, reactor: Any = None) -> service.MultiService:
    """
    The DNS server: UDP and TCP on the same port, and the SIGHUP reloader.
    """
    if reactor is None:
        from twisted.internet import reactor as globalReactor

        reactor = globalReactor
    settings: DNSSettings = options["settings"]
    zones: ZoneSet = options["zoneset"]
    factory = Lin6DNSServerFactory(
        zones,
        udpPayloadSize=settings.udpPayload,
        allowTransfer=settings.allowTransfer,
        verbose=2 if options["verbose"] else 0,
        reactor=reactor,
    )
    factory.noisy = False
    top = service.MultiService()
    TCPServer(  # type: ignore[no-untyped-call]
        settings.port, factory, interface=settings.interface, what="DNS over TCP (port)"
    ).setServiceParent(top)
    protocol = dns.DNSDatagramProtocol(factory)
    udpServer: service.Service = UDPServer(
        settings.port, protocol, interface=settings.interface, what="DNS over UDP (port)"
    )
    udpServer.setServiceParent(top)
    ZoneReloadService(zones, reactor).setServiceParent(top)  # type: ignore[no-untyped-call]
    return top
