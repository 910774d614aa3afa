"""A connection on a server-side store: its session loaded before the app, stored as it answers.

For :class:`~sessionkit.middleware.SessionMiddleware`, which runs one per HTTP request or
WebSocket when the session lives in a :class:`~sessionkit.server_store.ServerStore`.

A store that fails never becomes a 500: a request whose session cannot be written is
answered ``503`` with ``Retry-After``, and so is one whose session cannot be read, once it
uses the session (or, with ``redis_unavailable="empty"``, once it changes it); a request that
does not use the session is unaffected.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sessionkit._response_start import (
    AFTER_ACCEPT,
    AFTER_RESPONSE,
    add_session_headers,
    adopt_replacement,
)
from sessionkit.exceptions import SessionStoreError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from sessionkit.server_store import ServerStore
    from sessionkit.session import Session

logger: logging.Logger = logging.getLogger("sessionkit")

_UNAVAILABLE_BODY = b"Service Unavailable: the session store cannot be reached; try again.\n"
RETRY_AFTER = 5  #: seconds, the ``Retry-After`` of a response the store failed


class ServerHTTP:
    """An HTTP request on a server-side store: loaded before the app, stored at its response.

    If the store fails, the client gets a 503 instead of the app's response: when the
    session cannot be read (the app's use of it raises :class:`SessionStoreError`, unless
    the store hands out an empty session) or its changes cannot be written (the app's own
    response is then dropped: it would claim a success that was not kept).
    """

    __slots__ = ("failed", "scope", "send_downstream", "session", "started", "store")

    def __init__(self, store: ServerStore, scope: Scope, send: Send) -> None:
        self.store = store
        self.scope = scope
        self.send_downstream = send
        self.session: Session | None = None
        self.started = self.failed = False

    async def run(self, app: ASGIApp, receive: Receive) -> None:
        scope = self.scope
        try:
            self.session = await self.store.open(scope.get("headers", ()))
        except SessionStoreError as exc:
            self.session = self.store.unreadable(exc)
        scope["session"] = self.session
        try:
            await app(scope, receive, self.send)
        except SessionStoreError as exc:
            if self.started:
                raise
            logger.error("session store failure: %s; answered 503", exc)
            await self._unavailable()

    async def send(self, message: Message) -> None:
        if self.failed:
            return  # the app's response after a failed write: never sent
        if message["type"] == "http.response.start":
            opened = self.session
            assert opened is not None  # noqa: S101 - set before the app runs
            session = opened
            if self.scope.get("session") is not session:
                session = adopt_replacement(self.scope, session)
            if session.loaded:
                try:
                    set_cookie = await self.store.commit(session)
                except SessionStoreError as exc:
                    logger.error("session store failure: %s; answered 503", exc)
                    await self._unavailable()
                    return
                add_session_headers(message, set_cookie, vary=True)
            session.lock(AFTER_RESPONSE)
            self.started = True
        await self.send_downstream(message)

    async def _unavailable(self) -> None:
        self.failed = self.started = True
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"retry-after", str(RETRY_AFTER).encode()),
            (b"content-length", str(len(_UNAVAILABLE_BODY)).encode()),
        ]
        await self.send_downstream(
            {"type": "http.response.start", "status": 503, "headers": headers}
        )
        await self.send_downstream({"type": "http.response.body", "body": _UNAVAILABLE_BODY})


class ServerWebSocket:
    """A WebSocket on a server-side store: the session stays writable after ``accept`` when
    the browser holds its id, and what changed is stored when the connection ends."""

    __slots__ = ("accepted", "scope", "send_downstream", "session", "store")

    def __init__(self, store: ServerStore, scope: Scope, send: Send) -> None:
        self.store = store
        self.scope = scope
        self.send_downstream = send
        self.session: Session | None = None
        self.accepted = False

    async def run(self, app: ASGIApp, receive: Receive) -> None:
        scope = self.scope
        try:
            session = await self.store.open(scope.get("headers", ()))
        except SessionStoreError as exc:
            session = self.store.unreadable(exc)
        self.session = scope["session"] = session
        try:
            await app(scope, receive, self.send)
        finally:  # WebSocket handlers often end by an exception (a disconnect)
            if self.accepted and session.loaded and not session.locked:
                try:
                    await self.store.commit(session, can_set_cookie=False)
                except SessionStoreError as exc:
                    logger.error("session changes after the WebSocket closed were lost: %s", exc)

    async def send(self, message: Message) -> None:
        kind = message["type"]
        session = self.session
        assert session is not None  # noqa: S101 - set before the app runs
        if kind in ("websocket.accept", "websocket.http.response.start"):
            denial = kind != "websocket.accept"
            if session.loaded:
                add_session_headers(message, await self.store.commit(session), vary=denial)
            if denial:
                session.lock(AFTER_RESPONSE)
            elif not self.store.has_record(session):
                session.lock(AFTER_ACCEPT)  # a new session's id could not reach the browser
            self.accepted = not denial
        await self.send_downstream(message)
