"""Server-side sessions on the memory store and on a real redis-server.

Behaviour tests run on every store (the ``kind`` fixture: memory, Redis, and Redis on a
three-master Redis Cluster); what only Redis can show (commands per request, what a dump of
Redis holds, expiry enforced by Redis itself) runs on Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Annotated, Any

import httpx2
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from sessionkit import (
    SessionConfigError,
    SessionKey,
    SessionLockedError,
    SessionMiddleware,
    SessionSettings,
    SessionStoreError,
    get_session,
    get_store,
)
from sessionkit.codec import SessionCodec
from sessionkit.server_store import ServerStore
from tests.conftest import KEY

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.redis_server import RedisClusterServers, RedisServer

# --- the app ---------------------------------------------------------------------------------


async def read(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def write(request: Request) -> JSONResponse:
    request.session.update(request.query_params)
    return JSONResponse(dict(request.session))


async def slow_write(request: Request) -> JSONResponse:
    """Reads the session, waits, then writes: a request that overlaps others."""
    get_session(request)
    await asyncio.sleep(float(request.query_params.get("wait", "0.2")))
    request.session[request.query_params["key"]] = request.query_params["value"]
    return JSONResponse({})


async def untouched(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def login(request: Request) -> PlainTextResponse:
    request.session["user_id"] = request.query_params["user"]
    return PlainTextResponse("ok")


async def relogin(request: Request) -> PlainTextResponse:
    request.session.clear()
    request.session["user_id"] = request.query_params["user"]
    return PlainTextResponse("ok")


async def logout(request: Request) -> PlainTextResponse:
    request.session.clear()
    return PlainTextResponse("ok")


async def rotate(request: Request) -> PlainTextResponse:
    get_session(request).rotate()
    return PlainTextResponse("ok")


async def devices(request: Request) -> JSONResponse:
    infos = await get_store(request).list_user(request.session.get("user_id"))
    return JSONResponse(
        [
            {
                "handle": info.handle,
                "created_at": info.created_at.timestamp(),
                "last_seen_at": info.last_seen_at.timestamp(),
                "expires_at": info.expires_at.timestamp(),
            }
            for info in infos
        ]
    )


async def revoke(request: Request) -> JSONResponse:
    return JSONResponse(await get_store(request).revoke(request.query_params["handle"]))


async def everywhere(request: Request) -> JSONResponse:
    count = await get_store(request).revoke_user(request.session["user_id"])
    return JSONResponse(count)


async def ws_rotate_after_accept(websocket: WebSocket) -> None:
    await websocket.accept()
    get_session(websocket).rotate()
    await websocket.send_text("done")
    await websocket.close()


async def ws_write_after_accept(websocket: WebSocket) -> None:
    await websocket.accept()
    websocket.session["ws"] = "after accept"
    await websocket.send_text("done")
    await websocket.close()


class Cart(BaseModel):
    items: list[int] = []


CART = SessionKey("cart", Cart, default_factory=Cart)


async def add_to_cart(request: Request) -> JSONResponse:
    cart = CART.get(request)
    cart.items.append(int(request.query_params["item"]))  # in place
    return JSONResponse(cart.items)


ROUTES = [
    Route("/read", read),
    Route("/cart/add", add_to_cart),
    Route("/write", write),
    Route("/slow-write", slow_write),
    Route("/untouched", untouched),
    Route("/login", login),
    Route("/relogin", relogin),
    Route("/logout", logout),
    Route("/rotate", rotate),
    Route("/devices", devices),
    Route("/everywhere", everywhere),
    Route("/revoke", revoke),
    WebSocketRoute("/ws", ws_write_after_accept),
    WebSocketRoute("/ws/rotate", ws_rotate_after_accept),
]


def settings_for(
    kind: str, redis_db: RedisServer | RedisClusterServers | None = None, **config: Any
) -> SessionSettings:
    """Settings of the store ``kind``: "memory", "redis", or "cluster" (the Redis store on a
    Redis Cluster)."""
    if kind in ("redis", "cluster"):
        assert redis_db is not None
        config.setdefault("redis_url", redis_db.url)
    if kind == "cluster":
        kind = "redis"
        config["redis_cluster"] = True
    return SessionSettings(secret_key=KEY, store=kind, **config)


def app_for(settings: SessionSettings) -> Starlette:
    return Starlette(routes=ROUTES, middleware=[settings.middleware()])


@pytest.fixture(params=["memory", "redis", "cluster"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis_or_none(
    kind: str, request: pytest.FixtureRequest
) -> RedisServer | RedisClusterServers | None:
    """The test's redis-server (or Redis Cluster) on the Redis store; nothing on memory."""
    if kind == "memory":
        return None
    servers: RedisServer | RedisClusterServers
    servers = request.getfixturevalue("redis_db" if kind == "redis" else "redis_cluster_db")
    return servers


