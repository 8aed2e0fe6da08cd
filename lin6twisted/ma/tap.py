# -*- test-case-name: lin6twisted.ma.test.test_tap -*-
# mypy: disallow-untyped-calls=False
"""
C{twistd lin6-ma --config etc/ma.conf}: the Mapping Agent.
"""

from __future__ import annotations

from typing import Any

from twisted.application.internet import (
    TimerService,
)
from twisted.application.service import IServiceCollection, MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger
from twisted.python import usage
from twisted.web.server import Site

from lin6twisted._listen import EndpointServer
from lin6twisted._udp import UDPServer
from lin6twisted.config import configFromOptions
from lin6twisted.directory.settings import directoryFromSettings
from lin6twisted.ls.guard import RateLimiter
from lin6twisted.ma.bandwidth import HTBShaper, IShaper, NullShaper, ShaperError
from lin6twisted.ma.core import MappingTable
from lin6twisted.ma.journal import Journal
from lin6twisted.ma.service import MappingAgent, MappingProtocol
from lin6twisted.ma.settings import MASettings, parseMASettings
from lin6twisted.ma.status import statusRoot

__all__ = ["MAService", "Options", "makeService"]


class Options(usage.Options):
    """
    Options of C{twistd lin6-ma}.
    """

    optParameters = [["config", "c", "/etc/lin6/ma.conf", "Configuration file."]]

    def postOptions(self) -> None:
        self["settings"] = configFromOptions(self["config"], parseMASettings)


class MAService(Service):
    """
    Owns the table's life: loads the journal and sets up the shaper on
    start, removes the shaper's tree and closes the journal on stop.
    """

    log = Logger()

    def __init__(
        self, agent: MappingAgent, journal: Journal | None, shaper: IShaper, reactor: Any
    ) -> None:
        self.agent, self.journal, self.shaper, self.reactor = agent, journal, shaper, reactor

    def startService(self) -> None:
        now = self.reactor.seconds()
        if self.journal is not None:
            report = self.journal.load(self.agent.table, now)
            for line, reason in report.bad:
                self.log.error(
                    "Journal {path} line {line} skipped: {reason}",
                    path=self.journal.path,
                    line=line,
                    reason=reason,
                )
            self.log.info(
                "Journal {path}: {records} records, {bindings} bindings restored, "
                "{expired} expired while down, {bad} bad lines skipped",
                path=self.journal.path,
                records=report.records,
                bindings=len(self.agent.table),
                expired=len(report.expired),
                bad=len(report.bad),
            )
        try:
            self.shaper.start()
        except ShaperError as e:
            self.log.error("Bandwidth control is off: {error}", error=e)
            self.shaper = self.agent.shaper = NullShaper()
        self.agent.restored()
        super().startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self.agent.stop()
        self.shaper.stop()
        if self.journal is not None:
            self.journal.close()
        return maybeDeferred(lambda: None)


def buildAgent(settings: MASettings, reactor: Any, parent: IServiceCollection) -> MappingAgent:
    """
    Build the directory, table, journal, shaper and agent, and add their
    services (UDP port, expiry timer, HTTP status) to C{parent}.
    """
    directory = directoryFromSettings(settings.directory, reactor, settings.space)
    directory.setServiceParent(parent)
    table = MappingTable(settings.table)
    journal = None
    if settings.journal is not None:
        journal = Journal(str(settings.journal), sync=settings.journalSync)
    shaper: IShaper = NullShaper()
    if settings.bandwidth is not None:
        shaper = HTBShaper(settings.bandwidth)
    agent = MappingAgent(
        table,
        directory,
        reactor,
        journal,
        shaper,
        checkSource=settings.checkSource,
        notifyRetries=settings.notifyRetries,
        notifyInterval=settings.notifyInterval,
        sourceLimiter=(
            RateLimiter(settings.sourceRate, settings.sourceBurst) if settings.sourceRate else None
        ),
    )
    MAService(agent, journal, shaper, reactor).setServiceParent(parent)
    udp = UDPServer(
        settings.port,
        MappingProtocol(agent),
        interface=settings.listen,
        what="the mapping protocol (port)",
    )
    udp.setServiceParent(parent)
    timer = TimerService(1.0, agent.tick)
    timer.clock = reactor
    timer.setServiceParent(parent)
    return agent


def makeService(options: Options, reactor: Any = None) -> MultiService:
    """
    Build the MA from parsed options.
    """
    if reactor is None:
        from twisted.internet import reactor as _reactor

        reactor = _reactor
    settings: MASettings = options["settings"]
    top = MultiService()
    agent = buildAgent(settings, reactor, top)
    lsLink = _lsClient(settings, agent, reactor, top)
    if settings.status is not None:
        site = Site(statusRoot(agent, reactor, lsLink))
        site.displayTracebacks = False
        EndpointServer(
            serverFromString(reactor, settings.status), site, "the status page (status)"
        ).setServiceParent(top)
    return top


def _lsClient(settings: MASettings, agent: MappingAgent, reactor: Any, top: MultiService) -> Any:
    """
    Add the LS client if configured; return the function describing the
    LS link for the status page.
    """
    if settings.ls is None or settings.tls is None:
        return lambda: {"configured": False, "connected": False}
    from lin6twisted.ma.lsclient import buildLSClient

    resolver = None
    if settings.ls.dnsName is not None or settings.ls.dnsService is not None:
        from lin6twisted.dns.resolver import Lin6Resolver, parseServer

        servers = [parseServer(t) for t in settings.ls.dnsServers]
        resolver = Lin6Resolver(servers, reactor, space=settings.space)
    client = buildLSClient(
        settings.ls,
        settings.tls,
        settings.capacity,
        agent,
        reactor,
        settings.advertise,
        settings.port,
        resolver,
    )
    client.setServiceParent(top)
    return client.linkStatus
