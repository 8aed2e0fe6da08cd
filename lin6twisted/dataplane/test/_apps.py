"""
Small socket programs the integration tests run inside network namespaces:
C{python -m lin6twisted.dataplane.test._apps COMMAND ...}.  Each prints one
JSON line with what it saw.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time


def pattern(offset: int, size: int) -> bytes:
    """
    The byte stream senders send: byte i is C{(i * 7 + i // 251) % 256},
    so reordering, loss or duplication shows.
    """
    return bytes((i * 7 + i // 251) % 256 for i in range(offset, offset + size))


def _connect(host: str, port: int, deadline: float, bind: str | None) -> socket.socket:
    while True:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        if bind:
            s.bind((bind, 0))
        try:
            s.connect((host, port))
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def tcpServer(args: argparse.Namespace) -> dict[str, object]:
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("::", args.port))
    srv.listen(1)
    srv.settimeout(args.timeout)
    print("listening", flush=True)
    conn, _ = srv.accept()
    conn.settimeout(args.timeout)
    peer = conn.getpeername()[0]
    local = conn.getsockname()[0]
    received = 0
    ok = True
    while True:
        data = conn.recv(65536)
        if not data:
            break
        if data != pattern(received, len(data)):
            ok = False
        received += len(data)
    conn.sendall(b"done")
    conn.close()
    return {"peer": peer, "local": local, "received": received, "inOrder": ok}


def tcpClient(args: argparse.Namespace) -> dict[str, object]:
    start = time.monotonic()
    s = _connect(args.host, args.port, start + args.timeout, args.bind)
    connected = time.monotonic() - start
    local, peer = s.getsockname()[0], s.getpeername()[0]
    s.settimeout(args.timeout)
    sent = 0
    chunk = args.chunk
    while sent < args.bytes:
        n = min(chunk, args.bytes - sent)
        s.sendall(pattern(sent, n))
        sent += n
        if args.interval:
            time.sleep(args.interval)
    s.shutdown(socket.SHUT_WR)
    reply = s.recv(16)
    return {
        "connectSeconds": connected,
        "sent": sent,
        "reply": reply.decode(errors="replace"),
        "local": local,
        "peer": peer,
        "seconds": time.monotonic() - start,
    }


def udpServer(args: argparse.Namespace) -> dict[str, object]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", args.port))
    s.settimeout(args.timeout)
    print("listening", flush=True)
    got: list[dict[str, str]] = []
    try:
        while len(got) < args.count:
            data, addr = s.recvfrom(65536)
            got.append({"from": addr[0], "data": data.decode(errors="replace")})
            if args.echo:
                s.sendto(data, addr)
    except TimeoutError:
        pass
    return {"received": got}


def udpClient(args: argparse.Namespace) -> dict[str, object]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    if args.bind:
        s.bind((args.bind, 0))
    s.settimeout(args.timeout)
    start = time.monotonic()
    s.sendto(args.message.encode(), (args.host, args.port))
    if not args.wait:
        return {"sent": True}
    try:
        data, addr = s.recvfrom(65536)
    except TimeoutError:
        return {"reply": None}
    return {"reply": data.decode(), "from": addr[0], "seconds": time.monotonic() - start}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    ts = sub.add_parser("tcpserver")
    ts.add_argument("port", type=int)
    ts.add_argument("--timeout", type=float, default=20)
    tc = sub.add_parser("tcpclient")
    tc.add_argument("host")
    tc.add_argument("port", type=int)
    tc.add_argument("bytes", type=int)
    tc.add_argument("--chunk", type=int, default=65536)
    tc.add_argument("--interval", type=float, default=0.0)
    tc.add_argument("--bind")
    tc.add_argument("--timeout", type=float, default=20)
    us = sub.add_parser("udpserver")
    us.add_argument("port", type=int)
    us.add_argument("--count", type=int, default=1)
    us.add_argument("--echo", action="store_true")
    us.add_argument("--timeout", type=float, default=10)
    uc = sub.add_parser("udpclient")
    uc.add_argument("host")
    uc.add_argument("port", type=int)
    uc.add_argument("message")
    uc.add_argument("--bind")
    uc.add_argument("--wait", action="store_true")
    uc.add_argument("--timeout", type=float, default=5)
    args = p.parse_args(argv)
    fn = {"tcpserver": tcpServer, "tcpclient": tcpClient, "udpserver": udpServer}.get(
        args.cmd, udpClient
    )
    try:
        result = fn(args)
    except OSError as e:
        result = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
