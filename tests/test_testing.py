"""sessionkit.testing: sessions put into test clients and read back, on every store.

Each helper runs against a real Starlette app whose routes read and write
``request.session``: on signed and sealed cookies, the memory store, and a real
redis-server; with Starlette's TestClient, an ``httpx2.AsyncClient`` over ASGITransport, and
a plain ``httpx2.Client`` talking to uvicorn.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, assert_type

import httpx2
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionkit import (
    SessionMiddleware,
    SessionSettings,
    SessionStoreError,
    SessionTooLargeError,
    get_store,
)
from sessionkit.codec import SEALED_PREFIX
from sessionkit.cookie_store import CookieStore
from sessionkit.server_store import ServerStore
from sessionkit.testing import (
    SessionTransaction,
    aread_session,
    aset_session,
    read_session,
    session_transaction,
    set_session,
)
from tests.conftest import KEY
from tests.test_server import ROOT, uvicorn_process

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.redis_server import RedisServer

KINDS = ["signed", "sealed", "memory", "redis"]
SERVER_SIDE = ["memory", "redis"]

# --- the app ---------------------------------------------------------------------------------


async def show(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def write(request: Request) -> JSONResponse:
    request.session.update(request.query_params)
    return JSONResponse(dict(request.session))


async def devices(request: Request) -> JSONResponse:
    infos = await get_store(request).list_user(request.session.get("user_id"))
    return JSONResponse(len(infos))


ROUTES = [Route("/", show), Route("/write", write), Route("/devices", devices)]


def settings_for(kind: str, redis: RedisServer | None = None, **config: Any) -> SessionSettings:
    if kind in SERVER_SIDE:
        config["store"] = kind
    if kind == "redis":
        assert redis is not None
        config["redis_url"] = redis.url
    return SessionSettings(secret_key=KEY, encrypt=kind == "sealed", **config)


def app_for(settings: SessionSettings) -> Starlette:
    return Starlette(routes=ROUTES, middleware=[settings.middleware()])


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(kind: str, request: pytest.FixtureRequest) -> SessionSettings:
    """The app's settings on the store of ``kind`` (Redis: the test's emptied redis-server)."""
    redis = request.getfixturevalue("redis_db") if kind == "redis" else None
    return settings_for(kind, redis)


@pytest.fixture
def client(settings: SessionSettings) -> Iterator[TestClient]:
    with TestClient(app_for(settings)) as http:
        yield http


def session_cookies(client: httpx2.Client | httpx2.AsyncClient) -> list[str]:
    return [cookie.value or "" for cookie in client.cookies.jar if cookie.name == "session"]


def async_client(app: Starlette) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app), base_url="http://testserver")


# --- set_session and read_session, through TestClient -----------------------------------------


def test_the_app_reads_the_session_set(client: TestClient, settings: SessionSettings) -> None:
    """After set_session, the app's routes see exactly the data given."""
    set_session(client, {"user_id": 7, "cart": [1, 2]}, settings=settings)
    assert client.get("/").json() == {"user_id": 7, "cart": [1, 2]}


def test_read_session_is_what_the_app_stored(client: TestClient, settings: SessionSettings) -> None:
    """read_session returns what a route wrote, as a dict; {} before any session."""
    assert read_session(client, settings=settings) == {}
    client.get("/write?theme=dark")
    found = read_session(client, settings=settings)
    assert_type(found, dict[str, Any])
    assert found == {"theme": "dark"}


def test_set_session_replaces_the_session_the_jar_holds(
    client: TestClient, settings: SessionSettings
) -> None:
    """Sessions the jar holds (the app's, one set by hand for any host) are replaced whole:
    one session cookie remains, holding only the new data."""
    client.get("/write?theme=dark")
    [issued] = session_cookies(client)
    client.cookies.set("session", issued)  # no domain: sent to every host
    set_session(client, {"user_id": 7}, settings=settings)
    assert len(session_cookies(client)) == 1
    assert client.get("/").json() == {"user_id": 7}
    set_session(client, {"user_id": 8}, settings=settings)  # a cookie the helper set, too
    assert client.get("/").json() == {"user_id": 8}


