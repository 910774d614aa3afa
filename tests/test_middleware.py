"""SessionMiddleware end to end, through Starlette's TestClient on small apps."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import re
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
from blockbuster import blockbuster_ctx
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import Secret
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from sessionkit import (
    Session,
    SessionCodec,
    SessionConfigError,
    SessionLockedError,
    SessionMiddleware,
    SessionNotInstalledError,
    SessionSettings,
    SessionTooLargeError,
    SessionUnreadableError,
    get_session,
)
from tests.conftest import KEY, OLD_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from httpx2 import Response
    from starlette.types import Message, Receive, Scope, Send

NOW = 1_700_000_000.0
DELETED = "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=lax"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings(**config: Any) -> SessionSettings:
    """Settings signed with the strong test KEY."""
    return SessionSettings(secret_key=KEY, **config)


def cookie_for(
    data: dict[str, Any], *, key: str = KEY, now: float | None = None, name: str = "session"
) -> str:
    """A sessionkit cookie ``name`` for ``data``, signed with ``key`` (now, or at ``now``)."""
    codec = SessionCodec([key], cookie_name=name)
    if now is not None:
        codec.clock = lambda: now
    return codec.encode(data)


def with_cookie(value: str, name: str = "session") -> dict[str, str]:
    """Request headers sending one session cookie."""
    return {"cookie": f"{name}={value}"}


def set_cookies(response: Response) -> list[str]:
    """Every Set-Cookie header of ``response``."""
    return response.headers.get_list("set-cookie")


def issued(response: Response, name: str = "session") -> str:
    """The value of the single session cookie that ``response`` sets."""
    headers = set_cookies(response)
    assert len(headers) == 1, headers
    first, _, _ = headers[0].partition(";")
    cookie_name, _, value = first.partition("=")
    assert cookie_name == name
    return value


def read_back(value: str, *, now: float | None = None, name: str = "session") -> dict[str, Any]:
    """The data of a cookie ``name`` issued with KEY."""
    codec = SessionCodec([KEY], cookie_name=name)
    if now is not None:
        codec.clock = lambda: now
    result = codec.decode(value)
    assert result is not None
    return result.data


# --- the application -------------------------------------------------------------------------


async def read(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def write(request: Request) -> JSONResponse:
    request.session.update(request.query_params)
    return JSONResponse(dict(request.session))


async def write_big(request: Request) -> PlainTextResponse:
    size = int(request.query_params["n"])
    if request.query_params.get("random"):
        text = "".join(random.Random(0).choices("abcdefghijklmnopqrstuvwxyz0123456789", k=size))
    else:
        text = "x" * size
    request.session["big"] = text
    request.session["small"] = 1
    return PlainTextResponse("stored")


async def clear(request: Request) -> PlainTextResponse:
    request.session.clear()
    return PlainTextResponse("cleared")


async def pop(request: Request) -> PlainTextResponse:
    request.session.pop(request.query_params["key"])
    return PlainTextResponse("popped")


async def untouched(request: Request) -> PlainTextResponse:
    return PlainTextResponse("untouched")


async def reassign(request: Request) -> PlainTextResponse:
    request.session["a"] = request.session["a"]
    return PlainTextResponse("reassigned")


async def nested(request: Request) -> PlainTextResponse:
    request.session["d"]["x"] = 1
    return PlainTextResponse("nested")


async def late(request: Request) -> PlainTextResponse:
    def change_after_response() -> None:
        request.session["late"] = True

    return PlainTextResponse("ok", background=BackgroundTask(change_after_response))


async def vary(request: Request) -> PlainTextResponse:
    request.session.get("a")
    return PlainTextResponse("ok", headers={"Vary": "Accept-Encoding"})


async def accessor(request: Request) -> JSONResponse:
    session = get_session(request)
    assert session is request.scope["session"]
    return JSONResponse({"type": type(session).__name__, "data": dict(session)})


async def ws_read(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(dict(websocket.session))
    await websocket.close()


async def ws_untouched(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({})
    await websocket.close()


async def ws_write_before_accept(websocket: WebSocket) -> None:
    websocket.session["w"] = 1
    await websocket.accept()
    await websocket.send_json(dict(websocket.session))
    await websocket.close()


async def ws_write_after_accept(websocket: WebSocket) -> None:
    await websocket.accept()
    websocket.session["w"] = 1
    await websocket.close()


async def ws_nested_after_accept(websocket: WebSocket) -> None:
    websocket.session["kept"] = "before accept"
    await websocket.accept()
    websocket.session["d"]["x"] = 1
    await websocket.send_json({})
    await websocket.close()


async def ws_nested_then_disconnect(websocket: WebSocket) -> None:
    await websocket.accept()
    websocket.session["d"]["x"] = 1
    await websocket.receive_text()  # the client leaves: WebSocketDisconnect


async def ws_accessor(websocket: WebSocket) -> None:
    session = get_session(websocket)
    await websocket.accept()
    await websocket.send_json({"type": type(session).__name__, "data": dict(session)})
    await websocket.close()


ROUTES = [
    Route("/read", read),
    Route("/write", write),
    Route("/big", write_big),
    Route("/clear", clear),
    Route("/pop", pop),
    Route("/untouched", untouched),
    Route("/reassign", reassign),
    Route("/nested", nested),
    Route("/late", late),
    Route("/vary", vary),
    Route("/accessor", accessor),
    WebSocketRoute("/ws/read", ws_read),
    WebSocketRoute("/ws/untouched", ws_untouched),
    WebSocketRoute("/ws/write-before-accept", ws_write_before_accept),
    WebSocketRoute("/ws/write-after-accept", ws_write_after_accept),
    WebSocketRoute("/ws/nested-after-accept", ws_nested_after_accept),
    WebSocketRoute("/ws/nested-then-disconnect", ws_nested_then_disconnect),
    WebSocketRoute("/ws/accessor", ws_accessor),
]


def client(**config: Any) -> TestClient:
    """A TestClient on the app, sessions configured with ``settings.middleware()``."""
    return TestClient(Starlette(routes=ROUTES, middleware=[settings(**config).middleware()]))


def clocked(clock: Clock, **config: Any) -> tuple[TestClient, SessionMiddleware]:
    """A TestClient on the app wrapped by a SessionMiddleware whose codec reads ``clock``."""
    middleware = SessionMiddleware(Starlette(routes=ROUTES), settings=settings(**config))
    middleware.codec.clock = clock
    return TestClient(middleware), middleware


# --- round trips ----------------------------------------------------------------------------


def test_write_then_read_round_trip() -> None:
    """Data written in one request is read in the next, through the browser's cookie jar."""
    with client() as http:
        assert http.get("/write?a=1&b=two").json() == {"a": "1", "b": "two"}
        assert http.get("/read").json() == {"a": "1", "b": "two"}
        assert http.get("/write?c=3").json() == {"a": "1", "b": "two", "c": "3"}
        assert http.get("/read").json() == {"a": "1", "b": "two", "c": "3"}


