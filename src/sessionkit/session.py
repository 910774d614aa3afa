"""``Session``: the ``dict`` at ``scope["session"]``, with Starlette's change tracking.

``accessed`` and ``modified`` behave exactly as in Starlette's ``Session``: any mutating
method sets both (``pop`` and ``setdefault`` only when they change the content), and
``Request.session`` marks the session accessed. Two additions serve the middleware:

- lazy loading: the store's loader runs on first use, so requests that never touch the
  session pay nothing for it (see :meth:`Session.lazy`; ``source``, ``origin`` and
  ``compare_whole`` are the attributes a store's loader reads and sets);
- locking: once a change can no longer reach the browser (a WebSocket after ``accept``),
  mutating calls raise :class:`~sessionkit.SessionLockedError` instead of losing data;
- content tracking: the containers handed out are rendered when first handed out, so a
  request that only reads can be told unchanged without rendering the whole session
  (small content, as its loader marks it, is instead rendered whole once, which costs
  less);
- bindings: a typed accessor (``SessionKey``) hands out a live object for an entry and
  binds a dumper to it; :meth:`Session.flush` writes changed objects back as plain data
  before the middleware compares content, so in-place changes are never lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

from sessionkit.exceptions import SessionLockedError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = ["Session"]


class Session(dict[str, Any]):
    """The session data of one connection: a ``dict`` that tracks use and changes."""

    # The three attributes every request's session sets are slots (a slot store costs
    # a quarter of the first store into an instance __dict__); the rest are class-level
    # defaults, written to the instance only when they change.
    __slots__ = ("__dict__", "__weakref__", "_loader", "loaded", "locked", "source", "store")

    # Lazy loading: _loader(session) returns the content.
    _loader: Callable[[Session], dict[str, Any]] | None
    #: whether the content is known: the session was used, or was never lazy (read-only)
    loaded: bool
    #: why changes are refused (see :meth:`lock`), or ``None`` while they are accepted
    locked: str | None
    #: what the store's loader reads the content from (the request's headers, a record)
    source: Any
    #: the store that keeps this session (:func:`~sessionkit.get_store`), if any
    store: Any

    def __new__(cls, *args: Any, **kwargs: Any) -> Session:
        # The slots' defaults, set before anything else runs: dict.__init__ fills the
        # content afterwards, and unpickling sets items before it restores any state.
        session = dict.__new__(cls)
        session._loader = None
        session.loaded = True
        session.locked = None
        session.store = None
        return session

    # Class-level defaults: creating a session writes none of them.
    accessed: bool = False
    modified: bool = False
    #: cleared in this request: data written after that is a new session (new creation
    #: time for the absolute lifetime), e.g. on login
    renewed: bool = False
    #: :meth:`rotate` was called: the same content under a new id (a new cookie)
    rotated: bool = False
    #: what the store's loader found (a verified cookie, a record), for the store to
    #: compare with when the response starts; ``None`` when nothing was found
    origin: Any = None
    _bindings: dict[str, _Binding] | None = None
    # Content tracking (see unchanged()): renderings of containers handed out, by key.
    _render: Callable[[Any], bytes] = staticmethod(to_json)
    _snapshots: dict[str, bytes] | None = None
    _exposed: bool = False
    #: set by a loader for small content: rendering all of it once costs less than
    #: rendering each container handed out twice, so hand-outs just mark it exposed
    compare_whole: bool = False

    @classmethod
    def lazy(cls, loader: Callable[[], dict[str, Any]]) -> Session:
        """An empty session that fills itself from ``loader()`` on first use."""
        return cls.from_store(_call_source, loader, None)

    @classmethod
    def from_store(
        cls, loader: Callable[[Session], dict[str, Any]], source: object, store: object
    ) -> Session:
        """An empty session of ``store`` that it fills with ``loader(session)`` on first use.

        ``source`` is kept as :attr:`source` for the loader to read; the loader may set
        :attr:`origin` and :attr:`compare_whole`. Every request runs this, so it sets the
        slots itself rather than through ``__new__``.
        """
        session = _new_dict(cls)
        session._loader = loader
        session.loaded = False
        session.locked = None
        session.source = source
        session.store = store
        return session

    def unchanged(self) -> bool:
        """Whether the content is surely what was loaded, without rendering all of it.

        Every ``dict`` or ``list`` value handed out by ``[]``, ``get`` or ``setdefault`` is
        rendered as JSON when first handed out, and compared here; ``values()``,
        ``items()``, ``copy()`` and ``|`` hand out everything at once, after which (as
        after any change) this is ``False``: "maybe changed", compare all of the content.
        """
        if self.modified or self._exposed:
            return False
        snapshots = self._snapshots
        if snapshots:
            render = self._render
            for key, before in snapshots.items():
                if render(dict.get(self, key)) != before:
                    return False
        return True

    def _hand_out(self, key: str, value: Any) -> Any:
        """Track ``value``, about to be handed out as ``self[key]``; return it.

        Callers on the read path check ``type(value) in _CONTAINERS`` first themselves:
        scalars cannot change in place, and the call is saved.
        """
        if type(value) in _CONTAINERS and not self.modified:
            if self.compare_whole:
                self._exposed = True
                return value
            snapshots = self._snapshots
            if snapshots is None:
                snapshots = self._snapshots = {}
            if key not in snapshots:
                snapshots[key] = self._render(value)
        return value

    def _hand_out_all(self) -> None:
        self.load()
        self._exposed = True

    def load(self) -> None:
        """Fill a lazy session now (a no-op once loaded)."""
        loader = self._loader
        if loader is not None:
            self._loader = None
            self.loaded = True
            dict.update(self, loader(self))

    def lock(self, reason: str) -> None:
        """Refuse every further change, raising ``SessionLockedError(reason)``.

        Reading stays possible (a lazy session still loads on first read).
        """
        self.locked = reason

    def rotate(self) -> None:
        """Keep the content under a new session id, the old one dead at once.

        Call it when the privilege of the session changes (a fixation defence). On the
        cookie store the session gets a new cookie with a new creation time; on a
        server-side store a new id, and the old record is deleted.
        """
        self.mark_modified()
        self.rotated = True

    def stored(self, origin: object) -> None:
        """The store kept the session as it is now, as ``origin``: a later commit (a
        WebSocket's, at its end) compares with that, and needs no new id."""
        self.origin = origin
        self.renewed = self.rotated = False

    def changes(self, before: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
        """The top-level entries that differ from ``before`` (each entry's JSON, as
        loaded): the changed ones, rendered, and the names of the deleted ones."""
        self.flush()
        render = self._render
        changed = {}
        for key, value in dict.items(self):
            rendered = render(value)
            if before.get(key) != rendered:
                changed[key] = rendered
        deleted = [key for key in before if not dict.__contains__(self, key)]
        return changed, deleted

    def bind(self, key: str, value: object, dump: Callable[[], Any], owner: object) -> None:
        """Tie the live object ``value`` to the entry ``key``, as ``dump()`` renders it.

        While the entry holds what it held at binding time, :meth:`bound` returns
        ``value`` to the same ``owner`` (the accessor that validated it), and
        :meth:`flush` stores ``dump()`` if that changed. Replacing or deleting the entry by
        any means, or clearing the session, ends the binding.
        """
        if self._bindings is None:
            self._bindings = {}
        raw = dict.get(self, key, _ABSENT)
        self._bindings[key] = _Binding(raw, value, dump, dump(), owner)

    def bound(self, key: str, owner: object) -> Any:
        """The live object ``owner`` bound to ``key``, or :data:`ABSENT` if none (any more)."""
        binding = self._bindings.get(key) if self._bindings else None
        if binding is None or binding.owner is not owner:
            return _ABSENT
        if dict.get(self, key, _ABSENT) is not binding.raw:
            return _ABSENT
        return binding.value

    def unbind(self, key: str) -> None:
        """Forget the binding of ``key``, if any."""
        if self._bindings:
            self._bindings.pop(key, None)

    def flush(self) -> None:
        """Store every bound object whose rendering changed since it was bound."""
        if not self._bindings:
            return
        for key, binding in list(self._bindings.items()):
            if dict.get(self, key, _ABSENT) is not binding.raw:
                del self._bindings[key]  # replaced or deleted by other code: it wins
                continue
            rendered = binding.dump()
            if rendered != binding.rendered:
                dict.__setitem__(self, key, rendered)
                binding.raw = binding.rendered = rendered
                if self.locked is None:
                    self.modified = True
                else:  # too late to send: make sure a comparison finds the change
                    self._exposed = True

    def mark_accessed(self) -> None:
        self.load()
        self.accessed = True

    def mark_modified(self) -> None:
        if self.locked is not None:
            raise SessionLockedError(self.locked)
        self.load()
        self.accessed = True
        self.modified = True

    # Reads: load first, then behave as a dict.

    def __getitem__(self, key: str) -> Any:
        if self._loader is not None:
            self.load()
        value = dict.__getitem__(self, key)
        return self._hand_out(key, value) if type(value) in _CONTAINERS else value

    def get(self, key: str, default: Any = None, /) -> Any:
        if self._loader is not None:
            self.load()
        value = dict.get(self, key, _ABSENT)
        if type(value) in _CONTAINERS:
            return self._hand_out(key, value)
        return default if value is _ABSENT else value

    def peek(self, key: str, default: Any = None, /) -> Any:
        """``get`` for callers that track their own value (a bound ``SessionKey``)."""
        if self._loader is not None:
            self.load()
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if self._loader is not None:
            self.load()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        if self._loader is not None:
            self.load()
        return super().__iter__()

    def __reversed__(self) -> Iterator[str]:
        self.load()
        return super().__reversed__()

    def __len__(self) -> int:
        if self._loader is not None:
            self.load()
        return super().__len__()

    def keys(self) -> Any:
        self.load()
        return super().keys()

    def values(self) -> Any:
        self._hand_out_all()
        return super().values()

    def items(self) -> Any:
        self._hand_out_all()
        return super().items()

    def copy(self) -> dict[str, Any]:
        self._hand_out_all()
        return dict(super().items())

    def __eq__(self, other: object) -> bool:
        self.load()
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        self.load()
        return super().__ne__(other)

    __hash__ = None

    def __or__(self, other: Any) -> Any:
        self._hand_out_all()
        return super().__or__(other)

    def __ror__(self, other: Any) -> Any:
        self._hand_out_all()
        return super().__ror__(other)

    def __repr__(self) -> str:
        self.load()
        return super().__repr__()

    # Writes: Starlette's tracking, after loading so nothing stored is lost.

    def __setitem__(self, key: str, value: Any) -> None:
        self.mark_modified()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.mark_modified()
        super().__delitem__(key)

    def clear(self) -> None:
        self.mark_modified()
        super().clear()
        self._bindings = None  # nothing bound before clearing comes back
        self.renewed = True

    def pop(self, key: str, *args: Any) -> Any:
        if key in self:
            self.mark_modified()
        return super().pop(key, *args)

    def popitem(self) -> tuple[str, Any]:
        self.load()
        if self.locked is not None and super().__len__():
            raise SessionLockedError(self.locked)
        item = super().popitem()
        self.mark_modified()
        return item

    def setdefault(self, key: str, default: Any = None, /) -> Any:
        if key not in self:
            self.mark_modified()
        return self._hand_out(key, super().setdefault(key, default))

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.mark_modified()
        super().update(*args, **kwargs)

    def __ior__(self, other: Any, /) -> Session:  # type: ignore[override]
        self.mark_modified()
        return super().__ior__(other)


_CONTAINERS = (dict, list)


#: ``Session()`` without its ``__new__``: an empty session whose slots the caller sets.
_new_dict = dict.__new__


def _call_source(session: Session) -> dict[str, Any]:
    """The loader of :meth:`Session.lazy`: the plain loader, kept as the source."""
    return session.source()  # type: ignore[no-any-return]


class _Absent:
    """The marker for "no entry": distinct from ``None``, which is a valid value."""

    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT: Any = _Absent()
#: Returned by :meth:`Session.bound` when no live object is bound to a key.
ABSENT: Any = _ABSENT


class _Binding:
    __slots__ = ("dump", "owner", "raw", "rendered", "value")

    def __init__(
        self, raw: object, value: object, dump: Callable[[], Any], rendered: Any, owner: object
    ) -> None:
        self.raw = raw
        self.value = value
        self.dump = dump
        self.rendered = rendered
        self.owner = owner
