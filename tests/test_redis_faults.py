"""The Redis store when Redis is down, refusing or hung, and under load.

Faults are real: a redis-server shut down mid-traffic and restarted on its port, one paused
by ``CLIENT PAUSE``, a port that accepts no connection; the app runs under uvicorn where
the test is about what a client sees.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
import redis
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.testclient import TestClient

from sessionkit import SessionConfigError, SessionSettings
from tests.conftest import KEY
from tests.redis_server import RedisServer, running_redis
from tests.test_server import ROOT, soak, uvicorn_process
from tests.test_server_store import ROUTES, app_for, session_cookie, settings_for, use_cookie

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def pause(server: RedisServer, milliseconds: int) -> None:
    """``CLIENT PAUSE milliseconds ALL``: the server takes connections, answers nothing."""
    client = server.client()
    client.client_pause(milliseconds, all=True)
    client.close()


# --- timeouts ------------------------------------------------------------------------------


@pytest.mark.parametrize("pooled", [True, False], ids=["pooled-connection", "new-connection"])
def test_a_paused_redis_is_answered_within_the_timeout(tmp_path: Path, pooled: bool) -> None:
    """redis_timeout=0.5 and Redis paused for 3 s: the request gets its 503 in well under
    3 s, on a pooled connection (command time) as on a new one (connecting)."""
    with running_redis(tmp_path) as server:
        app = app_for(settings_for("redis", server, redis_timeout=0.5))
        with TestClient(app, raise_server_exceptions=False) as http:
            value = session_cookie(http.get("/write?a=1"))
        with TestClient(app, raise_server_exceptions=False) as http:
            use_cookie(http, value)
            if pooled:
                assert http.get("/read").json() == {"a": "1"}  # the pool holds a connection
            pause(server, 3000)
            started = time.monotonic()
            response = http.get("/read")
            elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert elapsed < 1.2, elapsed


def test_a_trip_cut_short_leaves_no_late_reply_for_the_next_request(tmp_path: Path) -> None:
    """A read cut at the timeout, its reply arriving after: the next request on the same
    pool reads its own session, never that late reply (redis-py closes a connection cut
    mid-command, and checks a pooled one for unread data before reusing it)."""
    with running_redis(tmp_path) as server:
        app = app_for(settings_for("redis", server, redis_timeout=0.3))
        with TestClient(app, raise_server_exceptions=False) as http:
            first = session_cookie(http.get("/write?who=first"))
            http.cookies.clear()
            second = session_cookie(http.get("/write?who=second"))
            pause(server, 800)
            use_cookie(http, first)
            assert http.get("/read").status_code == 503
            time.sleep(1.0)  # the pause is over: the first read's reply has been sent
            use_cookie(http, second)
            assert http.get("/read").json() == {"who": "second"}
            use_cookie(http, first)
            assert http.get("/read").json() == {"who": "first"}


def test_redis_timeout_bounds_the_applications_own_client(tmp_path: Path) -> None:
    """An application's client without any socket timeout, Redis paused for 3 s: the round
    trip is still cut at redis_timeout, and the request gets its 503."""
    with running_redis(tmp_path) as server:
        settings = settings_for("redis", server, redis_timeout=0.5)
        client = Redis.from_url(server.url)  # no timeout: it would wait out the pause
        app = Starlette(routes=ROUTES, middleware=[settings.middleware(redis=client)])
        with TestClient(app, raise_server_exceptions=False) as http:
            http.get("/write?a=1")
            pause(server, 3000)
            started = time.monotonic()
            response = http.get("/read")
            elapsed = time.monotonic() - started
            http.portal.call(client.aclose)  # type: ignore[union-attr]
        assert response.status_code == 503
        assert elapsed < 1.2, elapsed


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A 127.0.0.1 port whose accept queue is full: a connection attempt gets no answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    queued = []
    for _ in range(4):  # fill the queue; the kernel then drops further handshakes
        waiting = socket.socket()
        waiting.setblocking(False)
        waiting.connect_ex(("127.0.0.1", port))
        queued.append(waiting)
    time.sleep(0.1)
    try:
        yield port
    finally:
        for waiting in queued:
            waiting.close()
        listener.close()


def test_a_redis_that_never_accepts_is_answered_within_the_timeout(silent_port: int) -> None:
    """Connecting to a server that never completes the handshake is bounded by
    redis_timeout too: a 503 in well under the kernel's connect timeout."""
    url = f"redis://127.0.0.1:{silent_port}/0"
    settings = SessionSettings(secret_key=KEY, store="redis", redis_url=url, redis_timeout=0.5)
    with TestClient(app_for(settings), raise_server_exceptions=False) as http:
        started = time.monotonic()
        response = http.get("/write?a=1")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert elapsed < 1.2, elapsed