def test_set_cookie_header_is_exact() -> None:
    """A write sends one Set-Cookie in Starlette's spelling, holding a KEY-signed cookie."""
    response = client().get("/write?a=1")
    value = issued(response)
    assert set_cookies(response) == [
        f"session={value}; path=/; Max-Age=1209600; httponly; samesite=lax"
    ]
    assert read_back(value) == {"a": "1"}
    assert response.headers["vary"] == "Cookie"


def test_clear_round_trip_expires_the_cookie() -> None:
    """Clearing a non-empty session sends the deletion header; the browser forgets the cookie."""
    with client() as http:
        http.get("/write?a=1")
        response = http.get("/clear")
        assert set_cookies(response) == [DELETED]
        assert "session" not in http.cookies
        assert http.get("/read").json() == {}


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {"https_only": True, "domain": ".example.com", "same_site": "strict", "path": "/a"},
            id="every-attribute",
        ),
        pytest.param({"session_cookie": "sid", "max_age": None}, id="browser-session"),
    ],
)
def test_clearing_expires_cookie_with_the_same_attributes(config: dict[str, Any]) -> None:
    """The deletion header repeats the attributes of the setting header, with a past expiry."""
    http = client(**config)
    name = config.get("session_cookie", "session")
    written = http.get("/write?a=1")
    set_header = set_cookies(written)[0]
    value = issued(written, name)
    deleted = set_cookies(http.get("/clear", headers=with_cookie(value, name)))
    assert len(deleted) == 1
    expected = re.sub(r"^[^;]*; path=([^;]*); (Max-Age=\d+; )?", "", set_header)
    path = config.get("path", "/")
    assert deleted[0] == (
        f"{name}=null; path={path}; expires=Thu, 01 Jan 1970 00:00:00 GMT; {expected}"
    )


def test_popping_the_last_key_expires_the_cookie() -> None:
    """A session emptied key by key is deleted too, not stored as '{}'."""
    response = client().get("/pop?key=a", headers=with_cookie(cookie_for({"a": 1})))
    assert set_cookies(response) == [DELETED]


def test_clearing_an_empty_session_sends_nothing() -> None:
    """Clearing when there was no cookie (or an empty one) sends no Set-Cookie."""
    http = client()
    assert set_cookies(http.get("/clear")) == []
    assert set_cookies(http.get("/clear", headers=with_cookie(cookie_for({})))) == []
    assert set_cookies(http.get("/clear", headers=with_cookie("garbage"))) == []


# --- Set-Cookie only on change, Vary when accessed ------------------------------------------


def test_reassigning_the_same_value_sends_no_set_cookie() -> None:
    """session['a'] = session['a'] is a __setitem__ call but no change: nothing is sent."""
    response = client().get("/reassign", headers=with_cookie(cookie_for({"a": [1, {"b": 2}]})))
    assert response.status_code == 200
    assert set_cookies(response) == []
    assert response.headers["vary"] == "Cookie"


def test_update_with_the_same_content_sends_no_set_cookie() -> None:
    """update() with values already stored changes no content, so no cookie is sent."""
    cookie = cookie_for({"a": "1", "b": "2"})
    response = client().get("/write?a=1", headers=with_cookie(cookie))
    assert response.json() == {"a": "1", "b": "2"}
    assert set_cookies(response) == []


def test_changed_value_sends_set_cookie() -> None:
    """A real change is persisted, keeping the other stored keys."""
    cookie = cookie_for({"a": "1", "b": "2"})
    response = client().get("/write?a=changed", headers=with_cookie(cookie))
    assert read_back(issued(response)) == {"a": "changed", "b": "2"}


def test_nested_in_place_change_is_persisted() -> None:
    """request.session['d']['x'] = 1 changes no top-level key, yet is not lost."""
    cookie = cookie_for({"d": {"x": 0, "y": 2}, "e": 5})
    response = client().get("/nested", headers=with_cookie(cookie))
    assert read_back(issued(response)) == {"d": {"x": 1, "y": 2}, "e": 5}


def test_vary_cookie_when_session_accessed_without_cookie() -> None:
    """Reading an empty session adds Vary: Cookie but sets no cookie."""
    response = client().get("/read")
    assert response.json() == {}
    assert response.headers["vary"] == "Cookie"
    assert set_cookies(response) == []


def test_untouched_request_with_cookie_gets_no_set_cookie_and_no_vary() -> None:
    """A request that never uses the session gets neither Set-Cookie nor Vary."""
    response = client().get("/untouched", headers=with_cookie(cookie_for({"a": 1})))
    assert response.text == "untouched"
    assert set_cookies(response) == []
    assert "vary" not in response.headers


def test_untouched_request_without_cookie_gets_nothing() -> None:
    """No cookie and no use: the response has no session headers at all."""
    response = client().get("/untouched")
    assert set_cookies(response) == []
    assert "vary" not in response.headers


