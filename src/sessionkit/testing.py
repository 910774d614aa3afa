"""Testing helpers: put a session into a test client, and read back the one it holds.

A test of an application's own routes often needs a signed-in user, or wants to see what a
route stored. These helpers write and read the session cookie of a test client (Starlette's
``TestClient``, or an ``httpx2.Client`` / ``httpx2.AsyncClient``) exactly as the app reads
and writes it, on every store:

- the cookie store, signed or sealed (``encrypt=True``): the helpers sign or seal the cookie;
- the Redis store: they write a real record through the store's own code, and put its signed
  id in the cookie jar (each call opens the store and closes it again, with
  :meth:`SessionSettings.open_store() <sessionkit.SessionSettings.open_store>`);
- the memory store, which lives inside the app: through the app's own ``SessionMiddleware``,
  found in the ``TestClient``'s app or in the ``app`` given.

``settings`` are the app's: by default those of the app's ``SessionMiddleware`` when the helper
can reach it, else ``SessionSettings()`` from the environment, as the app reads them.

The sync helpers call a server-side store through :func:`asyncio.run`, so inside a running
event loop they refuse with a ``TypeError`` (waiting there would block the loop): use
:func:`aset_session`, :func:`aread_session` or ``async with session_transaction(...)``. On the
cookie store they need no event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic_core import to_json
from starlette.applications import Starlette

from sessionkit._client_jar import ClientJar
from sessionkit.cookie_store import CookieStore
from sessionkit.exceptions import SessionStoreError
from sessionkit.middleware import SessionMiddleware
from sessionkit.server_store import ServerStore
from sessionkit.settings import SessionSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable, Mapping
    from types import TracebackType

    import httpx2
    from starlette.types import ASGIApp

__all__ = [
    "SessionTransaction",
    "aread_session",
    "aset_session",
    "read_session",
    "session_transaction",
    "set_session",
]

_T = TypeVar("_T")


def set_session(
    client: httpx2.Client | httpx2.AsyncClient,
    data: Mapping[str, Any],
    *,
    settings: SessionSettings | None = None,
    app: ASGIApp | None = None,
) -> None:
    """Make the next requests of ``client`` carry a session holding ``data``.

    Any session cookie the jar holds is replaced (on a server-side store, that session's
    record is deleted, as at a login); empty ``data`` leaves the client with no session.
    ``app``: the ASGI app (or its ``SessionMiddleware``) when ``client`` is no ``TestClient``,
    needed for the memory store only.
    """
    target = _target(client, settings, app)
    jar = ClientJar(client, target.settings)
    store = target.store
    if isinstance(store, CookieStore):
        jar.replace(store.encode(data))
    else:
        jar.replace(_blocking("set_session", _put, target, data, jar.values()))


async def aset_session(
    client: httpx2.Client | httpx2.AsyncClient,
    data: Mapping[str, Any],
    *,
    settings: SessionSettings | None = None,
    app: ASGIApp | None = None,
) -> None:
    """:func:`set_session` for async code: the store is awaited on the running event loop."""
    target = _target(client, settings, app)
    jar = ClientJar(client, target.settings)
    store = target.store
    if isinstance(store, CookieStore):
        jar.replace(store.encode(data))
    else:
        jar.replace(await _put(target, data, jar.values()))


def read_session(
    client: httpx2.Client | httpx2.AsyncClient,
    *,
    settings: SessionSettings | None = None,
    app: ASGIApp | None = None,
) -> dict[str, Any]:
    """The session data that ``client``'s next request would carry: ``{}`` for none.

    On a server-side store, reading renews the session's idle expiry, as a request does.
    """
    target = _target(client, settings, app)
    values = ClientJar(client, target.settings).values()
    store = target.store
    if isinstance(store, CookieStore):
        return _first(store.decode(value) for value in values)
    return _blocking("read_session", _get, target, values)


async def aread_session(
    client: httpx2.Client | httpx2.AsyncClient,
    *,
    settings: SessionSettings | None = None,
    app: ASGIApp | None = None,
) -> dict[str, Any]:
    """:func:`read_session` for async code: the store is awaited on the running event loop."""
    target = _target(client, settings, app)
    values = ClientJar(client, target.settings).values()
    store = target.store
    if isinstance(store, CookieStore):
        return _first(store.decode(value) for value in values)
    return await _get(target, values)


class SessionTransaction:
    """The session of a test client, to change in place; stored back when the block ends.

    Use it with ``with`` (the store called as :func:`read_session` and :func:`set_session`
    do) or with ``async with`` (awaited, as :func:`aread_session` and :func:`aset_session`
    do). It yields the session as a ``dict``; when the block ends without an exception and
    the content changed, the client gets a new session holding it. An exception stores
    nothing.
    """

    def __init__(
        self,
        client: httpx2.Client | httpx2.AsyncClient,
        *,
        settings: SessionSettings | None = None,
        app: ASGIApp | None = None,
    ) -> None:
        self.client: httpx2.Client | httpx2.AsyncClient = client
        self.settings: SessionSettings | None = settings
        self.app: ASGIApp | None = app
        #: the session data, as the block sees and changes it
        self.data: dict[str, Any] = {}
        self._before = b"{}"

    def __enter__(self) -> dict[str, Any]:
        return self._began(read_session(self.client, settings=self.settings, app=self.app))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None and self._changed():
            set_session(self.client, self.data, settings=self.settings, app=self.app)

    async def __aenter__(self) -> dict[str, Any]:
        data = await aread_session(self.client, settings=self.settings, app=self.app)
        return self._began(data)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None and self._changed():
            await aset_session(self.client, self.data, settings=self.settings, app=self.app)

    def _began(self, data: dict[str, Any]) -> dict[str, Any]:
        self.data = data
        self._before = to_json(data)
        return data

    def _changed(self) -> bool:
        return to_json(self.data) != self._before


def session_transaction(
    client: httpx2.Client | httpx2.AsyncClient,
    *,
    settings: SessionSettings | None = None,
    app: ASGIApp | None = None,
) -> SessionTransaction:
    """``with session_transaction(client) as session:`` (or ``async with``): change the
    session ``client`` holds in place; see :class:`SessionTransaction`."""
    return SessionTransaction(client, settings=settings, app=app)


# --- the store -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """The app's settings, and the store to use: ``None`` for the Redis store, opened per
    call (the app's own pool belongs to the app's event loops)."""

    settings: SessionSettings
    store: CookieStore | ServerStore | None


def _target(
    client: httpx2.Client | httpx2.AsyncClient,
    settings: SessionSettings | None,
    app: ASGIApp | None,
) -> _Target:
    found = _middleware_of(app if app is not None else getattr(client, "app", None))
    if settings is None:
        settings = found.settings if found is not None else SessionSettings()
    if settings.store == "redis":
        return _Target(settings, None)
    if settings.store == "cookie":  # the app's own store when these are its settings
        own = found.store if found is not None and found.settings is settings else None
        return _Target(settings, own if isinstance(own, CookieStore) else CookieStore(settings))
    if found is None or found.settings.store != "memory":
        raise SessionStoreError(
            "the memory store (SESSION_STORE=memory) keeps sessions inside the app, so the "
            "testing helpers need the app's SessionMiddleware: use Starlette's TestClient, "
            "or pass app=your_app (for an httpx2 client over ASGITransport)"
        )
    return _Target(settings, found.store)


def _middleware_of(app: object) -> SessionMiddleware | None:
    """The ``SessionMiddleware`` of ``app``'s own middleware stack, if it has one."""
    layer = app
    if isinstance(layer, Starlette):
        if layer.middleware_stack is None:  # built now, as the app's first request would
            layer.middleware_stack = layer.build_middleware_stack()
        layer = layer.middleware_stack
    while layer is not None and not isinstance(layer, SessionMiddleware):
        layer = getattr(layer, "app", None)
    return layer


