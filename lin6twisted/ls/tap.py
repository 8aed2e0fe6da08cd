# mypy: disable-error-code="no-untyped-call"
# -*- test-case-name: lin6twisted.ls.test.test_tap -*-
"""
C{twistd lin6-ls --config etc/ls.conf}: the Load Sharing server.

The config file (TOML, see L{lin6twisted.config} for the conventions)::

    [ls]
    name = "ls1"                          # this replica (peers know it by it)
    ma_listen = "tcp6:port=7101"          # MA channel (mutual TLS, role ma)
    peer_listen = "tcp6:port=7102"        # peer mesh (mutual TLS, role ls)
    query_port = 7100                     # MN queries over UDP ...
    query_interface = "::"
    query_tcp = "tcp6:port=7100"          # ... and TCP ("off" to disable)
    status_listen = "tcp:port=8100:interface=127.0.0.1"   # HTTP ("off" to disable)
    wt_normal = 1.0
    wt_premium = 2.0
    th_load = 100.0
    ma_timeout = "30s"                    # heartbeat timer
    history_lifetime = "120s"
    rtt_timeout = "2s"                    # wait this long for RTT replies
    rtt_count = 4                         # echo requests per measurement
    max_probes = 64
    assignment_grace = "2s"               # assignments count until a heartbeat this much later
    load_price = 0.0                      # rtt x (1 + load_price x utilisation); 0: lowest RTT
    max_mas_per_channel = 1               # MA addresses one MA connection may speak for
    peer_retry = "1s"                     # retry interval to peers ...
    peer_max_tries = 10                   # ... this many times, then back off
    peer_backoff_max = "60s"
    cookie_secret = "00:11:..."           # optional, hex; shared by replicas
    cookie_window = "60s"
    source_rate = 20.0                    # queries/s per source address
    source_burst = 40
    node_rate = 5.0                       # queries/s per Node ID
    node_burst = 10
    prefix_rate = 200.0                   # queries/s per source /64 (all its addresses)
    prefix_burst = 400

    [[ls.peer]]
    name = "ls2"
    endpoint = "tcp6:host=2001\\:db8\\:\\:2:port=7102"

    [tls] ...        [lin6] ...       [directory] ...
"""

from __future__ import annotations

from typing import Any

from attrs import frozen
from twisted.application.internet import ClientService
from twisted.application.service import IService, MultiService, Service
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.python import usage
from twisted.web.server import Site

from lin6twisted._listen import EndpointServer
from lin6twisted._udp import UDPServer
from lin6twisted.config import Section, configFromOptions, parseLIN6Space, parseTLS
from lin6twisted.directory.settings import (
    DirectorySettings,
    directoryFromSettings,
    parseDirectorySettings,
)
from lin6twisted.ls.core import LSSettings
from lin6twisted.ls.server import GuardSettings, LSServer, PeerInfo
from lin6twisted.ls.web import StatusResource
from lin6twisted.pki import Role, TLSSettings, tlsClientEndpoint, tlsServerEndpoint

__all__ = ["LSConfig", "Options", "buildConfig", "makeService", "retryPolicy"]


@frozen
class LSConfig:
    """
    Everything C{lin6-ls} reads from its config file.
    """

    name: str
    maListen: str
    peerListen: str
    queryPort: int
    queryInterface: str
    queryTCP: str
    statusListen: str
    core: LSSettings
    guard: GuardSettings
    peers: tuple[PeerInfo, ...]
    rttCount: int
    maxMAsPerChannel: int
    peerRetry: float
    peerMaxTries: int
    peerBackoffMax: float
    tls: TLSSettings
    directory: DirectorySettings
    space: Any


def buildConfig(root: Section) -> LSConfig:
    """
    Read a C{lin6-ls} config (see the module docstring).
    """
    ls = root.section("ls", required=True)
    name = ls.getString("name")
    core = LSSettings(
        weightNormal=ls.getFloat("wt_normal", 1.0, min=0),
        weightPremium=ls.getFloat("wt_premium", 2.0, min=0),
        threshold=ls.getFloat("th_load", 100.0, above=0),
        maTimeout=ls.getDuration("ma_timeout", 30.0, above=0),
        historyLifetime=ls.getDuration("history_lifetime", 120.0, above=0),
        rttTimeout=ls.getDuration("rtt_timeout", 2.0, above=0),
        maxProbes=ls.getInt("max_probes", 64, min=1),
        assignmentGrace=ls.getDuration("assignment_grace", 2.0, min=0),
        loadPrice=ls.getFloat("load_price", 0.0, min=0),
    )
    guard = GuardSettings(
        cookieSecret=ls.getBytes("cookie_secret", b""),
        cookieWindow=ls.getDuration("cookie_window", 60.0, above=0),
        sourceRate=ls.getFloat("source_rate", 20.0, above=0),
        sourceBurst=ls.getFloat("source_burst", 40.0, min=1),
        nodeRate=ls.getFloat("node_rate", 5.0, above=0),
        nodeBurst=ls.getFloat("node_burst", 10.0, min=1),
        prefixRate=ls.getFloat("prefix_rate", 200.0, above=0),
        prefixBurst=ls.getFloat("prefix_burst", 400.0, min=1),
    )
    peers = []
    for p in ls.sectionList("peer"):
        peers.append(PeerInfo(p.getString("name"), p.getEndpoint("endpoint", client=True)))
        p.finish()
    names = [p.name for p in peers]
    if name in names or len(set(names)) != len(names):
        raise ls.error("peer", "peer names must be unique and differ from this LS's name")
    config = LSConfig(
        name=name,
        maListen=ls.getEndpoint("ma_listen", "tcp6:port=7101"),
        peerListen=ls.getEndpoint("peer_listen", "tcp6:port=7102"),
        queryPort=ls.getInt("query_port", 7100, min=0, max=65535),
        queryInterface=ls.getString("query_interface", "::"),
        queryTCP=_optionalEndpoint(ls, "query_tcp", "tcp6:port=7100"),
        statusListen=_optionalEndpoint(ls, "status_listen", "tcp:port=8100:interface=127.0.0.1"),
        core=core,
        guard=guard,
        peers=tuple(peers),
        rttCount=ls.getInt("rtt_count", 4, min=1, max=255),
        maxMAsPerChannel=ls.getInt("max_mas_per_channel", 1, min=1),
        peerRetry=ls.getDuration("peer_retry", 1.0, above=0),
        peerMaxTries=ls.getInt("peer_max_tries", 10, min=1),
        peerBackoffMax=ls.getDuration("peer_backoff_max", 60.0, above=0),
        tls=parseTLS(root.section("tls", required=True)),
        directory=parseDirectorySettings(root.section("directory", required=True)),
        space=parseLIN6Space(root.section("lin6")),
    )
    return config


