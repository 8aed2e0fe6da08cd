# -*- test-case-name: lin6twisted.test.test_testing -*-
"""
Run real daemons (C{twistd -n lin6-...}) as subprocesses in integration
tests, optionally inside a network namespace, and wait until they serve.

Waits are bounded and synchronous: they poll a port or the daemon's log
file, so call them before handing control back to the reactor.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from attrs import define, field

from lin6twisted.netns import Namespace

__all__ = ["Daemon", "DaemonError", "freePort", "twistdArgv", "waitForPort"]


class DaemonError(RuntimeError):
    """
    A daemon did not start or stop as expected; the message includes the
    tail of its log.
    """


def freePort(family: int = socket.AF_INET6, kind: int = socket.SOCK_STREAM) -> int:
    """
    A port number that was free on loopback a moment ago.
    """
    with socket.socket(family, kind) as s:
        s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return int(s.getsockname()[1])


def twistdArgv(plugin: str, *args: str) -> list[str]:
    """
    The argument list that runs C{twistd -n <plugin> args...} with this
    interpreter, without a pid file.
    """
    return [
        sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
        "--nodaemon", "--pidfile=", plugin, *args,
    ]  # fmt: skip


def waitForPort(
    host: str, port: int, timeout: float = 10.0, udp: bool = False, probe: bytes = b""
) -> None:
    """
    Wait until a TCP port accepts connections (or, with C{udp}, until a UDP
    socket answers C{probe}).

    @raise DaemonError: on timeout.
    """
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if udp:
                with socket.socket(family, socket.SOCK_DGRAM) as s:
                    s.settimeout(0.2)
                    s.sendto(probe, (host, port))
                    s.recvfrom(65535)
                    return
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as e:
            last = e
            time.sleep(0.05)
    raise DaemonError(f"nothing listening on [{host}]:{port} after {timeout}s ({last})")


@define
class Daemon:
    """
    One daemon subprocess with its log file.

    @ivar argv: the command (see L{twistdArgv}).
    @ivar logPath: where its stdout and stderr go.
    @ivar netns: the namespace to run it in, or C{None} for this one.
    """

    argv: Sequence[str]
    logPath: Path
    netns: Namespace | None = None
    cwd: str | None = None
    env: dict[str, str] = field(factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        """
        Start the process (its output appended to L{logPath}).
        """
        self.logPath.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.logPath, "ab")  # noqa: SIM115 - owned by the child
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        argv = list(self.argv)
        if self.netns is not None:
            argv = self.netns.command(argv)
        self.process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd, env=env,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    def log(self) -> str:
        """
        Everything the daemon printed so far.
        """
        try:
            return self.logPath.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
        """
        The last lines of the log, for error messages.
        """
        return "\n".join(self.log().splitlines()[-lines:])

    def running(self) -> bool:
        """
        Whether the process is alive.
        """
        return self.process is not None and self.process.poll() is None

    def waitForLog(self, pattern: str, timeout: float = 10.0, after: int = 0) -> re.Match[str]:
        """
        Wait until the log (from character C{after} on) matches C{pattern}.

        @raise DaemonError: on timeout or if the process exits first.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = regex.search(self.log(), after)
            if m:
                return m
            if not self.running():
                raise DaemonError(f"daemon exited before {pattern!r}:\n{self.tail()}")
            time.sleep(0.05)
        raise DaemonError(f"no {pattern!r} in the log after {timeout}s:\n{self.tail()}")

    def waitForPort(self, host: str, port: int, timeout: float = 10.0) -> None:
        """
        Wait until the daemon accepts TCP connections on C{host}:C{port}
        (inside its namespace if it has one).
        """
        if self.netns is None:
            try:
                waitForPort(host, port, timeout)
            except DaemonError as e:
                raise DaemonError(f"{e}\n{self.tail()}") from None
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise DaemonError(f"daemon exited:\n{self.tail()}")
            r = self.netns.run(
                [sys.executable, "-c",
                 "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)",
                 host, str(port)],
                check=False,
            )  # fmt: skip
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise DaemonError(f"nothing listening on [{host}]:{port} after {timeout}s:\n{self.tail()}")

    def signal(self, signum: int) -> None:
        """
        Send a signal to the daemon's process group.
        """
        if self.running():
            assert self.process is not None
            os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = 5.0) -> int | None:
        """
        SIGTERM, then SIGKILL after C{timeout}; idempotent.

        @return: the exit status, or C{None} if it never started.
        """
        if self.process is None:
            return None
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
            except ProcessLookupError:
                pass
        return self.process.returncode

    def kill(self) -> None:
        """
        SIGKILL at once (a crash), and reap.
        """
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