def test_vary_is_merged_with_an_existing_vary_header() -> None:
    """Vary: Cookie is added to the app's own Vary value, not replacing it."""
    response = client().get("/vary")
    assert response.headers.get_list("vary") == ["Accept-Encoding, Cookie"]


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (b"Accept-Encoding", b"Accept-Encoding, Cookie"),
        (b"accept-encoding, COOKIE", b"accept-encoding, COOKIE"),
        (b"*", b"*"),
    ],
)
def test_vary_header_gets_cookie_once(existing: bytes, expected: bytes) -> None:
    """An existing Vary is extended unless it already covers Cookie; no second one appears."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"].get("user")
        headers = [(b"content-type", b"text/plain"), (b"vary", existing)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    response = TestClient(SessionMiddleware(app, settings=settings())).get("/")
    assert response.headers.get_list("vary") == [expected.decode()]


# --- bad cookies ---------------------------------------------------------------------------


def _tampered() -> bytes:
    value = cookie_for({"user": "alice"})
    return b"session=" + value[:-3].encode() + (b"AAA" if value[-3:] != "AAA" else b"BBB")


BAD_COOKIE_HEADERS = [
    pytest.param(b"session=garbage", id="garbage"),
    pytest.param(_tampered(), id="tampered"),
    pytest.param(b"session=" + cookie_for({"a": 1}).encode()[:-1], id="truncated"),
    pytest.param(b"session=caf\xc3\xa9", id="non-ascii-utf8"),
    pytest.param(b"session=\xff\xfe\x80", id="non-ascii-bytes"),
    pytest.param(b"session=" + cookie_for({"a": 1}).encode() + b"\xe9", id="valid-plus-non-ascii"),
    pytest.param(b"session=", id="empty"),
    pytest.param(b"session=null", id="null"),
    pytest.param(b'session="', id="lone-quote"),
    pytest.param(b"session=" + cookie_for({"a": 1}, key=OLD_KEY).encode(), id="unknown-key"),
    pytest.param(
        b"session=" + cookie_for({"a": 1}, now=time.time() - 15 * 86400).encode(), id="expired"
    ),
    pytest.param(
        b"session=" + cookie_for({"a": 1}, now=time.time() + 3600).encode(), id="from-the-future"
    ),
    pytest.param(
        b"session=eyJ1c2VyIjogImFsaWNlIiwgIm4iOiAxLCAidGFncyI6IFsiYSIsICJiIl19.ZVPxAA."
        b"0_4un6A2igIMZIVOP3lcEpjZbkg",
        id="starlette-unknown-key",
    ),
]


@pytest.mark.parametrize("header", BAD_COOKIE_HEADERS)
def test_bad_cookie_gives_an_empty_session_never_a_500(header: bytes) -> None:
    """Tampered, garbage, non-ASCII, expired... cookies read as an empty session, no error."""
    response = client().get("/read", headers={b"cookie": header})
    assert response.status_code == 200
    assert response.json() == {}
    assert set_cookies(response) == []


@pytest.mark.parametrize("header", BAD_COOKIE_HEADERS)
def test_bad_cookie_is_replaced_on_write(header: bytes) -> None:
    """Writing after a bad cookie issues a fresh, valid cookie with only the new data."""
    response = client().get("/write?fresh=1", headers={b"cookie": header})
    assert response.status_code == 200
    assert read_back(issued(response)) == {"fresh": "1"}


def test_first_valid_cookie_among_duplicates_is_used() -> None:
    """When several cookies share the name, a bad one does not hide a good one."""
    good = cookie_for({"a": "good"})
    response = client().get("/read", headers={"cookie": f"session=garbage; session={good}"})
    assert response.json() == {"a": "good"}


def test_cookie_of_another_name_is_ignored() -> None:
    """Only the configured cookie name is read; a similarly named cookie is not."""
    value = cookie_for({"a": 1}, name="sid")
    http = client(session_cookie="sid")
    assert http.get("/read", headers=with_cookie(value)).json() == {}
    assert http.get("/read", headers={"cookie": f"mysid={value}"}).json() == {}
    assert http.get("/read", headers=with_cookie(value, "sid")).json() == {"a": 1}


def test_a_cookie_issued_under_another_name_is_no_session() -> None:
    """An app's cookie, sent under a mounted admin app's cookie name, same key: no session."""
    app_cookie = issued(client().get("/write?role=user"))
    admin = client(session_cookie="admin_session")
    assert admin.get("/read", headers=with_cookie(app_cookie, "admin_session")).json() == {}
    admin_cookie = issued(admin.get("/write?role=admin"), "admin_session")
    assert client().get("/read", headers=with_cookie(admin_cookie)).json() == {}
    assert admin.get("/read", headers=with_cookie(admin_cookie, "admin_session")).json() == {
        "role": "admin"
    }


# --- key rotation and Starlette cookies -----------------------------------------------------


def test_fallback_key_cookie_is_accepted_and_reissued_with_current_key() -> None:
    """A cookie signed with a fallback key is read and re-signed with the current key."""
    http = client(secret_key_fallbacks=[OLD_KEY])
    response = http.get("/read", headers=with_cookie(cookie_for({"a": 1}, key=OLD_KEY)))
    assert response.json() == {"a": 1}
    value = issued(response)
    assert read_back(value) == {"a": 1}
    assert SessionCodec([OLD_KEY]).decode(value) is None


def test_fallback_key_cookie_is_not_reissued_when_unused() -> None:
    """Re-signing happens only when the session is used."""
    http = client(secret_key_fallbacks=[OLD_KEY])
    response = http.get("/untouched", headers=with_cookie(cookie_for({"a": 1}, key=OLD_KEY)))
    assert set_cookies(response) == []


def test_old_key_cookie_is_rejected_once_dropped_from_fallbacks() -> None:
    """Without the fallback, a cookie signed with the old key is an empty session."""
    response = client().get("/read", headers=with_cookie(cookie_for({"a": 1}, key=OLD_KEY)))
    assert response.json() == {}


def starlette_client(**options: Any) -> TestClient:
    """The same routes behind Starlette's own SessionMiddleware with KEY."""
    middleware = Middleware(StarletteSessionMiddleware, secret_key=KEY, **options)
    return TestClient(Starlette(routes=ROUTES, middleware=[middleware]))


def test_starlette_written_cookie_is_read_and_upgraded() -> None:
    """A cookie from Starlette's SessionMiddleware (same key) is read, then re-issued signed
    with HMAC-SHA256 in sessionkit's format."""
    starlette_cookie = issued(starlette_client().get("/write?user=alice&n=1"))
    response = client().get("/read", headers=with_cookie(starlette_cookie))
    assert response.json() == {"user": "alice", "n": "1"}
    upgraded = issued(response)
    assert len(upgraded.rsplit(".", 1)[1]) == 43
    assert read_back(upgraded) == {"user": "alice", "n": "1"}


STARLETTE_OPTIONS = [
    pytest.param({}, id="defaults"),
    pytest.param({"https_only": True, "domain": "example.com", "same_site": "strict"}, id="flags"),
    pytest.param({"session_cookie": "sid", "max_age": None, "path": "/app"}, id="name-path"),
    pytest.param(
        {"same_site": "none", "https_only": True, "partitioned": True, "max_age": 60},
        id="partitioned",
    ),
]


def _without_value(header: str) -> str:
    return re.sub(r"^([^=]+)=[^;]*", r"\1=VALUE", header)


