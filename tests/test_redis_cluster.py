"""The Redis store on a three-master Redis Cluster.

The behaviours every store shares run on the cluster too (tests/test_server_store.py, kind
"cluster"); here is what only a cluster shows: keys spread over the nodes, the client an
application brings, and the order of the single-key steps that replace the single-node
scripts (a failure between two of them never leaves two live ids, nor an unindexed one).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from starlette.applications import Starlette
from starlette.testclient import TestClient

from sessionkit import SessionConfigError, SessionMiddleware, SessionSettings, SessionStoreError
from sessionkit.redis_cluster_store import PRUNE_GRACE, RedisClusterBackend
from sessionkit.server_store import ServerStore
from tests.conftest import KEY
from tests.test_server_store import app_for, session_cookie, settings_for, use_cookie

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable

    from tests.redis_server import RedisClusterServers

FIELDS = {".a": b"1", "@created": b"1", "@deadline": b"0", "@seen": b"1"}
IDLE = 60_000


def test_sessions_spread_over_the_nodes(redis_cluster_db: RedisClusterServers) -> None:
    """30 sessions of one app land on all three masters, each record whole on one node."""
    app = app_for(settings_for("cluster", redis_cluster_db))
    for n in range(30):
        with TestClient(app) as http:
            assert http.get(f"/login?user=u{n}").status_code == 200
            assert http.get("/read").json() == {"user_id": f"u{n}"}
    records = redis_cluster_db.keys_per_node("sessionkit:s:*")
    indexes = redis_cluster_db.keys_per_node("sessionkit:u:*")
    assert sum(records) == sum(indexes) == 30
    assert all(count > 0 for count in records), records
    assert all(count > 0 for count in indexes), indexes


def test_the_applications_own_cluster_client_is_used(
    redis_cluster_db: RedisClusterServers,
) -> None:
    """settings.middleware(redis=RedisCluster(...)) keeps sessions in that cluster, without
    redis_url or redis_cluster: the client's type selects the cluster backend."""
    client = RedisCluster.from_url(redis_cluster_db.url)
    settings = SessionSettings(secret_key=KEY, store="redis")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()  # the application's client: the store never closes it

    app = Starlette(
        routes=app_for(settings).routes,
        middleware=[settings.middleware(redis=client)],
        lifespan=lifespan,
    )
    with TestClient(app) as http:
        http.get("/login?user=ada")
        assert http.get("/write?a=1").json() == {"user_id": "ada", "a": "1"}
        assert len(http.get("/devices").json()) == 1
    assert sum(redis_cluster_db.keys_per_node("sessionkit:s:*")) == 1


def test_a_plain_client_with_redis_cluster_is_refused() -> None:
    """redis_cluster=True with a redis.asyncio.Redis client is a startup error that says to
    pass a RedisCluster: a plain client cannot follow the cluster's slots."""
    settings = SessionSettings(secret_key=KEY, store="redis", redis_cluster=True)
    with pytest.raises(SessionConfigError, match=r"SESSION_REDIS_CLUSTER.*RedisCluster"):
        SessionMiddleware(Starlette(), settings=settings, redis=Redis())


def test_a_unix_socket_url_is_refused_for_a_cluster() -> None:
    """A cluster's nodes name each other by host and port: a unix:// URL is refused."""
    with pytest.raises(SessionConfigError, match=r"SESSION_REDIS_CLUSTER.*unix://"):
        SessionSettings(
            secret_key=KEY, store="redis", redis_cluster=True, redis_url="unix:///tmp/r.sock"
        )


def test_redis_cluster_with_a_url_builds_the_cluster_backend() -> None:
    """SESSION_REDIS_CLUSTER=true with a redis:// URL is accepted and selects the cluster."""
    settings = SessionSettings(
        secret_key=KEY, store="redis", redis_cluster=True, redis_url="redis://127.0.0.1:1/0"
    )
    store = SessionMiddleware(Starlette(), settings=settings).store
    assert isinstance(store, ServerStore)
    assert isinstance(store.backend, RedisClusterBackend)


# --- the order of the steps ---------------------------------------------------------------


def failing_at(
    backend: RedisClusterBackend, monkeypatch: pytest.MonkeyPatch, step: int
) -> list[int]:
    """Make the backend's ``step``-th round trip from now on fail; the count so far."""
    calls = [0]
    call = backend._call

    async def flaky(operation: Awaitable[Any]) -> Any:
        calls[0] += 1
        if calls[0] == step:
            getattr(operation, "close", lambda: None)()
            raise SessionStoreError("injected failure")
        return await call(operation)

    monkeypatch.setattr(backend, "_call", flaky)
    return calls