@pytest.fixture
def client(
    kind: str, redis_or_none: RedisServer | RedisClusterServers | None
) -> Iterator[TestClient]:
    """A TestClient (used with ``with``: lifespan runs) on the app with the store."""
    with TestClient(app_for(settings_for(kind, redis_or_none))) as http:
        yield http


def raw(value: Any) -> bytes:
    """A reply of the plain Redis client, which types them loosely, as the bytes it is."""
    assert isinstance(value, bytes)
    return value


def use_cookie(client: TestClient, value: str) -> None:
    """Make ``client`` send exactly this session cookie from now on."""
    client.cookies.clear()
    client.cookies.set("session", value, domain="testserver.local")


def session_cookie(response: httpx2.Response) -> str:
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    return headers[0].split(";", 1)[0].split("=", 1)[1]


#: Commands of the test's own inspection connections, not of the store.
INSPECTION = {"info", "hello", "client|setinfo", "config|resetstat", "flushall", "select"}


def commands(redis_db: RedisServer) -> dict[str, int]:
    """Calls per command since the test started (the store's, and its scripts' inner ones)."""
    stats = redis_db.client().info("commandstats")
    counts = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
    return {name: count for name, count in counts.items() if name not in INSPECTION}


WRITES = {"hset", "hdel", "del", "set", "zadd", "zrem", "unlink", "expire", "pexpire"}


# --- ids, cookies and round trips -----------------------------------------------------------


def test_no_cookie_and_no_write_costs_nothing(redis_db: RedisServer) -> None:
    """A request without a session cookie that does not write makes no Redis call, no cookie."""
    with TestClient(app_for(settings_for("redis", redis_db))) as http:
        baseline = commands(redis_db)
        for path in ("/untouched", "/read"):
            response = http.get(path)
            assert response.status_code == 200
            assert "set-cookie" not in response.headers
        assert commands(redis_db) == baseline
        assert redis_db.client().dbsize() == 0


def test_an_empty_session_is_never_stored(client: TestClient) -> None:
    """Writing nothing, or clearing a session that was never stored, stores and sends nothing."""
    for path in ("/write", "/logout"):
        response = client.get(path)
        assert "set-cookie" not in response.headers


def test_the_cookie_holds_only_a_signed_random_id(client: TestClient) -> None:
    """The cookie is ID.TIMESTAMP.SIGNATURE with a 256-bit id, and no trace of the data."""
    response = client.get("/write?secret=banana")
    value = session_cookie(response)
    session_id, _, signature = value.split(".")
    assert len(session_id) == len(signature) == 43
    assert "banana" not in value
    assert client.get("/read").json() == {"secret": "banana"}


def test_redis_holds_no_usable_cookie(redis_db: RedisServer) -> None:
    """A dump of every Redis key and value holds neither the session id nor the cookie."""
    with TestClient(app_for(settings_for("redis", redis_db))) as http:
        value = session_cookie(http.get("/login?user=ada"))
    session_id = value.split(".")[0]
    store = redis_db.client()
    dump = b""
    for name in map(raw, store.keys("*")):
        dump += name
        kind = raw(store.type(name))
        if kind == b"hash":
            for field, content in store.hgetall(name).items():
                dump += raw(field) + raw(content)
        elif kind == b"zset":
            dump += b"".join(map(raw, store.zrange(name, 0, -1)))
    assert dump  # something was stored
    assert session_id.encode() not in dump
    assert value.encode() not in dump


