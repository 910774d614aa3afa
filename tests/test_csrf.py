"""CSRFMiddleware: Go's CrossOriginProtection decisions, the ASGI plumbing, tokens, settings."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient

import sessionkit.csrf
from sessionkit.csrf import (
    SESSION_KEY,
    CSRFMiddleware,
    CSRFSettings,
    check_cross_origin,
    csrf_token,
)
from sessionkit.exceptions import (
    SessionConfigError,
    SessionConfigWarning,
    SessionNotInstalledError,
)
from sessionkit.middleware import SessionMiddleware
from sessionkit.settings import SessionSettings
from tests.conftest import KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from starlette.types import ASGIApp, Message, Receive, Scope, Send
    from starlette.websockets import WebSocket

TRUSTED = ("https://trusted.example", "http://localhost:3000")
EVIL = "https://evil.example"
CROSS = {"sec-fetch-site": "cross-site", "origin": EVIL}

# (method, Sec-Fetch-Site, Origin, Host, allowed); None: header absent. Trusted: TRUSTED.
DECISIONS = [
    # Safe methods always pass, whatever the headers say.
    pytest.param("GET", "cross-site", EVIL, "example.com", True, id="GET-cross-site"),
    pytest.param("HEAD", "cross-site", EVIL, "example.com", True, id="HEAD-cross-site"),
    pytest.param("OPTIONS", "cross-site", EVIL, "example.com", True, id="OPTIONS-cross-site"),
    pytest.param("get", "cross-site", EVIL, "example.com", False, id="methods-case-sensitive"),
    # Sec-Fetch-Site decides when present.
    pytest.param("POST", "same-origin", None, "example.com", True, id="sfs-same-origin"),
    pytest.param("POST", "same-origin", EVIL, "example.com", True, id="sfs-beats-origin"),
    pytest.param("POST", "none", None, "example.com", True, id="sfs-none-user-initiated"),
    pytest.param("POST", "same-site", None, "example.com", False, id="sfs-same-site"),
    pytest.param("POST", "cross-site", None, "example.com", False, id="sfs-cross-site"),
    pytest.param(
        "POST", "cross-site", "http://example.com", "example.com", False, id="sfs-beats-host"
    ),
    pytest.param("POST", "Same-Origin", None, "example.com", False, id="sfs-value-case"),
    pytest.param("POST", "bogus", None, "example.com", False, id="sfs-unknown-value"),
    pytest.param("PUT", "cross-site", EVIL, "example.com", False, id="PUT-cross-site"),
    pytest.param("PATCH", "same-site", EVIL, "example.com", False, id="PATCH-same-site"),
    pytest.param("DELETE", "cross-site", EVIL, "example.com", False, id="DELETE-cross-site"),
    pytest.param("POST", "", None, "example.com", True, id="sfs-empty-is-absent"),
    pytest.param("POST", "", EVIL, "example.com", False, id="sfs-empty-then-origin"),
    # Trusted origins pass on an exact match only.
    pytest.param(
        "POST", "cross-site", "https://trusted.example", "x.com", True, id="trusted-cross-site"
    ),
    pytest.param(
        "POST", "same-site", "https://trusted.example", "x.com", True, id="trusted-same-site"
    ),
    pytest.param("POST", None, "https://trusted.example", "x.com", True, id="trusted-no-sfs"),
    pytest.param(
        "POST", "cross-site", "http://localhost:3000", "x.com", True, id="trusted-with-port"
    ),
    pytest.param(
        "POST", "cross-site", "http://localhost:3001", "x.com", False, id="trusted-other-port"
    ),
    pytest.param(
        "POST", "cross-site", "http://trusted.example", "x.com", False, id="trusted-other-scheme"
    ),
    pytest.param(
        "POST", "cross-site", "https://Trusted.example", "x.com", False, id="trusted-exact-case"
    ),
    pytest.param(
        "POST", "cross-site", "https://a.trusted.example", "x.com", False, id="trusted-subdomain"
    ),
    pytest.param("POST", "cross-site", None, "x.com", False, id="trusted-needs-origin"),
    # No Sec-Fetch-Site: Origin against Host.
    pytest.param("POST", None, None, "example.com", True, id="no-headers-non-browser"),
    pytest.param("POST", None, None, None, True, id="no-headers-no-host"),
    pytest.param("POST", None, "", "example.com", True, id="empty-origin-is-absent"),
    pytest.param("POST", None, "http://example.com", "example.com", True, id="origin-is-host"),
    pytest.param("POST", None, "https://example.com", "example.com", True, id="http-to-https"),
    pytest.param("POST", None, EVIL, "example.com", False, id="origin-other-host"),
    pytest.param("POST", None, "http://a.example.com", "example.com", False, id="origin-subdomain"),
    pytest.param("POST", None, "http://example.com:8000", "example.com:8000", True, id="same-port"),
    pytest.param(
        "POST", None, "http://example.com:8000", "example.com:8001", False, id="other-port"
    ),
    pytest.param(
        "POST", None, "http://example.com:8000", "example.com", False, id="port-vs-default"
    ),
    pytest.param("POST", None, "http://example.com", "example.com:8000", False, id="no-port"),
    pytest.param(
        "POST", None, "http://example.com:80", "example.com", True, id="explicit-default-80"
    ),
    pytest.param(
        "POST", None, "https://example.com", "example.com:443", True, id="host-default-443"
    ),
    pytest.param("POST", None, "http://example.com", "example.com:443", False, id="http-vs-443"),
    pytest.param("POST", None, "https://example.com", "example.com:80", False, id="https-vs-80"),
    pytest.param("POST", None, "http://EXAMPLE.com", "example.COM", True, id="host-case"),
    pytest.param("POST", None, "http://[::1]:8000", "[::1]:8000", True, id="ipv6"),
    pytest.param("POST", None, "http://127.0.0.1:8000", "127.0.0.1:8000", True, id="ipv4"),
    pytest.param("POST", None, "null", "example.com", False, id="null-origin"),
    pytest.param("POST", None, "null", None, False, id="null-origin-no-host"),
    pytest.param("POST", None, "null", "", False, id="null-origin-empty-host"),
    pytest.param("POST", None, "http://example.com", None, False, id="origin-no-host"),
    pytest.param("POST", None, "example.com", "example.com", False, id="origin-no-scheme"),
    pytest.param("POST", None, "ftp://example.com", "example.com", False, id="origin-ftp"),
    pytest.param("POST", None, "http://example.com/x", "example.com", False, id="origin-path"),
    pytest.param("POST", None, "http://u@example.com", "example.com", False, id="origin-userinfo"),
    pytest.param("POST", None, "http://example.com", "example.com:bad", False, id="host-bad-port"),
    pytest.param("POST", None, "http://example.com", "evil@example.com", False, id="host-userinfo"),
    pytest.param("POST", None, "http://[::1", "[::1]", False, id="origin-broken-ipv6"),
]


@pytest.mark.parametrize(("method", "sec_fetch_site", "origin", "host", "allowed"), DECISIONS)
def test_decision_table(
    method: str, sec_fetch_site: str | None, origin: str | None, host: str | None, allowed: bool
) -> None:
    """check_cross_origin allows or rejects each request as Go's CrossOriginProtection."""
    reason = check_cross_origin(
        method, sec_fetch_site=sec_fetch_site, origin=origin, host=host, trusted_origins=TRUSTED
    )
    assert (reason is None) is allowed
    if reason is not None:
        assert reason.startswith("cross-origin request detected")


