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

from sessionkit.codec import Decoded, SessionCodec, render_dict
from sessionkit.cookies import COOKIE_SIZE_LIMIT, CookieWriter, read_cookies
from sessionkit.exceptions import (
    SessionConfigError,
    SessionNotInstalledError,
    SessionTooLargeError,
)
from sessionkit.session import Session
from sessionkit.settings import SessionSettings

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from starlette.requests import HTTPConnection
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SessionMiddleware", "get_session"]

logger: logging.Logger = logging.getLogger("sessionkit")

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
        else:  # built elsewhere, perhaps without validation (model_construct): check again
            problems = settings.config_problems()
            if problems:
                raise SessionConfigError(problems, settings.config_kind)
        self.app = app
        self.settings = settings
        self.codec: SessionCodec = SessionCodec.from_settings(settings)
        self.cookies: CookieWriter = CookieWriter(settings)
        self.cookie_name: bytes = settings.session_cookie.encode("latin-1")
        self._refresh_after = settings.refresh_interval
        self._loader = self._load  # bound once: every request's session gets it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._call_other(scope, receive, send)
            return
        # Every HTTP request runs this, used session or not, so it is written flat: one
        # lazy Session, no other object, nothing that refers back to the scope or itself
        # (so the request's objects are freed by reference counting, never by the GC).
        # Session() without its __new__, which would set the same slots in a Python call.
        # The cookie is read from the headers as the request reached this middleware (as
        # Starlette's does), even if an inner app replaces scope["headers"] later.
        session = scope["session"] = _blank_session(Session)
        session._loader = self._loader
        session._source = scope.get("headers", ())
        session._locked = None

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
                    used = _adopt_replacement(scope, used)
                if used._loader is None:  # the session was used: used.loaded, spelled out
                    self._add_headers(message, used, vary=True)
                used._locked = _AFTER_RESPONSE  # used.lock(...), spelled out
            return send(message)

        await self.app(scope, receive, send_http)

    async def _call_other(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        conn = _WebSocket(self, scope, send)
        try:
            await self.app(scope, receive, conn.send)
        finally:  # WebSocket handlers often end by an exception (a disconnect)
            conn.report_lost_changes()

    def _load(self, session: Session) -> dict[str, Any]:
        """The loader of every session: the first cookie of our name that verifies.

        Several values arrive when cookies of other paths or domains share the name.
        """
        codec = self.codec
        for value in read_cookies(session._source, self.cookie_name):
            decoded = codec.decode(value)
            if decoded is not None:
                session._origin = decoded
                if len(decoded.payload) <= _COMPARE_WHOLE_BELOW:
                    session._compare_whole = True
                return decoded.data
        return {}

    def _new_session(self, scope: Scope) -> Session:
        session = scope["session"] = Session()
        session._loader = self._loader
        session._source = scope.get("headers", ())
        return session

    def _add_headers(self, message: Message, session: Session, *, vary: bool) -> None:
        """Add ``Set-Cookie`` (if needed) and, when ``vary``, ``Vary: Cookie`` to ``message``."""
        header = self.set_cookie_header(session, session._origin)
        raw = message.get("headers")
        headers = list(raw) if raw else []
        if vary:  # the response depends on the cookie: the session was used
            # ASGI response header names are lowercase; a dict finds one in C.
            if b"vary" in dict(headers):
                _merge_vary_cookie(headers)
            else:
                headers.append((b"vary", b"Cookie"))
        if header is not None:
            headers.append((b"set-cookie", header))
        message["headers"] = headers

    def set_cookie_header(self, session: Session, decoded: Decoded | None) -> bytes | None:
        """The ``Set-Cookie`` value the response needs for ``session``, if any.

        It runs on every response whose session was used, so the common case (read, not
        changed, not due for re-issue) calls nothing but the clock.
        """
        if session._loader is not None:
            return None  # never used: nothing can have changed
        if session._bindings:
            session.flush()
        if not dict.__len__(session):
            had_data = decoded is not None and decoded.payload != b"{}"
            return self.cookies.delete() if had_data else None
        if decoded is None or session.renewed:  # a new session, even with the old content
            return self._store(session, render_dict(session), decoded)
        if not session.unchanged():
            payload = render_dict(session)
            if payload != decoded.payload:
                return self._store(session, payload, decoded)
        if decoded.stale:  # signed with a fallback key, or in Starlette's format
            return self._store(session, render_dict(session), decoded)
        refresh = self._refresh_after
        if refresh is not None and self.codec.clock() - decoded.signed_at >= refresh:
            return self._store(session, decoded.payload, decoded)  # the same content
        return None

    def _store(self, session: Session, payload: bytes, decoded: Decoded | None) -> bytes:
        """The ``Set-Cookie`` value that stores ``payload`` (``session`` rendered)."""
        created = decoded.created_at if decoded is not None and not session.renewed else None
        value = self.codec.sign(payload, created_at=created)
        size = self.cookies.size(value)
        if size > COOKIE_SIZE_LIMIT:
            raise SessionTooLargeError(size, COOKIE_SIZE_LIMIT, _largest_keys(session))
        return self.cookies.set(value)


#: ``Session()`` without its ``__new__``: an empty session whose slots the caller sets.
_blank_session = dict.__new__

#: Content up to this many bytes of JSON is compared whole when containers were handed out
#: (one rendering); larger content is compared per handed-out container (two renderings
#: of each, however large the rest). Rendering costs about 1.8k instructions a call plus
#: 55 a byte: past this size, two renderings of a typical 50-byte container cost less.
_COMPARE_WHOLE_BELOW = 192


def _adopt_replacement(scope: Scope, session: Session) -> Session:
    """The app put another mapping at ``scope["session"]``: it is the session now, as with
    Starlette's middleware (which reads the scope when the response starts)."""
    session.load()  # what the cookie held decides whether to expire it
    replacement = scope.get("session")
    adopted = Session(replacement if isinstance(replacement, Mapping) else {})
    adopted.accessed = adopted.modified = True
    adopted._origin = session._origin
    scope["session"] = adopted
    return adopted


class _WebSocket:
    """The session state of one WebSocket connection."""

    __slots__ = ("middleware", "scope", "send_downstream", "session", "snapshot")

    def __init__(self, middleware: SessionMiddleware, scope: Scope, send: Send) -> None:
        self.middleware = middleware
        self.scope = scope
        self.send_downstream = send
        self.snapshot: bytes | None = None
        self.session = middleware._new_session(scope)

    async def send(self, message: Message) -> None:
        kind = message["type"]
        session = self.session
        if kind == "websocket.accept":
            if session.loaded:
                self.middleware._add_headers(message, session, vary=False)
                self.snapshot = self.middleware.codec.dumps(session)
            session.lock(_AFTER_ACCEPT)
        elif kind == "websocket.http.response.start":  # a denial response
            if session.loaded:
                self.middleware._add_headers(message, session, vary=True)
            session.lock(_AFTER_RESPONSE)
        await self.send_downstream(message)

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
            origin = session._origin
            old = pydantic_core.from_json(origin.payload if origin is not None else b"{}")
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


def _merge_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    """Add ``Cookie`` to the first ``Vary`` header unless it names it (or ``*``) already."""
    for index, (name, value) in enumerate(headers):
        if name == b"vary":
            tokens = {token.strip().lower() for token in value.split(b",")}
            if b"cookie" not in tokens and b"*" not in tokens:
                headers[index] = (name, value + b", Cookie")
            return


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