@pytest.mark.parametrize("options", STARLETTE_OPTIONS)
def test_set_cookie_headers_match_starlette(options: dict[str, Any]) -> None:
    """With the same options, Set-Cookie (setting and deleting) equals Starlette's but for
    the value, so existing header snapshots keep passing."""
    name = options.get("session_cookie", "session")
    theirs_http, ours_http = starlette_client(**options), client(**options)
    their_response, our_response = theirs_http.get("/write?a=1"), ours_http.get("/write?a=1")
    theirs, ours = set_cookies(their_response), set_cookies(our_response)
    assert len(ours) == 1
    assert [_without_value(h) for h in ours] == [_without_value(h) for h in theirs]

    their_cookie, our_cookie = issued(their_response, name), issued(our_response, name)
    theirs = set_cookies(theirs_http.get("/clear", headers=with_cookie(their_cookie, name)))
    ours = set_cookies(ours_http.get("/clear", headers=with_cookie(our_cookie, name)))
    assert ours == theirs


# --- sliding expiry, with an injected clock -------------------------------------------------


def test_read_only_request_before_refresh_sends_no_set_cookie() -> None:
    """Before half of max_age has passed, reading the session re-issues nothing."""
    clock = Clock()
    http, middleware = clocked(clock, max_age=100)
    cookie = middleware.codec.encode({"a": 1})
    clock.now = NOW + 49
    response = http.get("/read", headers=with_cookie(cookie))
    assert response.json() == {"a": 1}
    assert set_cookies(response) == []


def test_used_session_is_reissued_after_half_of_max_age() -> None:
    """Once half of max_age has passed, a request using the session gets a fresh cookie."""
    clock = Clock()
    http, middleware = clocked(clock, max_age=100)
    cookie = middleware.codec.encode({"a": 1})
    clock.now = NOW + 50
    response = http.get("/read", headers=with_cookie(cookie))
    value = issued(response)
    assert set_cookies(response) == [
        f"session={value}; path=/; Max-Age=100; httponly; samesite=lax"
    ]
    fresh = middleware.codec.decode(value)
    assert fresh is not None
    assert fresh.data == {"a": 1}
    assert fresh.signed_at == NOW + 50
    assert fresh.created_at == NOW


def test_refresh_after_overrides_half_of_max_age() -> None:
    """refresh_after sets when a used session is re-issued."""
    clock = Clock()
    http, middleware = clocked(clock, max_age=100, refresh_after=10)
    cookie = middleware.codec.encode({"a": 1})
    clock.now = NOW + 9
    assert set_cookies(http.get("/read", headers=with_cookie(cookie))) == []
    clock.now = NOW + 10
    assert len(set_cookies(http.get("/read", headers=with_cookie(cookie)))) == 1


def test_untouched_request_is_not_reissued() -> None:
    """A request that never uses the session does not refresh it, however old."""
    clock = Clock()
    http, middleware = clocked(clock, max_age=100)
    cookie = middleware.codec.encode({"a": 1})
    clock.now = NOW + 99
    assert set_cookies(http.get("/untouched", headers=with_cookie(cookie))) == []


def test_no_refresh_for_browser_session_cookies() -> None:
    """max_age=None and no refresh_after: a cookie is never re-issued just for its age."""
    clock = Clock()
    http, middleware = clocked(clock, max_age=None)
    cookie = middleware.codec.encode({"a": 1})
    clock.now = NOW + 365 * 86400
    response = http.get("/read", headers=with_cookie(cookie))
    assert response.json() == {"a": 1}
    assert set_cookies(response) == []


def test_max_age_is_enforced_server_side() -> None:
    """A cookie older than max_age gives an empty session, whatever the browser sent."""
    clock = Clock()
    http, middleware = clocked(clock, max_age=100)
    cookie = middleware.codec.encode({"a": 1})
    clock.now = NOW + 100
    assert http.get("/read", headers=with_cookie(cookie)).json() == {"a": 1}
    clock.now = NOW + 101
    assert http.get("/read", headers=with_cookie(cookie)).json() == {}


def test_reissued_cookie_outlives_the_original() -> None:
    """Sliding expiry: the re-issued cookie is valid past the original's expiry."""
    clock = Clock()
    http, middleware = clocked(clock, max_age=100)
    original = middleware.codec.encode({"a": 1})
    clock.now = NOW + 60
    refreshed = issued(http.get("/read", headers=with_cookie(original)))
    clock.now = NOW + 150
    assert http.get("/read", headers=with_cookie(original)).json() == {}
    assert http.get("/read", headers=with_cookie(refreshed)).json() == {"a": 1}


def test_absolute_lifetime_ends_the_session_despite_reissues() -> None:
    """Re-issuing keeps the creation time, so absolute_lifetime still ends the session."""
    clock = Clock()
    http, middleware = clocked(clock, max_age=100, absolute_lifetime=120)
    original = middleware.codec.encode({"a": 1})
    clock.now = NOW + 60
    refreshed = issued(http.get("/read", headers=with_cookie(original)))
    clock.now = NOW + 120
    assert http.get("/read", headers=with_cookie(refreshed)).json() == {"a": 1}
    clock.now = NOW + 121
    assert http.get("/read", headers=with_cookie(refreshed)).json() == {}


def test_changed_session_keeps_its_creation_time() -> None:
    """A write re-signs the cookie but keeps when the session was first issued."""
    clock = Clock()
    http, middleware = clocked(clock, max_age=100)
    cookie = middleware.codec.encode({"a": 1})
    clock.now = NOW + 10
    value = issued(http.get("/write?b=2", headers=with_cookie(cookie)))
    result = middleware.codec.decode(value)
    assert result is not None
    assert (result.signed_at, result.created_at) == (NOW + 10, NOW)


# --- size limit ------------------------------------------------------------------------------


def test_oversized_session_raises_a_clear_error() -> None:
    """A cookie past 4096 bytes is never silently dropped: the app gets SessionTooLargeError."""
    with pytest.raises(SessionTooLargeError, match=r"over the 4096-byte limit") as info:
        client().get("/big?n=5000")
    error = info.value
    assert error.limit == 4096
    assert error.size > 4096
    assert error.largest_keys[0][0] == "big"
    assert "'big'" in str(error)
    assert "compress=True" in str(error)


def test_session_under_the_limit_is_stored() -> None:
    """A large session that still fits is stored normally."""
    response = client().get("/big?n=2500")
    value = issued(response)
    assert len("session") + len(value) <= 4096
    assert read_back(value)["big"] == "x" * 2500


def test_compression_lets_more_fit() -> None:
    """With compress=True, data too large as plain JSON fits and reads back whole."""
    with client(compress=True) as http:
        response = http.get("/big?n=20000")
        assert len(issued(response)) < 4096
        assert http.get("/read").json()["big"] == "x" * 20000