class _BrokenClient(Redis):
    """A real client whose commands fail as no redis-py error: a race inside a client."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'read_response'")


def test_a_client_failing_in_an_undocumented_way_is_a_503_not_a_500(
    redis_db: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception that is no Redis error, raised inside the client, is a store failure:
    503 with Retry-After, logged, never a 500 or a traceback."""
    settings = settings_for("redis", redis_db)
    client = _BrokenClient.from_url(redis_db.url)
    app = Starlette(routes=ROUTES, middleware=[settings.middleware(redis=client)])
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/write?a=1")
        http.portal.call(client.aclose)  # type: ignore[union-attr]
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "Traceback" not in response.text
    assert "the Redis client failed unexpectedly (AttributeError" in caplog.text


# --- redis_unavailable ----------------------------------------------------------------------


def test_an_unreadable_session_is_a_503_by_default(tmp_path: Path) -> None:
    """redis_unavailable='fail' (the default): a request that uses a session Redis cannot
    give is answered 503; one that does not use it is served."""
    with running_redis(tmp_path) as server:
        app = app_for(settings_for("redis", server, redis_timeout=0.3))
        with TestClient(app, raise_server_exceptions=False) as http:
            http.get("/write?a=1")
            pause(server, 1500)
            assert http.get("/untouched").status_code == 200
            assert http.get("/read").status_code == 503


def test_an_unreadable_session_can_be_read_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """redis_unavailable='empty': a request whose session cannot be read sees it empty, the
    failure is logged as a warning, and no cookie is touched."""
    with running_redis(tmp_path) as server:
        settings = settings_for("redis", server, redis_timeout=0.3, redis_unavailable="empty")
        with TestClient(app_for(settings), raise_server_exceptions=False) as http:
            http.get("/write?a=1")
            pause(server, 1500)
            with caplog.at_level(logging.WARNING, logger="sessionkit"):
                response = http.get("/read")
            assert response.status_code == 200
            assert response.json() == {}
            assert "set-cookie" not in response.headers
            assert "empty, read-only session" in caplog.text
            time.sleep(1.5)
            assert http.get("/read").json() == {"a": "1"}  # nothing was lost


@pytest.mark.parametrize("path", ["/slow-write?key=b&value=2&wait=1.2", "/logout"])
def test_an_unreadable_session_is_never_written_over(tmp_path: Path, path: str) -> None:
    """redis_unavailable='empty': a change to a session that could not be read is a 503,
    even when Redis is back by the time it would be stored; the old session stays whole."""
    with running_redis(tmp_path) as server:
        settings = settings_for("redis", server, redis_timeout=0.3, redis_unavailable="empty")
        with TestClient(app_for(settings), raise_server_exceptions=False) as http:
            value = session_cookie(http.get("/write?a=1"))
            pause(server, 600)
            response = http.get(path)
            assert response.status_code == 503
            assert "set-cookie" not in response.headers
            time.sleep(0.6)
            use_cookie(http, value)
            assert http.get("/read").json() == {"a": "1"}
        assert len(server.client().keys("sessionkit:s:*")) == 1


# --- a restart mid-traffic, under uvicorn -----------------------------------------------------


async def counting_client(url: str, stop: asyncio.Event) -> dict[str, Any]:
    """POST /increment until ``stop``: every status seen, and the count of the last 200."""
    statuses: Counter[int] = Counter()
    last = 0
    bad_503 = 0
    recovered = False  # a 200 after a 503
    async with httpx2.AsyncClient(base_url=url, timeout=10) as http:
        while not stop.is_set():
            response = await http.post("/increment")
            statuses[response.status_code] += 1
            if response.status_code == 200:
                last = response.json()["count"]
                recovered = recovered or statuses[503] > 0
            elif response.headers.get("retry-after") != "5":
                bad_503 += 1
            await asyncio.sleep(0.01)
        kept = (await http.get("/session")).json()
    return {
        "statuses": statuses,
        "last": last,
        "kept": kept,
        "recovered": recovered,
        "bad": bad_503,
    }


