"""
Benchmarks of the subscriber directory: C{python -m lin6twisted.bench directory}
(or, while C{directory} is not in L{lin6twisted.bench.GROUPS},
C{python -m lin6twisted.bench.directory}).

Figures (1,000 generated subscribers plus the sample):

  - C{directory.embedded_lookups_per_s}: L{EmbeddedDirectory} lookups,
    in-process;
  - C{directory.cached_lookups_per_s}: L{CachingDirectory} hits;
  - C{directory.slapd_lookups_per_s}, C{directory.slapd_p50_ms},
    C{directory.slapd_p99_ms}: uncached L{LDAPDirectory} lookups against a
    real OpenLDAP slapd on loopback, one connection, with a window of
    outstanding lookups (rate) and one at a time (latency);
  - C{directory.served_lookups_per_s}: the same rate against
    C{lin6 directory serve} (ldaptor's server in another process).

The LDAP figures are measured in a worker subprocess (it runs its own
reactor).  Arguments: C{count=N} (lookups per measurement, default 5,000),
C{window=N} (outstanding lookups, default 32).
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from lin6twisted.address import DEFAULT_SPACE, NodeID
from lin6twisted.bench import Recorder, median, timeRate

SUBSCRIBERS = 1000


def writeLDIF(path: Path, count: int) -> list[str]:
    """
    Write the sample LDIF plus C{count} generated subscribers; return their
    Node IDs as text.
    """
    from lin6twisted.directory.testing import SAMPLE_LDIF

    out = [SAMPLE_LDIF.read_text()]
    nodes = []
    for i in range(count):
        node = str(DEFAULT_SPACE.nodeID(0x1000 + i, mobile=True))
        nodes.append(node)
        level = "premium" if i % 4 == 0 else "normal"
        out.append(
            f"\ndn: lin6NodeID={node},ou=subscribers,dc=lin6,dc=example\n"
            f"objectClass: lin6Subscriber\nlin6NodeID: {node}\ncn: bench-{i}\n"
            f"lin6ServiceLevel: {level}\nlin6KeyID: 1\n"
            f"lin6Key: {secrets.token_hex(32)}\nlin6Enabled: TRUE\n"
        )
    path.write_text("".join(out))
    return nodes


def _options(args: list[str]) -> dict[str, int]:
    options = {"count": 5000, "window": 32}
    for arg in args:
        key, _, value = arg.partition("=")
        if key in options and value.isdigit():
            options[key] = int(value)
    return options


def run(recorder: Recorder, args: list[str]) -> None:
    """
    Measure and record the figures listed in the module docstring.
    """
    from lin6twisted.directory.cache import CachingDirectory
    from lin6twisted.directory.embedded import EmbeddedDirectory

    options = _options(args)
    with tempfile.TemporaryDirectory(prefix="l6dir-bench-") as tmp:
        ldif = Path(tmp) / "bench.ldif"
        nodes = [NodeID.fromString(n) for n in writeLDIF(ldif, SUBSCRIBERS)]
        embedded = EmbeddedDirectory.fromLDIF(ldif)
        cycle = iter(nodes * 1000)
        rate, _ = timeRate(lambda: embedded.lookup(next(cycle)), 20_000)
        recorder.record("directory.embedded_lookups_per_s", rate, "lookups/s")
        cache = CachingDirectory(embedded, Clock())
        for n in nodes:
            cache.lookup(n)
        cycle = iter(nodes * 1000)
        rate, _ = timeRate(lambda: cache.lookup(next(cycle)), 20_000)
        recorder.record("directory.cached_lookups_per_s", rate, "lookups/s")

        argv = [
            sys.executable, "-m", "lin6twisted.bench.directory", "--worker", str(ldif),
            str(options["count"]), str(options["window"]),
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"directory bench worker failed: {result.stderr[-2000:]}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    detail = {"count": options["count"], "window": options["window"]}
    recorder.record("directory.slapd_lookups_per_s", figures["slapdRate"], "lookups/s", **detail)
    recorder.record("directory.slapd_p50_ms", figures["slapdP50"], "ms")
    recorder.record("directory.slapd_p99_ms", figures["slapdP99"], "ms")
    recorder.record("directory.served_lookups_per_s", figures["servedRate"], "lookups/s", **detail)


async def _measure(reactor: Any, port: int, nodes: list[NodeID], count: int, window: int) -> Any:
    from twisted.internet.defer import Deferred, gatherResults
    from twisted.internet.endpoints import TCP4ClientEndpoint

    from lin6twisted.directory.ldap import LDAPDirectory
    from lin6twisted.directory.testing import (
        SAMPLE_BASE_DN,
        SAMPLE_READER_DN,
        SAMPLE_READER_PASSWORD,
    )

    directory = LDAPDirectory(
        TCP4ClientEndpoint(reactor, "127.0.0.1", port),
        SAMPLE_BASE_DN,
        reactor,
        bindDN=SAMPLE_READER_DN,
        password=SAMPLE_READER_PASSWORD,
        timeout=10,
    )
    directory.startService()
    try:
        first = await directory.lookup(nodes[0])
        if first is None:
            raise RuntimeError("the server does not hold the bench subscribers")
        todo = iter(range(count))

        async def lane() -> None:
            for i in todo:
                found = await directory.lookup(nodes[i % len(nodes)])
                if found is None:
                    raise RuntimeError(f"lookup {i} found nothing")

        started = time.perf_counter()
        await gatherResults([Deferred.fromCoroutine(lane()) for _ in range(window)])
        rate = count / (time.perf_counter() - started)
        latencies = []
        for i in range(min(count, 2000)):
            t = time.perf_counter()
            await directory.lookup(nodes[i % len(nodes)])
            latencies.append((time.perf_counter() - t) * 1000)
        latencies.sort()
        p50 = median(latencies)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        return rate, p50, p99
    finally:
        await directory.stopService()


def _worker(ldif: Path, count: int, window: int) -> None:
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    from lin6twisted.directory.testing import Slapd
    from lin6twisted.testing.processes import Daemon, freePort

    texts = [line.split(": ", 1)[1] for line in ldif.read_text().splitlines()
             if line.startswith("lin6NodeID: ")]  # fmt: skip
    nodes = [NodeID.fromString(t) for t in texts]
    root = Path(tempfile.mkdtemp(prefix="l6dir-bench-slapd-"))
    slapd = Slapd(root / "slapd", [ldif])
    servePort = freePort(socket.AF_INET)
    serve = Daemon(
        [sys.executable, "-m", "lin6twisted.cli", "directory", "serve", "--ldif", str(ldif),
         "--port", f"tcp:{servePort}:interface=127.0.0.1"],
        root / "serve.log",
    )  # fmt: skip
    figures: dict[str, float] = {}
    try:
        slapd.start()
        serve.start()
        serve.waitForPort("127.0.0.1", servePort)

        async def main(reactor: Any) -> None:
            rate, p50, p99 = await _measure(reactor, slapd.port, nodes, count, window)
            figures.update(slapdRate=rate, slapdP50=p50, slapdP99=p99)
            rate, _, _ = await _measure(reactor, servePort, nodes, count, window)
            figures.update(servedRate=rate)

        react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
    except SystemExit as e:
        if e.code:
            raise
    finally:
        slapd.stop()
        serve.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        _worker(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        from lin6twisted.bench import Recorder as _Recorder

        _recorder = _Recorder()
        run(_recorder, sys.argv[1:])