def _optionalEndpoint(section: Section, key: str, default: str) -> str:
    if section.getString(key, default) == "off":
        return ""
    return section.getEndpoint(key, default)


def retryPolicy(interval: float, maxTries: int, backoffMax: float) -> Any:
    """
    The peer reconnection policy: every C{interval} seconds for
    C{maxTries} attempts, then doubling up to C{backoffMax}.
    """

    def policy(failedAttempts: int) -> float:
        if failedAttempts <= maxTries:
            return interval
        return float(min(backoffMax, interval * 2 ** min(30, failedAttempts - maxTries)))

    return policy


class Options(usage.Options):
    """
    C{twistd lin6-ls} options.
    """

    synopsis = "[--config FILE]"
    optParameters = [["config", "c", "/etc/lin6/ls.conf", "The configuration file (TOML)."]]

    def postOptions(self) -> None:
        self["settings"] = configFromOptions(self["config"], buildConfig)


class _ServerService(Service):
    def __init__(self, server: LSServer) -> None:
        self.server = server

    def startService(self) -> None:
        super().startService()
        self.server.log.info(
            "LS {name} started with {peers} peers",
            name=self.server.name,
            peers=len(self.server.peers),
        )

    def stopService(self) -> None:
        super().stopService()
        self.server.stop()


def makeService(options: usage.Options, reactor: Any = None) -> IService:
    """
    Build the LS: the directory, the MA and peer listeners, a reconnecting
    client per peer, the query endpoint and the status site.
    """
    if reactor is None:
        from twisted.internet import reactor as _reactor

        reactor = _reactor
    config: LSConfig = options["settings"]
    top = MultiService()
    directory = directoryFromSettings(config.directory, reactor, config.space)
    directory.setServiceParent(top)
    server = LSServer(
        config.name,
        config.core,
        directory,
        reactor,
        config.guard,
        list(config.peers),
        config.rttCount,
        config.maxMAsPerChannel,
    )
    _ServerService(server).setServiceParent(top)
    maEndpoint = tlsServerEndpoint(
        serverFromString(reactor, config.maListen), config.tls, [Role.MA]
    )
    EndpointServer(maEndpoint, server.maFactory(), "the MA channel (ma_listen)").setServiceParent(
        top
    )
    peerEndpoint = tlsServerEndpoint(
        serverFromString(reactor, config.peerListen), config.tls, [Role.LS]
    )
    EndpointServer(
        peerEndpoint, server.peerServerFactory(), "the peer mesh (peer_listen)"
    ).setServiceParent(top)
    policy = retryPolicy(config.peerRetry, config.peerMaxTries, config.peerBackoffMax)
    for peer in config.peers:
        endpoint = tlsClientEndpoint(
            clientFromString(reactor, peer.endpoint),
            config.tls,
            Role.LS,
        )
        ClientService(
            endpoint, server.peerClientFactory(peer), retryPolicy=policy, clock=reactor
        ).setServiceParent(top)
    from lin6twisted.ls.server import QueryDatagramProtocol, QueryStreamFactory

    UDPServer(
        config.queryPort,
        QueryDatagramProtocol(server),
        interface=config.queryInterface,
        what="MN queries over UDP (query_port)",
    ).setServiceParent(top)
    if config.queryTCP:
        EndpointServer(
            serverFromString(reactor, config.queryTCP),
            QueryStreamFactory(server),
            "MN queries over TCP (query_tcp)",
        ).setServiceParent(top)
    if config.statusListen:
        EndpointServer(
            serverFromString(reactor, config.statusListen),
            Site(StatusResource(server)),
            "the status page (status_listen)",
        ).setServiceParent(top)
    top.lsServer = server  # type: ignore[attr-defined]
    return top