def test_compression_does_not_hide_incompressible_overflow() -> None:
    """Data that does not compress still hits the limit with compress=True."""
    with pytest.raises(SessionTooLargeError):
        client(compress=True).get("/big?n=6000&random=1")


# --- changes too late to reach the browser --------------------------------------------------


def test_changing_the_session_after_the_response_started_raises() -> None:
    """A background task changing the session raises SessionLockedError, not a silent loss."""
    with pytest.raises(SessionLockedError, match="response has already started"):
        client().get("/late")


def test_raw_app_changing_session_after_response_start_raises() -> None:
    """A raw ASGI app mutating scope['session'] after http.response.start raises."""
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            scope["session"]["a"] = 1
        except SessionLockedError as exc:
            errors.append(exc)
        await send({"type": "http.response.body", "body": b"done"})

    response = TestClient(SessionMiddleware(app, settings=settings())).get("/")
    assert response.text == "done"
    assert len(errors) == 1


# --- WebSockets ---------------------------------------------------------------------------


def accept_headers(session: Any) -> dict[str, str]:
    """The headers of a TestClient WebSocket session's accept message, decoded."""
    raw: list[tuple[bytes, bytes]] = session.extra_headers or []
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}


def test_websocket_session_is_readable() -> None:
    """The session of a WebSocket is read from the handshake's cookie, after accept too."""
    cookie = cookie_for({"u": 1})
    with client().websocket_connect("/ws/read", headers=with_cookie(cookie)) as ws:
        assert ws.receive_json() == {"u": 1}


def test_websocket_changes_before_accept_travel_in_the_accept_message() -> None:
    """A change before accept is sent as Set-Cookie in the websocket.accept headers."""
    cookie = cookie_for({"u": 1})
    with client().websocket_connect("/ws/write-before-accept", headers=with_cookie(cookie)) as ws:
        assert ws.receive_json() == {"u": 1, "w": 1}
        headers = accept_headers(ws)
    set_cookie = headers["set-cookie"]
    value = set_cookie.split(";", 1)[0].removeprefix("session=")
    assert set_cookie == f"session={value}; path=/; Max-Age=1209600; httponly; samesite=lax"
    assert read_back(value) == {"u": 1, "w": 1}


def test_websocket_untouched_session_sends_no_headers() -> None:
    """A WebSocket that never uses the session accepts with no Set-Cookie and no Vary."""
    cookie = cookie_for({"u": 1})
    with client().websocket_connect("/ws/untouched", headers=with_cookie(cookie)) as ws:
        assert ws.receive_json() == {}
        headers = accept_headers(ws)
    assert "set-cookie" not in headers
    assert "vary" not in headers


def test_websocket_mutation_after_accept_raises() -> None:
    """After accept a change cannot reach the browser, so changing the session raises."""
    http = client()
    with (
        pytest.raises(SessionLockedError, match=r"change the session before websocket.accept"),
        http.websocket_connect("/ws/write-after-accept") as ws,
    ):
        ws.receive()