def _headers(**values: str | None) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in values.items() if v is not None]


async def _call(app: Callable[[Scope, Receive, Send], Awaitable[None]], scope: Scope) -> int:
    """Run one request through ``app``; the response status."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


@pytest.mark.parametrize(("method", "sec_fetch_site", "origin", "host", "allowed"), DECISIONS)
def test_middleware_follows_decision_table(
    method: str, sec_fetch_site: str | None, origin: str | None, host: str | None, allowed: bool
) -> None:
    """The middleware runs the app exactly when the decision table allows the request."""
    ran: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ran.append(scope["method"])
        await PlainTextResponse("ok")(scope, receive, send)

    middleware = CSRFMiddleware(app, trusted_origins=list(TRUSTED))
    headers = _headers(sec_fetch_site=sec_fetch_site, origin=origin, host=host)
    scope = {"type": "http", "method": method, "path": "/", "headers": headers}
    status = asyncio.run(_call(middleware, scope))
    assert (status, ran) == ((200, [method]) if allowed else (403, []))


# ASGI-level behaviour, through Starlette's TestClient.


def _app(*middleware: Middleware, effects: list[str] | None = None) -> Starlette:
    async def change(request: Request) -> Response:
        if effects is not None:
            effects.append(request.url.path)
        return PlainTextResponse(await request.body())

    async def token(request: Request) -> Response:
        return PlainTextResponse(csrf_token(request))

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    routes = [
        Route("/token", token),
        Route("/{path:path}", change, methods=["GET", "POST", "PUT", "DELETE"]),
        WebSocketRoute("/ws", echo),
    ]
    return Starlette(routes=routes, middleware=list(middleware))


def test_rejection_is_403_with_short_clear_body() -> None:
    """A cross-site POST gets a plain-text 403 that says why."""
    client = TestClient(_app(Middleware(CSRFMiddleware)))
    response = client.post("/submit", headers=CROSS)
    assert response.status_code == 403
    assert response.text == (
        "Forbidden: cross-origin request detected from Sec-Fetch-Site: cross-site\n"
    )
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_rejected_request_never_reaches_the_app() -> None:
    """A rejected request changes nothing; a same-origin one reaches the app."""
    effects: list[str] = []
    client = TestClient(_app(Middleware(CSRFMiddleware), effects=effects))
    assert client.delete("/item", headers=CROSS).status_code == 403
    assert effects == []
    response = client.post("/item", headers={"sec-fetch-site": "same-origin"})
    assert (response.status_code, effects) == (200, ["/item"])


def test_origin_matching_host_passes_through_test_client() -> None:
    """Without Sec-Fetch-Site, an Origin naming the Host header passes; another is rejected."""
    client = TestClient(_app(Middleware(CSRFMiddleware)))
    assert client.post("/", headers={"origin": "http://testserver"}).status_code == 200
    assert client.post("/", headers={"origin": EVIL}).status_code == 403
    assert client.post("/").status_code == 200


def test_keyword_arguments_configure_trusted_origins() -> None:
    """Middleware(CSRFMiddleware, trusted_origins=[...]) lets those origins through."""
    client = TestClient(_app(Middleware(CSRFMiddleware, trusted_origins=[EVIL])))
    assert client.post("/", headers=CROSS).status_code == 200
    other = {"sec-fetch-site": "cross-site", "origin": "https://other.example"}
    assert client.post("/", headers=other).status_code == 403


def test_settings_object_configures_the_middleware() -> None:
    """CSRFMiddleware(app, settings=CSRFSettings(...)) and settings.middleware() both work."""
    settings = CSRFSettings(trusted_origins=[EVIL])
    for entry in (Middleware(CSRFMiddleware, settings=settings), settings.middleware()):
        assert TestClient(_app(entry)).post("/", headers=CROSS).status_code == 200


@pytest.mark.parametrize(
    ("path", "exempt"),
    [
        ("/webhooks/stripe", True),
        ("/webhooks/", True),
        ("/webhooks", False),
        ("/webhooksx", False),
        ("/ping", True),
        ("/ping/more", False),
        ("/other", False),
    ],
)
def test_exempt_paths(path: str, exempt: bool) -> None:
    """Exempt paths match exactly, or as a prefix when they end with '/'."""
    effects: list[str] = []
    entry = Middleware(CSRFMiddleware, exempt_paths=["/webhooks/", "/ping"])
    response = TestClient(_app(entry, effects=effects)).post(path, headers=CROSS)
    assert response.status_code == (200 if exempt else 403)
    assert effects == ([path] if exempt else [])


def test_exempt_paths_are_relative_to_a_mount() -> None:
    """In an app mounted at /api, exempt '/webhooks/' means /api/webhooks/..., as its routes do."""
    effects: list[str] = []
    sub = _app(Middleware(CSRFMiddleware, exempt_paths=["/webhooks/"]), effects=effects)
    client = TestClient(Starlette(routes=[Mount("/api", app=sub)]))
    assert client.post("/api/webhooks/x", headers=CROSS).status_code == 200
    assert client.post("/api/other", headers=CROSS).status_code == 403
    assert effects == ["/api/webhooks/x"]


@pytest.mark.parametrize(
    ("path", "exempt"),
    [
        ("/prefix/webhooks/x", True),
        ("/webhooks/x", True),  # a server that leaves root_path out of path
        ("/prefix/other", False),
        ("/prefix/../webhooks/x", False),
        ("/prefixed/webhooks/x", False),
    ],
)
def test_exempt_paths_are_relative_to_root_path(path: str, exempt: bool) -> None:
    """Exempt paths match the path below root_path, which servers include in scope["path"]."""
    middleware = CSRFMiddleware(_app(), exempt_paths=["/webhooks/"])
    headers = _headers(**CROSS)
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "/prefix",
        "headers": headers,
    }
    assert asyncio.run(_call(middleware, scope)) == (200 if exempt else 403)


@pytest.mark.parametrize(
    ("path", "exempt"),
    [
        ("/webhooks/../admin", False),  # a normalising proxy or server routes it to /admin
        ("/webhooks/..", False),
        ("/webhooks/x/../../admin", False),
        ("/admin/../webhooks/x", False),  # Starlette's router matches it below /admin/
        ("//webhooks/x", False),
        ("/./webhooks/x", False),
        ("/webhooks/./x", True),
        ("/webhooks//x", True),
        ("/webhooks/x/..", True),
        ("/ping/.", False),
    ],
)
def test_exempt_paths_hold_as_sent_and_normalised(path: str, exempt: bool) -> None:
    """A path is exempt only if it is so both as sent and with dot segments and '//' resolved."""
    middleware = CSRFMiddleware(_app(), exempt_paths=["/webhooks/", "/ping"])
    scope = {"type": "http", "method": "POST", "path": path, "headers": _headers(**CROSS)}
    assert asyncio.run(_call(middleware, scope)) == (200 if exempt else 403)


def test_percent_encoded_dot_segments_are_not_exempt() -> None:
    """/webhooks/%2e%2e/admin, decoded by the server to '..', is checked like /admin."""
    effects: list[str] = []
    entry = Middleware(CSRFMiddleware, exempt_paths=["/webhooks/"])
    client = TestClient(_app(entry, effects=effects))
    assert client.post("/webhooks/%2e%2e/admin", headers=CROSS).status_code == 403
    assert effects == []


def test_custom_rejection_response_gets_request_and_reason() -> None:
    """on_reject builds the response for rejected requests, sync or async."""

    def sync_reject(request: Request, reason: str) -> Response:
        return JSONResponse({"path": request.url.path, "reason": reason}, status_code=400)

    async def async_reject(request: Request, reason: str) -> Response:
        return PlainTextResponse(f"no: {reason}", status_code=418)

    client = TestClient(_app(Middleware(CSRFMiddleware, on_reject=sync_reject)))
    response = client.put("/thing", headers={"sec-fetch-site": "same-site"})
    assert response.status_code == 400
    assert response.json() == {
        "path": "/thing",
        "reason": "cross-origin request detected from Sec-Fetch-Site: same-site",
    }
    client = TestClient(_app(Middleware(CSRFMiddleware, on_reject=async_reject)))
    response = client.post("/", headers=CROSS)
    assert (response.status_code, response.text[:4]) == (418, "no: ")


def test_non_callable_rejection_handler_fails_at_construction() -> None:
    """on_reject must be callable, checked when the middleware is built."""
    with pytest.raises(SessionConfigError, match=r"on_reject is 'nope', not callable"):
        CSRFMiddleware(_app(), on_reject="nope")  # type: ignore[arg-type]


def test_settings_and_keywords_together_are_refused() -> None:
    """settings= and individual settings cannot be mixed."""
    with pytest.raises(TypeError, match=r"settings= or settings \(use_tokens\), not both"):
        CSRFMiddleware(_app(), settings=CSRFSettings(), use_tokens=True)


def test_websockets_and_lifespan_pass_through() -> None:
    """Only HTTP is checked: a cross-site WebSocket and the lifespan reach the app."""
    started: list[bool] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started.append(True)
        yield

    app = _app(Middleware(CSRFMiddleware))
    app.router.lifespan_context = lifespan
    with TestClient(app) as client, client.websocket_connect("/ws", headers=CROSS) as ws:
        assert ws.receive_text() == "hello"
    assert started == [True]


# Session-bound tokens.


def _token_client(effects: list[str] | None = None, **config: Any) -> TestClient:
    app = _app(
        Middleware(SessionMiddleware, secret_key=KEY),
        Middleware(CSRFMiddleware, use_tokens=True, **config),
        effects=effects,
    )
    return TestClient(app)


def test_token_in_header_passes() -> None:
    """With use_tokens, the session's token in X-CSRF-Token lets an unsafe request through."""
    effects: list[str] = []
    client = _token_client(effects)
    token = client.get("/token").text
    assert client.get("/token").text == token  # stored in the session, stable
    response = client.post("/save", headers={"X-CSRF-Token": token})
    assert (response.status_code, effects) == (200, ["/save"])
    assert "cookie" in response.headers["vary"].lower()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "CSRF token missing: send it as X-CSRF-Token or form field csrf_token"),
        ({b"x-csrf-token": b"wrong"}, "CSRF token incorrect or expired"),
        ({b"X-CSRF-TOKEN": b""}, "CSRF token incorrect or expired"),
        ({b"x-csrf-token": b"\xe9\xff"}, "CSRF token incorrect or expired"),
    ],
)
def test_missing_or_wrong_token_is_rejected(headers: dict[bytes, bytes], reason: str) -> None:
    """With use_tokens, an unsafe request without the right token is a 403; the app never runs."""
    effects: list[str] = []
    client = _token_client(effects)
    client.get("/token")
    response = client.post("/save", headers=headers)
    assert response.status_code == 403
    assert response.text.startswith(f"Forbidden: {reason}")
    assert effects == []


