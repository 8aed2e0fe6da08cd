"""
Helpers for the MA integration tests and the benchmark: write a config,
run C{twistd lin6-ma} as a subprocess, talk to it over a blocking UDP socket.
"""

from __future__ import annotations

import socket
from pathlib import Path

from lin6twisted.address import NodeID
from lin6twisted.directory import Subscriber
from lin6twisted.directory.embedded import EmbeddedDirectory
from lin6twisted.testing.processes import Daemon, freePort, twistdArgv
from lin6twisted.wire.mapping import (
    MapQuery,
    MapReply,
    Register,
    RegisterAck,
    RegisterFlags,
    decodeMappingMessage,
)

REPO = Path(__file__).resolve().parents[3]
SAMPLE_LDIF = REPO / "etc" / "subscribers.ldif"


def sampleSubscribers() -> dict[NodeID, Subscriber]:
    """
    The valid entries of C{etc/subscribers.ldif}.
    """
    entries = EmbeddedDirectory.fromLDIF(SAMPLE_LDIF).entries()
    return {n: s for n, s in entries.items() if isinstance(s, Subscriber)}


def writeConfig(
    directory: Path, port: int, statusPort: int, directoryTable: str | None = None, extra: str = ""
) -> Path:
    """
    Write an MA config listening on loopback; return its path.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if directoryTable is None:
        directoryTable = f'kind = "embedded"\nldif = "{SAMPLE_LDIF}"\n'
    path = directory / "ma.conf"
    path.write_text(
        f"""
[ma]
listen = "::1"
port = {port}
status = "tcp6:port={statusPort}:interface=\\\\:\\\\:1"
journal = "ma.journal"
max_lifetime = "10m"
negative_ttl = "5s"
{extra}
[directory]
{directoryTable}
"""
    )
    return path


def startMA(directory: Path, config: Path, port: int) -> Daemon:
    """
    Start C{twistd lin6-ma} and wait until its mapping port answers.
    """
    daemon = Daemon(twistdArgv("lin6-ma", "--config", str(config)), directory / "ma.log")
    daemon.cwd = str(directory)
    before = len(daemon.log())
    daemon.start()
    daemon.waitForLog("MappingProtocol starting", timeout=20, after=before)
    return daemon


class MappingClient:
    """
    A blocking UDP client of the mapping port.
    """

    def __init__(
        self, port: int, host: str = "::1", timeout: float = 3.0, bind: str = "::1"
    ) -> None:
        self.address = (host, port)
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.sock.bind((bind, 0))

    def close(self) -> None:
        self.sock.close()

    def raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.address)

    def receive(self) -> object:
        data, _ = self.sock.recvfrom(65535)
        return decodeMappingMessage(data)

    def register(
        self,
        sub: Subscriber,
        sequence: int,
        locator: str,
        lifetime: int = 300,
        key: bytes | None = None,
        flags: RegisterFlags = RegisterFlags.PINNED & 0,
    ) -> RegisterAck:
        from ipaddress import IPv6Address

        message = Register(
            sequence & 0xFFFFFFFF,
            sub.nodeID,
            (IPv6Address(locator),),
            lifetime,
            sub.keyID,
            sequence,
            flags,
        ).sign(key or sub.key)
        self.raw(message.encode())
        reply = self.receive()
        assert isinstance(reply, RegisterAck), reply
        return reply

    def query(self, nodeID: NodeID, requestId: int = 1) -> MapReply:
        self.raw(MapQuery(requestId, nodeID).encode())
        reply = self.receive()
        assert isinstance(reply, MapReply), reply
        return reply


__all__ = ["MappingClient", "freePort", "sampleSubscribers", "startMA", "writeConfig"]
