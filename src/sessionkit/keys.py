"""``SessionKey``: a typed, validated accessor for one entry of the session.

The session itself holds plain JSON data (what ``TypeAdapter.dump_python(mode="json")``
gives), so the cookie stays plain JSON and other code reading ``request.session`` sees
ordinary values. ``get`` validates that data into ``T`` once per request and binds the
result to the session: in-place changes to it are written back when the response starts.

Stored data that no longer validates (a deploy changed the model) follows the key's
``on_invalid`` policy: ``"default"`` (the default) treats it as absent and logs one
warning; ``"raise"`` raises :class:`~sessionkit.SessionValueError`.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import TypeAdapter, ValidationError
from starlette.requests import HTTPConnection

from sessionkit.exceptions import SessionKeyMissingError, SessionValueError
from sessionkit.middleware import get_session
from sessionkit.session import ABSENT

if TYPE_CHECKING:
    from collections.abc import Callable

    from sessionkit.session import Session

__all__ = ["SessionKey"]

logger: logging.Logger = logging.getLogger("sessionkit")

T = TypeVar("T")


class SessionKey(Generic[T]):
    """A typed entry of the session: ``SessionKey("cart", Cart, default_factory=Cart)``.

    ``type_`` is anything pydantic validates: a ``BaseModel``, ``int``, ``list[int]``, a
    ``TypedDict``, a union... Give ``default`` or ``default_factory`` for a value to use
    when the entry is absent; without one, ``get`` raises
    :class:`~sessionkit.SessionKeyMissingError`.
    """

    __slots__ = ("_adapter", "_default", "_default_factory", "name", "on_invalid", "type")

    def __init__(
        self,
        name: str,
        type_: type[T],
        *,
        default: T | Any = ABSENT,
        default_factory: Callable[[], T] | None = None,
        on_invalid: Literal["default", "raise"] = "default",
    ) -> None:
        if not name:
            raise ValueError(f"SessionKey needs a non-empty string name, not {name!r}")
        if default is not ABSENT and default_factory is not None:
            raise ValueError(f"SessionKey {name!r}: give default or default_factory, not both")
        if on_invalid not in ("default", "raise"):
            raise ValueError(f"SessionKey {name!r}: on_invalid must be 'default' or 'raise'")
        self.name: str = name
        self.type: type[T] = type_
        self.on_invalid = on_invalid
        self._adapter: TypeAdapter[T] = TypeAdapter(type_)
        self._default = default
        self._default_factory = default_factory
        if default is not ABSENT:
            self._check(default, what="default")

    def __repr__(self) -> str:
        return f"SessionKey({self.name!r}, {self._type_name()})"

    def get(self, conn: HTTPConnection) -> T:
        """The entry's value: validated, the same object for the whole request."""
        session = get_session(conn)
        live: T = session.bound(self.name, self)
        if live is not ABSENT:
            return live
        raw = session.peek(self.name, ABSENT)
        value: T
        if raw is ABSENT:
            value = self._make_default(session, reason="absent")
        else:
            try:
                value = self._adapter.validate_python(raw)
            except ValidationError as exc:
                value = self._on_drift(session, exc)
        session.bind(self.name, value, self._dumper(value), self)
        return value

    def set(self, conn: HTTPConnection, value: T) -> None:
        """Validate ``value`` and store it; a wrong value raises and stores nothing."""
        session = get_session(conn)
        checked = self._check(value, what="value")
        session[self.name] = self._adapter.dump_python(checked, mode="json")
        # Track the caller's own object when validation returned an equal copy (lists,
        # dicts, TypedDicts), so changing it in place afterwards is persisted too.
        live = value if type(checked) is type(value) and checked == value else checked
        session.bind(self.name, live, self._dumper(live), self)

    def delete(self, conn: HTTPConnection) -> None:
        """Remove the entry (a no-op if it is absent)."""
        session = get_session(conn)
        session.unbind(self.name)
        session.pop(self.name, None)

    def depends(self) -> Any:
        """A FastAPI dependency: ``cart: Annotated[Cart, CART.depends()]``.

        The handler gets the same live object ``get`` returns, so in-place changes persist.
        Works for HTTP and WebSocket routes. Needs the ``sessionkit[fastapi]`` extra.
        """
        try:
            from fastapi import Depends
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SessionKey.depends() needs FastAPI: pip install 'sessionkit[fastapi]'"
            ) from exc

        def dependency(conn: HTTPConnection) -> T:
            return self.get(conn)

        # FastAPI reads the annotation at run time: give it the class, not a string.
        dependency.__annotations__ = {"conn": HTTPConnection, "return": self.type}
        dependency.__name__ = f"session_{self.name}"
        return Depends(dependency)

    def _check(self, value: Any, *, what: str) -> T:
        try:
            return self._adapter.validate_python(value)
        except ValidationError as exc:
            raise SessionValueError(
                f"session key {self.name!r}: the {what} does not validate as "
                f"{self._type_name()}: {_first_error(exc)}"
            ) from exc

    def _dumper(self, value: T) -> Callable[[], Any]:
        adapter = self._adapter
        return lambda: adapter.dump_python(value, mode="json")

    def _make_default(self, session: Session, *, reason: str) -> T:
        if self._default_factory is not None:
            return self._default_factory()
        if self._default is not ABSENT:
            return copy.deepcopy(self._default)
        if reason == "absent":
            message = f"session key {self.name!r} is not in the session and has no default"
        else:
            message = (
                f"session key {self.name!r} holds data that no longer validates as "
                f"{self._type_name()}, and the key has no default"
            )
        raise SessionKeyMissingError(message)

    def _on_drift(self, session: Session, exc: ValidationError) -> T:
        if self.on_invalid == "raise":
            raise SessionValueError(
                f"session key {self.name!r} holds data that no longer validates as "
                f"{self._type_name()}: {_first_error(exc)}"
            ) from exc
        logger.warning(
            "session key %r holds data that no longer validates as %s (%s); using the "
            "default, and the stored value is replaced on the next write",
            self.name,
            self._type_name(),
            _first_error(exc),
        )
        return self._make_default(session, reason="invalid")

    def _type_name(self) -> str:
        return getattr(self.type, "__name__", None) or repr(self.type)


def _first_error(exc: ValidationError) -> str:
    # Never echo the input: session data may be personal. Location and message only.
    errors = exc.errors(include_input=False, include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "value"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