def test_token_without_one_in_the_session_is_rejected() -> None:
    """A token sent before the session holds one never matches."""
    response = _token_client().post("/save", headers={"X-CSRF-Token": "guess"})
    assert response.status_code == 403


def test_token_mode_keeps_the_origin_check() -> None:
    """A valid token does not let a cross-site request through; safe methods need no token."""
    client = _token_client()
    token = client.get("/token").text
    assert client.post("/", headers={**CROSS, "X-CSRF-Token": token}).status_code == 403
    assert client.get("/anything").status_code == 200


def test_token_mode_skips_exempt_paths() -> None:
    """Exempt paths need neither a matching origin nor a token."""
    client = _token_client(exempt_paths=["/hooks/"])
    assert client.post("/hooks/in", headers=CROSS).status_code == 200


def test_token_in_urlencoded_form_passes_and_body_reaches_app() -> None:
    """The csrf_token form field is read, and the app still gets the whole body."""
    client = _token_client()
    token = client.get("/token").text
    response = client.post("/save", data={"name": "ada", "csrf_token": token})
    assert response.status_code == 200
    assert response.text == f"name=ada&csrf_token={token}"
    assert client.post("/save", data={"name": "ada", "csrf_token": "x"}).status_code == 403
    assert client.post("/save", data={"name": "ada"}).status_code == 403


