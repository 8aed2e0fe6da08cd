"""
A TCP stream for the node daemon's integration test (run as a subprocess).

    python -m lin6twisted.resolvd.test.streamtool serve PORT
    python -m lin6twisted.resolvd.test.streamtool play HOST PORT SECONDS OUTFILE

The server sends a 16-byte record (sequence number, padding) every
millisecond to each client; the player reads for SECONDS, checks that
the bytes form an unbroken sequence, and writes a JSON summary: bytes,
records, whether the sequence was intact, the peer address it saw, and
the longest gap between arrivals (with its time) -- the handover gap.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time

RECORD = struct.Struct("!QQ")


def serve(port: int) -> None:
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("::", port))
    listener.listen(8)
    sys.stdout.write(f"serving on {port}\n")
    sys.stdout.flush()
    while True:
        conn, peer = listener.accept()
        sys.stdout.write(f"client {peer[0]}\n")
        sys.stdout.flush()
        threading.Thread(target=_feed, args=(conn,), daemon=True).start()


def _feed(conn: socket.socket) -> None:
    seq = 0
    try:
        while True:
            conn.sendall(RECORD.pack(seq, 0))
            seq += 1
            time.sleep(0.001)
    except OSError:
        conn.close()


def play(host: str, port: int, seconds: float, out: str) -> None:
    start = time.monotonic()
    conn = socket.create_connection((host, port), timeout=10)
    connected = time.monotonic() - start
    peer = conn.getpeername()[0]
    conn.settimeout(0.5)
    buf = b""
    expected = 0
    intact = True
    total = 0
    last = time.monotonic()
    gap, gapAt = 0.0, 0.0
    gaps: list[tuple[float, float]] = []
    while time.monotonic() - start < seconds:
        try:
            data = conn.recv(65536)
        except TimeoutError:
            continue
        if not data:
            break
        now = time.monotonic()
        if now - last > gap:
            gap, gapAt = now - last, now - start
        if now - last > 0.005:
            gaps.append((round(now - start, 4), round(now - last, 4)))
        last = now
        total += len(data)
        buf += data
        while len(buf) >= RECORD.size:
            seq, _ = RECORD.unpack_from(buf)
            buf = buf[RECORD.size :]
            intact = intact and seq == expected
            expected = seq + 1
    with open(out, "w") as f:
        json.dump(
            {
                "bytes": total,
                "records": expected,
                "intact": intact,
                "peer": peer,
                "connect_s": connected,
                "max_gap_s": gap,
                "max_gap_at_s": gapAt,
                "gaps_over_5ms": gaps,
                "last_at_s": last - start,
            },
            f,
        )


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        play(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