def round_trips(redis_db: RedisServer) -> int:
    """Commands the store sent (each script is one round trip; its inner commands are not)."""
    counts = commands(redis_db)
    return sum(counts.get(name, 0) for name in ("evalsha", "eval", "del"))


def test_a_read_costs_one_round_trip_and_writes_no_data(redis_db: RedisServer) -> None:
    """With a valid cookie, a read-only request runs one script that reads and renews the
    expiry, and no data-writing command; a changing request costs one more round trip."""
    with TestClient(app_for(settings_for("redis", redis_db))) as http:
        http.get("/write?a=1")
        http.get("/write?b=2")  # the scripts are loaded into Redis from here on
        before, trips = commands(redis_db), round_trips(redis_db)
        assert http.get("/read").json() == {"a": "1", "b": "2"}
        assert http.get("/untouched").status_code == 200
        after = commands(redis_db)
        delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
        assert round_trips(redis_db) - trips == 2  # one per request
        assert {name for name, count in delta.items() if count} == {
            "evalsha",
            "hgetall",
            "pexpireat",
        }
        trips = round_trips(redis_db)
        http.get("/write?c=3")
        assert round_trips(redis_db) - trips == 2  # load, then write what changed
        trips = round_trips(redis_db)
        http.get("/write?c=3")  # the same value again: nothing changed
        assert round_trips(redis_db) - trips == 1


def test_a_forged_id_costs_no_store_call(redis_db: RedisServer) -> None:
    """A cookie whose signature fails is not looked up; a write then mints a fresh id."""
    with TestClient(app_for(settings_for("redis", redis_db))) as http:
        value = session_cookie(http.get("/write?a=1"))
        forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
        use_cookie(http, forged)
        before = commands(redis_db)
        assert http.get("/read").json() == {}
        assert commands(redis_db) == before
        fresh = session_cookie(http.get("/write?b=2"))
        assert fresh.split(".")[0] != value.split(".")[0]
        assert http.get("/read").json() == {"b": "2"}


def test_an_unknown_id_is_never_reused(client: TestClient) -> None:
    """After a session ends (logout everywhere), its id is refused: a write mints a new id."""
    old = session_cookie(client.get("/login?user=ada"))
    assert client.get("/everywhere").json() == 1
    use_cookie(client, old)
    assert client.get("/read").json() == {}
    new = session_cookie(client.get("/write?a=1"))
    assert new.split(".")[0] != old.split(".")[0]
    assert client.get("/read").json() == {"a": "1"}


def test_a_dead_id_cookie_is_expired_when_the_session_stays_empty(client: TestClient) -> None:
    """A cookie naming a revoked session is cleared on the next request that uses it."""
    client.get("/login?user=ada")
    client.get("/everywhere")
    response = client.get("/read")
    assert response.json() == {}
    assert "expires=Thu, 01 Jan 1970" in response.headers["set-cookie"]


# --- rotation ----------------------------------------------------------------------------------


def test_login_rotates_the_id_and_deletes_the_old_record(client: TestClient) -> None:
    """Setting the user_key entry gives the session a new id; the old id is dead at once."""
    anonymous = session_cookie(client.get("/write?cart=3"))
    signed_in = session_cookie(client.get("/login?user=ada"))
    assert anonymous.split(".")[0] != signed_in.split(".")[0]
    assert client.get("/read").json() == {"cart": "3", "user_id": "ada"}
    use_cookie(client, anonymous)
    assert client.get("/read").json() == {}


@pytest.mark.parametrize("path", ["/rotate", "/relogin?user=ada", "/login?user=bob"])
def test_rotation_mints_a_new_id(client: TestClient, path: str) -> None:
    """rotate(), clear() then a write, and switching user each give a new id, the old dead."""
    old = session_cookie(client.get("/login?user=ada"))
    new = session_cookie(client.get(path))
    assert new.split(".")[0] != old.split(".")[0]
    assert client.get("/read").json().get("user_id") in ("ada", "bob")
    use_cookie(client, old)
    assert client.get("/read").json() == {}