def test_token_in_multipart_form_passes_and_body_reaches_app() -> None:
    """The csrf_token field of a multipart form is read; the upload reaches the app intact."""
    client = _token_client()
    token = client.get("/token").text
    upload = {"file": ("a.bin", b"\x00\xff" * 100, "application/octet-stream")}
    response = client.post("/save", data={"csrf_token": token}, files=upload)
    assert response.status_code == 200
    assert b"\x00\xff" * 100 in response.content
    assert token.encode() in response.content
    assert client.post("/save", data={"other": token}, files=upload).status_code == 403


def test_malformed_form_is_a_missing_token() -> None:
    """A body that does not parse as the declared form gives a 403, never a 500."""
    client = _token_client()
    client.get("/token")
    bad = [
        ("multipart/form-data", b"\xff\xfe garbage"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n"),
        ("application/x-www-form-urlencoded", b"csrf_token=%ff%fe"),
    ]
    for content_type, body in bad:
        response = client.post("/save", content=body, headers={"content-type": content_type})
        assert response.status_code == 403


def test_large_form_must_send_the_token_in_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """A form over MAX_FORM_SIZE is not buffered: the token must come in the header."""
    monkeypatch.setattr(sessionkit.csrf, "MAX_FORM_SIZE", 64)
    client = _token_client()
    token = client.get("/token").text
    response = client.post("/save", data={"csrf_token": token, "pad": "x" * 100})
    assert response.status_code == 403
    assert "form over 64 bytes: send the token as X-CSRF-Token" in response.text
    response = client.post("/save", data={"pad": "x" * 100}, headers={"X-CSRF-Token": token})
    assert response.status_code == 200


def _recording_token_app(seen: list[Message]) -> tuple[ASGIApp, str, str]:
    """Sessions and CSRF tokens over an app that records every message it receives; the
    app, a session cookie header and that session's token."""

    async def record(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/token":
            await PlainTextResponse(csrf_token(Request(scope)))(scope, receive, send)
            return
        more = True
        while more:
            seen.append(await receive())
            more = seen[-1]["type"] == "http.request" and seen[-1].get("more_body", False)
        if seen[-1]["type"] == "http.disconnect":
            seen.append(await receive())  # asking again after the disconnect
        await PlainTextResponse("ran")(scope, receive, send)

    app = SessionMiddleware(CSRFMiddleware(record, use_tokens=True), secret_key=KEY)
    client = TestClient(app)
    token = client.get("/token").text
    return app, f"session={client.cookies['session']}", token


async def _post_then_disconnect(app: ASGIApp, cookie: str, *chunks: bytes) -> list[Message]:
    """POST a form whose client sends ``chunks`` (more to come) then disconnects; what the
    middleware sends back. The receive fails if called after giving the disconnect."""
    incoming: list[Message] = [
        *({"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks),
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    headers = _headers(cookie=cookie, content_type="application/x-www-form-urlencoded")
    scope = {"type": "http", "method": "POST", "path": "/pay", "headers": headers}
    await app(scope, receive, send)
    return sent


def test_body_cut_short_by_a_disconnect_never_reaches_the_app_as_complete() -> None:
    """A form whose client disconnects mid-body reaches the app unfinished, then disconnected."""
    seen: list[Message] = []
    app, cookie, token = _recording_token_app(seen)
    chunks = (f"csrf_token={token}".encode(), b"&amount=100")
    asyncio.run(_post_then_disconnect(app, cookie, *chunks))
    requests = [m for m in seen if m["type"] == "http.request"]
    assert b"".join(m["body"] for m in requests) == b"".join(chunks)
    assert all(m["more_body"] for m in requests)
    assert seen[len(requests) :] == [{"type": "http.disconnect"}] * 2


@pytest.mark.parametrize(
    "chunk", [b"amount=100", b"csrf_token=wrong&amount=100", b""], ids=["none", "wrong", "empty"]
)
def test_body_cut_short_without_its_token_is_rejected(chunk: bytes) -> None:
    """A form cut short by a disconnect before a valid token is rejected; the app never runs."""
    seen: list[Message] = []
    app, cookie, _ = _recording_token_app(seen)
    sent = asyncio.run(_post_then_disconnect(app, cookie, chunk))
    assert (sent[0]["status"], seen) == (403, [])


def test_token_mode_without_session_middleware_fails_clearly() -> None:
    """use_tokens without SessionMiddleware in front raises, naming the fix."""
    client = TestClient(_app(Middleware(CSRFMiddleware, use_tokens=True)))
    with pytest.raises(SessionNotInstalledError, match="list SessionMiddleware before"):
        client.post("/save", headers={"X-CSRF-Token": "x"})


def test_csrf_token_is_random_and_kept_in_the_session() -> None:
    """csrf_token makes a long URL-safe token per session, stored under SESSION_KEY."""
    seen: dict[str, Any] = {}

    async def show(request: Request) -> Response:
        token = csrf_token(request)
        seen.update(request.session)
        return PlainTextResponse(token)

    entry = Middleware(SessionMiddleware, secret_key=KEY)
    app = Starlette(routes=[Route("/", show)], middleware=[entry])
    first, second = TestClient(app).get("/").text, TestClient(app).get("/").text
    assert first != second
    assert len(first) >= 43
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert seen == {SESSION_KEY: second}


# Settings: environment, explicit values, validation.


def test_defaults() -> None:
    """By default nothing is trusted or exempt and tokens are off."""
    settings = CSRFSettings()
    assert (settings.trusted_origins, settings.exempt_paths, settings.use_tokens) == ([], [], False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "https://a.example, http://localhost:8000",
            ["https://a.example", "http://localhost:8000"],
        ),
        ('["https://a.example", "https://b.example"]', ["https://a.example", "https://b.example"]),
        ("  https://a.example  ", ["https://a.example"]),
        ("", []),
    ],
)
def test_trusted_origins_from_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    """CSRF_TRUSTED_ORIGINS is comma-separated or a JSON list."""
    monkeypatch.setenv("CSRF_TRUSTED_ORIGINS", value)
    assert CSRFSettings().trusted_origins == expected


def test_all_settings_from_environment_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every setting reads its CSRF_* variable, also from .env."""
    (tmp_path / ".env").write_text("CSRF_EXEMPT_PATHS=/a/,/b\nSECRET_KEY=ignored-here\n")
    monkeypatch.setenv("CSRF_USE_TOKENS", "true")
    settings = CSRFSettings()
    assert settings.exempt_paths == ["/a/", "/b"]
    assert settings.use_tokens is True


def test_explicit_values_merge_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyword arguments win over the environment, which fills the rest."""
    monkeypatch.setenv("CSRF_TRUSTED_ORIGINS", "https://env.example")
    monkeypatch.setenv("CSRF_EXEMPT_PATHS", "/env")
    settings = CSRFSettings.from_config({"exempt_paths": ["/given"]})
    assert settings.trusted_origins == ["https://env.example"]
    assert settings.exempt_paths == ["/given"]
    middleware = CSRFMiddleware(_app(), exempt_paths="/x/, /y")
    assert middleware.settings.exempt_paths == ["/x/", "/y"]
    assert middleware.settings.trusted_origins == ["https://env.example"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("HTTPS://App.Example.COM", "https://app.example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:8080", "http://example.com:8080"),
        ("https://example.com:80", "https://example.com:80"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
    ],
)
def test_trusted_origins_are_stored_as_browsers_send_them(given: str, stored: str) -> None:
    """Trusted origins are lower-cased and lose a default port, so they match real Origins."""
    assert CSRFSettings(trusted_origins=[given]).trusted_origins == [stored]


@pytest.mark.parametrize(
    ("origin", "problem"),
    [
        ("https://example.com/", "has a path, query or fragment"),
        ("https://example.com/app", "has a path, query or fragment"),
        ("https://example.com?x=1", "has a path, query or fragment"),
        ("https://example.com#top", "has a path, query or fragment"),
        ("ftp://example.com", "needs the scheme http:// or https://"),
        ("example.com", "needs the scheme http:// or https://"),
        ("//example.com", "needs the scheme http:// or https://"),
        ("https:example.com", "needs the scheme http:// or https://"),
        ("null", "needs the scheme http:// or https://"),
        ("https://*.example.com", "has no valid host"),
        ("https://user@example.com", "has no valid host"),
        ("https://", "has no valid host"),
        ("https://exa mple.com", "has no valid host"),
        ("https://example.com:99999", "is not an origin"),
        ("https://[::1", "is not an origin"),
    ],
)
def test_invalid_trusted_origin_is_rejected(origin: str, problem: str) -> None:
    """A trusted origin must be scheme://host[:port]; the message names setting, value, fix."""
    with pytest.raises(SessionConfigError) as info:
        CSRFSettings(trusted_origins=["https://fine.example", origin])
    message = str(info.value)
    assert message.startswith("invalid CSRF setting:\n  - trusted_origins (environment ")
    assert "variable CSRF_TRUSTED_ORIGINS), given explicitly" in message
    assert f"{origin!r} {problem}" in message
    assert "e.g. 'https://app.example.com'" in message


def test_invalid_setting_from_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid value read from the environment names the variable and its source."""
    monkeypatch.setenv("CSRF_TRUSTED_ORIGINS", "https://example.com/")
    with pytest.raises(
        SessionConfigError, match=r"CSRF_TRUSTED_ORIGINS\), read from \$CSRF_TRUSTED_ORIGINS"
    ):
        CSRFSettings()


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ({"trusted_origins": "[not json"}, r"trusted_origins .*given explicitly: .*JSON list"),
        ({"exempt_paths": ["webhooks"]}, r"exempt_paths \(environment variable CSRF_EXEMPT_P"),
        ({"exempt_paths": ["/a b"]}, r"'/a b' is not a path starting with '/'"),
        ({"exempt_paths": ["/a?b"]}, r"'/a\?b' is not a path"),
        (
            {"exempt_paths": ["/a//b/"]},
            r"'/a//b/' has '\.', '\.\.' or repeated '/' segments and would never match; "
            r"write '/a/b/'",
        ),
        ({"exempt_paths": ["/webhooks/../"]}, r"'/webhooks/\.\./' has .*; write '/'"),
        ({"exempt_paths": ["/a/./b"]}, r"exempt_paths \(environment .*; write '/a/b'"),
        ({"use_tokens": "maybe"}, r"use_tokens \(environment variable CSRF_USE_TOKENS\), given "),
        (
            {"use_tokens": "maybe"},
            r"use_tokens .*given explicitly: Input should be a valid boolean.*; use true or false",
        ),
        ({"trusted_origins": 5}, r"trusted_origins .*Input should be a valid list"),
    ],
)
def test_invalid_settings_are_rejected(config: dict[str, Any], pattern: str) -> None:
    """Each invalid setting is a SessionConfigError naming the setting, variable and fix."""
    with pytest.raises(SessionConfigError, match=pattern):
        CSRFSettings.from_config(config)


def test_exempting_every_path_warns() -> None:
    """exempt_paths with '/' turns CSRF protection off: a warning at the caller's line says so."""
    message = (
        r"exempt_paths \(environment variable CSRF_EXEMPT_PATHS\) contains '/', which exempts "
        r"every path: CSRF protection is off; list only the paths .* such as '/webhooks/'"
    )
    with pytest.warns(SessionConfigWarning, match=message) as caught:
        CSRFSettings(exempt_paths=["/webhooks/", "/"])
    with pytest.warns(SessionConfigWarning, match=message):
        CSRFMiddleware(_app(), exempt_paths="/")
    assert caught[0].filename == __file__


def test_invalid_setting_is_also_a_value_error() -> None:
    """Configuration errors are ValueErrors, raised when the middleware is built."""
    with pytest.raises(ValueError, match="CSRF_EXEMPT_PATHS"):
        CSRFMiddleware(_app(), exempt_paths=["relative"])


def test_unknown_setting_is_rejected_with_a_suggestion() -> None:
    """A misspelt keyword is named, with the closest valid setting and the full list."""
    with pytest.raises(
        SessionConfigError,
        match=r"unknown CSRF setting 'trusted_origin': did you mean 'trusted_origins'\? "
        r"valid settings are trusted_origins, exempt_paths, use_tokens",
    ):
        CSRFMiddleware(_app(), trusted_origin=[EVIL])


def test_malformed_multipart_form_is_rejected_not_an_error(key: str) -> None:
    """A pathological multipart part header gets 403 (no token), never a 500."""
    app = Starlette(
        routes=[Route("/", lambda request: PlainTextResponse("ran"), methods=["POST"])],
        middleware=[
            SessionSettings(secret_key=key).middleware(),
            CSRFSettings(use_tokens=True).middleware(),
        ],
    )
    body = (
        b"--xx\r\nContent-Disposition: form-data; name=" + b"(" * 2000 + b"\r\n\r\nv\r\n--xx--\r\n"
    )
    headers = {"content-type": "multipart/form-data; boundary=xx"}
    response = TestClient(app).post("/", content=body, headers=headers)
    assert response.status_code == 403
    assert "token missing" in response.text
