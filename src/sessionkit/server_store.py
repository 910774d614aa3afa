"""Server-side sessions: the cookie holds a signed, random id; the data lives in a backend.

:class:`ServerStore` holds every rule, over a :class:`Backend` that only keeps records (the
memory store and the Redis store are each one small backend):

- **Strict ids.** An id is :data:`~sessionkit.codec.ID_BYTES` random bytes, minted here,
  signed for its cookie name. A cookie whose signature fails costs no backend call; an id
  whose record is gone (expired, revoked, rotated) is never reused: a write mints a new one.
- **Hashed at rest.** Records are keyed by a one-way hash of the id, the *handle*, so a dump
  of the backend yields no usable cookie; :class:`~sessionkit.SessionInfo` shows the handle.
- **Round trips.** Loading (only for a cookie that verifies) is one backend call that also
  renews the idle expiry; a write is one more, and only when the content changed.
- **Two clocks.** A record's expiry is the earlier of ``max_age`` after its last use (idle)
  and ``absolute_lifetime`` after its creation; the backend enforces it.
- **Per-key writes.** Each top-level entry is a field of its own, so concurrent requests that
  change different entries both persist; the same entry is last-writer-wins.
- **Rotation.** :meth:`Session.rotate`, a change of the ``user_key`` entry, and ``clear()``
  followed by writes give the session a new id; the old record is deleted in the same call.
- **No resurrection.** An update (or a rotation carrying the data over) is stored only if
  the record still exists; otherwise the cookie is cleared and the event logged.

A record is a map of field names to bytes: ``.KEY`` holds entry ``KEY`` as JSON; ``@created``
(Unix seconds), ``@deadline`` (Unix milliseconds of the absolute expiry, ``0`` for none),
``@user`` (the user's id as text, absent for none) and ``@seen`` (Unix seconds of the last
write) are the record's own.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_core import from_json, to_json

from sessionkit.codec import Decoded, IdCodec, SessionCodec, VerifiedId
from sessionkit.cookies import CookieWriter, read_cookies
from sessionkit.exceptions import SessionStoreError
from sessionkit.session import Session
from sessionkit.store import SessionInfo, SessionStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from sessionkit.settings import SessionSettings

__all__ = ["Backend", "ServerStore", "expiry_ms"]

logger: logging.Logger = logging.getLogger("sessionkit")

#: Idle timeout of a record whose cookie is a browser-session cookie (``max_age=None``): the
#: browser forgets the cookie when it closes, but the server cannot know when that is.
BROWSER_SESSION_IDLE = 14 * 24 * 60 * 60

CREATED, DEADLINE, USER, SEEN = "@created", "@deadline", "@user", "@seen"
_DATA = "."  # the prefix of an entry's field


class Backend(ABC):
    """Where one kind of server keeps records: the operations :class:`ServerStore` needs.

    A record's expiry is the earlier of ``now_ms + idle_ms`` and its ``@deadline`` field
    (when not ``0``): :func:`expiry_ms`. :meth:`find` renews it by that rule; a write is
    given it, computed from the record the store holds. An *index* is the set of
    handles of one user's sessions, scored by creation time; it may hold handles whose
    record is gone, which :meth:`list_index` prunes. Failures raise
    :class:`~sessionkit.SessionStoreError`.
    """

    @abstractmethod
    async def find(self, handle: str, now_ms: int, idle_ms: int) -> dict[str, bytes] | None:
        """The record's fields, its expiry renewed; ``None`` if there is no such record."""

    @abstractmethod
    async def update(
        self, handle: str, expires_ms: int, fields: Mapping[str, bytes], deleted: Iterable[str]
    ) -> bool:
        """Set ``fields``, delete ``deleted`` and set the expiry if the record exists; whether
        it did."""

    @abstractmethod
    async def create(
        self,
        handle: str,
        now_ms: int,
        expires_ms: int,
        fields: Mapping[str, bytes],
        index: str | None,
        replaces: str | None,
        require_replaced: bool,
    ) -> bool:
        """Store a new record expiring at ``expires_ms``, added to ``index`` (scored
        ``now_ms``); delete the record ``replaces`` in the same step (or, where one step
        cannot touch both, first: a failure then logs the user out). With
        ``require_replaced``, do nothing unless that record exists; whether done."""

    @abstractmethod
    async def delete(self, handle: str) -> bool:
        """Delete the record; whether it existed."""

    @abstractmethod
    async def list_index(self, index: str) -> list[tuple[str, dict[str, bytes], int]]:
        """``(handle, fields, ttl_ms)`` for each live record of ``index``: its fields (the data
        fields may be left out) and milliseconds left; handles whose record is gone are
        removed from the index."""

    @abstractmethod
    async def delete_index(self, index: str) -> int:
        """Delete every record of ``index``, and the index; how many records were live."""

    async def aclose(self) -> None:  # noqa: B027 - optional: not every backend holds anything
        """Release connections; the backend may be used again afterwards."""


