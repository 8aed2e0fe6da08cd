"""
Benchmarks of the Mapping Agent: C{python -m lin6twisted.bench ma}.

One C{twistd lin6-ma} process on loopback (embedded directory with 1,000
generated subscribers, journal on, the per-source rate limit off since all
load comes from one address) is loaded by another process sending
pipelined UDP requests (a window of outstanding requests) and counting the
answers:

  - C{ma.registrations_per_s}: authenticated REGISTERs acknowledged OK per
    second (HMAC-SHA256 checked, directory warm, journal written);
  - C{ma.queries_per_s}: MAP_QUERYs answered per second.

Arguments: C{count=N} (requests per measurement, default 40,000),
C{window=N} (outstanding requests, default 64).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv6Address
from pathlib import Path

from lin6twisted.address import DEFAULT_SPACE
from lin6twisted.bench import Recorder, median

SUBSCRIBERS = 1000


def writeLDIF(path: Path, count: int) -> dict[str, tuple[int, str]]:
    """
    Write an LDIF with C{count} enabled mobile subscribers; return
    Node ID text -> (key id, hex key).
    """
    out = [
        "dn: dc=lin6,dc=example\nobjectClass: dcObject\nobjectClass: organization\n"
        "dc: lin6\no: bench\n",
        "dn: ou=subscribers,dc=lin6,dc=example\nobjectClass: organizationalUnit\n"
        "ou: subscribers\n",
    ]
    keys = {}
    for i in range(count):
        node = str(DEFAULT_SPACE.nodeID(0x1000 + i, mobile=True))
        key = secrets.token_hex(32)
        keys[node] = (1, key)
        level = "premium" if i % 4 == 0 else "normal"
        out.append(
            f"dn: lin6NodeID={node},ou=subscribers,dc=lin6,dc=example\n"
            f"objectClass: lin6Subscriber\nlin6NodeID: {node}\ncn: bench-{i}\n"
            f"lin6ServiceLevel: {level}\nlin6KeyID: 1\nlin6Key: {key}\nlin6Enabled: TRUE\n"
        )
    path.write_text("\n".join(out))
    return keys


def load(port: int, kind: str, count: int, window: int, keysFile: str, start: int) -> None:
    """
    The load generator (run in its own process): send C{count} requests of
    C{kind} keeping C{window} outstanding; print a JSON line with the rate.
    """
    from lin6twisted.address import NodeID
    from lin6twisted.wire.mapping import MapQuery, Register, RegisterStatus

    keys = json.loads(Path(keysFile).read_text())
    nodes = [(NodeID.fromString(n), bytes.fromhex(k)) for n, (_, k) in keys.items()]
    frames = []
    for i in range(count):
        node, key = nodes[i % len(nodes)]
        if kind == "register":
            seq = start + i // len(nodes)
            loc = IPv6Address((0x20010DB8_00AA_0001 << 64) | node.value)
            frames.append(Register(i, node, (loc,), 600, 1, seq).sign(key).encode())
        else:
            frames.append(MapQuery(i, node).encode())
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.connect(("::1", port))
    sock.settimeout(0.5)
    sent = ok = answered = 0
    begin = time.perf_counter()
    while sent < min(window, count):
        sock.send(frames[sent])
        sent += 1
    while answered < count:
        try:
            data = sock.recv(2048)
        except TimeoutError:
            # Lost datagrams: refill the window and go on.
            if sent >= count:
                break
            for _ in range(min(window, count - sent)):
                sock.send(frames[sent])
                sent += 1
            continue
        answered += 1
        if kind == "register":
            ok += data[16] == RegisterStatus.OK
        else:
            ok += 1
        if sent < count:
            sock.send(frames[sent])
            sent += 1
    elapsed = time.perf_counter() - begin
    sys.stdout.write(json.dumps({"ok": ok, "answered": answered, "elapsed": elapsed}) + "\n")


def _runLoad(
    port: int, kind: str, count: int, window: int, keysFile: Path, start: int
) -> dict[str, float]:
    argv = [sys.executable, "-m", "lin6twisted.bench.ma", "load", str(port), kind]
    argv += [str(count), str(window), str(keysFile), str(start)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(recorder: Recorder, args: list[str]) -> None:
    """
    Run the MA benchmarks.
    """
    from lin6twisted.testing.processes import Daemon, freePort, twistdArgv

    opts = dict(a.split("=", 1) for a in args if "=" in a)
    count = int(opts.get("count", 40_000))
    window = int(opts.get("window", 64))
    with tempfile.TemporaryDirectory(prefix="l6ma-bench-") as tmp:
        base = Path(tmp)
        keys = writeLDIF(base / "subscribers.ldif", SUBSCRIBERS)
        keysFile = base / "keys.json"
        keysFile.write_text(json.dumps(keys))
        port = freePort(kind=socket.SOCK_DGRAM)
        (base / "ma.conf").write_text(
            f'[ma]\nlisten = "::1"\nport = {port}\njournal = "ma.journal"\nsource_rate = 0\n'
            f'[directory]\nkind = "embedded"\nldif = "subscribers.ldif"\n'
        )
        daemon = Daemon(twistdArgv("lin6-ma", "--config", str(base / "ma.conf")), base / "ma.log")
        daemon.cwd = tmp
        daemon.start()
        try:
            daemon.waitForLog("MappingProtocol starting", timeout=30)
            # Warm-up: every node registered once (directory and code paths hot).
            _runLoad(port, "register", SUBSCRIBERS, window, keysFile, 1)
            regRates, queryRates = [], []
            start = 2
            for _ in range(3):
                r = _runLoad(port, "register", count, window, keysFile, start)
                start += count // SUBSCRIBERS + 1
                regRates.append(r["ok"] / r["elapsed"])
                q = _runLoad(port, "query", count, window, keysFile, 0)
                queryRates.append(q["ok"] / q["elapsed"])
            recorder.record(
                "ma.registrations_per_s",
                median(regRates),
                "reg/s",
                count=count,
                window=window,
                subscribers=SUBSCRIBERS,
                cpus=os.cpu_count(),
            )
            recorder.record(
                "ma.queries_per_s", median(queryRates), "query/s", count=count, window=window
            )
        finally:
            daemon.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        _, _, port, kind, count, window, keysFile, start = sys.argv
        load(int(port), kind, int(count), int(window), keysFile, int(start))
    else:
        rec = Recorder()
        run(rec, sys.argv[1:])
