"""Real servers: sessionkit under uvicorn on 127.0.0.1, started and stopped by each test."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from tests.conftest import KEY

ROOT = Path(__file__).parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def uvicorn_server(name: str) -> Iterator[str]:
    """Run tests/server_app.py under uvicorn in its own process; always stop it."""
    with uvicorn_process(["tests.server_app:app"], ROOT, {"SERVER_NAME": name}) as url:
        yield url


@contextmanager
def uvicorn_process(arguments: list[str], cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """``uvicorn ARGUMENTS`` on a free 127.0.0.1 port, run from ``cwd`` with SECRET_KEY and
    ``env`` set; its URL once it answers. Always stopped."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", *arguments]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, "SECRET_KEY": KEY, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            httpx2.get(f"{url}/health", timeout=1)  # any answer: the server is up
            return
        except httpx2.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start within 30 s")


def test_session_survives_hops_between_two_server_processes() -> None:
    """Two processes sharing SECRET_KEY serve one client alternately; the session holds."""
    with uvicorn_server("a") as first, uvicorn_server("b") as second:
        jar = httpx2.Cookies()
        for hop in range(1, 11):
            url = first if hop % 2 else second
            response = httpx2.post(f"{url}/increment", cookies=jar, timeout=5)
            assert response.status_code == 200
            assert response.json() == {"count": hop, "server": "a" if hop % 2 else "b"}
            jar.update(response.cookies)


async def run_client(url: str, requests: int) -> tuple[int, int]:
    """One browser-like client: sequential requests with its own cookie jar."""
    errors = 0
    count = 0
    async with httpx2.AsyncClient(base_url=url, timeout=30) as client:
        for _ in range(requests):
            response = await client.post("/increment")
            if response.status_code != 200:
                errors += 1
                continue
            count = response.json()["count"]
    return count, errors


async def soak(url: str, clients: int, requests: int) -> list[tuple[int, int]]:
    return await asyncio.gather(*(run_client(url, requests) for _ in range(clients)))


def test_soak_every_counter_exact() -> None:
    """50 concurrent clients x 200 requests: every counter ends exact, no error response."""
    clients, requests = 50, 200
    with uvicorn_server("soak") as url:
        started = time.perf_counter()
        results = asyncio.run(soak(url, clients, requests))
        elapsed = time.perf_counter() - started
    total = clients * requests
    print(f"soak: {total} requests in {elapsed:.1f} s ({total / elapsed:.0f} req/s)")
    assert [errors for _, errors in results] == [0] * clients
    assert [count for count, _ in results] == [requests] * clients
