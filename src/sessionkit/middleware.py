"""``SessionMiddleware``: ASGI plumbing between the cookie, the codec and the ``Session``.

It knows nothing of pydantic models. Per connection it:

1. finds the session cookie and places a lazy :class:`Session` at ``scope["session"]``
   (decoded only if the app uses it);
2. when the response starts (or a WebSocket is accepted), sends ``Set-Cookie`` if the
   session's content changed, was cleared, was signed with an old key, or is due for a
   sliding re-issue, and ``Vary: Cookie`` if the session was used;
3. then locks the session: later changes could not reach the browser, so they raise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pydantic_core
from starlette.datastructures import Secret

from sessionkit.codec import Decoded, SessionCodec
from sessionkit.cookies import COOKIE_SIZE_LIMIT, CookieWriter, read_cookies
from sessionkit.exceptions import SessionNotInstalledError, SessionTooLargeError
from sessionkit.session import Session
from sessionkit.settings import SessionSettings

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SessionMiddleware", "get_session"]

logger = logging.getLogger("sessionkit")

_AFTER_RESPONSE = (
    "the response has already started, so a session change can no longer reach the "
    "browser; change the session before returning the response"
)
_AFTER_ACCEPT = (
    "the WebSocket was accepted, so a session change can no longer reach the browser "
    "(cookies travel only in the handshake); change the session before websocket.accept()"
)


class SessionMiddleware:
    """Signed-cookie sessions for any ASGI app.

    Give ``settings=SessionSettings(...)``, or Starlette's keyword arguments
    (``secret_key=..., max_age=...``), which are merged over the environment exactly as
    :meth:`SessionSettings.from_config` does.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        settings: SessionSettings | str | Secret | None = None,
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
        self.app = app
        self.settings = settings
        self.codec = SessionCodec.from_settings(settings)
        self.cookies = CookieWriter(settings)
        self.cookie_name = settings.session_cookie.encode("latin-1")
        self._refresh_after = settings.refresh_interval

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            conn = _Connection(self, scope, send)
            await self.app(scope, receive, conn.send_http)
        elif kind == "websocket":
            conn = _Connection(self, scope, send)
            try:
                await self.app(scope, receive, conn.send_websocket)
            finally:  # WebSocket handlers often end by an exception (a disconnect)
                conn.report_lost_changes()
        else:
            await self.app(scope, receive, send)

    def set_cookie_header(self, session: Session, decoded: Decoded | None) -> bytes | None:
        """The ``Set-Cookie`` value the response needs for ``session``, if any."""
        if not session.loaded:
            return None  # never used: nothing can have changed
        session.flush()
        if not dict.__len__(session):
            had_data = decoded is not None and decoded.payload != b"{}"
            return self.cookies.delete() if had_data else None
        if decoded is not None and session.unchanged():
            if not self._reissue(decoded):
                return None
            # The same content, re-signed (a stale cookie's payload may be Starlette's JSON).
            payload = self.codec.dumps(session) if decoded.stale else decoded.payload
        else:
            payload = self.codec.dumps(session)
            if decoded is not None and payload == decoded.payload and not self._reissue(decoded):
                return None
        created = decoded.created_at if decoded is not None and not session.renewed else None
        value = self.codec.sign(payload, created_at=created)
        size = self.cookies.size(value)
        if size > COOKIE_SIZE_LIMIT:
            raise SessionTooLargeError(size, COOKIE_SIZE_LIMIT, _largest_keys(session))
        return self.cookies.set(value)

    def _reissue(self, decoded: Decoded) -> bool:
        if decoded.stale:
            return True
        refresh = self._refresh_after
        return refresh is not None and self.codec.clock() - decoded.signed_at >= refresh


