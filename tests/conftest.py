"""Shared fixtures: every test runs with a clean session environment in an empty folder."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from tests.redis_server import RedisClusterServers, RedisServer, running_cluster, running_redis

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: A strong key (no weak-key warning); tests never use it anywhere real.
KEY = "k8Jq3vN0pX7wR2tY5uZ1aB4cD6eF9gH0iJ3kL5mN7oP"
OLD_KEY = "Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8Ba7zYx"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SECRET_KEY/SESSION_* variable and no .env leak into a test from the machine."""
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(("SECRET_KEY", "SESSION_", "CSRF_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def key() -> str:
    return KEY


@pytest.fixture
def old_key() -> str:
    return OLD_KEY


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server on a free 127.0.0.1 port for the test run, stopped at its end."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_db(redis_server: RedisServer) -> RedisServer:
    """The test run's redis-server, emptied and its command counts reset for this test."""
    client = redis_server.client()
    client.flushall()
    client.config_resetstat()
    client.close()
    return redis_server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A Redis Cluster of three masters on free 127.0.0.1 ports for the test run."""
    with running_cluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster_db(redis_cluster: RedisClusterServers) -> RedisClusterServers:
    """The test run's Redis Cluster, every node emptied for this test."""
    redis_cluster.flush()
    return redis_cluster