def test_websocket_nested_change_after_accept_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An in-place nested change after accept is logged as an error naming the key."""
    caplog.set_level(logging.ERROR, logger="sessionkit")
    cookie = cookie_for({"d": {"x": 0}, "other": 1})
    with client().websocket_connect("/ws/nested-after-accept", headers=with_cookie(cookie)) as ws:
        assert ws.receive_json() == {}
        assert ws.receive()["type"] == "websocket.close"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "sessionkit"]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert "'d'" in message
    assert "'other'" not in message
    assert "'kept'" not in message


def test_websocket_without_late_changes_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Control: a WebSocket that only reads after accept logs no error."""
    caplog.set_level(logging.ERROR, logger="sessionkit")
    with client().websocket_connect("/ws/read", headers=with_cookie(cookie_for({"d": 1}))) as ws:
        ws.receive_json()
        ws.receive()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_websocket_nested_change_is_logged_when_the_handler_ends_by_disconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lost-change error is logged however the connection ends."""
    caplog.set_level(logging.ERROR, logger="sessionkit")
    cookie = cookie_for({"d": {"x": 0}})
    with (
        pytest.raises(WebSocketDisconnect),
        client().websocket_connect("/ws/nested-then-disconnect", headers=with_cookie(cookie)) as ws,
    ):
        ws.close()
    assert any("'d'" in r.getMessage() for r in caplog.records if r.name == "sessionkit")


# --- get_session -------------------------------------------------------------------------------


def test_get_session_on_a_request() -> None:
    """get_session(request) is the Session at scope['session'], marked accessed."""
    response = client().get("/accessor", headers=with_cookie(cookie_for({"a": 1})))
    assert response.json() == {"type": "Session", "data": {"a": 1}}
    assert response.headers["vary"] == "Cookie"


def test_get_session_on_a_websocket() -> None:
    """get_session(websocket) works the same for WebSockets."""
    cookie = cookie_for({"a": 1})
    with client().websocket_connect("/ws/accessor", headers=with_cookie(cookie)) as ws:
        assert ws.receive_json() == {"type": "Session", "data": {"a": 1}}


def test_get_session_marks_accessed_and_loads() -> None:
    """get_session loads a lazy session and marks it accessed."""
    session = Session.lazy(lambda: {"a": 1})
    request = Request({"type": "http", "headers": [], "session": session})
    assert get_session(request) is session
    assert session.accessed
    assert session.loaded


def test_get_session_without_middleware_raises_a_clear_error() -> None:
    """Without SessionMiddleware, get_session says what is missing and how to install it."""
    request = Request({"type": "http", "headers": []})
    with pytest.raises(
        SessionNotInstalledError, match=r"holds nothing.*install sessionkit.SessionMiddleware"
    ):
        get_session(request)


def test_get_session_with_another_session_middleware_raises() -> None:
    """A session placed by another middleware (Starlette's) is named in the error."""
    with pytest.raises(SessionNotInstalledError, match=r"holds a Session"):
        starlette_client().get("/accessor")


def test_get_session_in_an_app_without_middleware_raises() -> None:
    """In an app without the middleware the error reaches the developer, as a RuntimeError."""
    with pytest.raises(RuntimeError, match=r"install sessionkit\.SessionMiddleware"):
        TestClient(Starlette(routes=ROUTES)).get("/accessor")


# --- installing the middleware -------------------------------------------------------------


def test_settings_middleware_installs_sessions() -> None:
    """Starlette(middleware=[settings.middleware()]) gives a working session."""
    app = Starlette(routes=ROUTES, middleware=[settings(session_cookie="sk").middleware()])
    response = TestClient(app).get("/write?a=1")
    assert read_back(issued(response, "sk"), name="sk") == {"a": "1"}


def test_drop_in_keyword_form_reads_the_rest_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Middleware(SessionMiddleware, secret_key=..., max_age=...) works like Starlette's, and
    options not given come from the environment."""
    monkeypatch.setenv("SESSION_COOKIE", "sid")
    monkeypatch.setenv("SESSION_HTTPS_ONLY", "true")
    monkeypatch.setenv("SESSION_MAX_AGE", "999")
    middleware = Middleware(SessionMiddleware, secret_key=KEY, max_age=100)
    response = TestClient(Starlette(routes=ROUTES, middleware=[middleware])).get("/write?a=1")
    value = issued(response, "sid")
    assert set_cookies(response) == [
        f"sid={value}; path=/; Max-Age=100; httponly; samesite=lax; secure"
    ]
    assert read_back(value, name="sid") == {"a": "1"}


def test_drop_in_accepts_every_starlette_keyword() -> None:
    """All of Starlette's SessionMiddleware keywords are accepted, a Secret key included."""
    middleware = Middleware(
        SessionMiddleware,
        secret_key=Secret(KEY),
        session_cookie="sid",
        max_age=60,
        path="/",
        same_site="strict",
        https_only=True,
        domain="example.com",
        partitioned=True,
    )
    response = TestClient(Starlette(routes=ROUTES, middleware=[middleware])).get("/write?a=1")
    value = issued(response, "sid")
    assert set_cookies(response) == [
        f"sid={value}; path=/; Max-Age=60; httponly; samesite=strict; secure; "
        "domain=example.com; partitioned"
    ]


def test_drop_in_without_arguments_reads_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Middleware(SessionMiddleware) alone takes SECRET_KEY from the environment."""
    monkeypatch.setenv("SECRET_KEY", OLD_KEY)
    app = Starlette(routes=ROUTES, middleware=[Middleware(SessionMiddleware)])
    value = issued(TestClient(app).get("/write?a=1"))
    assert SessionCodec([OLD_KEY]).decode(value) is not None


def test_invalid_configuration_fails_at_construction() -> None:
    """A bad setting is a SessionConfigError when the middleware is built, not per request."""
    with pytest.raises(SessionConfigError, match="SECRET_KEY"):
        SessionMiddleware(Starlette(), secret_key="")
    with pytest.raises(SessionConfigError, match="unknown session setting 'secure'"):
        SessionMiddleware(Starlette(), secret_key=KEY, secure=True)
    with pytest.raises(SessionConfigError, match="https_only"):
        SessionMiddleware(Starlette(), secret_key=KEY, same_site="none")


def test_settings_and_keywords_together_are_refused() -> None:
    """Giving settings= and individual settings at once is a TypeError naming them."""
    with pytest.raises(TypeError, match=r"not both"):
        SessionMiddleware(Starlette(), settings=settings(), max_age=5)


def test_unvalidated_settings_are_refused() -> None:
    """Settings built without validation (model_construct) and invalid are refused at build."""
    smuggled = SessionSettings.model_construct(
        secret_key=SecretStr(KEY), path="/; domain=evil.example"
    )
    with pytest.raises(SessionConfigError, match=r"path \(environment variable SESSION_PATH\)"):
        SessionMiddleware(Starlette(), settings=smuggled)


def test_construction_inside_a_running_loop_does_no_blocking_io(tmp_path: Path) -> None:
    """Built inside a running event loop (as Starlette does lazily), the middleware and its
    settings touch no file, and .env (read earlier, outside the loop) is still honoured."""
    (tmp_path / ".env").write_text("SESSION_COOKIE=from_dotenv\n", encoding="utf-8")
    assert SessionSettings(secret_key=KEY).session_cookie == "from_dotenv"  # outside: read

    async def build() -> tuple[SessionMiddleware, SessionSettings]:
        with blockbuster_ctx():
            return SessionMiddleware(Starlette(), secret_key=KEY), SessionSettings(secret_key=KEY)

    middleware, built = asyncio.run(build())
    assert middleware.settings.session_cookie == "from_dotenv"
    assert built.session_cookie == "from_dotenv"


def test_lazily_built_stack_reads_dotenv_without_blocking(tmp_path: Path) -> None:
    """Starlette's lazily built stack, under blockbuster, issues the cookie named in .env."""
    (tmp_path / ".env").write_text("SESSION_COOKIE=sid_dotenv\n", encoding="utf-8")
    SessionSettings(secret_key=KEY)  # as at startup, outside the loop
    app = Starlette(routes=ROUTES, middleware=[Middleware(SessionMiddleware, secret_key=KEY)])
    with blockbuster_ctx("sessionkit"):  # flags blocking calls made by sessionkit's code
        response = TestClient(app).get("/write?a=1")
    assert read_back(issued(response, "sid_dotenv"), name="sid_dotenv") == {"a": "1"}


def test_lifespan_passes_through() -> None:
    """Lifespan events reach the app unchanged through the middleware."""
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    inner = Starlette(routes=ROUTES, lifespan=lifespan)
    with TestClient(SessionMiddleware(inner, settings=settings())) as http:
        assert events == ["startup"]
        assert http.get("/read").json() == {}
    assert events == ["startup", "shutdown"]


def test_non_http_scope_gets_no_session() -> None:
    """A lifespan (non-HTTP) scope is handed on as is, without a session."""
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    asyncio.run(SessionMiddleware(app, settings=settings())(scope, receive, send))
    assert seen == [scope]
    assert "session" not in scope


# --- raw ASGI apps --------------------------------------------------------------------------


def test_raw_app_response_start_without_headers() -> None:
    """A raw ASGI app may omit 'headers' in http.response.start; the session still works."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"]["a"] = 1
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"ok"})

    response = TestClient(SessionMiddleware(app, settings=settings())).get("/")
    assert response.status_code == 200
    assert read_back(issued(response)) == {"a": 1}


def test_raw_app_websocket_accept_without_headers() -> None:
    """A raw ASGI app may omit 'headers' in websocket.accept; the change is still sent."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        scope["session"]["w"] = 1
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    with TestClient(SessionMiddleware(app, settings=settings())).websocket_connect("/") as ws:
        headers = accept_headers(ws)
    assert read_back(headers["set-cookie"].split(";")[0].removeprefix("session=")) == {"w": 1}


def test_raw_app_reads_the_session_from_scope() -> None:
    """scope['session'] is a sessionkit Session for any ASGI app, loaded on first read."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session = scope["session"]
        assert isinstance(session, Session)
        body = repr(sorted(session.items())).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    http = TestClient(SessionMiddleware(app, settings=settings()))
    response = http.get("/", headers=with_cookie(cookie_for({"a": 1})))
    assert response.text == "[('a', 1)]"
    assert response.headers["vary"] == "Cookie"


def test_clear_then_write_starts_a_new_creation_time(key: str) -> None:
    """clear() then a write in one request re-issues with a new creation time (a login)."""
    now = [1_000_000.0]

    async def login(request: Request) -> PlainTextResponse:
        request.session.clear()
        request.session["user"] = "ada"
        return PlainTextResponse("ok")

    async def visit(request: Request) -> PlainTextResponse:
        request.session["seen"] = True
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/login", login), Route("/visit", visit)])
    middleware = SessionMiddleware(inner, settings=SessionSettings(secret_key=key))
    middleware.codec.clock = lambda: now[0]
    client = TestClient(middleware)
    client.get("/visit")
    first = middleware.codec.decode(client.cookies["session"])
    assert first is not None
    now[0] += 500
    client.get("/login")
    second = middleware.codec.decode(client.cookies["session"])
    assert second is not None
    assert second.data == {"user": "ada"}
    assert (first.created_at, second.created_at) == (1_000_000, 1_000_500)


def test_clear_then_the_same_data_reissues_with_a_new_creation_time(key: str) -> None:
    """A re-login writing the very data the session held still restarts its lifetime."""
    now = [1_000_000.0]

    async def login(request: Request) -> PlainTextResponse:
        request.session.clear()
        request.session["user"] = "ada"
        return PlainTextResponse("ok")

    async def whoami(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.session.get("user", "nobody"))

    inner = Starlette(routes=[Route("/login", login), Route("/whoami", whoami)])
    settings = SessionSettings(secret_key=key, absolute_lifetime=3600)
    middleware = SessionMiddleware(inner, settings=settings)
    middleware.codec.clock = lambda: now[0]
    client = TestClient(middleware)
    client.get("/login")
    first = middleware.codec.decode(client.cookies["session"])
    assert first is not None
    now[0] += 3000
    response = client.get("/login")
    assert len(set_cookies(response)) == 1
    second = middleware.codec.decode(client.cookies["session"])
    assert second is not None
    assert (first.data, second.data) == ({"user": "ada"}, {"user": "ada"})
    assert (first.created_at, second.created_at) == (1_000_000, 1_003_000)
    now[0] += 3000  # past the first login's absolute lifetime, within the second's
    assert client.get("/whoami").text == "ada"


def test_rotate_on_the_cookie_store_issues_a_new_cookie_with_a_new_creation_time(key: str) -> None:
    """session.rotate() re-issues the same content with a new creation time."""
    now = [1_000_000.0]

    async def rotate(request: Request) -> PlainTextResponse:
        get_session(request).rotate()
        return PlainTextResponse("ok")

    async def login(request: Request) -> PlainTextResponse:
        request.session["user"] = "ada"
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/login", login), Route("/rotate", rotate)])
    middleware = SessionMiddleware(inner, settings=SessionSettings(secret_key=key))
    middleware.codec.clock = lambda: now[0]
    client = TestClient(middleware)
    client.get("/login")
    first = middleware.codec.decode(client.cookies["session"])
    now[0] += 60
    response = client.get("/rotate")
    assert len(set_cookies(response)) == 1
    second = middleware.codec.decode(client.cookies["session"])
    assert first is not None
    assert second is not None
    assert first.data == second.data == {"user": "ada"}
    assert (first.created_at, second.created_at) == (1_000_000, 1_000_060)


def test_starlette_cookies_are_refused_when_configured() -> None:
    """read_starlette_cookies=False: a Starlette-written cookie with the same key is no session."""
    starlette_cookie = issued(starlette_client().get("/write?user=alice"))
    assert client().get("/read", headers=with_cookie(starlette_cookie)).json() == {"user": "alice"}
    refusing = client(read_starlette_cookies=False)
    assert refusing.get("/read", headers=with_cookie(starlette_cookie)).json() == {}


def test_a_session_that_could_not_be_read_back_is_refused_when_written() -> None:
    """JSON nested past the reader's limit raises in the app instead of becoming a dead cookie."""

    async def deep(request: Request) -> PlainTextResponse:
        value: list[Any] = []
        for _ in range(230):
            value = [value]
        request.session["deep"] = value
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/deep", deep)], middleware=[settings().middleware()])
    with pytest.raises(SessionUnreadableError, match="nests deeper"):
        TestClient(app).get("/deep")


#: Padding of the seeded session: small content is compared whole, larger content per
#: handed-out container; both ways must find every in-place change.
PADDINGS = pytest.mark.parametrize("padding", [0, 400], ids=["compared-whole", "per-container"])


def _changes_app(key: str, padding: int) -> TestClient:
    """An app with one route per way of changing a nested value in place."""

    async def seed(request: Request) -> PlainTextResponse:
        request.session.update({"d": {"n": 0}, "l": [0], "big": {"k": list(range(50))}})
        if padding:
            request.session["pad"] = "x" * padding
        return PlainTextResponse("ok")

    async def via_get(request: Request) -> PlainTextResponse:
        box = request.session.get("d")
        assert box is not None
        box["n"] += 1
        return PlainTextResponse("ok")

    async def via_setdefault(request: Request) -> PlainTextResponse:
        request.session.setdefault("l", []).append(1)
        return PlainTextResponse("ok")

    async def via_values(request: Request) -> PlainTextResponse:
        for value in request.session.values():
            if isinstance(value, list):
                value.append(2)
        return PlainTextResponse("ok")

    async def via_items(request: Request) -> PlainTextResponse:
        for name, value in request.session.items():
            if name == "d":
                value["n"] = 10
        return PlainTextResponse("ok")

    async def via_copy(request: Request) -> PlainTextResponse:
        request.session.copy()["d"]["n"] = 20
        return PlainTextResponse("ok")

    async def read_only(request: Request) -> JSONResponse:
        session = request.session
        return JSONResponse({"d": session["d"], "l": session.get("l"), "keys": list(session)})

    async def show(request: Request) -> JSONResponse:
        return JSONResponse({"d": request.session["d"], "l": request.session["l"]})

    routes = [
        Route(path, endpoint)
        for path, endpoint in [
            ("/seed", seed),
            ("/get", via_get),
            ("/setdefault", via_setdefault),
            ("/values", via_values),
            ("/items", via_items),
            ("/copy", via_copy),
            ("/read", read_only),
            ("/show", show),
        ]
    ]
    app = Starlette(routes=routes, middleware=[SessionSettings(secret_key=key).middleware()])
    client = TestClient(app)
    client.get("/seed")
    return client


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/get", {"d": {"n": 1}, "l": [0]}),
        ("/setdefault", {"d": {"n": 0}, "l": [0, 1]}),
        ("/values", {"d": {"n": 0}, "l": [0, 2]}),
        ("/items", {"d": {"n": 10}, "l": [0]}),
        ("/copy", {"d": {"n": 20}, "l": [0]}),
    ],
)
@PADDINGS
def test_in_place_change_through_any_read_is_persisted(
    key: str, path: str, expected: dict[str, Any], padding: int
) -> None:
    """A nested value changed in place, however it was handed out, reaches the cookie."""
    client = _changes_app(key, padding)
    response = client.get(path)
    assert "set-cookie" in response.headers
    assert client.get("/show").json() == expected


