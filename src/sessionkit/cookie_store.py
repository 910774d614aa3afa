"""The cookie store: the whole session travels in the signed cookie.

Nothing on the server knows a session exists, so it costs no I/O: the cookie is decoded
when the app first uses the session, and re-issued when the response starts if its content
changed, it was cleared or rotated, it was signed with an old key (or in Starlette's format),
or it is due for a sliding re-issue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pydantic_core

from sessionkit.codec import Decoded, SessionCodec, render_dict
from sessionkit.cookies import COOKIE_SIZE_LIMIT, CookieWriter, read_cookies
from sessionkit.exceptions import SessionStoreError, SessionTooLargeError
from sessionkit.session import Session
from sessionkit.store import SessionInfo, SessionStore

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sessionkit.settings import SessionSettings

__all__ = ["CookieStore"]

_NEEDS_SERVER = (
    "the cookie store keeps no record of sessions, so it cannot {what}; use a server-side "
    "store: SESSION_STORE=redis (with SESSION_REDIS_URL) or, in one process, memory"
)

#: Content up to this many bytes of JSON is compared whole when containers were handed out
#: (one rendering); larger content is compared per handed-out container (two renderings
#: of each, however large the rest). Rendering costs about 1.8k instructions a call plus
#: 55 a byte: past this size, two renderings of a typical 50-byte container cost less.
_COMPARE_WHOLE_BELOW = 192


class CookieStore(SessionStore):
    """Sessions kept in the signed cookie itself."""

    server_side: ClassVar[bool] = False

    def __init__(self, settings: SessionSettings) -> None:
        self.codec: SessionCodec = SessionCodec.from_settings(settings)
        self.cookies: CookieWriter = CookieWriter(settings)
        self.cookie_name: bytes = settings.session_cookie.encode("latin-1")
        self._refresh_after = settings.refresh_interval

    def session(self, headers: Iterable[tuple[bytes, bytes]]) -> Session:
        """The lazy session of a request with these headers: decoded on first use."""
        return Session.from_store(self.load, headers, self)

    def load(self, session: Session) -> dict[str, Any]:
        """The loader of every session: the first cookie of our name that verifies.

        Several values arrive when cookies of other paths or domains share the name.
        """
        codec = self.codec
        for value in read_cookies(session.source, self.cookie_name):
            decoded = codec.decode(value)
            if decoded is not None:
                session.origin = decoded
                if len(decoded.payload) <= _COMPARE_WHOLE_BELOW:
                    session.compare_whole = True
                return decoded.data
        return {}

    def set_cookie_header(self, session: Session) -> bytes | None:
        """The ``Set-Cookie`` value the response needs for ``session``, if any.

        It runs on every response whose session was used, so the common case (read, not
        changed, not due for re-issue) calls nothing but the clock.
        """
        if not session.loaded:
            return None  # never used: nothing can have changed
        session.flush()
        decoded: Decoded | None = session.origin
        if not dict.__len__(session):
            had_data = decoded is not None and decoded.payload != b"{}"
            return self.cookies.delete() if had_data else None
        if decoded is None or session.renewed or session.rotated:  # a new cookie, always
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
        created = None
        if decoded is not None and not (session.renewed or session.rotated):
            created = decoded.created_at  # the same session, re-issued
        return self.cookies.set(self._value(session, payload, created))

    def _value(self, data: dict[str, Any], payload: bytes, created: int | None) -> str:
        """The cookie value holding ``payload`` (``data`` rendered); too large, an error."""
        value = self.codec.sign(payload, created_at=created)
        size = self.cookies.size(value)
        if size > COOKIE_SIZE_LIMIT:
            raise SessionTooLargeError(size, COOKIE_SIZE_LIMIT, _largest_keys(data))
        return value

    # --- handing a session to a client (tests: sessionkit.testing) ------------------------

    def encode(self, data: Mapping[str, Any]) -> str | None:
        """The cookie value of a new session holding ``data``, as a response would issue it
        (:class:`~sessionkit.SessionTooLargeError` if browsers would drop it); ``None`` for
        empty ``data``: an empty session needs no cookie."""
        entries = dict(data)
        return self._value(entries, render_dict(entries), None) if entries else None

    def decode(self, cookie_value: str) -> dict[str, Any] | None:
        """The data of the session in ``cookie_value``; ``None`` if it holds none."""
        decoded = self.codec.decode(cookie_value)
        return None if decoded is None else decoded.data

    def lost_changes(self, session: Session, snapshot: bytes | None) -> list[str]:
        """The keys changed in place since ``snapshot`` (the session rendered when it could
        last be sent; ``None``: compare with the cookie's content), which no cookie carried."""
        session.flush()
        dumps = self.codec.dumps
        if snapshot is not None:  # rendered then: compare renderings
            if dumps(session) == snapshot:
                return []
            old = pydantic_core.from_json(snapshot)
        else:  # first used since: compare with the cookie's content, as data
            if session.unchanged():
                return []
            origin: Decoded | None = session.origin
            old = pydantic_core.from_json(origin.payload if origin is not None else b"{}")
            if pydantic_core.from_json(dumps(session)) == old:
                return []
        return [
            key
            for key, value in dict.items(session)
            if key not in old or dumps({key: value}) != dumps({key: old[key]})
        ]

    async def list_user(self, user_id: object) -> list[SessionInfo]:
        raise SessionStoreError(_NEEDS_SERVER.format(what="list a user's sessions"))

    async def revoke_user(self, user_id: object) -> int:
        raise SessionStoreError(_NEEDS_SERVER.format(what="end a user's sessions"))

    async def revoke(self, handle: str) -> bool:
        raise SessionStoreError(_NEEDS_SERVER.format(what="end a session by its handle"))


def _largest_keys(data: dict[str, Any], count: int = 3) -> list[tuple[str, int]]:
    sizes = [(key, len(SessionCodec.dumps({key: value}))) for key, value in dict.items(data)]
    return sorted(sizes, key=lambda item: item[1], reverse=True)[:count]