class _Connection:
    """The session state of one HTTP request or WebSocket connection.

    The cookie is looked for only when the app first uses the session.
    """

    __slots__ = ("decoded", "middleware", "scope", "send", "session", "snapshot")

    def __init__(self, middleware: SessionMiddleware, scope: Scope, send: Send) -> None:
        self.middleware = middleware
        self.scope = scope
        self.send = send
        self.decoded: Decoded | None = None
        self.snapshot: bytes | None = None
        # Session.lazy(self._load), spelled out: this runs on every request, and the
        # classmethod's call is a measurable share of an untouched request's overhead.
        session = self.session = scope["session"] = Session()
        session._loader = self._load

    def _load(self) -> dict[str, Any]:
        middleware = self.middleware
        # Several values when cookies of other paths or domains share the name: the first
        # that verifies wins.
        for value in read_cookies(self.scope["headers"], middleware.cookie_name):
            decoded = middleware.codec.decode(value)
            if decoded is not None:
                self.decoded = decoded
                return decoded.data
        return {}

    def _adopt_replacement(self) -> Session:
        """The app put another mapping at ``scope["session"]``: it is the session now, as
        with Starlette's middleware (which reads the scope when the response starts)."""
        self.session.load()  # what the cookie held decides whether to expire it
        replacement = self.scope.get("session")
        session = Session(replacement if isinstance(replacement, Mapping) else {})
        session.accessed = session.modified = True
        self.session = self.scope["session"] = session
        return session

    def _headers_for(self, message: Message, *, vary: bool) -> None:
        header = self.middleware.set_cookie_header(self.session, self.decoded)
        headers = list(message.get("headers", ()))
        if vary:  # the response depends on the cookie: the session was used
            _add_vary_cookie(headers)
        if header is not None:
            headers.append((b"set-cookie", header))
        message["headers"] = headers

    async def send_http(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            session = self.session
            if self.scope.get("session") is not session:
                session = self._adopt_replacement()
            # session.loaded and session.lock(), spelled out for the same reason.
            if session._loader is None:  # the session was used
                self._headers_for(message, vary=True)
            session._locked = _AFTER_RESPONSE
        await self.send(message)

    async def send_websocket(self, message: Message) -> None:
        kind = message["type"]
        session = self.session
        if kind == "websocket.accept":
            if session.loaded:
                self._headers_for(message, vary=False)
                self.snapshot = self.middleware.codec.dumps(session)
            session.lock(_AFTER_ACCEPT)
        elif kind == "websocket.http.response.start":  # a denial response
            if session.loaded:
                self._headers_for(message, vary=True)
            session.lock(_AFTER_RESPONSE)
        await self.send(message)

    def report_lost_changes(self) -> None:
        """Log, naming the keys, nested in-place changes made after a WebSocket was accepted."""
        session = self.session
        if session._locked is None or not session.loaded:
            return
        session.flush()
        codec = self.middleware.codec
        if self.snapshot is not None:  # rendered at accept: compare renderings
            if codec.dumps(session) == self.snapshot:
                return
            old = pydantic_core.from_json(self.snapshot)
        else:  # first used after accept: compare with the cookie's content, as data
            if session.unchanged():
                return
            old = pydantic_core.from_json(self.decoded.payload if self.decoded else b"{}")
            if pydantic_core.from_json(codec.dumps(session)) == old:
                return
        changed = [
            k
            for k, v in dict.items(session)
            if k not in old or codec.dumps({k: v}) != codec.dumps({k: old[k]})
        ]
        logger.error(
            "session keys %s changed in place after the WebSocket was accepted; the change "
            "could not reach the browser and was lost. Change the session before "
            "websocket.accept().",
            ", ".join(repr(k) for k in changed),
        )


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    """Add ``Cookie`` to the response's ``Vary`` header, creating it if needed."""
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            tokens = {token.strip().lower() for token in value.split(b",")}
            if b"cookie" not in tokens and b"*" not in tokens:
                headers[index] = (name, value + b", Cookie")
            return
    headers.append((b"vary", b"Cookie"))


def _largest_keys(session: Session, count: int = 3) -> list[tuple[str, int]]:
    sizes = [(key, len(SessionCodec.dumps({key: value}))) for key, value in dict.items(session)]
    return sorted(sizes, key=lambda item: item[1], reverse=True)[:count]


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