def test_logout_deletes_the_record_and_expires_the_cookie(client: TestClient) -> None:
    """clear() leaves nothing to store: the record is deleted and the cookie expired."""
    client.get("/login?user=ada")
    response = client.get("/logout")
    assert "expires=Thu, 01 Jan 1970" in response.headers["set-cookie"]
    assert client.get("/devices").json() == []


# --- revocation and device lists -------------------------------------------------------------


def test_list_and_revoke_a_users_sessions(
    kind: str, redis_or_none: RedisServer | RedisClusterServers | None
) -> None:
    """Two devices of one user are listed newest first; revoking one by its handle ends it
    alone; revoke_user ends the rest and says how many."""
    app = app_for(settings_for(kind, redis_or_none))
    with TestClient(app) as phone, TestClient(app) as laptop:
        phone.get("/login?user=42")
        time.sleep(1.1)  # creation times a second apart, to be listed newest first
        laptop.get("/login?user=42")
        listed = laptop.get("/devices").json()
        assert len(listed) == 2
        newest, oldest = listed
        assert newest["created_at"] > oldest["created_at"]
        for info in listed:
            assert info["created_at"] <= info["last_seen_at"] <= info["expires_at"]
            assert len(info["handle"]) == 43
            assert "." not in info["handle"]
        assert laptop.get(f"/revoke?handle={oldest['handle']}").json() is True
        assert laptop.get(f"/revoke?handle={oldest['handle']}").json() is False
        assert phone.get("/read").json() == {}  # the phone's session was the oldest
        assert [info["handle"] for info in laptop.get("/devices").json()] == [newest["handle"]]
        phone.get("/login?user=42")
        assert laptop.get("/everywhere").json() == 2
        assert laptop.get("/read").json() == {}
        assert phone.get("/read").json() == {}


def test_handles_never_reveal_the_id(client: TestClient) -> None:
    """A session's handle is not its id, and revoking by the id itself does nothing."""
    value = session_cookie(client.get("/login?user=7"))
    session_id = value.split(".")[0]
    (info,) = client.get("/devices").json()
    assert info["handle"] != session_id
    assert client.get(f"/revoke?handle={session_id}").json() is False
    assert client.get("/read").json() == {"user_id": "7"}


def test_cookie_store_refuses_listing_with_a_clear_error() -> None:
    """On the cookie store, list_user, revoke_user and revoke raise SessionStoreError."""
    app = Starlette(routes=ROUTES, middleware=[SessionSettings(secret_key=KEY).middleware()])
    with TestClient(app) as http, pytest.raises(SessionStoreError, match="server-side store"):
        http.get("/devices")


# --- the two clocks -----------------------------------------------------------------------


def test_redis_enforces_the_idle_timeout_itself(redis_db: RedisServer) -> None:
    """The record's TTL is max_age, renewed by every request that reads it; past it the data
    is gone from Redis."""
    with TestClient(app_for(settings_for("redis", redis_db, max_age=3))) as http:
        http.get("/write?a=1")
        (name,) = redis_db.client().keys("sessionkit:s:*")
        assert 2000 < redis_db.client().pttl(name) <= 3000
        time.sleep(1.5)  # cookies carry whole seconds: well within max_age
        assert http.get("/read").json() == {"a": "1"}
        assert redis_db.client().pttl(name) > 2500  # renewed by the read
        time.sleep(3.2)
        assert redis_db.client().exists(name) == 0
        assert http.get("/read").json() == {}


def test_redis_enforces_the_absolute_lifetime_itself(redis_db: RedisServer) -> None:
    """The TTL never passes creation + absolute_lifetime, however often the session is used."""
    config = {"max_age": 3600, "absolute_lifetime": 2}
    with TestClient(app_for(settings_for("redis", redis_db, **config))) as http:
        http.get("/write?a=1")
        (name,) = redis_db.client().keys("sessionkit:s:*")
        assert redis_db.client().pttl(name) <= 2000
        time.sleep(1.0)
        assert http.get("/write?b=2").json() == {"a": "1", "b": "2"}
        assert redis_db.client().pttl(name) <= 1000
        time.sleep(1.2)
        assert redis_db.client().exists(name) == 0
        assert http.get("/read").json() == {}


