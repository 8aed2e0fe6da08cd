# -*- test-case-name: lin6twisted.resolvd.test.test_tap -*-
"""
C{twistd lin6-resolvd --config etc/resolvd.conf}: the node daemon.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import IService, MultiService
from twisted.internet.endpoints import UNIXServerEndpoint
from twisted.python import usage

from lin6twisted._listen import EndpointServer
from lin6twisted.config import configFromOptions
from lin6twisted.dataplane.interfaces import IDataplane
from lin6twisted.dns.resolver import Lin6Resolver
from lin6twisted.resolvd.control import ControlFactory
from lin6twisted.resolvd.core import NodeCore
from lin6twisted.resolvd.host import NetlinkHostConfig
from lin6twisted.resolvd.netmon import NetlinkAddressMonitor
from lin6twisted.resolvd.service import NodeService
from lin6twisted.resolvd.settings import DataplaneKind, ResolvdSettings, parseResolvdSettings
from lin6twisted.resolvd.state import MemorySequenceStore, SequenceSource, SequenceStore

__all__ = ["Options", "buildNode", "makeService"]


class Options(usage.Options):
    """
    C{twistd lin6-resolvd} options: the configuration file.
    """

    synopsis = "[--config FILE]"
    optParameters = [["config", "c", "/etc/lin6/resolvd.conf", "Configuration file."]]

    def postOptions(self) -> None:
        self["settings"] = configFromOptions(self["config"], parseResolvdSettings)


def _dataplane(settings: ResolvdSettings, reactor: Any) -> IDataplane:
    if settings.dataplane is DataplaneKind.FAKE:
        from lin6twisted.dataplane.fake import FakeDataplane

        return FakeDataplane(strict=settings.strict)
    from lin6twisted.dataplane.bpf import BPFDataplane

    return BPFDataplane(
        reactor, space=settings.space, strict=settings.strict, name=settings.dataplaneName
    )


def buildNode(settings: ResolvdSettings, reactor: Any) -> NodeService:
    """
    Build the node service with the real collaborators (netlink, DNS,
    dataplane, state file).

    @raise lin6twisted.resolvd.state.SequenceStoreError: if the state file
        is unreadable.
    """
    sequences: SequenceSource
    if settings.stateFile is not None:
        sequences = SequenceStore(settings.stateFile)
    else:
        sequences = MemorySequenceStore()
    dataplane = _dataplane(settings, reactor)
    core = NodeCore(settings.node, settings.space, dataplane, NetlinkHostConfig(), sequences)
    resolver = (
        Lin6Resolver(settings.dns, reactor, space=settings.space, timeouts=settings.dnsTimeouts)
        if settings.dns
        else None
    )
    return NodeService(
        core,
        reactor,
        resolver,
        NetlinkAddressMonitor(reactor),
        dataplane,
        settings.space,
        port=settings.port,
        listenInterface=settings.listen,
        interface=settings.interface,
    )


def makeService(options: Options, reactor: Any = None) -> IService:
    """
    The node service and its status socket.
    """
    if reactor is None:
        from twisted.internet import reactor as _reactor

        reactor = _reactor
    settings: ResolvdSettings = options["settings"]
    parent = MultiService()
    node = buildNode(settings, reactor)
    node.setServiceParent(parent)  # type: ignore[no-untyped-call]
    if settings.control is not None:
        settings.control.parent.mkdir(parents=True, exist_ok=True)
        endpoint = UNIXServerEndpoint(reactor, str(settings.control), mode=0o660, wantPID=True)
        control = EndpointServer(endpoint, ControlFactory(node), "the status socket (control)")
        control.setServiceParent(parent)  # type: ignore[no-untyped-call]
    return parent