async def _put(target: _Target, data: Mapping[str, Any], current: list[str]) -> str | None:
    replaces = current[0] if current else None
    if target.store is not None:
        assert isinstance(target.store, ServerStore)  # noqa: S101 - the cookie store is sync
        return await target.store.put(data, replaces=replaces)
    async with target.settings.open_store() as store:
        assert isinstance(store, ServerStore)  # noqa: S101 - open_store() is the Redis store
        return await store.put(data, replaces=replaces)


async def _get(target: _Target, values: list[str]) -> dict[str, Any]:
    if target.store is not None:
        assert isinstance(target.store, ServerStore)  # noqa: S101 - the cookie store is sync
        return _first([await target.store.get(value) for value in values])
    async with target.settings.open_store() as store:
        assert isinstance(store, ServerStore)  # noqa: S101 - open_store() is the Redis store
        return _first([await store.get(value) for value in values])


def _first(found: Iterable[dict[str, Any] | None]) -> dict[str, Any]:
    """The first session found among the cookie's values (as the app reads them), or ``{}``."""
    return next((data for data in found if data is not None), {})


def _blocking(name: str, operation: Callable[..., Coroutine[Any, Any, _T]], *args: Any) -> _T:
    """Run ``operation(*args)`` to its end in an event loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(operation(*args))
    raise TypeError(
        f"{name}() calls a server-side session store, and an event loop is running in this "
        f"thread, which waiting for the store would block; in async code use "
        f"`await a{name}(...)`, or `async with session_transaction(...)`"
    )