@pytest.mark.parametrize("kind", SERVER_SIDE)
def test_a_replaced_server_side_session_is_deleted(
    client: TestClient, settings: SessionSettings
) -> None:
    """On a server-side store the replaced session's record is gone: one device, not two."""
    client.get("/write?user_id=7")
    set_session(client, {"user_id": "7", "role": "admin"}, settings=settings)
    assert client.get("/devices").json() == 1


def test_empty_data_leaves_the_client_without_a_session(
    client: TestClient, settings: SessionSettings
) -> None:
    """set_session(client, {}) removes the session: no cookie, the app sees none."""
    client.get("/write?theme=dark")
    set_session(client, {}, settings=settings)
    assert session_cookies(client) == []
    assert client.get("/").json() == {}


@pytest.mark.parametrize("kind", ["signed", "sealed"])
def test_cookies_are_signed_or_sealed_as_the_app_issues_them(
    client: TestClient, settings: SessionSettings
) -> None:
    """With encrypt=True the cookie set is sealed; without, signed and readable JSON."""
    set_session(client, {"user_id": 7}, settings=settings)
    [value] = session_cookies(client)
    assert value.startswith(SEALED_PREFIX) == settings.encrypt


@pytest.mark.parametrize("kind", ["redis"])
def test_the_redis_store_holds_a_real_record_and_no_connection_is_left_open(
    client: TestClient, settings: SessionSettings, redis_db: RedisServer
) -> None:
    """set_session writes a record through the store (hashed key, fields per entry), and the
    sync helpers close every connection they opened."""
    inspect = redis_db.client()
    before = len(inspect.client_list())
    set_session(client, {"user_id": 7}, settings=settings)
    assert read_session(client, settings=settings) == {"user_id": 7}
    [key] = inspect.keys("sessionkit:s:*")
    record = inspect.hgetall(key)
    assert record[b".user_id"] == b"7"
    assert record[b"@user"] == b"7"
    [value] = session_cookies(client)
    assert value.split(".")[0].encode() not in key  # the id is never a key name
    assert len(inspect.client_list()) == before
    inspect.close()


def test_a_tampered_cookie_reads_as_no_session(
    client: TestClient, settings: SessionSettings
) -> None:
    """read_session, as the app, finds no session in a cookie whose signature fails."""
    set_session(client, {"user_id": 7}, settings=settings)
    [value] = session_cookies(client)
    client.cookies.set("session", value[:-2] + "AA", domain="testserver.local")
    assert read_session(client, settings=settings) == {}
    assert client.get("/").json() == {}


@pytest.mark.parametrize("kind", ["signed"])
def test_a_session_browsers_would_drop_is_refused(
    client: TestClient, settings: SessionSettings
) -> None:
    """As in the app, a cookie over 4096 bytes is a SessionTooLargeError, never set."""
    with pytest.raises(SessionTooLargeError, match="'blob'"):
        set_session(client, {"blob": "x" * 5000}, settings=settings)
    assert session_cookies(client) == []


@pytest.mark.parametrize("kind", ["redis"])
def test_empty_data_deletes_the_replaced_record(
    client: TestClient, settings: SessionSettings, redis_db: RedisServer
) -> None:
    """set_session(client, {}) on a server-side store deletes the session it replaces."""
    client.get("/write?theme=dark")
    inspect = redis_db.client()
    assert len(inspect.keys("sessionkit:s:*")) == 1
    set_session(client, {}, settings=settings)
    assert inspect.keys("sessionkit:s:*") == []
    inspect.close()


@pytest.mark.parametrize("kind", SERVER_SIDE)
def test_a_signed_cookie_session_reads_as_the_server_side_app_reads_it(
    client: TestClient, settings: SessionSettings
) -> None:
    """Before the app moves a signed-cookie session into its store, it is read as such."""
    set_session(client, {"user_id": 7}, settings=settings_for("signed"))
    assert read_session(client, settings=settings) == {"user_id": 7}
    assert client.get("/").json() == {"user_id": 7}


@pytest.mark.parametrize("value", ["", "garbage", "caf\u20ac", "a.b.c"])
def test_the_stores_read_no_session_from_a_bad_value(value: str) -> None:
    """CookieStore.decode and ServerStore.get answer None, never raise, for a bad value."""
    from sessionkit._factory import make_store

    cookie, memory = make_store(settings_for("signed")), make_store(settings_for("memory"))
    assert isinstance(cookie, CookieStore)
    assert isinstance(memory, ServerStore)
    assert cookie.decode(value) is None
    assert asyncio.run(memory.get(value)) is None
    assert asyncio.run(memory.put({"n": 1}, replaces=value)) is not None