@dataclass(slots=True)
class _Record:
    """What a verified id cookie led to: the record's fields, or ``None`` once it is gone."""

    verified: VerifiedId
    handle: str
    fields: dict[str, bytes] | None

    @property
    def user(self) -> str | None:
        user = self.fields.get(USER) if self.fields else None
        return None if user is None else user.decode()

    def entries(self) -> dict[str, bytes]:
        """The data fields, by entry name."""
        fields = self.fields or {}
        return {name[1:]: value for name, value in fields.items() if name.startswith(_DATA)}

    def data(self) -> dict[str, Any]:
        """The session data the record holds (an entry that is not JSON is dropped, logged)."""
        data = {}
        for field, value in (self.fields or {}).items():
            if field.startswith(_DATA):
                try:
                    data[field[1:]] = from_json(value)
                except ValueError:
                    logger.warning(
                        "session entry %r in the store is not JSON; it was dropped", field[1:]
                    )
        return data


@dataclass(frozen=True, slots=True)
class _Migrated:
    """A signed-cookie session from before the switch to a server-side store."""

    decoded: Decoded


#: The origin of a session whose cookie holds neither a valid id nor a signed session.
_NO_SESSION = "no session"


@dataclass(frozen=True, slots=True)
class _Unreadable:
    """The origin of a session whose record could not be read (``redis_unavailable="empty"``):
    handed out empty, and never stored, since a write could replace the session it hides."""

    error: SessionStoreError


def expiry_ms(fields: Mapping[str, bytes], now_ms: int, idle_ms: int) -> int:
    """The expiry of a record used at ``now_ms``: the earlier of ``now_ms + idle_ms`` and its
    absolute deadline."""
    deadline = int(fields.get(DEADLINE, b"0"))
    expires = now_ms + idle_ms
    return min(expires, deadline) if deadline else expires


