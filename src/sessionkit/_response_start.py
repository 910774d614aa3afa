"""What a connection does with its session as its response starts, whatever the store.

For :mod:`sessionkit.middleware` and :mod:`sessionkit._server_connections`: the headers a
used session adds (``Set-Cookie``, ``Vary: Cookie``), the session an app put in place of
its own, and why the session is locked once the response (or a WebSocket's accept) is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sessionkit.session import Session

if TYPE_CHECKING:
    from starlette.types import Message, Scope

AFTER_RESPONSE = (
    "the response has already started, so a session change can no longer reach the "
    "browser; change the session before returning the response"
)
AFTER_ACCEPT = (
    "the WebSocket was accepted, so a session change can no longer reach the browser "
    "(cookies travel only in the handshake); change the session before websocket.accept()"
)


def add_session_headers(message: Message, set_cookie: bytes | None, *, vary: bool) -> None:
    """Add ``Set-Cookie`` (if any) and, when ``vary``, ``Vary: Cookie`` to ``message``."""
    raw = message.get("headers")
    headers = list(raw) if raw else []
    if vary:  # the response depends on the cookie: the session was used
        # ASGI response header names are lowercase; a dict finds one in C.
        if b"vary" in dict(headers):
            _merge_vary_cookie(headers)
        else:
            headers.append((b"vary", b"Cookie"))
    if set_cookie is not None:
        headers.append((b"set-cookie", set_cookie))
    message["headers"] = headers


def adopt_replacement(scope: Scope, session: Session) -> Session:
    """The app put another mapping at ``scope["session"]``: it is the session now, as with
    Starlette's middleware (which reads the scope when the response starts)."""
    session.load()  # what the cookie held decides whether to expire it
    replacement = scope.get("session")
    adopted = Session(replacement if isinstance(replacement, Mapping) else {})
    adopted.accessed = adopted.modified = True
    adopted.origin = session.origin
    adopted.store = session.store
    scope["session"] = adopted
    return adopted


def _merge_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    """Add ``Cookie`` to the first ``Vary`` header unless it names it (or ``*``) already."""
    for index, (name, value) in enumerate(headers):
        if name == b"vary":
            tokens = {token.strip().lower() for token in value.split(b",")}
            if b"cookie" not in tokens and b"*" not in tokens:
                headers[index] = (name, value + b", Cookie")
            return