# --- the cookie jar ---------------------------------------------------------------------------


def test_the_cookie_is_for_the_base_urls_host_only() -> None:
    """The cookie is filed under the client's host: sent there, not to another host."""
    settings = settings_for("signed")
    with httpx2.Client(base_url="http://app.example") as client:
        set_session(client, {"user_id": 7}, settings=settings)
        [cookie] = client.cookies.jar
        assert cookie.domain == "app.example"
        for url, sent in (("http://app.example/x", True), ("http://other.example/", False)):
            request = client.build_request("GET", url)
            assert ("cookie" in request.headers) is sent


def test_the_cookie_has_the_apps_path_domain_and_secure_flag() -> None:
    """path, domain and https_only shape the cookie as the app's Set-Cookie would."""
    settings = settings_for("signed", path="/app", domain="example.com", https_only=True)
    with httpx2.Client(base_url="https://www.example.com") as client:
        set_session(client, {"user_id": 7}, settings=settings)
        [cookie] = client.cookies.jar
        assert (cookie.domain, cookie.path, cookie.secure) == (".example.com", "/app", True)
        assert read_session(client, settings=settings) == {"user_id": 7}
        for url, sent in (
            ("https://www.example.com/app/page", True),
            ("https://www.example.com/other", False),
            ("http://www.example.com/app/page", False),
        ):
            assert ("cookie" in client.build_request("GET", url).headers) is sent


def test_settings_default_to_the_apps_own_middleware() -> None:
    """Without settings=, the helpers use the settings of the TestClient's app."""
    settings = SessionSettings(secret_key=KEY, session_cookie="app_session", store="memory")
    client = TestClient(app_for(settings))
    set_session(client, {"user_id": 7})
    assert [cookie.name for cookie in client.cookies.jar] == ["app_session"]
    assert client.get("/").json() == {"user_id": 7}
    client.get("/write?theme=dark")
    assert read_session(client) == {"user_id": 7, "theme": "dark"}


def memory_apps() -> dict[str, Any]:
    """Apps on the memory store built in each way the helpers find their middleware."""
    settings = settings_for("memory")
    fastapi = FastAPI(middleware=[settings.middleware()])
    fastapi.add_api_route("/", show)
    return {
        "starlette": app_for(settings),
        "fastapi": fastapi,
        "SessionMiddleware": SessionMiddleware(Starlette(routes=ROUTES), settings=settings),
    }


@pytest.mark.parametrize("built", ["starlette", "fastapi", "SessionMiddleware"])
def test_the_memory_store_is_found_in_each_kind_of_app(built: str) -> None:
    """Starlette's and FastAPI's middleware lists, and a bare SessionMiddleware, are found."""
    app = memory_apps()[built]
    client = TestClient(app)
    set_session(client, {"user_id": 7})
    assert client.get("/").json() == {"user_id": 7}
    assert read_session(client) == {"user_id": 7}


def test_settings_default_to_the_environment_without_an_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no app to ask, settings are SessionSettings() from the environment."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("SESSION_COOKIE", "env_session")
    with httpx2.Client(base_url="http://testserver") as client:
        set_session(client, {"user_id": 7})
        [cookie] = client.cookies.jar
        assert cookie.name == "env_session"
        assert read_session(client) == {"user_id": 7}


def test_the_memory_store_without_the_app_is_refused() -> None:
    """The memory store lives in the app: a client with no app to reach is a clear error."""
    settings = settings_for("memory")
    with (
        httpx2.Client(base_url="http://testserver") as client,
        pytest.raises(SessionStoreError, match="pass app=your_app"),
    ):
        set_session(client, {"user_id": 7}, settings=settings)


# --- session_transaction ----------------------------------------------------------------------