def handle_of(session_id: str) -> str:
    """The handle of a session id: a one-way hash, URL-safe, that names its record."""
    digest = hashlib.sha256(b"sessionkit.handle:" + session_id.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def index_of(user: str) -> str:
    """The name of a user's index: a hash, so user ids (emails) are not key names."""
    digest = hashlib.sha256(b"sessionkit.user:" + user.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_HANDLE_LENGTH = 43


class ServerStore(SessionStore):
    """Sessions kept on a server: the rules above, over ``backend``."""

    server_side: ClassVar[bool] = True

    def __init__(self, settings: SessionSettings, backend: Backend) -> None:
        self.backend: Backend = backend
        keys = settings.signing_keys()
        self.ids: IdCodec = IdCodec(
            keys, cookie_name=settings.session_cookie, max_age=settings.max_age
        )
        #: reads signed-cookie sessions, to move them into the store
        self.codec: SessionCodec = SessionCodec.from_settings(settings)
        self.cookies: CookieWriter = CookieWriter(settings)
        self.cookie_name: bytes = settings.session_cookie.encode("latin-1")
        self.user_key: str | None = settings.user_key
        idle = settings.max_age if settings.max_age is not None else BROWSER_SESSION_IDLE
        self.idle_ms: int = max(idle, 0) * 1000
        self.absolute_lifetime: int | None = settings.absolute_lifetime
        self.refresh_after: int | None = settings.refresh_interval
        self.clock: Callable[[], float] = time.time
        #: what a session that could not be read becomes: a 503 on use, or empty
        self.when_unreadable: str = settings.redis_unavailable

    # --- per request ----------------------------------------------------------------------

    async def open(self, headers: Iterable[tuple[bytes, bytes]]) -> Session:
        """The session of a request: its record loaded (one backend call) if a cookie holds a
        valid id; a signed-cookie session to move in; or an empty session (no call)."""
        values = read_cookies(headers, self.cookie_name)
        for value in values:
            verified = self.ids.verify(value)
            if verified is not None:
                handle = handle_of(verified.id)
                fields = await self.backend.find(handle, self._now_ms(), self.idle_ms)
                record = _Record(verified, handle, fields)
                return Session.from_store(self._load_record, record, self)
        return Session.from_store(self._load_cookie, values, self)

    def unreadable(self, error: SessionStoreError) -> Session:
        """The session of a request whose record could not be read: any use of it raises
        ``error`` again, or (``"empty"``) it is empty, a warning logged, and any change to it
        raises when stored."""
        loader = self._load_empty if self.when_unreadable == "empty" else _raise_error
        return Session.from_store(loader, _Unreadable(error), self)

    @staticmethod
    def _load_empty(session: Session) -> dict[str, Any]:
        session.origin = session.source
        logger.warning(
            "%s; the request runs with an empty, read-only session (redis_unavailable='empty')",
            session.source.error,
        )
        return {}

    def _load_record(self, session: Session) -> dict[str, Any]:
        record: _Record = session.source
        session.origin = record
        return record.data()

    def _load_cookie(self, session: Session) -> dict[str, Any]:
        for value in session.source:
            decoded = self.codec.decode(value)
            if decoded is not None:  # moved into the store when the response starts
                session.origin = _Migrated(decoded)
                return decoded.data
        if session.source:
            session.origin = _NO_SESSION  # a cookie of our name that is no session: expire it
        return {}

    async def commit(self, session: Session, *, can_set_cookie: bool = True) -> bytes | None:
        """Store what changed in ``session``; the ``Set-Cookie`` value the response needs.

        With ``can_set_cookie=False`` (a WebSocket after ``accept``) a change that needs a
        new id cannot reach the browser: it is logged and not stored.
        """
        if not session.loaded:
            return None
        session.flush()
        origin = session.origin
        if isinstance(origin, _Unreadable):
            if session.modified or session.renewed or session.rotated or dict.__len__(session):
                raise SessionStoreError(f"{origin.error}, so the session's changes were not stored")
            return None
        record = origin if isinstance(origin, _Record) and origin.fields is not None else None
        if not dict.__len__(session):
            if record is not None:
                await self.backend.delete(record.handle)
            return self.cookies.delete() if origin is not None else None
        user = self._user(session)
        if record is None or session.renewed or session.rotated or user != record.user:
            if not can_set_cookie:
                logger.error(
                    "the session needs a new id (a new session, a rotation or a change of "
                    "user) after the WebSocket was accepted, which no cookie can carry; "
                    "the change was not stored"
                )
                return None
            return await self._create(session, user, record)
        now = self.clock()
        if not session.unchanged():
            changed, deleted = session.changes(record.entries())
            if changed or deleted:
                fields = {_DATA + name: value for name, value in changed.items()}
                fields[SEEN] = b"%d" % now
                gone = [_DATA + name for name in deleted]
                assert record.fields is not None  # noqa: S101 - a live record
                expires = expiry_ms(record.fields, int(now * 1000), self.idle_ms)
                kept = await self.backend.update(record.handle, expires, fields, gone)
                if not kept:
                    return self._vanished()
                record.fields.update(fields)
                for name in gone:
                    record.fields.pop(name, None)
        verified = record.verified
        refresh = self.refresh_after
        if can_set_cookie and (
            verified.stale or (refresh is not None and now - verified.signed_at >= refresh)
        ):
            return self.cookies.set(self.ids.sign(verified.id))
        return None

    async def _create(self, session: Session, user: str | None, old: _Record | None) -> bytes:
        """Store the whole session under a new id; the cookie that carries it."""
        record = await self._insert(
            dict.items(session),
            user,
            None if old is None else old.handle,
            old is not None and not session.renewed,  # carried over: only from a live record
        )
        if record is None:
            return self._vanished()
        session.stored(record)
        return self.cookies.set(self.ids.sign(record.verified.id))

    async def _insert(
        self,
        entries: Iterable[tuple[str, Any]],
        user: str | None,
        replaces: str | None,
        require_replaced: bool,
    ) -> _Record | None:
        """A new record holding ``entries`` under a new id, the record ``replaces`` deleted in
        the same step; ``None`` if ``require_replaced`` and that record was gone."""
        now = self.clock()
        fields = {_DATA + name: to_json(value) for name, value in entries}
        lifetime = self.absolute_lifetime
        fields[CREATED] = fields[SEEN] = b"%d" % now
        fields[DEADLINE] = b"%d" % (int((now + lifetime) * 1000) if lifetime is not None else 0)
        if user is not None:
            fields[USER] = user.encode()
        session_id = self.ids.new_id()
        handle = handle_of(session_id)
        now_ms = int(now * 1000)
        done = await self.backend.create(
            handle,
            now_ms,
            expiry_ms(fields, now_ms, self.idle_ms),
            fields,
            None if user is None else index_of(user),
            replaces,
            require_replaced,
        )
        if not done:
            return None
        return _Record(VerifiedId(session_id, int(now), False), handle, fields)

    def _vanished(self) -> bytes:
        logger.warning(
            "the session was revoked or rotated while this request ran; its changes were not "
            "stored, and the cookie is cleared"
        )
        return self.cookies.delete()

    def has_record(self, session: Session) -> bool:
        """Whether ``session`` has a live record, named by the cookie the browser holds."""
        return self.handle(session) is not None

    def handle(self, session: Session) -> str | None:
        """The handle of ``session``'s record, as :class:`~sessionkit.SessionInfo` shows it
        (e.g. to mark "this device" in a device list); ``None`` if it has no live record."""
        record = session.origin if session.loaded else session.source
        if isinstance(record, _Record) and record.fields is not None:
            return record.handle
        return None

    def _user(self, data: dict[str, Any]) -> str | None:
        if self.user_key is None:
            return None
        user = dict.get(data, self.user_key)
        return None if user is None else str(user)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # --- handing a session to a client (tests: sessionkit.testing) ------------------------

    async def put(self, data: Mapping[str, Any], *, replaces: str | None = None) -> str | None:
        """Store a new session holding ``data``; the cookie value that carries its id.

        As a login does, it gets a new id, and the session whose cookie value is
        ``replaces`` (if any) is deleted in the same step. Empty ``data`` stores nothing
        (an empty session is never stored): the replaced session is deleted, and the
        answer is ``None``, no cookie.
        """
        entries = dict(data)
        verified = (
            None if replaces is None else self.ids.verify(replaces.encode("latin-1", "replace"))
        )
        old = None if verified is None else handle_of(verified.id)
        if not entries:
            if old is not None:
                await self.backend.delete(old)
            return None
        record = await self._insert(entries.items(), self._user(entries), old, False)
        assert record is not None  # noqa: S101 - nothing was required to exist
        return self.ids.sign(record.verified.id)

    async def get(self, cookie_value: str) -> dict[str, Any] | None:
        """The data of the session that a request carrying ``cookie_value`` would see (its
        idle expiry renewed, as a request renews it); ``None`` if that is no session."""
        value = cookie_value.encode("latin-1", "replace")
        verified = self.ids.verify(value)
        if verified is not None:
            handle = handle_of(verified.id)
            fields = await self.backend.find(handle, self._now_ms(), self.idle_ms)
            return None if fields is None else _Record(verified, handle, fields).data()
        decoded = self.codec.decode(value)  # a signed-cookie session, moved in on use
        return None if decoded is None else decoded.data

    # --- revocation and listing -------------------------------------------------------------

    async def list_user(self, user_id: object) -> list[SessionInfo]:
        entries = await self.backend.list_index(self._index(user_id))
        idle, now = self.idle_ms / 1000, self.clock()
        infos = []
        for handle, fields, ttl_ms in entries:
            expires = now + ttl_ms / 1000
            seen = float(fields.get(SEEN, b"0"))
            deadline = int(fields.get(DEADLINE, b"0")) / 1000
            if not deadline or expires < deadline:  # the idle timeout set this expiry
                seen = max(seen, expires - idle)
            created = float(fields.get(CREATED, b"0"))
            infos.append(SessionInfo(handle, _moment(created), _moment(seen), _moment(expires)))
        infos.sort(key=lambda info: info.created_at, reverse=True)
        return infos

    async def revoke_user(self, user_id: object) -> int:
        return await self.backend.delete_index(self._index(user_id))

    async def revoke(self, handle: str) -> bool:
        if len(handle) != _HANDLE_LENGTH or not handle.replace("-", "").replace("_", "").isalnum():
            return False
        return await self.backend.delete(handle)

    async def aclose(self) -> None:
        await self.backend.aclose()

    def _index(self, user_id: object) -> str:
        if self.user_key is None:
            raise SessionStoreError(
                "user_key (SESSION_USER_KEY) is not set, so the store does not know which "
                "sessions belong to a user; set it to the session entry that holds the user's id"
            )
        return index_of(str(user_id))


def _raise_error(session: Session) -> dict[str, Any]:
    raise SessionStoreError(str(session.source.error))


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(round(timestamp), UTC)
