"""Real ``redis-server`` processes (Debian's package) on free 127.0.0.1 ports, started and
stopped here: one server, or a Redis Cluster of three masters.

Without the binary the Redis tests skip, saying why; with ``SESSIONKIT_REQUIRE_REDIS=1`` (as
CI sets) they fail instead.
"""

from __future__ import annotations

import os
import random
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


def free_cluster_port() -> int:
    """A free port P whose cluster bus port, P + 10000, is free too (and below 65536)."""
    for _ in range(200):
        port = random.randrange(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of ports for a Redis Cluster node")


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

    def __init__(self, directory: Path, port: int | None = None, *options: str) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        command += self.options
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


class RedisClusterServers:
    """A Redis Cluster of three masters (no replicas), each a :class:`RedisServer` in a
    directory of its own; ``url`` names the first node, as an application would."""

    def __init__(self, directory: Path) -> None:
        self.nodes: list[RedisServer] = []
        for n in range(3):
            (directory / f"node{n}").mkdir()
            options = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
            self.nodes.append(RedisServer(directory / f"node{n}", free_cluster_port(), *options))
        self.url = self.nodes[0].url

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        command = ["redis-cli", "--cluster", "create"]
        command += [f"127.0.0.1:{node.port}" for node in self.nodes]
        command += ["--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [node.client().cluster("info")["cluster_state"] for node in self.nodes]
            if states == ["ok"] * len(self.nodes):
                return
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok within 30 s")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def flush(self) -> None:
        """Empty every node (a cluster's FLUSHALL reaches one node only)."""
        for node in self.nodes:
            client = node.client()
            client.flushall()
            client.close()

    def calls(self, command: str) -> list[int]:
        """How many times each master has run ``command`` (lowercase) since it started."""
        counts = []
        for node in self.nodes:
            client = node.client()
            stats = client.info("commandstats").get(f"cmdstat_{command}", {})
            counts.append(int(stats.get("calls", 0)))
            client.close()
        return counts

    def keys_per_node(self, pattern: str) -> list[int]:
        """How many keys matching ``pattern`` each master holds."""
        counts = []
        for node in self.nodes:
            client = node.client()
            counts.append(len(client.keys(pattern)))
            client.close()
        return counts


@contextmanager
def running_cluster(directory: Path) -> Iterator[RedisClusterServers]:
    cluster = RedisClusterServers(directory)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
