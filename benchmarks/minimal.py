"""A minimal lazy middleware on sessionkit's cookie format: a yardstick for the targets.

The targets are ratios to Starlette's overhead, and part of sessionkit's overhead is set
by its cookie format (HMAC-SHA256 with itsdangerous's key derivation, URL-safe base64,
pydantic-core JSON, expiry and lifetime checks). To tell that part from what sessionkit's
own design adds, the suite also times this middleware: as little work as we could make a
lazy session do on the same cookies, with the same keys, settings and checks. It is written
for speed, not for reading: the cookie is verified and decoded inline, in the one function
that loads the session, with no result object and no logging.

It has none of sessionkit's features, so it is not a product and nothing uses it outside
the benchmark: no ``Vary: Cookie``, no detection of in-place changes (a read never renders
or compares), no sliding re-issue or key rotation, no lock after the response starts, no
size check, no WebSockets. Only ``get``, ``[]``, ``[]=`` and ``update`` load the session
(``in``, ``len`` or iteration before them see it empty), and only ``[]=`` and ``update``
mark it changed: the benchmark's handlers use nothing else. Cookies in Starlette's format
or compressed ones, which the benchmark never sends, go through ``SessionCodec.decode``.
"""

from __future__ import annotations

from binascii import a2b_base64, b2a_base64
from hmac import compare_digest
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json

# The codec's own constants, so the minimal checks exactly what SessionCodec checks.
from sessionkit.codec import (
    _CLOCK_SKEW,
    _FROM_URLSAFE,
    _SIGNATURE_LENGTH,
    _TO_URLSAFE,
    SessionCodec,
)
from sessionkit.cookies import CookieWriter, read_cookies

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from sessionkit import SessionSettings


class MinimalSession(dict[str, Any]):
    """A ``dict`` filled from the cookie on first use, that knows whether it was written."""

    __slots__ = ("_headers", "_middleware", "created_at", "modified")
    _headers: Any  # the request's headers until loaded, then None
    _middleware: MinimalMiddleware
    created_at: int | None  # the loaded cookie's creation time, kept when it is rewritten
    modified: bool

    def _load(self) -> None:
        headers, self._headers = self._headers, None
        middleware = self._middleware
        token = middleware.find_cookie(headers)
        if token is not None:
            middleware.load_into(self, token)
            return
        for value in read_cookies(headers, middleware.cookie_name):  # the general case
            if middleware.load_into(self, value):
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


_new_session = dict.__new__


class MinimalMiddleware:
    """Lazy decode on first use; ``Set-Cookie`` only after a mutating call."""

    def __init__(self, app: ASGIApp, settings: SessionSettings) -> None:
        self.app = app
        self.codec = codec = SessionCodec.from_settings(settings)
        # The pre-keyed HMAC states of sessionkit's signers (current key first): the same
        # derived keys, so the same cookies verify.
        self.keyed = [signer._keyed for signer in codec._signers]
        self.cookies = CookieWriter(settings)
        self.cookie_name = settings.session_cookie.encode("latin-1")
        self.cookie_target = self.cookie_name + b"="

    def find_cookie(self, headers: Any) -> bytes | None:
        """The cookie's value when it is the only one of its name, plainly spelled, in the
        only ``Cookie`` header; otherwise ``None``, and ``read_cookies`` looks."""
        found = None
        target, skip = self.cookie_target, len(self.cookie_target)
        for name, value in headers:
            if name != b"cookie":
                continue
            if found is not None:
                return None  # a second Cookie header
            start = value.find(target)
            if start < 0 or (start and value[start - 2 : start] != b"; "):
                return None
            stop = value.find(b";", start)
            if stop < 0:
                found = value[start + skip :]
            elif value.find(target, stop) >= 0:
                return None  # the name twice
            else:
                found = value[start + skip : stop]
            if found[:1] == b'"':
                return None
        return found

    def load_into(self, session: MinimalSession, token: bytes) -> bool:
        """Fill ``session`` from ``token`` if it verifies, with the checks of
        ``SessionCodec.decode``; ``False`` for a cookie that does not."""
        try:
            body, _, signature = token.rpartition(b".")
            if len(signature) != _SIGNATURE_LENGTH:  # Starlette's format, or malformed
                return self._load_other(session, token)
            for keyed in self.keyed:
                mac = keyed.copy()
                mac.update(body)
                expected = b2a_base64(mac.digest(), newline=False).translate(_TO_URLSAFE)
                if compare_digest(expected[:_SIGNATURE_LENGTH], signature):
                    break
            else:
                return False
            value, _, timestamp = body.rpartition(b".")
            packed, _, created = value.rpartition(b".")
            signed_at = int.from_bytes(
                a2b_base64(timestamp.translate(_FROM_URLSAFE) + b"=="), "big"
            )
            created_at = int.from_bytes(a2b_base64(created.translate(_FROM_URLSAFE) + b"=="), "big")
            codec = self.codec
            now = codec.clock()
            if codec.max_age is not None and now - signed_at > codec.max_age:
                return False
            if signed_at - now > _CLOCK_SKEW:
                return False
            lifetime = codec.absolute_lifetime
            if lifetime is not None and now - created_at > lifetime:
                return False
            if packed[:1] == b".":  # compressed
                return self._load_other(session, token)
            data = from_json(a2b_base64(packed.translate(_FROM_URLSAFE) + b"=="))
            if type(data) is not dict:
                return False
        except Exception:
            return False
        dict.update(session, data)
        session.created_at = created_at
        return True

    def _load_other(self, session: MinimalSession, token: bytes) -> bool:
        decoded = self.codec.decode(token)
        if decoded is None:
            return False
        dict.update(session, decoded.data)
        session.created_at = decoded.created_at
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = scope["session"] = _new_session(MinimalSession)
        session._middleware = self
        session._headers = scope.get("headers", ())
        session.created_at = None
        session.modified = False

        def send_cookie(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start" and session.modified:
                value = self.codec.encode(session, created_at=session.created_at)
                header = (b"set-cookie", self.cookies.set(value))
                message["headers"] = [*message.get("headers", ()), header]
            return send(message)

        await self.app(scope, receive, send_cookie)
