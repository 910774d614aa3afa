"""The store seam: where session data is kept, and what an application can ask of it.

Three stores sit behind :class:`SessionStore`:

- the cookie store (:class:`~sessionkit.cookie_store.CookieStore`, the default): the data
  travels in the signed cookie, so nothing on the server knows a session exists;
- the memory store and the Redis store (:class:`~sessionkit.server_store.ServerStore`): the
  cookie holds only a signed, random session id, and the data lives on the server, which can
  list and end sessions.

The middleware is plumbing between them and the ``Session``: the session says what changed,
and the store decides how that is kept. Applications reach the store of the middleware that
handled a connection with :func:`~sessionkit.get_store`, and scripts build one with
:meth:`SessionSettings.open_store() <sessionkit.SessionSettings.open_store>`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["SessionInfo", "SessionStore"]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One live session of a user, as :meth:`SessionStore.list_user` reports it."""

    #: names the session for :meth:`SessionStore.revoke`: URL-safe text, safe to show and to
    #: log (it is derived from the session id by a one-way hash, and is never the cookie's id)
    handle: str
    #: when the session was created (a login that cleared the session creates a new one)
    created_at: datetime
    #: when a request last used the session (exact while the idle timeout, not the absolute
    #: lifetime, decides its expiry; otherwise the time of its last change)
    last_seen_at: datetime
    #: when the session ends unless it is used again
    expires_at: datetime


class SessionStore(ABC):
    """Where sessions are kept: the type of :func:`~sessionkit.get_store`.

    Every store answers the three questions below; on the cookie store, which keeps no
    record of sessions, they raise :class:`~sessionkit.SessionStoreError`.
    """

    #: whether session data lives on a server (the cookie then holds only a session id)
    server_side: ClassVar[bool]

    @abstractmethod
    async def list_user(self, user_id: object) -> list[SessionInfo]:
        """The live sessions of ``user_id`` (compared as ``str(user_id)``), newest first."""

    @abstractmethod
    async def revoke_user(self, user_id: object) -> int:
        """End every session of ``user_id`` ("log out everywhere"); how many there were."""

    @abstractmethod
    async def revoke(self, handle: str) -> bool:
        """End the session named by ``handle``; whether it existed."""

    async def aclose(self) -> None:  # noqa: B027 - optional: most stores hold nothing
        """Release what the store holds (connections); it can be used again afterwards."""
