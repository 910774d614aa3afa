"""A real ``redis-server`` (Debian's package) on a free 127.0.0.1 port, started and stopped here.

Without the binary the Redis tests skip, saying why; with ``SESSIONKIT_REQUIRE_REDIS=1`` (as
CI sets) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
import redis

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def redis_binary() -> str:
    """The redis-server to run; skips (or fails, when required) if there is none."""
    found = shutil.which("redis-server")
    if found is None:
        reason = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("SESSIONKIT_REQUIRE_REDIS") == "1":
            pytest.fail(f"{reason}; SESSIONKIT_REQUIRE_REDIS=1 requires the Redis tests to run")
        pytest.skip(reason)
    return found


class RedisServer:
    """One redis-server process, its data in ``directory``, never saved to disk."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                if self.client().ping():
                    return
            except (OSError, redis.RedisError):  # not listening yet
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start within 15 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def client(self) -> redis.Redis:
        """A plain (synchronous) client, for tests to look at what the store wrote."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)


@contextmanager
def running_redis(directory: Path, port: int | None = None) -> Iterator[RedisServer]:
    server = RedisServer(directory, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
