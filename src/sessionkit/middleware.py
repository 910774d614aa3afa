"""``SessionMiddleware``: ASGI plumbing between the request, the ``Session`` and the store.

It knows nothing of pydantic models, nor of how sessions are kept: the store decides that
(see :mod:`sessionkit.store`). Per connection it:

1. places a :class:`Session` at ``scope["session"]``: with the cookie store, a lazy one
   (decoded only if the app uses it); with a server-side store, one whose record was
   loaded before the app runs (one round trip, only when the cookie holds a valid id);
2. when the response starts (or a WebSocket is accepted), has the store keep what changed
   and adds its ``Set-Cookie``, and ``Vary: Cookie`` if the session was used;
3. then locks the session: later changes could not reach the browser, so they raise. On a
   server-side store a WebSocket's session stays writable after ``accept`` (the browser
   has its id already), and what changed is stored when the connection ends.

The cookie store's connections are here; those on a server-side store, where a store that
fails is answered ``503`` with ``Retry-After`` and never becomes a 500, are in
:mod:`sessionkit._server_connections`. What both do as the response starts (the headers,
a replaced session, the lock) is :mod:`sessionkit._response_start`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Secret

from sessionkit._factory import make_store
from sessionkit._response_start import (
    AFTER_ACCEPT,
    AFTER_RESPONSE,
    add_session_headers,
    adopt_replacement,
)
from sessionkit._server_connections import ServerHTTP, ServerWebSocket
from sessionkit.cookie_store import CookieStore
from sessionkit.exceptions import SessionConfigError, SessionNotInstalledError
from sessionkit.server_store import ServerStore
from sessionkit.session import Session
from sessionkit.settings import SessionSettings

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster
    from starlette.requests import HTTPConnection
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from sessionkit.codec import SessionCodec
    from sessionkit.store import SessionStore

__all__ = ["SessionMiddleware", "get_session", "get_store"]

logger: logging.Logger = logging.getLogger("sessionkit")


class SessionMiddleware:
    """HTTP sessions for any ASGI app, kept where the settings say.

    Give ``settings=SessionSettings(...)``, or Starlette's keyword arguments
    (``secret_key=..., max_age=...``), which are merged over the environment exactly as
    :meth:`SessionSettings.from_config` does. ``redis``: the application's own
    ``redis.asyncio`` client (or ``RedisCluster``) for ``store="redis"``.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        settings: SessionSettings | str | Secret | None = None,
        *,
        redis: Redis | RedisCluster | None = None,
        **sessions_config: Any,
    ) -> None:
        if isinstance(settings, str | Secret):  # Starlette's positional secret_key
            sessions_config["secret_key"] = settings
            settings = None
        if settings is None:
            settings = SessionSettings.from_config(sessions_config)
        elif not isinstance(settings, SessionSettings):
            raise TypeError(
                "SessionMiddleware(app, settings=SessionSettings(...)) or "
                "SessionMiddleware(app, secret_key=..., max_age=...): settings must be a "
                f"SessionSettings, not {type(settings).__qualname__}"
            )
        elif sessions_config:
            raise TypeError(
                "SessionMiddleware takes settings= or individual settings "
                f"({', '.join(sorted(sessions_config))}), not both"
            )
        else:  # built elsewhere, perhaps without validation (model_construct): check again
            problems = settings.config_problems()
            if problems:
                raise SessionConfigError(problems, settings.config_kind)
        self.app = app
        self.settings = settings
        store = make_store(settings, redis)
        self.store: CookieStore | ServerStore = store
        #: the codec of the signed-cookie sessions this middleware reads
        self.codec: SessionCodec = store.codec
        self._lifespan = False  # whether the server runs lifespan events (one loop for all)
        self._running: dict[asyncio.AbstractEventLoop, int] = {}  # server-side requests
        self._cookies = None
        if isinstance(store, CookieStore):
            self._cookies = store
            self._loader = store.load  # bound once: every request's session gets it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._cookies is None:
            await self._call_other(scope, receive, send)
            return
        # Every HTTP request runs this, used session or not, so it is written flat: one
        # lazy Session, no other object, nothing that refers back to the scope or itself
        # (so the request's objects are freed by reference counting, never by the GC).
        # The cookie is read from the headers as the request reached this middleware (as
        # Starlette's does), even if an inner app replaces scope["headers"] later.
        cookies = self._cookies
        session = Session.from_store(self._loader, scope.get("headers", ()), cookies)
        scope["session"] = session

        # A plain function that returns the downstream send's awaitable: ASGI's send is
        # any callable returning an awaitable, and the app's "await send(message)" then
        # runs no coroutine of ours, which saves a coroutine per message. Two differences
        # from an async def, neither met by an app that awaits send at once: the message
        # is handled (headers added, session locked) when send is called, not awaited;
        # and asgiref's async_to_sync warns that send is not marked async.
        def send_http(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                used = session
                if scope.get("session") is not used:
                    used = adopt_replacement(scope, used)
                if used.loaded:
                    add_session_headers(message, cookies.set_cookie_header(used), vary=True)
                used.locked = AFTER_RESPONSE
            return send(message)

        await self.app(scope, receive, send_http)

    async def _call_other(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._call_lifespan(scope, receive, send)
        elif kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
        elif self._cookies is not None:
            await _CookieWebSocket(self._cookies, scope, send).run(self.app, receive)
        else:
            assert isinstance(self.store, ServerStore)  # noqa: S101 - not the cookie store
            connection = ServerHTTP if kind == "http" else ServerWebSocket
            if self._lifespan:  # one event loop for the app's life: connections are kept
                await connection(self.store, scope, send).run(self.app, receive)
                return
            loop = asyncio.get_running_loop()
            self._running[loop] = self._running.get(loop, 0) + 1
            try:
                await connection(self.store, scope, send).run(self.app, receive)
            finally:
                await self._finished(loop)

    async def _finished(self, loop: asyncio.AbstractEventLoop) -> None:
        """Without lifespan events (Starlette's ``TestClient`` used without ``with``), each
        request may run in an event loop of its own, whose connections cannot outlive it:
        close them once the loop's last request ends."""
        left = self._running[loop] - 1
        if left:
            self._running[loop] = left
            return
        del self._running[loop]
        await self.store.aclose()

    async def _call_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass lifespan events on; close the store's connections once the app shut down."""
        self._lifespan = True

        async def send_lifespan(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.store.aclose()
            await send(message)

        await self.app(scope, receive, send_lifespan)


class _CookieWebSocket:
    """A WebSocket on the cookie store: the cookie can travel only in the handshake."""

    __slots__ = ("scope", "send_downstream", "session", "snapshot", "store")

    def __init__(self, store: CookieStore, scope: Scope, send: Send) -> None:
        self.store = store
        self.scope = scope
        self.send_downstream = send
        self.snapshot: bytes | None = None
        self.session = scope["session"] = store.session(scope.get("headers", ()))

    async def run(self, app: ASGIApp, receive: Receive) -> None:
        try:
            await app(self.scope, receive, self.send)
        finally:  # WebSocket handlers often end by an exception (a disconnect)
            self.report_lost_changes()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        session = self.session
        if kind == "websocket.accept":
            if session.loaded:
                add_session_headers(message, self.store.set_cookie_header(session), vary=False)
                self.snapshot = self.store.codec.dumps(session)
            session.lock(AFTER_ACCEPT)
        elif kind == "websocket.http.response.start":  # a denial response
            if session.loaded:
                add_session_headers(message, self.store.set_cookie_header(session), vary=True)
            session.lock(AFTER_RESPONSE)
        await self.send_downstream(message)

    def report_lost_changes(self) -> None:
        """Log, naming the keys, nested in-place changes made after a WebSocket was accepted."""
        session = self.session
        if not session.locked or not session.loaded:
            return
        changed = self.store.lost_changes(session, self.snapshot)
        if changed:
            logger.error(
                "session keys %s changed in place after the WebSocket was accepted; the "
                "change could not reach the browser and was lost. Change the session before "
                "websocket.accept().",
                ", ".join(repr(k) for k in changed),
            )


def get_session(conn: HTTPConnection) -> Session:
    """The session of a ``Request`` or ``WebSocket``, marked as accessed.

    Raises :class:`SessionNotInstalledError` when no ``SessionMiddleware`` handled the
    connection.
    """
    session = conn.scope.get("session")
    if not isinstance(session, Session):
        found = "nothing" if session is None else f"a {type(session).__qualname__}"
        raise SessionNotInstalledError(
            f"the connection has no sessionkit session (scope['session'] holds {found}); "
            "install sessionkit.SessionMiddleware, e.g. "
            "Starlette(middleware=[SessionSettings.from_config().middleware()])"
        )
    session.mark_accessed()
    return session


def get_store(conn: HTTPConnection) -> SessionStore:
    """The store of the ``SessionMiddleware`` that handled ``conn`` (sharing its connections).

    Raises :class:`SessionNotInstalledError` when no ``SessionMiddleware`` handled it.
    """
    session = conn.scope.get("session")
    store: SessionStore | None = session.store if isinstance(session, Session) else None
    if store is None:
        raise SessionNotInstalledError(
            "the connection was not handled by sessionkit.SessionMiddleware, so it has no "
            "session store; install it, e.g. "
            "Starlette(middleware=[SessionSettings.from_config().middleware()])"
        )
    return store