@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_a_rotation_cut_at_any_step_leaves_at_most_one_indexed_live_id(
    redis_cluster_db: RedisClusterServers, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    """A rotation (delete old, index new, store new) that fails at any round trip leaves
    the old id or the new one live, never both, and the user's index names it."""
    backend = RedisClusterBackend(redis_cluster_db.url)

    async def scenario() -> tuple[list[str], set[str], int]:
        now = int(time.time() * 1000)
        assert await backend.create("old", now, now + IDLE, FIELDS, "u", None, False)
        calls = failing_at(backend, monkeypatch, step)
        with suppress(SessionStoreError):
            await backend.create("new", now, now + IDLE, FIELDS, "u", "old", True)
        made = calls[0]
        monkeypatch.undo()
        live = [handle for handle in ("old", "new") if await backend.find(handle, now, IDLE)]
        listed = {handle for handle, _, _ in await backend.list_index("u")}
        await backend.aclose()
        return live, listed, made

    live, listed, made = asyncio.run(scenario())
    assert len(live) <= 1, live
    assert set(live) <= listed
    assert made == min(step, 3)  # three round trips: the index has nothing to prune


def test_a_rotation_from_a_vanished_record_stores_nothing(
    redis_cluster_db: RedisClusterServers,
) -> None:
    """With require_replaced, a record revoked meanwhile stops the rotation before it
    indexes or stores anything: no resurrection."""
    backend = RedisClusterBackend(redis_cluster_db.url)

    async def scenario() -> tuple[bool, Any, list[Any]]:
        now = int(time.time() * 1000)
        done = await backend.create("new", now, now + IDLE, FIELDS, "u", "gone", True)
        found = await backend.find("new", now, IDLE)
        listed = await backend.list_index("u")
        await backend.aclose()
        return done, found, listed

    assert asyncio.run(scenario()) == (False, None, [])
    assert sum(redis_cluster_db.keys_per_node("*")) == 0


def test_index_entries_without_a_record_are_pruned_only_after_the_grace(
    redis_cluster_db: RedisClusterServers,
) -> None:
    """An entry whose record is absent survives listing and revoke_user while it is recent
    (its session may be being created), and is pruned once older than the grace."""
    backend = RedisClusterBackend(redis_cluster_db.url)
    now = int(time.time() * 1000)

    async def scenario() -> tuple[list[str], int, list[str]]:
        client = RedisCluster.from_url(redis_cluster_db.url, decode_responses=True)
        index = "sessionkit:u:u"
        await client.zadd(index, {"recent": now, "stale": now - PRUNE_GRACE - 1000})
        await backend.create("live", now, now + IDLE, FIELDS, "u", None, False)
        listed = [handle for handle, _, _ in await backend.list_index("u")]
        revoked = await backend.delete_index("u")
        left = sorted(map(str, await client.zrange(index, 0, -1)))
        await client.aclose()
        await backend.aclose()
        return listed, revoked, left

    listed, revoked, left = asyncio.run(scenario())
    assert listed == ["live"]
    assert revoked == 1
    assert left == ["recent"]


def test_a_login_prunes_stale_entries_of_the_users_index(
    redis_cluster_db: RedisClusterServers,
) -> None:
    """Creating a user's session removes index entries past the grace whose record is gone,
    so the index of a user who never lists their devices stays bounded."""
    backend = RedisClusterBackend(redis_cluster_db.url)
    now = int(time.time() * 1000)

    async def scenario() -> list[str]:
        client = RedisCluster.from_url(redis_cluster_db.url, decode_responses=True)
        index = "sessionkit:u:u"
        old = now - PRUNE_GRACE - 1000
        await backend.create("kept", old, old + IDLE * 1000, FIELDS, "u", None, False)
        await client.zadd(index, {"expired": old, "recent": now})
        await backend.create("new", now, now + IDLE, FIELDS, "u", None, False)
        left = sorted(map(str, await client.zrange(index, 0, -1)))
        await client.aclose()
        await backend.aclose()
        return left

    assert asyncio.run(scenario()) == ["kept", "new", "recent"]


def test_a_rotation_through_the_app_kills_the_old_id_on_the_cluster(
    redis_cluster_db: RedisClusterServers,
) -> None:
    """Login on the cluster: a new id, the old one dead, one record and one index entry."""
    with TestClient(app_for(settings_for("cluster", redis_cluster_db))) as http:
        anonymous = session_cookie(http.get("/write?cart=1"))
        http.get("/login?user=ada")
        assert len(http.get("/devices").json()) == 1
        use_cookie(http, anonymous)
        assert http.get("/read").json() == {}
    assert sum(redis_cluster_db.keys_per_node("sessionkit:s:*")) == 1


def test_soak_on_a_cluster_under_uvicorn_every_counter_exact(
    redis_cluster_db: RedisClusterServers,
) -> None:
    """20 concurrent clients x 50 requests under uvicorn on the cluster (SESSION_REDIS_CLUSTER
    from the environment): every counter exact, no error, the records on every node."""
    from tests.test_server import ROOT, soak, uvicorn_process

    env = {
        "SESSION_STORE": "redis",
        "SESSION_REDIS_CLUSTER": "true",
        "SESSION_REDIS_URL": redis_cluster_db.url,
    }
    clients, requests = 20, 50
    with uvicorn_process(["tests.server_app:app"], ROOT, env) as url:
        started = time.perf_counter()
        results = asyncio.run(soak(url, clients, requests))
        elapsed = time.perf_counter() - started
    total = clients * requests
    print(f"cluster soak: {total} requests in {elapsed:.1f} s ({total / elapsed:.0f} req/s)")
    assert [errors for _, errors in results] == [0] * clients
    assert [count for count, _ in results] == [requests] * clients
    records = redis_cluster_db.keys_per_node("sessionkit:s:*")
    assert sum(records) == clients
    assert all(count > 0 for count in records), records


def test_a_read_costs_one_round_trip_on_a_cluster(redis_cluster_db: RedisClusterServers) -> None:
    """With a valid cookie, a read-only request runs one script on one node, as on one server."""
    with TestClient(app_for(settings_for("cluster", redis_cluster_db))) as http:
        http.get("/write?a=1")
        http.get("/write?b=2")  # the scripts are loaded on the record's node from here on
        before = redis_cluster_db.calls("evalsha")
        assert http.get("/read").json() == {"a": "1", "b": "2"}
        after = redis_cluster_db.calls("evalsha")
    assert sum(after) - sum(before) == 1
