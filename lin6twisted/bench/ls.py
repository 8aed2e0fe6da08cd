# mypy: disable-error-code="no-untyped-call"
"""
Benchmark group C{ls}: one C{twistd lin6-ls} process over loopback, load
from other processes.

    - C{ls.heartbeats_per_s}: 10,000 MAs (100 mutual-TLS connections of 100
      MA addresses each, C{max_mas_per_channel = 100}) heartbeating as fast
      as the LS takes them; the rate is what the LS's own counter shows.
    - C{ls.cached_answers_per_s} and C{ls.cached_p99_ms}: MA_REQUESTs over
      UDP answered from the history table, with a valid cookie (the
      generator gets it first), a fixed window of requests in flight; every
      answer also sends the MA its assignment notice over TLS.
    - C{ls.sync_s}: a fresh replica started against an LS holding 10,000
      MAs and 100,000 history entries; the time from its SYNC_REQUEST to the
      SYNC_DONE, as the fresh replica measures it.

C{python -m lin6twisted.bench ls [--mas N] [--answers N] [--queries N]
[--window N]}.  The generators are this module run as a script
(C{python -m lin6twisted.bench.ls gen-mas|gen-queries|gen-peer ...}).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

from lin6twisted.bench import Recorder

ETC = Path(__file__).resolve().parents[2] / "etc"
NODE = "201:4a00:0:2"


def _counters(port: int) -> dict[str, Any]:
    for attempt in range(5):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/counters.json", timeout=10) as r:
                return json.loads(r.read())  # type: ignore[no-any-return]
        except OSError:
            if attempt == 4:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def _maAddress(i: int) -> IPv6Address:
    return IPv6Address(f"2001:db8:aa::{i // 65536:x}:{i % 65536:x}")


# ---------------------------------------------------------------- parent


def _config(
    base: Path, name: str, ports: dict[str, int], peer: tuple[str, int], pki: Path
) -> Path:
    path = base / f"{name}.conf"
    path.write_text(
        f"""
[ls]
name = "{name}"
ma_listen = "tcp6:port={ports["ma"]}:interface=\\\\:\\\\:1"
peer_listen = "tcp6:port={ports["peer"]}:interface=\\\\:\\\\:1"
query_port = {ports["query"]}
query_interface = "::1"
query_tcp = "off"
status_listen = "tcp:port={ports["status"]}:interface=127.0.0.1"
ma_timeout = "600s"
th_load = 1000000000.0
history_lifetime = "600s"
rtt_timeout = "2s"
max_mas_per_channel = 100
peer_retry = "0.2s"
peer_max_tries = 5
peer_backoff_max = "2s"
source_rate = 1000000.0
source_burst = 1000000
node_rate = 1000000.0
node_burst = 1000000
prefix_rate = 1000000.0
prefix_burst = 1000000

[[ls.peer]]
name = "{peer[0]}"
endpoint = "tcp:host=\\\\:\\\\:1:port={peer[1]}"

[tls]
ca = "{pki / "ca.pem"}"
cert = "{pki / (name + ".pem")}"
key = "{pki / (name + ".key")}"

