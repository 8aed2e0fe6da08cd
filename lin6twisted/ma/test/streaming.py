"""
A tiny TCP stream source and sink for the bandwidth tests, run as
C{python -m lin6twisted.ma.test.streaming serve PORT} (in S) and
C{python -m lin6twisted.ma.test.streaming pull ADDRESS PORT WARMUP SECONDS}
(in an MN), which prints the payload rate it measured in bits per second.
"""

from __future__ import annotations

import socket
import sys
import threading
import time


def serve(port: int) -> None:
    """
    Send zeros to every client as fast as the network takes them.
    """
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("::", port))
    listener.listen(8)
    chunk = bytes(65536)

    def feed(conn: socket.socket) -> None:
        with conn:
            try:
                while True:
                    conn.sendall(chunk)
            except OSError:
                return

    while True:
        conn, _ = listener.accept()
        # Loss-based congestion control keeps the bottleneck busy; BBR (the
        # kernel default here) under-fills a shaped class while it probes.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
        threading.Thread(target=feed, args=(conn,), daemon=True).start()


def pull(address: str, port: int, warmup: float, seconds: float) -> float:
    """
    Read the stream; return payload bits per second over C{seconds} after
    C{warmup}.
    """
    s = socket.create_connection((address, port), timeout=10)
    with s:
        start = time.monotonic()
        while time.monotonic() - start < warmup:
            s.recv(65536)
        count = 0
        t0 = time.monotonic()
        while (elapsed := time.monotonic() - t0) < seconds:
            data = s.recv(65536)
            if not data:
                break
            count += len(data)
    return count * 8 / elapsed


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        rate = pull(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
        sys.stdout.write(f"{rate:.0f}\n")