async def unused_session_client(url: str, cookie: str, stop: asyncio.Event) -> Counter[int]:
    """GET /health with a session cookie until ``stop``: a request that never uses it."""
    statuses: Counter[int] = Counter()
    async with httpx2.AsyncClient(base_url=url, timeout=10, cookies={"session": cookie}) as http:
        while not stop.is_set():
            statuses[(await http.get("/health")).status_code] += 1
            await asyncio.sleep(0.01)
    return statuses


def shutdown_nosave(server: RedisServer) -> None:
    client = server.client()
    with suppress(redis.ConnectionError):  # the server may go away while answering
        client.shutdown(nosave=True)
    assert server.process is not None
    server.process.wait(timeout=10)
    server.process = None


def test_a_restart_of_redis_mid_traffic_costs_503s_only(tmp_path: Path) -> None:
    """Eight clients under uvicorn; Redis is shut down (SHUTDOWN NOSAVE) mid-traffic and
    restarted on its port: no 500, only 200s and 503s with Retry-After, every client's last
    200 is what Redis holds, requests that do not use the session are served throughout, and
    the app recovers without a restart."""
    with running_redis(tmp_path) as server:
        env = {
            "SESSION_STORE": "redis",
            "SESSION_REDIS_URL": server.url,
            "SESSION_REDIS_TIMEOUT": "0.5",
        }
        with uvicorn_process(["tests.server_app:app"], ROOT, env) as url:
            first = httpx2.post(f"{url}/increment", timeout=5)
            cookie = first.cookies["session"]

            async def traffic() -> tuple[list[dict[str, Any]], Counter[int]]:
                stop = asyncio.Event()
                clients = [asyncio.ensure_future(counting_client(url, stop)) for _ in range(8)]
                unused = asyncio.ensure_future(unused_session_client(url, cookie, stop))
                await asyncio.sleep(1.0)
                await asyncio.to_thread(shutdown_nosave, server)
                await asyncio.sleep(1.5)
                await asyncio.to_thread(server.start)
                restarted = time.monotonic()
                await asyncio.sleep(2.0)
                stop.set()
                results = await asyncio.gather(*clients)
                assert time.monotonic() - restarted < 10
                return list(results), await unused

            results, unused = asyncio.run(traffic())
        records = server.client().keys("sessionkit:s:*")
    for result in results:
        statuses = result["statuses"]
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[503] > 0, statuses  # the outage was seen
        assert result["bad"] == 0
        assert result["recovered"]  # served after the restart, the app never restarted
        assert result["kept"] == {"count": result["last"]}
    assert set(unused) == {200}, unused
    assert len(records) == len(results)  # one live record per client, nothing else


# --- soak ---------------------------------------------------------------------------------------


def test_soak_on_the_redis_store_every_counter_exact(redis_db: RedisServer) -> None:
    """50 concurrent clients x 200 requests under uvicorn on the Redis store: every counter
    ends exact, no error response, and Redis holds one record per client."""
    clients, requests = 50, 200
    env = {"SESSION_STORE": "redis", "SESSION_REDIS_URL": redis_db.url}
    with uvicorn_process(["tests.server_app:app"], ROOT, env) as url:
        started = time.perf_counter()
        results = asyncio.run(soak(url, clients, requests))
        elapsed = time.perf_counter() - started
    total = clients * requests
    print(f"redis soak: {total} requests in {elapsed:.1f} s ({total / elapsed:.0f} req/s)")
    assert [errors for _, errors in results] == [0] * clients
    assert [count for count, _ in results] == [requests] * clients
    assert len(redis_db.client().keys("sessionkit:s:*")) == clients


def test_redis_unavailable_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SESSION_REDIS_UNAVAILABLE=empty is read; another value is refused, naming the
    variable and the two values."""
    monkeypatch.setenv("SESSION_REDIS_UNAVAILABLE", "empty")
    assert SessionSettings(secret_key=KEY).redis_unavailable == "empty"
    monkeypatch.setenv("SESSION_REDIS_UNAVAILABLE", "ignore")
    with pytest.raises(SessionConfigError, match=r"SESSION_REDIS_UNAVAILABLE.*'fail'.*'empty'"):
        SessionSettings(secret_key=KEY)
