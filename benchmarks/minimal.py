"""A minimal lazy middleware on sessionkit's codec: what the codec alone costs in a request.

The targets are ratios to Starlette's overhead, and part of sessionkit's overhead is fixed
by its cookie format (HMAC-SHA256 through itsdangerous, URL-safe base64, pydantic-core
JSON). To tell that part from what sessionkit's own design adds, the suite also times this
middleware: the least a lazy signed-cookie session can do with the same codec, settings
and cookies. It decodes the cookie on the first read or write, and sets the cookie again
after a mutating call; nothing else.

It has none of sessionkit's features, so it is not a product and nothing uses it outside
the benchmark: no ``Vary: Cookie``, no detection of in-place changes (a read never
renders or compares), no sliding re-issue or key rotation, no lock after the response
starts, no size check, no WebSockets. A change made only through ``pop``, ``del`` or
``clear`` is not even saved, since the benchmark's handlers never make one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sessionkit.codec import SessionCodec
from sessionkit.cookies import CookieWriter, read_cookies

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from sessionkit import SessionSettings


class MinimalSession(dict[str, Any]):
    """A ``dict`` filled from the cookie on first use, that knows whether it was written."""

    __slots__ = ("_headers", "_middleware", "modified")

    def __init__(self, middleware: MinimalMiddleware, headers: Any) -> None:
        self._middleware = middleware
        self._headers = headers  # None once loaded
        self.modified = False

    def _load(self) -> None:
        headers, self._headers = self._headers, None
        middleware = self._middleware
        for value in read_cookies(headers, middleware.cookie_name):
            decoded = middleware.codec.decode(value)
            if decoded is not None:
                dict.update(self, decoded.data)
                return

    def get(self, key: str, default: Any = None, /) -> Any:
        if self._headers is not None:
            self._load()
        return dict.get(self, key, default)

    def __getitem__(self, key: str) -> Any:
        if self._headers is not None:
            self._load()
        return dict.__getitem__(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if self._headers is not None:
            self._load()
        self.modified = True
        dict.__setitem__(self, key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        if self._headers is not None:
            self._load()
        self.modified = True
        dict.update(self, *args, **kwargs)


class MinimalMiddleware:
    """Lazy decode on first use; ``Set-Cookie`` only after a mutating call."""

    def __init__(self, app: ASGIApp, settings: SessionSettings) -> None:
        self.app = app
        self.codec = SessionCodec.from_settings(settings)
        self.cookies = CookieWriter(settings)
        self.cookie_name = settings.session_cookie.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = scope["session"] = MinimalSession(self, scope.get("headers", ()))

        def send_cookie(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start" and session.modified:
                header = self.cookies.set(self.codec.encode(session))
                message["headers"] = [*message.get("headers", ()), (b"set-cookie", header)]
            return send(message)

        await self.app(scope, receive, send_cookie)