def test_a_browser_session_record_is_bounded_by_the_default_idle_timeout(
    redis_db: RedisServer,
) -> None:
    """max_age=None: no Max-Age on the cookie, and the record idles out after 14 days."""
    with TestClient(app_for(settings_for("redis", redis_db, max_age=None))) as http:
        response = http.get("/write?a=1")
        assert "Max-Age" not in response.headers["set-cookie"]
        (name,) = redis_db.client().keys("sessionkit:s:*")
        assert 14 * 86400 * 1000 - 5000 < redis_db.client().pttl(name) <= 14 * 86400 * 1000


# --- concurrency and resurrection ---------------------------------------------------------


def test_concurrent_requests_that_set_different_keys_all_persist(
    redis_db: RedisServer, tmp_path: Any
) -> None:
    """20 overlapping requests on one session under uvicorn, each setting its own key: all
    20 are kept (each top-level entry is written on its own)."""
    from tests.test_server import ROOT, uvicorn_process

    env = {"SESSION_STORE": "redis", "SESSION_REDIS_URL": redis_db.url}
    with uvicorn_process(["tests.server_app:app"], ROOT, env) as url:

        async def overlap() -> dict[str, Any]:
            async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
                first = await http.post("/increment")
                assert first.status_code == 200
                keys = [f"k{n}" for n in range(20)]
                responses = await asyncio.gather(
                    *(http.post("/set", params={"key": k, "value": k, "wait": "0.3"}) for k in keys)
                )
                assert [r.status_code for r in responses] == [200] * 20
                session: dict[str, Any] = (await http.get("/session")).json()
                return session

        session = asyncio.run(overlap())
    assert session == {"count": 1, **{f"k{n}": f"k{n}" for n in range(20)}}


