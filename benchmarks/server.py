"""Throughput under uvicorn on 127.0.0.1, with a bounded load generator.

One uvicorn process per flavor, each on a listening socket the parent binds first (port
0, so no race for a free port) and hands over by file descriptor. The load generator is
an asyncio HTTP/1.1 keep-alive client in the parent process: a fixed number of requests
over a fixed number of connections, then it stops, with a deadline in case a server
hangs. Flavors and scenarios are interleaved round-robin like the in-process run, and
every server started is stopped (terminate, then kill) however the run ends.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .apps import FLAVORS, MIDDLEWARES, CookieKind, Flavor, build_app

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

ROOT = Path(__file__).resolve().parent.parent
KEY_VARIABLE = "SESSIONKIT_BENCH_SECRET_KEY"
DEADLINE = 60.0  # seconds one load batch may take before it is abandoned as hung

#: (key, label, path, which cookie): the scenarios worth a network round trip.
SERVER_SCENARIOS: tuple[tuple[str, str, str, CookieKind], ...] = (
    ("no_cookie", "no cookie, session untouched", "/untouched", "none"),
    ("read_small", "small session read", "/read", "small"),
    ("write_small", "small session write", "/write", "small"),
    ("read_large", "2.5 KB session read", "/read", "large"),
)


def serve(flavor: Flavor, fd: int) -> None:
    """Child process: serve ``flavor`` with uvicorn on the inherited listening socket."""
    import uvicorn

    app = build_app(flavor, os.environ[KEY_VARIABLE])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    sock = socket.socket(fileno=fd)
    uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def uvicorn_server(flavor: Flavor, secret_key: str) -> Iterator[tuple[int, int]]:
    """Start ``flavor`` under uvicorn on 127.0.0.1; yield its port and pid; always stop it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port: int = listener.getsockname()[1]
    fd = listener.fileno()
    command = [sys.executable, "-m", "benchmarks", "_serve", flavor, str(fd)]
    env = {**os.environ, KEY_VARIABLE: secret_key}
    process = subprocess.Popen(command, cwd=ROOT, env=env, pass_fds=(fd,))
    listener.close()  # the child holds its own copy
    try:
        yield port, process.pid
    finally:
        process.terminate()  # SIGTERM: uvicorn shuts down gracefully
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (Linux), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Load:
    """The result of one bounded load batch."""

    requests: int
    seconds: float
    set_cookie: bool

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _request(path: str, cookie: str | None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: bench"]
    if cookie is not None:
        lines.append(f"Cookie: session={cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


async def _connection(port: int, request: bytes, count: int, seen: set[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value)
                elif lowered == b"set-cookie":
                    seen.add(b"set-cookie")
            await reader.readexactly(length)
            if status != b"200":
                raise RuntimeError(f"status {status!r} for {request.splitlines()[0]!r}")
    finally:
        writer.close()
        await writer.wait_closed()


async def load(port: int, path: str, cookie: str | None, total: int, connections: int) -> Load:
    """Send exactly ``total`` requests over ``connections`` keep-alive connections."""
    request = _request(path, cookie)
    shares = [total // connections + (i < total % connections) for i in range(connections)]
    seen: set[bytes] = set()
    start = time.perf_counter()
    jobs = (_connection(port, request, share, seen) for share in shares if share)
    await asyncio.wait_for(asyncio.gather(*jobs), DEADLINE)
    return Load(total, time.perf_counter() - start, b"set-cookie" in seen)


async def _ready(port: int) -> None:
    for _ in range(200):
        try:
            await load(port, "/untouched", None, 1, 1)
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"uvicorn on port {port} did not answer")


@dataclass
class Throughput:
    """Per (scenario, flavor) and round: requests per second, and the server's CPU µs
    per request (``/proc``; empty where that is not available). Medians over rounds."""

    rounds: int
    requests: int
    connections: int
    rates: dict[tuple[str, Flavor], list[float]]
    cpu: dict[tuple[str, Flavor], list[float]]

    def rate(self, key: str, flavor: Flavor) -> float:
        return statistics.median(self.rates[key, flavor])

    def cpu_micros(self, key: str, flavor: Flavor) -> float | None:
        values = self.cpu[key, flavor]
        return statistics.median(values) if values else None


async def _drive(
    servers: dict[Flavor, tuple[int, int]],
    cookies: Mapping[tuple[Flavor, CookieKind], str | None],
    rounds: int,
    requests: int,
    connections: int,
) -> Throughput:
    for port, _ in servers.values():
        await _ready(port)
    rates: dict[tuple[str, Flavor], list[float]] = {
        (key, flavor): [] for key, *_ in SERVER_SCENARIOS for flavor in FLAVORS
    }
    cpu: dict[tuple[str, Flavor], list[float]] = {key: [] for key in rates}
    for round_ in range(rounds + 1):
        shift = round_ % len(FLAVORS)
        order = FLAVORS[shift:] + FLAVORS[:shift]
        for key, _, path, kind in SERVER_SCENARIOS:
            for flavor in order:
                count = requests if round_ else requests // 5  # round 0 warms up
                port, pid = servers[flavor]
                before = cpu_seconds(pid)
                result = await load(port, path, cookies[flavor, kind], count, connections)
                after = cpu_seconds(pid)
                if key == "write_small" and flavor in MIDDLEWARES:
                    assert result.set_cookie, f"{flavor}: the write sent no Set-Cookie"
                if round_:
                    rates[key, flavor].append(result.rate)
                    if before is not None and after is not None:
                        cpu[key, flavor].append((after - before) / count * 1e6)
    return Throughput(rounds, requests, connections, rates, cpu)


def measure_throughput(
    secret_key: str,
    cookies: Mapping[tuple[Flavor, CookieKind], str | None],
    rounds: int,
    requests: int,
    connections: int,
) -> Throughput:
    """Start a uvicorn per flavor, drive them round-robin, stop them all."""
    with ExitStack() as stack:
        servers = {
            flavor: stack.enter_context(uvicorn_server(flavor, secret_key)) for flavor in FLAVORS
        }
        return asyncio.run(_drive(servers, cookies, rounds, requests, connections))