[directory]
kind = "embedded"
ldif = "{ETC / "subscribers.ldif"}"
"""
    )
    return path


def _ports() -> dict[str, int]:
    from lin6twisted.testing.processes import freePort

    return {
        "ma": freePort(),
        "peer": freePort(),
        "query": freePort(socket.AF_INET6, socket.SOCK_DGRAM),
        "status": freePort(socket.AF_INET),
    }


def _generator(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lin6twisted.bench.ls", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen[str], timeout: float = 300) -> dict[str, Any]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            status = proc.wait()
            errors = proc.stderr.read()[-2000:] if proc.stderr is not None else ""
            raise RuntimeError(f"generator exited with {status}: {errors}")
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    raise RuntimeError("generator timed out")


def run(recorder: Recorder, args: list[str]) -> None:
    """
    Run the C{ls} group (see the module docstring).
    """
    from lin6twisted.pki import Role, makeTestPKI
    from lin6twisted.testing.processes import Daemon, twistdArgv

    opts = {"--mas": 10_000, "--answers": 100_000, "--queries": 60_000, "--window": 8}
    for key, value in zip(args[::2], args[1::2]):
        if key in opts:
            opts[key] = int(value)
    mas, answers = opts["--mas"], opts["--answers"]
    with tempfile.TemporaryDirectory(prefix="l6ls-bench-") as tmp:
        base = Path(tmp)
        pki = makeTestPKI(base / "pki", {"ls1": Role.LS, "ls2": Role.LS, "ma1": Role.MA})
        p1, p2 = _ports(), _ports()
        conf1 = _config(base, "ls1", p1, ("ls2", p2["peer"]), pki.directory)
        conf2 = _config(base, "ls2", p2, ("ls1", p1["peer"]), pki.directory)
        ls1 = Daemon(twistdArgv("lin6-ls", "--config", str(conf1)), base / "ls1.log").start()
        procs: list[subprocess.Popen[str]] = []
        ls2: Daemon | None = None
        try:
            ls1.waitForPort("::1", p1["ma"], timeout=30)
            recorder.note(f"ls: LS pid {ls1.process.pid if ls1.process else '?'}, 2 cores shared")

            gen = _generator(
                "gen-mas", str(pki.directory), str(p1["ma"]), str(p1["status"]), str(mas)
            )
            procs.append(gen)
            hb = _result(gen)
            recorder.record(
                "ls.heartbeats_per_s",
                hb["rate"],
                "msg/s",
                mas=mas,
                heartbeats=hb["count"],
                connections=hb["connections"],
            )

            q = _generator(
                "gen-queries",
                str(p1["query"]),
                str(opts["--queries"]),
                str(opts["--window"]),
            )
            procs.append(q)
            qr = _result(q)
            recorder.record(
                "ls.cached_answers_per_s",
                qr["rate"],
                "answers/s",
                queries=qr["count"],
                window=opts["--window"],
                errors=qr["errors"],
            )
            recorder.record("ls.cached_p99_ms", qr["p99_ms"], "ms", p50_ms=qr["p50_ms"])

            peer = _generator(
                "gen-peer", str(pki.directory), str(p1["peer"]), str(p1["status"]), str(answers)
            )
            procs.append(peer)
            _result(peer)
            before = _counters(p1["status"])
            recorder.note(f"ls: ls1 holds {before['mas']} MAs and {before['history']} answers")

            started = time.monotonic()
            ls2 = Daemon(twistdArgv("lin6-ls", "--config", str(conf2)), base / "ls2.log").start()
            synced: dict[str, Any] | None = None
            while time.monotonic() - started < 60:
                try:
                    c = _counters(p2["status"])
                except OSError:
                    time.sleep(0.05)
                    continue
                link = c["peers"]["ls1"]
                if link["syncs"] >= 1 and c["history"] >= before["history"]:
                    synced = c
                    break
                time.sleep(0.05)
            if synced is None:
                raise RuntimeError("fresh replica did not sync within 60 s")
            wall = time.monotonic() - started
            recorder.record(
                "ls.sync_s",
                synced["peers"]["ls1"]["last_sync_duration_s"],
                "s",
                mas=synced["mas"],
                answers=synced["history"],
                wall_with_process_start_s=round(wall, 3),
            )
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                    p.wait(10)
            ls1.stop()
            if ls2 is not None:
                ls2.stop()


# ---------------------------------------------------------------- generators


def _genMAs(pkiDir: str, maPort: int, statusPort: int, count: int) -> None:
    """
    C{count} MAs over 100-address TLS connections: heartbeat rounds timed
    against the LS's counter, then stay connected answering RTT requests.
    """
    from twisted.internet import reactor as _reactor
    from twisted.internet.defer import ensureDeferred
    from twisted.internet.endpoints import TCP6ClientEndpoint, connectProtocol
    from twisted.internet.task import deferLater
    from zope.interface import implementer

    from lin6twisted.ls.channel import MA_MAX_FRAME, IChannelController, LSChannel
    from lin6twisted.pki import Role, TLSSettings, tlsClientEndpoint
    from lin6twisted.wire import Heartbeat, RTTReply, RTTRequest, RTTStatus

    reactor: Any = _reactor
    d = Path(pkiDir)
    settings = TLSSettings.load(d / "ca.pem", d / "ma1.pem", d / "ma1.key")
    per = 100
    groups = [list(range(i, min(count, i + per))) for i in range(0, count, per)]

    @implementer(IChannelController)
    class Holder:
        def __init__(self) -> None:
            self.channel: LSChannel | None = None

        def channelOpen(self, channel: LSChannel) -> None:
            self.channel = channel

        def messageReceived(self, channel: LSChannel, message: Any) -> None:
            if isinstance(message, RTTRequest):
                rtt = 1000 + (message.requestId % 50) * 100
                channel.send(RTTReply(message.requestId, message.target, RTTStatus.OK, rtt, 4))

        def channelClosed(self, channel: LSChannel, reason: Any) -> None:
            self.channel = None

    def roundBytes(group: list[int], seq: int) -> bytes:
        return b"".join(
            Heartbeat(seq, _maAddress(i), 7000, 1, seq, 0, 0, 0, 5).encode() for i in group
        )

    async def main() -> None:
        holders = []
        for _ in groups:
            h = Holder()
            endpoint = tlsClientEndpoint(
                TCP6ClientEndpoint(reactor, "::1", maPort), settings, Role.LS
            )
            await connectProtocol(endpoint, LSChannel(h, "LS", True, MA_MAX_FRAME))
            holders.append(h)
        while any(h.channel is None for h in holders):
            await deferLater(reactor, 0.01, lambda: None)
        # Warm-up round: registers the MAs (one log line each), not timed.
        base = _counters(statusPort)["counters"]["heartbeats"]
        for h, g in zip(holders, groups):
            assert h.channel is not None
            h.channel.sendRaw(roundBytes(g, 1))
        while _counters(statusPort)["counters"]["heartbeats"] < base + count:
            await deferLater(reactor, 0.05, lambda: None)
        rounds = 10
        data = [[roundBytes(g, r + 2) for r in range(rounds)] for g in groups]
        base = _counters(statusPort)["counters"]["heartbeats"]
        total = rounds * count
        start = time.monotonic()
        for h, chunks in zip(holders, data):
            assert h.channel is not None
            h.channel.sendRaw(b"".join(chunks))
        while _counters(statusPort)["counters"]["heartbeats"] < base + total:
            await deferLater(reactor, 0.02, lambda: None)
        elapsed = time.monotonic() - start
        print(
            json.dumps({"rate": total / elapsed, "count": total, "connections": len(holders)}),
            flush=True,
        )

    def done(result: Any) -> Any:
        if hasattr(result, "printTraceback"):
            result.printTraceback()
            reactor.stop()
        return None

    ensureDeferred(main()).addBoth(done)
    reactor.run()


def _genQueries(queryPort: int, count: int, window: int) -> None:
    """
    Get a cookie, make the first (probed) decision, then time C{count}
    cached answers with C{window} requests in flight.
    """
    from lin6twisted.address import NodeID
    from lin6twisted.wire import CookieChallenge, MAReply, MARequest, decodeLSMessage

    node = NodeID.fromString(NODE)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.connect(("::1", queryPort))
    s.settimeout(5)
    s.send(MARequest(1, node).encode())
    challenge = decodeLSMessage(s.recv(2048))
    assert isinstance(challenge, CookieChallenge)
    cookie = challenge.cookie
    s.send(MARequest(2, node, cookie).encode())
    first = decodeLSMessage(s.recv(2048))
    if not isinstance(first, MAReply):
        raise RuntimeError(f"first query not answered: {first!r}")
    frames = [MARequest(rid, node, cookie).encode() for rid in range(10, 10 + count)]
    sent: dict[int, float] = {}
    latencies: list[float] = []
    errors = 0
    nxt = 0
    perf = time.perf_counter
    start = perf()
    while len(latencies) + errors < count:
        while nxt < count and len(sent) < window:
            sent[10 + nxt] = perf()
            s.send(frames[nxt])
            nxt += 1
        try:
            data = s.recv(2048)
        except TimeoutError:
            errors += len(sent)
            sent.clear()
            continue
        rid = int.from_bytes(data[4:8], "big")
        t = sent.pop(rid, None)
        if t is None:
            continue
        if data[1] == 0x05:
            latencies.append(perf() - t)
        else:
            errors += 1
    elapsed = perf() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        json.dumps(
            {
                "rate": len(latencies) / elapsed,
                "count": len(latencies),
                "errors": errors,
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
            }
        ),
        flush=True,
    )


def _genPeer(pkiDir: str, peerPort: int, statusPort: int, count: int) -> None:
    """
    Act as replica C{ls2} for a moment: push C{count} history entries to
    the LS as ANSTBL_UPDATEs and wait until it holds them.
    """
    from twisted.internet import reactor as _reactor
    from twisted.internet.defer import ensureDeferred
    from twisted.internet.endpoints import TCP6ClientEndpoint, connectProtocol
    from twisted.internet.task import deferLater
    from zope.interface import implementer

    from lin6twisted.address import Prefix
    from lin6twisted.ls.channel import IChannelController, LSChannel
    from lin6twisted.ls.server import lsIdentity
    from lin6twisted.pki import Role, TLSSettings, tlsClientEndpoint
    from lin6twisted.wire import AnswerEntry, AnswerTableUpdate, SyncRequest

    reactor: Any = _reactor
    d = Path(pkiDir)
    settings = TLSSettings.load(d / "ca.pem", d / "ls2.pem", d / "ls2.key")

    @implementer(IChannelController)
    class Peer:
        def channelOpen(self, channel: LSChannel) -> None:
            pass

        def messageReceived(self, channel: LSChannel, message: Any) -> None:
            pass

        def channelClosed(self, channel: LSChannel, reason: Any) -> None:
            pass

    async def main() -> None:
        channel = await connectProtocol(
            tlsClientEndpoint(TCP6ClientEndpoint(reactor, "::1", peerPort), settings, Role.LS),
            LSChannel(Peer(), "peer-out", True),
        )
        while not channel.isOpen:
            await deferLater(reactor, 0.01, lambda: None)
        channel.send(SyncRequest(1, lsIdentity("ls2"), 1))
        nowMs = int(time.time() * 1000)
        entries = [
            AnswerEntry(
                Prefix(0x20010DB800000000 + i),
                _maAddress(i % 10_000),
                7000,
                nowMs,
                600,
                1500,
                2 if i % 5 == 0 else 1,  # a premium user in five
            )
            for i in range(count)
        ]
        for message in AnswerTableUpdate.inBatches(2, entries):
            channel.sendRaw(message.encode())
        while _counters(statusPort)["history"] < count:
            await deferLater(reactor, 0.05, lambda: None)
        print(json.dumps({"pushed": count}), flush=True)
        channel.close()
        reactor.stop()

    def failed(failure: Any) -> None:
        failure.printTraceback()
        reactor.stop()

    ensureDeferred(main()).addErrback(failed)
    reactor.run()


def main(argv: list[str]) -> None:
    mode, *rest = argv
    if mode == "gen-mas":
        _genMAs(rest[0], int(rest[1]), int(rest[2]), int(rest[3]))
    elif mode == "gen-queries":
        _genQueries(int(rest[0]), int(rest[1]), int(rest[2]))
    elif mode == "gen-peer":
        _genPeer(rest[0], int(rest[1]), int(rest[2]), int(rest[3]))
    else:
        raise SystemExit(f"unknown generator {mode!r}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main(sys.argv[1:])
