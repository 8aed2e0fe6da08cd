"""
A user-space ICMPv6 echo responder that answers after a fixed delay, so the
RTT tests have a known, real round trip without netem:
C{python -m lin6twisted.ma.test.echoer DELAY_MS} (root, in a namespace whose
kernel echo replies are off: C{net.ipv6.icmp.echo_ignore_all=1}).
"""

from __future__ import annotations

import heapq
import select
import socket
import struct
import sys
import time


def main(delay: float) -> None:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    due: list[tuple[float, bytes, str]] = []
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        readable, _, _ = select.select([s], [], [], timeout)
        if readable:
            data, addr = s.recvfrom(2048)
            if len(data) >= 8 and data[0] == 128 and data[1] == 0:
                reply = struct.pack("!BBH", 129, 0, 0) + data[4:]
                heapq.heappush(due, (time.monotonic() + delay, reply, addr[0]))
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, reply, host = heapq.heappop(due)
            s.sendto(reply, (host, 0))


if __name__ == "__main__":
    main(float(sys.argv[1]) / 1000)