def test_a_slow_write_never_resurrects_a_revoked_session(
    kind: str,
    redis_or_none: RedisServer | RedisClusterServers | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A request still running when its session is revoked stores nothing, clears the
    cookie and logs why; the session stays gone."""
    app = app_for(settings_for(kind, redis_or_none))

    async def race() -> tuple[httpx2.Response, httpx2.Response]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as a:
            await a.get("/login", params={"user": "ada"})
            slow = asyncio.ensure_future(
                a.get("/slow-write", params={"key": "late", "value": "1", "wait": "0.3"})
            )
            await asyncio.sleep(0.1)
            revoked = await a.get("/everywhere")
            assert revoked.json() == 1
            return await slow, await a.get("/read")

    with caplog.at_level(logging.WARNING, logger="sessionkit"):
        slow, after = asyncio.run(race())
    assert "expires=Thu, 01 Jan 1970" in slow.headers["set-cookie"]
    assert "revoked or rotated while this request ran" in caplog.text
    assert after.json() == {}


def test_concurrent_writes_to_different_keys_in_process(
    kind: str, redis_or_none: RedisServer | RedisClusterServers | None
) -> None:
    """The same on both stores, in one event loop: overlapping writes of different keys."""
    app = app_for(settings_for(kind, redis_or_none))

    async def overlap() -> Any:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            await http.get("/write", params={"seed": "0"})
            await asyncio.gather(
                *(
                    http.get("/slow-write", params={"key": f"k{n}", "value": "v", "wait": "0.05"})
                    for n in range(20)
                )
            )
            return (await http.get("/read")).json()

    assert asyncio.run(overlap()) == {"seed": "0", **{f"k{n}": "v" for n in range(20)}}


# --- WebSockets, typed keys, switching stores --------------------------------------------------


def test_websocket_changes_after_accept_persist(client: TestClient) -> None:
    """On a server-side store the browser already holds the id: changes after accept() are
    stored when the connection ends."""
    client.get("/write?a=1")
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_text() == "done"
    assert client.get("/read").json() == {"a": "1", "ws": "after accept"}


def test_a_new_session_after_accept_still_raises(client: TestClient) -> None:
    """Without a stored session there is no id in the browser: writing after accept raises."""
    with pytest.raises(SessionLockedError), client.websocket_connect("/ws") as websocket:
        websocket.receive_text()


def test_typed_keys_work_on_a_server_side_store(client: TestClient) -> None:
    """SessionKey reads, writes and in-place changes persist on the server-side stores too."""
    assert client.get("/cart/add?item=3").json() == [3]
    assert client.get("/cart/add?item=4").json() == [3, 4]
    assert client.get("/read").json() == {"cart": {"items": [3, 4]}}


def test_a_signed_cookie_session_moves_into_the_store(
    kind: str, redis_or_none: RedisServer | RedisClusterServers | None
) -> None:
    """Switching from the cookie store logs nobody out: the signed cookie is read once and
    its session moved into the store, under a new id cookie."""
    signed = SessionCodec([KEY]).encode({"user_id": "ada", "cart": [1]})
    with TestClient(app_for(settings_for(kind, redis_or_none))) as http:
        use_cookie(http, signed)
        response = http.get("/read")
        assert response.json() == {"user_id": "ada", "cart": [1]}
        moved = session_cookie(response)
        assert moved.count(".") == 2
        assert len(moved.split(".")[0]) == 43
        assert http.get("/read").json() == {"user_id": "ada", "cart": [1]}
        assert len(http.get("/devices").json()) == 1


def test_works_under_testclient_without_with(
    kind: str, redis_or_none: RedisServer | RedisClusterServers | None
) -> None:
    """Without ``with`` every request runs in an event loop of its own; no connection is used
    across loops, and each loop's connections are closed."""
    http = TestClient(app_for(settings_for(kind, redis_or_none)))
    for n in range(5):
        http.get(f"/write?n{n}={n}")
    assert http.get("/read").json() == {f"n{n}": str(n) for n in range(5)}


# --- configuration -------------------------------------------------------------------------


def test_the_redis_store_needs_a_url() -> None:
    """store='redis' without SESSION_REDIS_URL fails at startup, naming it and the fix."""
    settings = SessionSettings(secret_key=KEY, store="redis")
    with pytest.raises(
        SessionConfigError, match=r"redis_url \(environment variable SESSION_REDIS_URL\) is not set"
    ):
        SessionMiddleware(Starlette(), settings=settings)


@pytest.mark.parametrize(
    "url", ["http://user:hunter2@cache.internal:6379", "cache.internal:6379", "hunter2"]
)
def test_a_redis_url_of_another_scheme_is_refused_without_echoing_it(url: str) -> None:
    """A URL that is not redis://, rediss:// or unix:// is a SessionConfigError that names
    SESSION_REDIS_URL and never shows the URL (it may hold a password)."""
    with pytest.raises(SessionConfigError, match="SESSION_REDIS_URL") as info:
        SessionSettings(secret_key=KEY, store="redis", redis_url=url)
    assert "hunter2" not in str(info.value)
    assert "cache.internal" not in str(info.value)


def test_the_redis_password_appears_nowhere(
    redis_db: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The URL's password is in no repr, message or `check` output."""
    url = f"redis://:hunter2@127.0.0.1:{redis_db.port}/0"
    settings = SessionSettings(secret_key=KEY, store="redis", redis_url=url)
    middleware = SessionMiddleware(Starlette(), settings=settings)
    assert isinstance(middleware.store, ServerStore)
    assert "hunter2" not in repr(settings) + str(settings) + repr(middleware.store.backend)
    from sessionkit.cli import main

    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("SESSION_STORE", "redis")
    monkeypatch.setenv("SESSION_REDIS_URL", url)
    assert main(["check"]) == 0
    out = capsys.readouterr()
    assert "hunter2" not in out.out + out.err
    assert "SESSION_REDIS_URL" in out.out


def test_the_memory_store_says_it_is_one_process_only(caplog: pytest.LogCaptureFixture) -> None:
    """Building the memory store logs, loudly, that it serves one process only."""
    with caplog.at_level(logging.WARNING, logger="sessionkit"):
        SessionMiddleware(Starlette(), settings=SessionSettings(secret_key=KEY, store="memory"))
    assert "this process only" in caplog.text


def test_the_memory_store_is_bounded() -> None:
    """Past max_sessions, creating a session drops the one closest to its expiry."""
    from sessionkit.memory_store import MemoryBackend

    backend = MemoryBackend(max_sessions=3, clock=lambda: 0.0)

    async def fill() -> list[str]:
        for n in range(5):
            await backend.create(
                f"h{n}", 1000 * n, 1000 * n + 10_000, {".a": b"1"}, None, None, False
            )
        return [h for h in (f"h{n}" for n in range(5)) if await backend.find(h, 0, 10_000)]

    assert asyncio.run(fill()) == ["h2", "h3", "h4"]


# --- the store down ------------------------------------------------------------------------


def test_with_redis_down_an_unused_session_is_unaffected_and_a_used_one_gets_503(
    tmp_path: Any,
) -> None:
    """Redis stopped: a request with no cookie is served; one whose session cannot be read is
    answered 503 with Retry-After, never a 500; after a restart the app recovers by itself."""
    from tests.redis_server import running_redis

    with running_redis(tmp_path) as server:
        app = app_for(settings_for("redis", server, redis_timeout=0.5))
        with TestClient(app, raise_server_exceptions=False) as http:
            value = session_cookie(http.get("/write?a=1"))
            server.stop()
            fresh = TestClient(app, raise_server_exceptions=False)
            assert fresh.get("/untouched").status_code == 200  # no cookie: no store call
            use_cookie(http, value)
            assert http.get("/untouched").status_code == 200  # the session is not used
            for path in ("/read", "/write?b=2"):
                response = http.get(path)
                assert response.status_code == 503, path
                assert response.headers["retry-after"] == "5"
                assert "Traceback" not in response.text
            server.start()
            use_cookie(http, value)
            assert http.get("/write?b=2").status_code == 200  # recovered, no restart
    # The record was written before the stop and the server does not save: it starts empty.


def test_a_write_that_was_not_stored_never_gets_a_success_status(tmp_path: Any) -> None:
    """Redis fails between loading and writing: the app's 200 is replaced by a 503."""
    from tests.redis_server import running_redis

    with running_redis(tmp_path) as server:

        async def write_after_stop(request: Request) -> PlainTextResponse:
            get_session(request)
            server.stop()
            request.session["x"] = "1"
            return PlainTextResponse("stored!")

        routes = [Route("/write", write), Route("/late", write_after_stop)]
        settings = settings_for("redis", server, redis_timeout=0.5)
        app = Starlette(routes=routes, middleware=[settings.middleware()])
        with TestClient(app, raise_server_exceptions=False) as http:
            http.get("/write?a=1")
            response = http.get("/late")
        assert response.status_code == 503
        assert "stored!" not in response.text


def test_check_reports_a_redis_store_without_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sessionkit check` finds what the app would at startup: redis without a URL."""
    from sessionkit.cli import main

    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("SESSION_STORE", "redis")
    assert main(["check"]) == 1
    assert "SESSION_REDIS_URL" in capsys.readouterr().err


def test_get_store_without_the_middleware_raises() -> None:
    """get_store on a connection no SessionMiddleware handled is a clear error."""
    from sessionkit import SessionNotInstalledError

    async def store(request: Request) -> PlainTextResponse:
        get_store(request)
        return PlainTextResponse("unreachable")

    http = TestClient(Starlette(routes=[Route("/", store)]))
    with pytest.raises(SessionNotInstalledError, match="SessionMiddleware"):
        http.get("/")


def test_get_store_is_the_middlewares_store(
    kind: str, redis_or_none: RedisServer | RedisClusterServers | None
) -> None:
    """get_store(request) is the store the middleware keeps sessions in (its connections)."""
    seen: list[object] = []

    async def store(request: Request) -> PlainTextResponse:
        seen.append(get_store(request))
        return PlainTextResponse("ok")

    middleware = SessionMiddleware(
        Starlette(routes=[Route("/", store)]), settings=settings_for(kind, redis_or_none)
    )
    with TestClient(middleware) as http:
        http.get("/")
        http.get("/")
    assert seen == [middleware.store, middleware.store]


def test_two_server_processes_share_the_redis_store(redis_db: RedisServer) -> None:
    """Two uvicorn processes on one Redis: a session written through one is read through
    the other, and a user signed out everywhere through one is signed out on the other."""
    from tests.test_server import ROOT, uvicorn_process

    env = {"SESSION_STORE": "redis", "SESSION_REDIS_URL": redis_db.url}
    with (
        uvicorn_process(["tests.server_app:app"], ROOT, {**env, "SERVER_NAME": "a"}) as first,
        uvicorn_process(["tests.server_app:app"], ROOT, {**env, "SERVER_NAME": "b"}) as second,
    ):
        phone, laptop = httpx2.Client(timeout=10), httpx2.Client(timeout=10)
        with phone, laptop:
            for hop in range(1, 7):
                url = first if hop % 2 else second
                assert phone.post(f"{url}/increment").json()["count"] == hop
            assert phone.post(f"{first}/login", params={"user": "ada"}).status_code == 200
            assert laptop.post(f"{second}/login", params={"user": "ada"}).status_code == 200
            assert laptop.get(f"{first}/session").json() == {"user_id": "ada"}
            assert laptop.post(f"{first}/everywhere").json() == 2
            assert phone.get(f"{second}/session").json() == {}


def test_fastapi_dependencies_work_on_a_server_side_store(
    kind: str, redis_or_none: RedisServer | None
) -> None:
    """Annotated[Cart, CART.depends()] injects the live object, whose changes persist."""
    app = FastAPI(middleware=[settings_for(kind, redis_or_none).middleware()])

    @app.post("/add")
    def add(cart: Annotated[Cart, CART.depends()]) -> list[int]:
        cart.items.append(9)
        return cart.items

    with TestClient(app) as http:
        assert http.post("/add").json() == [9]
        assert http.post("/add").json() == [9, 9]


def test_a_rotation_after_accept_is_logged_and_not_stored(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A new id cannot reach the browser after accept(): the error is logged and the
    session keeps its id and content."""
    client.get("/login?user=ada")
    with caplog.at_level(logging.ERROR, logger="sessionkit"):
        with client.websocket_connect("/ws/rotate") as websocket:
            assert websocket.receive_text() == "done"
        assert "after the WebSocket was accepted" in caplog.text
    assert client.get("/read").json() == {"user_id": "ada"}


def test_an_entry_that_is_not_json_is_dropped_not_a_500(
    redis_db: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt field in Redis costs only that entry, with a warning."""
    with TestClient(app_for(settings_for("redis", redis_db))) as http:
        http.get("/write?a=1&b=2")
        (name,) = redis_db.client().keys("sessionkit:s:*")
        redis_db.client().hset(name, ".a", b"{not json")
        with caplog.at_level(logging.WARNING, logger="sessionkit"):
            assert http.get("/read").json() == {"b": "2"}
        assert "'a' in the store is not JSON" in caplog.text


def test_works_for_a_redis_user_allowed_only_the_key_prefix(redis_db: RedisServer) -> None:
    """A Redis ACL user limited to sessionkit's keys can log in, rotate, list and revoke: no
    command names a key outside the prefix."""
    admin = redis_db.client()
    admin.acl_setuser(
        "sessions",
        enabled=True,
        passwords=["+hunter2hunter2"],
        keys=["sessionkit:*"],
        commands=["+@all"],
    )
    try:
        url = f"redis://sessions:hunter2hunter2@127.0.0.1:{redis_db.port}/0"
        with TestClient(app_for(settings_for("redis", redis_db, redis_url=url))) as http:
            http.get("/write?cart=1")
            assert http.get("/login?user=ada").status_code == 200
            assert http.get("/rotate").status_code == 200
            assert len(http.get("/devices").json()) == 1
            assert http.get("/everywhere").json() == 1
    finally:
        admin.acl_deluser("sessions")