@PADDINGS
def test_reading_containers_without_changing_them_sends_no_cookie(key: str, padding: int) -> None:
    """Handing out nested values that are not changed sends no Set-Cookie."""
    client = _changes_app(key, padding)
    response = client.get("/read")
    assert response.json()["d"] == {"n": 0}
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie"


def test_session_key_change_after_accept_is_logged(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A SessionKey value changed in place after accept is logged naming the key."""
    from sessionkit import SessionKey

    counts = SessionKey("counts", list[int], default_factory=list)

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        counts.get(websocket).append(1)
        await websocket.close()

    app = Starlette(
        routes=[WebSocketRoute("/ws", endpoint)],
        middleware=[SessionSettings(secret_key=key).middleware()],
    )
    with (
        caplog.at_level(logging.ERROR, logger="sessionkit"),
        TestClient(app).websocket_connect("/ws"),
    ):
        pass
    assert any("'counts'" in record.getMessage() for record in caplog.records)


def test_starlette_cookie_is_reissued_once_then_left_alone(key: str) -> None:
    """A Starlette-format cookie is re-signed on first use; later full reads send nothing."""

    async def items(request: Request) -> JSONResponse:
        return JSONResponse(dict(request.session.items()))

    async def write(request: Request) -> JSONResponse:
        request.session["user"] = {"name": "ada"}
        return JSONResponse({})

    routes = [Route("/items", items), Route("/write", write)]
    starlette_middleware = Middleware(StarletteSessionMiddleware, secret_key=key)
    theirs = TestClient(Starlette(routes=routes, middleware=[starlette_middleware]))
    theirs.get("/write")
    ours = TestClient(
        Starlette(routes=routes, middleware=[SessionSettings(secret_key=key).middleware()])
    )
    # As a browser holds it: the re-issued cookie then replaces this one.
    ours.cookies.set("session", theirs.cookies["session"], domain="testserver.local", path="/")
    assert "set-cookie" in ours.get("/items").headers
    second = ours.get("/items")
    assert second.json() == {"user": {"name": "ada"}}
    assert "set-cookie" not in second.headers


def test_positional_secret_key_works_like_starlette(key: str) -> None:
    """SessionMiddleware(app, "key") takes the key, as Starlette's signature does."""

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    middleware = SessionMiddleware(inner, key)
    assert middleware.settings.secret_key.get_secret_value() == key
    with pytest.raises(TypeError, match="settings must be a SessionSettings"):
        SessionMiddleware(inner, 5)  # type: ignore[arg-type]


def test_replacing_scope_session_is_honoured(key: str) -> None:
    """A mapping the app puts at scope["session"] is what gets stored, as in Starlette."""

    async def login(request: Request) -> JSONResponse:
        request.session["user"] = "alice"
        return JSONResponse({})

    async def switch(request: Request) -> JSONResponse:
        request.scope["session"] = {"user": "bob"}
        return JSONResponse({})

    async def drop(request: Request) -> JSONResponse:
        request.scope["session"] = {}
        return JSONResponse({})

    async def show(request: Request) -> JSONResponse:
        return JSONResponse(dict(request.session))

    routes = [Route("/login", login), Route("/switch", switch), Route("/drop", drop)]
    routes.append(Route("/show", show))
    app = Starlette(routes=routes, middleware=[SessionSettings(secret_key=key).middleware()])
    client = TestClient(app)
    client.get("/login")
    client.get("/switch")
    assert client.get("/show").json() == {"user": "bob"}
    assert "expires=Thu, 01 Jan 1970" in client.get("/drop").headers["set-cookie"]


# --- memory --------------------------------------------------------------------------------


async def _session_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A plain ASGI app that leaves the session alone, reads it or writes it, by path."""
    session = scope["session"]
    if scope["path"] == "/read":
        session.get("user")
    elif scope["path"] == "/write":
        session["user"] = {"name": "ada"}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _nothing() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _drop(message: Message) -> None:
    return None


@pytest.mark.parametrize("path", ["/untouched", "/read", "/write"])
@pytest.mark.parametrize("cookie", [None, "valid", "tampered"])
def test_requests_leave_no_reference_cycles(path: str, cookie: str | None) -> None:
    """A request's session and state are freed by reference counting alone.

    Nothing refers back to the scope or to itself, so a busy server never pays the
    garbage collector for sessions; a cycle per request would.
    """
    app = SessionMiddleware(_session_app, settings=settings())
    headers = []
    if cookie is not None:
        value = cookie_for({"user": {"name": "bob"}})
        if cookie == "tampered":
            value = value.replace("b", "c", 1)
        headers.append((b"cookie", b"session=" + value.encode()))
    scope: Scope = {"type": "http", "path": path, "headers": headers}

    def run_once() -> None:
        coroutine = app(dict(scope), _nothing, _drop)
        try:
            coroutine.send(None)  # the app never really awaits: it runs to completion
        except StopIteration:
            return
        raise AssertionError("the request did not complete")

    run_once()
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            run_once()
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0


def test_a_scope_without_headers_is_served() -> None:
    """A hand-built scope with no headers gets its response; its session is empty."""
    seen: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["session"]))
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[Message] = []

    async def collect(message: Message) -> None:
        sent.append(message)

    middleware = SessionMiddleware(app, settings=settings())
    asyncio.run(middleware({"type": "http", "path": "/"}, _nothing, collect))
    assert seen == [{}]
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