def test_a_transaction_changes_the_session_in_place(
    client: TestClient, settings: SessionSettings
) -> None:
    """Changes made inside the block reach the app's next request."""
    client.get("/write?theme=dark&user_id=7")
    with session_transaction(client, settings=settings) as session:
        assert session == {"theme": "dark", "user_id": "7"}
        session["cart"] = [3]
        del session["theme"]
    assert client.get("/").json() == {"user_id": "7", "cart": [3]}


def test_a_transaction_that_raises_stores_nothing(
    client: TestClient, settings: SessionSettings
) -> None:
    """An exception in the block leaves the client's session as it was."""
    client.get("/write?theme=dark")

    def change_then_fail() -> None:
        with session_transaction(client, settings=settings) as session:
            session["theme"] = "light"
            raise LookupError

    with pytest.raises(LookupError):
        change_then_fail()
    assert client.get("/").json() == {"theme": "dark"}


def test_an_unchanged_transaction_keeps_the_cookie(
    client: TestClient, settings: SessionSettings
) -> None:
    """A block that changes nothing leaves the cookie (its id, its creation time) alone."""
    client.get("/write?theme=dark")
    [before] = client.cookies.jar
    with session_transaction(client, settings=settings) as session:
        assert session == {"theme": "dark"}
    [after] = client.cookies.jar
    assert after is before


# --- async clients ----------------------------------------------------------------------------


def test_async_helpers_on_an_async_client(settings: SessionSettings) -> None:
    """aset_session, aread_session and async with session_transaction on an AsyncClient."""
    app = app_for(settings)

    async def scenario() -> list[Any]:
        async with async_client(app) as client:
            await aset_session(client, {"user_id": 7}, settings=settings, app=app)
            seen = [(await client.get("/")).json()]
            await client.get("/write?theme=dark")
            seen.append(await aread_session(client, settings=settings, app=app))
            transaction = session_transaction(client, settings=settings, app=app)
            assert_type(transaction, SessionTransaction)
            async with transaction as session:
                session["cart"] = [3]
            seen.append((await client.get("/")).json())
            return seen

    assert asyncio.run(scenario()) == [
        {"user_id": 7},
        {"user_id": 7, "theme": "dark"},
        {"user_id": 7, "theme": "dark", "cart": [3]},
    ]


@pytest.mark.parametrize("kind", SERVER_SIDE)
def test_sync_helpers_refuse_inside_a_running_event_loop(settings: SessionSettings) -> None:
    """On a server-side store the sync helpers, called from async code, name the async ones."""
    app = app_for(settings)

    async def scenario() -> None:
        async with async_client(app) as client:
            with pytest.raises(TypeError, match=r"await aset_session\(\.\.\.\)"):
                set_session(client, {"user_id": 7}, settings=settings, app=app)
            with pytest.raises(TypeError, match=r"await aread_session\(\.\.\.\)"):
                read_session(client, settings=settings, app=app)
            with (
                pytest.raises(TypeError, match="async with session_transaction"),
                session_transaction(client, settings=settings, app=app),
            ):
                pass

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["signed", "sealed"])
def test_sync_helpers_work_in_async_code_on_the_cookie_store(settings: SessionSettings) -> None:
    """On the cookie store nothing is awaited, so the sync helpers work inside a loop too."""
    app = app_for(settings)

    async def scenario() -> Any:
        async with async_client(app) as client:
            set_session(client, {"user_id": 7}, settings=settings)
            with session_transaction(client, settings=settings) as session:
                session["theme"] = "dark"
            assert read_session(client, settings=settings) == {"user_id": 7, "theme": "dark"}
            return (await client.get("/")).json()

    assert asyncio.run(scenario()) == {"user_id": 7, "theme": "dark"}


# --- a real server ----------------------------------------------------------------------------


def test_a_plain_client_against_uvicorn_on_redis(redis_db: RedisServer) -> None:
    """An httpx2.Client talking to the app under uvicorn (127.0.0.1) shares its Redis store."""
    env = {"SESSION_STORE": "redis", "SESSION_REDIS_URL": redis_db.url}
    settings = settings_for("redis", redis_db)
    with (
        uvicorn_process(["tests.server_app:app"], ROOT, env) as url,
        httpx2.Client(base_url=url, timeout=5) as client,
    ):
        set_session(client, {"count": 41}, settings=settings)
        assert client.post("/increment").json()["count"] == 42
        assert read_session(client, settings=settings) == {"count": 42}
